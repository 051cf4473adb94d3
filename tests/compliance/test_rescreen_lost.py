"""A new snapshot's re-screen of the book (a delta) whose worker died half-way is found by the
sweeper once it has been silent for `DELTA_STALE`, and runs again from the start: the clients
it had recorded keep their one run and their alerts, the others get theirs, and the job
finishes and is audited once; while its worker may still be alive, the same task delivered
again leaves it alone."""

from datetime import timedelta

import pytest
from django.utils import timezone

from brokerage.models import AuditEvent
from compliance import audit_events, rescreen
from compliance.models import Alert, ScreeningJob, ScreeningRun
from compliance.rescreen import book_rescreen, book_rescreen_jobs_stuck
from tests.compliance.test_alerts import WATCH_CSV, register, watch_list

pytestmark = pytest.mark.django_db

ADDED = WATCH_CSV + (
    "W-3,Olga Mirskaya,,1981-06-02,RU,Sanctions evasion,\n"
    "W-4,Boris Gromadin,,1975-01-09,RU,Sanctions evasion,\n"
)


class Killed(BaseException):
    """The worker killed (SIGKILL, its node lost): nothing after it runs, not even the task's
    own error handling."""


def test_a_delta_whose_worker_died_half_way_runs_again_and_records_each_client_once(
    monkeypatch,
):
    watch_list()
    olga = register("Olga", "Mirskaya")
    boris = register("Boris", "Gromadin")
    for i in range(3):
        register(f"Client{i}", "Ordinary", f"c{i}@test.example")
    update = watch_list(ADDED)
    job = ScreeningJob.objects.get(snapshot=update, kind="delta")
    monkeypatch.setattr(rescreen, "BOOK_BATCH", 1)  # a part of the book per client
    record = rescreen._record

    def killed_once_a_client_is_recorded(*args, **kwargs):
        out = record(*args, **kwargs)
        if ScreeningRun.objects.filter(reason="list_update").exists():
            raise Killed
        return out

    monkeypatch.setattr(rescreen, "_record", killed_once_a_client_is_recorded)
    with pytest.raises(Killed):
        book_rescreen(job_id=job.pk)
    monkeypatch.setattr(rescreen, "_record", record)
    job.refresh_from_db()
    assert job.status == "running" and job.heartbeat_at is not None
    assert list(Alert.objects.values_list("client_id", flat=True)) == [olga.pk]

    # Its worker may still be at it: the sweeper leaves it, a task delivered again too.
    ScreeningJob.objects.filter(pk=job.pk).update(created_at=timezone.now() - timedelta(hours=1))
    assert book_rescreen_jobs_stuck() == []
    book_rescreen(job_id=job.pk)
    assert ScreeningJob.objects.get(pk=job.pk).status == "running"
    assert Alert.objects.count() == 1

    # Silent for DELTA_STALE: the sweeper queues it again and it runs from the start.
    ScreeningJob.objects.filter(pk=job.pk).update(
        heartbeat_at=timezone.now() - rescreen.DELTA_STALE - timedelta(minutes=5)
    )
    assert book_rescreen_jobs_stuck() == [job.pk]
    book_rescreen(job_id=job.pk)
    job.refresh_from_db()
    assert (job.status, job.done, job.total) == ("done", 5, 5)
    assert (job.hit_clients, job.raised_count) == (2, 2)
    assert sorted(Alert.objects.values_list("client_id", flat=True)) == [olga.pk, boris.pk]
    runs = ScreeningRun.objects.filter(reason="list_update")
    assert sorted(runs.values_list("client_id", flat=True)) == [olga.pk, boris.pk]  # once each
    done = AuditEvent.objects.filter(action=audit_events.BOOK_RESCREENED, target_id=str(job.pk))
    assert done.count() == 1 and done.get().evidence["raised"] == 2
    assert book_rescreen_jobs_stuck() == []

    # A late duplicate of the task changes nothing.
    book_rescreen(job_id=job.pk)
    assert (Alert.objects.count(), runs.count(), done.count()) == (2, 2, 1)
