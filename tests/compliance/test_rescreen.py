"""A new list snapshot re-screens every client against the entries it added or changed, in the
background, with its progress on a job row; it clears an undecided alert whose entry the list
removed, or changed so it no longer matches, naming the snapshot; a dismissed pair stays
dismissed across re-imports until its entry changes. Every night, every client is re-screened
against every current entry. Both read the book's names from its index, kept as clients
register and change their names."""

from datetime import date

import pytest
from django.contrib.auth import get_user_model
from django.test import override_settings

from brokerage.models import AuditEvent
from compliance import audit_events
from compliance.models import Alert, BookClient, BookName, BookToken, ScreeningJob, ScreeningRun
from compliance.rescreen import book_rescreen
from compliance.services import alert_dismiss
from compliance.tasks import nightly_rescreen_task
from kyc.services import kyc_details_save
from tests.compliance.test_alerts import WATCH_CSV, listed_client, register, watch_list
from tests.conftest import make_staff
from tests.kyc.conftest import details

pytestmark = pytest.mark.django_db

ADDED = WATCH_CSV + "W-3,Olga Mirskaya,,1981-06-02,RU,Sanctions evasion,\n"


def rescreened(snapshot) -> ScreeningJob:
    """Run the re-screen the import queued (its task runs once the import commits)."""
    job = ScreeningJob.objects.get(snapshot=snapshot, kind="delta")
    assert (job.kind, job.status) == ("delta", "queued")
    book_rescreen(job_id=job.pk)
    job.refresh_from_db()
    return job


def test_an_added_entry_raises_an_alert_on_a_client_already_registered():
    first = watch_list()
    rescreened(first)
    olga = register("Olga", "Mirskaya")  # screened at registration: nothing listed then
    others = [register(f"Client{i}", "Ordinary", f"c{i}@test.example") for i in range(3)]
    assert not Alert.objects.exists()
    update = watch_list(ADDED)
    assert update.delta["added"] == ["W-3"]
    job = rescreened(update)
    assert (job.status, job.total, job.done) == ("done", 1 + len(others), 1 + len(others))
    assert (job.hit_clients, job.raised_count, job.cleared_count) == (1, 1, 0)
    alert = Alert.objects.get()
    assert (alert.client, alert.list_id, alert.snapshot) == (olga, "W-3", update)
    assert (alert.run.reason, alert.run.reference) == (
        "list_update",
        f"internal-watch snapshot #{update.pk}",
    )
    event = AuditEvent.objects.get(action=audit_events.BOOK_RESCREENED, target_id=str(job.pk))
    assert event.evidence["entries"] == 1  # only the added entry was screened against
    # Running the job again raises nothing twice.
    job.status = "running"
    job.save()
    book_rescreen(job_id=job.pk)
    assert Alert.objects.count() == 1


def test_a_removed_entry_clears_the_open_alert_naming_the_snapshot():
    watch_list()
    client, alert = listed_client()
    removed = watch_list(
        WATCH_CSV.replace("W-1,Ivan Zlobnikov,Ivan Petrovich Zlobnikov,", "W-9,Zara Quell,,")
    )
    assert "W-1" in removed.delta["removed"]
    job = rescreened(removed)
    alert.refresh_from_db()
    assert (alert.status, alert.cleared_by) == ("cleared", removed)
    assert job.cleared_count == 1
    event = AuditEvent.objects.get(action=audit_events.ALERT_CLEARED)
    assert event.subject_client_id == client.pk and event.evidence["snapshot"] == removed.pk
    assert f"snapshot #{removed.pk}" in event.reason and "removed" in event.reason


def test_an_entry_changed_so_it_no_longer_matches_clears_the_alert():
    watch_list()
    client, alert = listed_client()
    changed = watch_list(
        WATCH_CSV.replace("Ivan Zlobnikov,Ivan Petrovich Zlobnikov", "Pyotr Grebnev,")
    )
    assert changed.delta["changed"] == ["W-1"]
    rescreened(changed)
    alert.refresh_from_db()
    assert (alert.status, alert.cleared_by) == ("cleared", changed)


def test_an_entry_changed_that_still_matches_keeps_the_alert_open():
    watch_list()
    client, alert = listed_client()
    changed = watch_list(WATCH_CSV.replace("Arms trading", "Arms trading; shipping"))
    job = rescreened(changed)
    alert.refresh_from_db()
    assert alert.status == "open" and job.cleared_count == 0
    assert Alert.objects.count() == 1


