"""The client terms: accepted at sign-up, one "I accept" per document; asked for again before
anything else in the portal when compliance publishes a version that needs it (announced by
email in the client's language, in their history); each acceptance recorded append-only with
its time, address, browser and the text's hash, audited; shown on the 360 and in the dossier."""

import datetime as dt
import json
import zipfile

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import DatabaseError, transaction
from django.utils import timezone

from brokerage.errors import InvalidInput, NotAllowed
from brokerage.models import AuditEvent, User
from clients.models import ClientActivity, TermsAcceptance, TermsVersion
from clients.services import client_register
from clients.tasks import terms_announce_sweep_task
from clients.terms import (
    terms_accept,
    terms_accept_in_force,
    terms_announce,
    terms_due,
    terms_in_force,
    terms_publish,
)
from tests.conftest import PASSWORD, login, make_client_user, make_staff, signup_form

pytestmark = pytest.mark.django_db

UA = "Mozilla/5.0 (X11; Linux x86_64) TermsTest/1.0"


def bare_client(email="bare@test.example", language="en"):
    """A client registered without accepting anything (as before the terms existed)."""
    user = User.objects.create_user(email=email, password=PASSWORD, first_name="Bo")
    return client_register(user=user, actor="test", language=language)


def publish(document="client_agreement", **kwargs):
    officer = kwargs.pop("actor", None) or make_staff("compliance_officer", email="co@t.example")
    values = {
        "title": "Client agreement",
        "text": "The new client agreement: section 7 explains margin calls in full.",
        "changes": "Section 7 now explains margin calls.",
        **kwargs,
    }
    return terms_publish(document=document, actor=officer, **values)


def test_three_documents_ship_in_force():
    assert sorted(v.document for v in terms_in_force()) == [
        "client_agreement",
        "privacy_notice",
        "risk_disclosure",
    ]


def test_signup_asks_one_accept_per_document_and_records_each(client):
    page = client.get("/accounts/signup/")
    for v in terms_in_force():
        assert f'name="accept_{v.document}"'.encode() in page.content
        assert f"/portal/terms/{v.pk}/".encode() in page.content

    unticked = signup_form("nora@example.com")
    del unticked["accept_risk_disclosure"]
    refused = client.post("/accounts/signup/", unticked)
    assert refused.status_code == 200 and b"Accept the Risk disclosure to go on." in refused.content
    assert not User.objects.filter(email="nora@example.com").exists()

    done = client.post("/accounts/signup/", signup_form("nora@example.com"), HTTP_USER_AGENT=UA)
    assert done.status_code == 302
    client_record = User.objects.get(email="nora@example.com").client
    rows = TermsAcceptance.objects.filter(client=client_record).select_related("terms")
    assert sorted(r.terms.document for r in rows) == [
        "client_agreement",
        "privacy_notice",
        "risk_disclosure",
    ]
    for row in rows:
        assert row.user_agent == UA and row.ip == "127.0.0.1"
        assert row.text_sha256 == row.terms.text_sha256 and len(row.text_sha256) == 64
    events = AuditEvent.objects.filter(action="terms.accepted", subject_client_id=client_record.pk)
    assert events.count() == 3
    assert not terms_due(client_record)


def test_a_signup_form_left_open_across_a_new_version_is_refused(client):
    stale = signup_form("late@example.com")
    publish()
    refused = client.post("/accounts/signup/", stale)
    assert refused.status_code == 200 and b"Our terms changed while this page was open" in (
        refused.content
    )
    assert not User.objects.filter(email="late@example.com").exists()


def test_nothing_in_the_portal_works_until_the_terms_are_accepted(client):
    record = bare_client()
    login(client, record.user)
    for path in ("/portal/", "/portal/profile/", "/portal/wallet/", "/portal/trading/"):
        response = client.get(path)
        assert response.status_code == 302 and response["Location"] == "/portal/terms/", path
    assert client.post("/portal/profile/", {"phone": "+447911000000"}).status_code == 302
    hx = client.get("/portal/", HTTP_HX_REQUEST="true")
    assert hx["HX-Redirect"] == "/portal/terms/"

    page = client.get("/portal/terms/")
    assert page.status_code == 200
    for v in terms_in_force():
        assert f'data-terms-due="{v.document}"'.encode() in page.content
    shown = ",".join(str(v.pk) for v in terms_due(record))
    partial = client.post("/portal/terms/", {"terms_shown": shown, "accept_client_agreement": "on"})
    assert partial.status_code == 400 and b"Accept the Privacy notice to go on." in partial.content
    assert not TermsAcceptance.objects.filter(client=record).exists()

    everything = {"terms_shown": shown, **{f"accept_{v.document}": "on" for v in terms_due(record)}}
    assert client.post("/portal/terms/", everything, HTTP_USER_AGENT=UA)["Location"] == "/portal/"
    assert TermsAcceptance.objects.filter(client=record, user_agent=UA).count() == 3
    assert client.get("/portal/").status_code == 200
    assert b"data-terms-accepted" in client.get("/portal/terms/").content