@override_settings(COMPLIANCE_FOUR_EYES_SCORE=1.5)
def test_a_dismissed_pair_stays_dismissed_across_a_reimport_until_its_entry_changes():
    watch_list()
    client, alert = listed_client()
    alert_dismiss(alert=alert, actor=make_staff("compliance_officer"), reason="Born 1991")
    # The list again, one entry added and W-1 as it was: the delta and the nightly run
    # raise nothing on the dismissed pair.
    again = watch_list(ADDED)
    assert "W-1" not in again.delta["changed"]
    rescreened(again)
    nightly = ScreeningJob.objects.get(pk=nightly_rescreen_task())
    assert nightly.kind == "full"
    book_rescreen(job_id=nightly.pk)
    nightly.refresh_from_db()
    assert nightly.status == "done" and nightly.raised_count == 0
    assert list(Alert.objects.values_list("status", flat=True)) == ["dismissed"]
    assert ScreeningRun.objects.filter(client=client, reason="nightly").get().hit_count == 1
    # W-1 changes: the delta raises it again, from the new snapshot.
    changed = watch_list(ADDED.replace("Arms trading", "Arms trading; shipping"))
    job = rescreened(changed)
    assert job.raised_count == 1
    reopened = Alert.objects.get(status="open")
    assert (reopened.client, reopened.list_id, reopened.snapshot) == (client, "W-1", changed)


def test_the_nightly_run_raises_what_registration_missed():
    watch_list()
    client = register("Ivan", "Zlobnikov")  # its screening task never ran
    job = ScreeningJob.objects.get(pk=nightly_rescreen_task())
    book_rescreen(job_id=job.pk)
    job.refresh_from_db()
    assert (job.status, job.raised_count) == ("done", 1)
    assert Alert.objects.get().client == client


def indexed(client) -> set[tuple[str, str]]:
    return set(BookName.objects.filter(client_id=client.pk).values_list("origin", "name"))


def test_registration_indexes_the_names_in_its_transaction():
    client = register("Olga", "Mirskaya")
    assert indexed(client) == {("registered", "Olga Mirskaya")}
    tokens = BookToken.objects.filter(client_id=client.pk).order_by("position")
    assert [(t.token, t.phonetic) for t in tokens] == [("olga", "olk"), ("mirskaya", "mrsk")]


def test_a_renamed_client_is_found_by_a_delta_under_the_new_name_not_the_old():
    rescreened(watch_list())
    client = register("Nadia", "Ordinary")
    submission = client.kyc_submissions.create(first_name="Nadia", last_name="Ordinary")

    def kyc_name(first, last):
        kyc_details_save(
            submission=submission,
            actor=client.user,
            data=details(first_name=first, last_name=last, date_of_birth=date(1981, 6, 2)),
        )

    kyc_name("Boris", "Kolokoltsev")
    kyc_name("Olga", "Mirskaya")  # the name given at KYC changed
    assert indexed(client) == {("registered", "Nadia Ordinary"), ("kyc_details", "Olga Mirskaya")}
    update = watch_list(ADDED + "W-4,Boris Kolokoltsev,,1981-06-02,RU,Sanctions evasion,\n")
    assert update.delta["added"] == ["W-3", "W-4"]
    job = rescreened(update)
    assert (job.hit_clients, job.raised_count) == (1, 1)
    alert = Alert.objects.get(client=client)
    assert (alert.list_id, alert.screened_name, alert.name_origin) == (
        "W-3",
        "Olga Mirskaya",
        "kyc_details",
    )


def test_a_name_changed_without_telling_compliance_is_indexed_by_the_next_rescreen():
    rescreened(watch_list())
    client = register("Nadia", "Ordinary")
    indexed_at = BookClient.objects.get(pk=client.pk).indexed_at
    # Edited behind the services' back (admin, a bulk fix): no hook ran.
    get_user_model().objects.filter(pk=client.user_id).update(
        first_name="Olga", last_name="Mirskaya"
    )
    assert indexed(client) == {("registered", "Nadia Ordinary")}
    job = rescreened(watch_list(ADDED))
    assert indexed(client) == {("registered", "Olga Mirskaya")}
    assert BookClient.objects.get(pk=client.pk).indexed_at > indexed_at
    assert job.raised_count == 1 and Alert.objects.get().client == client