def test_a_new_version_needing_acceptance_is_announced_and_asked_for(
    client, django_capture_on_commit_callbacks
):
    english = make_client_user("en@test.example").client
    spanish = make_client_user("es@test.example").client
    spanish.language = "es"
    spanish.save(update_fields=["language"])
    closed = make_client_user("gone@test.example").client
    closed.status = "closed"
    closed.save(update_fields=["status"])

    version = publish()
    event = AuditEvent.objects.get(action="terms.published")
    assert event.evidence["version"] == 2 and event.evidence["text_sha256"] == version.text_sha256
    assert event.actor_label == "co@t.example"

    with django_capture_on_commit_callbacks(execute=True):
        assert terms_announce(version_id=version.pk) == 2
    assert terms_announce(version_id=version.pk) == 0  # once per client
    told = {a.client_id: a for a in ClientActivity.objects.filter(template="terms_updated")}
    assert set(told) == {english.pk, spanish.pk}
    assert told[spanish.pk].data["language"] == "es"
    assert "Hemos actualizado" in told[spanish.pk].subject
    assert "Section 7 now explains margin calls." in told[english.pk].body
    assert {m.to[0] for m in mail.outbox} >= {"en@test.example", "es@test.example"}

    login(client, english.user)
    assert client.get("/portal/")["Location"] == "/portal/terms/"
    page = client.get("/portal/terms/")
    assert b'data-terms-due="client_agreement"' in page.content
    assert b'data-terms-due="risk_disclosure"' not in page.content
    assert b"Section 7 now explains margin calls." in page.content
    terms_accept(client=english, version_ids=[version.pk], actor=english.user)
    assert client.get("/portal/").status_code == 200


def test_a_version_in_effect_later_is_asked_for_from_that_time():
    trader = make_client_user().client
    later = timezone.now() + dt.timedelta(days=10)
    version = publish(effective_at=later)
    assert not terms_due(trader)
    assert [v.pk for v in terms_due(trader, now=later + dt.timedelta(seconds=1))] == [version.pk]
    with pytest.raises(InvalidInput) as refused:
        terms_accept(client=trader, version_ids=[version.pk], actor="test")
    assert refused.value.code == "terms_outdated"


def test_a_version_without_reacceptance_binds_newcomers_only():
    trader = make_client_user().client
    version = publish(reacceptance_required=False)
    assert not terms_due(trader)
    newcomer = bare_client()
    assert version in terms_due(newcomer)
    assert terms_announce_sweep_task() == 0  # nothing to announce


def test_publishing_is_compliance_s_and_checks_its_input(client):
    with pytest.raises(NotAllowed):
        publish(actor=make_staff("finance_officer"))
    officer = make_staff("compliance_officer", email="co@t.example")
    with pytest.raises(InvalidInput) as unchanged:
        publish(actor=officer, text=TermsVersion.objects.get(document="client_agreement").text)
    assert "text" in unchanged.value.fields
    with pytest.raises(InvalidInput) as no_changes:
        publish(actor=officer, changes="")
    assert "changes" in no_changes.value.fields
    with pytest.raises(InvalidInput) as past:
        publish(actor=officer, effective_at=timezone.now() - dt.timedelta(days=1))
    assert "effective_at" in past.value.fields

    login(client, officer)
    assert client.get("/backoffice/clients/terms/").status_code == 200
    bad = client.post("/backoffice/clients/terms/", {"document": "client_agreement"})
    assert bad.status_code == 400 and b'data-field-error="title"' in bad.content
    good = client.post(
        "/backoffice/clients/terms/",
        {
            "document": "privacy_notice",
            "title": "Privacy notice",
            "text": "We now also keep call recordings for five years.",
            "changes": "Call recordings.",
            "reacceptance_required": "on",
        },
    )
    assert good.status_code == 302
    assert TermsVersion.objects.filter(document="privacy_notice", version=2).exists()
    page = client.get("/backoffice/clients/terms/")
    assert b'data-version="privacy_notice-2"' in page.content

    for role in ("finance_officer", "sales_agent"):
        login(client, make_staff(role, email=f"{role}@x.example"))
        assert client.get("/backoffice/clients/terms/").status_code == 403


def test_acceptances_and_versions_are_append_only():
    trader = make_client_user().client
    row = TermsAcceptance.objects.filter(client=trader).first()
    for statement in (
        lambda: TermsAcceptance.objects.filter(pk=row.pk).update(ip="10.0.0.1"),
        lambda: TermsAcceptance.objects.filter(pk=row.pk).delete(),
        lambda: TermsVersion.objects.filter(pk=row.terms_id).update(text="changed"),
    ):
        with pytest.raises(DatabaseError), transaction.atomic():
            statement()
    terms_accept_in_force(client=trader, actor="test")  # again: nothing new
    assert TermsAcceptance.objects.filter(client=trader).count() == 3


def test_the_text_is_public(client):
    version = terms_in_force()[0]
    page = client.get(f"/portal/terms/{version.pk}/")
    assert page.status_code == 200 and version.text_sha256.encode() in page.content
    assert client.get("/portal/terms/999999/").status_code == 404


def test_the_360_and_the_dossier_show_the_versions_accepted(client, tmp_path):
    trader = make_client_user().client
    publish()
    login(client, make_staff("compliance_officer", email="co2@t.example"))
    page = client.get(f"/backoffice/clients/{trader.pk}/")
    assert b"data-terms-section" in page.content and b"v2 to accept" in page.content

    out = tmp_path / "dossier.zip"
    call_command("client_dossier", str(trader.pk), "--out", str(out))
    archive = zipfile.ZipFile(out)
    rows = json.loads(archive.read("data/agreements_accepted.json"))["rows"]
    assert sorted((r["terms__document"], r["terms__version"]) for r in rows) == [
        ("client_agreement", 1),
        ("privacy_notice", 1),
        ("risk_disclosure", 1),
    ]
    assert all(len(r["text_sha256"]) == 64 for r in rows)
    texts = json.loads(archive.read("data/agreement_texts.json"))["rows"]
    assert {t["text_sha256"] for t in texts} == {r["text_sha256"] for r in rows}


def test_the_announcement_runs_on_the_compliance_queue_in_batches_each_client_told_once(
    monkeypatch, django_capture_on_commit_callbacks
):
    """At 50,000 clients one task emailing one after another takes hours on the sync queue:
    the announcement is split into batches of clients, a task each, on the compliance queue,
    and a batch run twice (a redelivered task) tells nobody twice."""
    from brokerage.celery import app
    from clients import tasks, terms

    for name in ("terms_announce_task", "terms_announce_batch_task", "terms_announce_sweep_task"):
        assert app.amqp.router.route({}, f"clients.tasks.{name}")["queue"].name == "compliance"
    traders = [make_client_user(f"t{n}@test.example").client for n in range(5)]
    monkeypatch.setattr(terms, "ANNOUNCE_BATCH", 2)
    queued = []
    monkeypatch.setattr(tasks.terms_announce_batch_task, "delay", lambda *a: queued.append(a))
    version = publish()

    assert tasks.terms_announce_task(version.pk) == 3
    ids = sorted(t.pk for t in traders)
    assert [(first, last) for _, first, last in queued] == [
        (ids[0], ids[1]),
        (ids[2], ids[3]),
        (ids[4], ids[4]),
    ]
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.terms_announce_batch_task(*queued[0]) == 2
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.terms_announce_batch_task(*queued[0]) == 0  # run again: nobody twice
    assert sorted(m.to[0] for m in mail.outbox) == ["t0@test.example", "t1@test.example"]
    # a client who accepted meanwhile is not told; the rest of the book is
    terms_accept(client=traders[2], version_ids=[version.pk], actor=traders[2].user)
    with django_capture_on_commit_callbacks(execute=True):
        assert sum(tasks.terms_announce_batch_task(*batch) for batch in queued[1:]) == 2
    assert len(mail.outbox) == 4
    told = ClientActivity.objects.filter(template="terms_updated", client__in=traders)
    assert sorted(told.values_list("client_id", flat=True)) == [ids[0], ids[1], ids[3], ids[4]]
    assert tasks.terms_announce_task(version.pk) == 0  # everyone told or accepted
