"""Jurisdiction rules applied to existing clients: a rule's start restricts every client it
reaches (set-based), each told by email in their language and audited; its end lifts exactly
what it imposed; and each money path refuses with the rule named while withdrawals go on."""

from datetime import timedelta

import pytest
from celery import current_app
from django.core import mail
from django.db import connection
from django.utils import timezone

from brokerage.errors import DomainError
from brokerage.models import AuditEvent, CountryRule
from clients.models import ClientActivity
from clients.services import client_restrict
from clients.standing import Purpose, client_standing
from clients.trading.services import trading_account_open
from compliance import jurisdictions
from compliance.jurisdictions import (
    country_rule_add,
    country_rule_end,
    jurisdiction_apply,
    rule_apply_job_run,
)
from compliance.models import RuleApplication, RuleApplyJob
from compliance.tasks import jurisdiction_apply_task
from finance.services import deposit_create, withdrawal_request
from finance.transfers import transfer_request
from tests.clients.conftest import mt5_server  # noqa: F401
from tests.compliance.rules import worker_runs_it
from tests.conftest import login, make_client_user, make_staff
from tests.finance.conftest import deposit_paid, methods  # noqa: F401

pytestmark = pytest.mark.django_db


def person(email, *, country="DE", nationality="", language="en", kyc=1):
    client = make_client_user(email).client
    client.country, client.nationality, client.language = country, nationality, language
    client.kyc_level = kyc
    client.id_document_expires_on = timezone.now().date() + timedelta(days=900)
    client.save()
    return client


@pytest.fixture
def officer():
    return make_staff("compliance_officer")


def restrict_gb(officer, **kwargs):
    return country_rule_add(
        actor=officer, country="GB", kind="restricted", basis="FCA notice 2026/12", **kwargs
    )


def test_a_rule_added_now_restricts_every_client_it_reaches_and_tells_each(officer):
    resident = person("res@test.example", country="GB")
    national = person("nat@test.example", country="DE", nationality="GB", language="es")
    other = person("other@test.example", country="DE", nationality="FR")
    with worker_runs_it():
        rule = restrict_gb(officer)
    job = RuleApplyJob.objects.get(rule=rule)
    assert (job.change, job.status, job.done, job.total, job.applied_count) == (
        "added",
        "done",
        2,
        2,
        2,
    )
    applied = {a.client_id: a.via for a in RuleApplication.objects.filter(lifted_at=None)}
    assert applied == {resident.pk: "residence", national.pk: "nationality"}
    for client in (resident, national):
        refusal = client_standing(client, Purpose.DEPOSIT).refusal()
        assert refusal.code == "jurisdiction_restricted"
        assert f"jurisdiction rule {rule.pk}" in refusal.client_message
        assert "FCA notice 2026/12" in refusal.client_message
        assert client_standing(client, Purpose.WITHDRAW).clear
        assert client_standing(client, Purpose.TRADE).refusal().code == "jurisdiction_restricted"
    assert client_standing(other, Purpose.DEPOSIT).clear
    subjects = {m.to[0]: m.subject for m in mail.outbox}
    assert subjects["res@test.example"] == "Your account is limited to withdrawals"
    assert subjects["nat@test.example"] == "Su cuenta queda limitada a retiradas"
    body = next(m.body for m in mail.outbox if m.to[0] == "nat@test.example")
    assert "por su nacionalidad" in body and f"regla de jurisdicción {rule.pk}" in body
    assert ClientActivity.objects.filter(
        client=resident, template="jurisdiction_restricted"
    ).exists()
    assert AuditEvent.objects.filter(action="jurisdiction.applied").count() == 2
    assert set(
        AuditEvent.objects.filter(action="jurisdiction.applied").values_list(
            "subject_client_id", flat=True
        )
    ) == {resident.pk, national.pk}
    # Run again (the beat): nothing changes, nobody is told twice.
    sent = len(mail.outbox)
    assert jurisdiction_apply() == {"applied": 0, "lifted": 0}
    assert len(mail.outbox) == sent


def test_a_scheduled_rule_applies_when_its_time_comes_and_ends_when_its_end_comes(officer):
    client = person("later@test.example", country="GB")
    start = timezone.now() + timedelta(days=2)
    rule = restrict_gb(officer, effective_from=start)
    assert not RuleApplication.objects.exists()
    assert client_standing(client, Purpose.DEPOSIT).clear
    assert jurisdiction_apply(at=start - timedelta(seconds=1)) == {"applied": 0, "lifted": 0}
    country_rule_end(
        actor=officer, rule=rule, reason="Notice lapses", effective_to=start + timedelta(days=1)
    )
    assert jurisdiction_apply(at=start) == {"applied": 1, "lifted": 0}
    assert jurisdiction_apply(at=start + timedelta(hours=1)) == {"applied": 0, "lifted": 0}
    assert jurisdiction_apply(at=start + timedelta(days=1)) == {"applied": 0, "lifted": 1}
    application = RuleApplication.objects.get()
    assert application.lifted_at is not None and application.lift_reason == "The rule ended."


def test_a_rule_ending_lifts_only_what_it_imposed(officer):
    client = person("both@test.example", country="GB", nationality="CU")
    with worker_runs_it():
        rule = restrict_gb(officer)
        cuba = country_rule_add(
            actor=officer, country="CU", kind="restricted", basis="OFAC Cuban regulations"
        )
    client_restrict(client=client, actor=officer, reason="Chargeback fraud under review")
    assert RuleApplication.objects.filter(client=client, lifted_at=None).count() == 2
    mail.outbox.clear()
    with worker_runs_it():
        country_rule_end(actor=officer, rule=rule, reason="Notice withdrawn")
    ended = RuleApplyJob.objects.filter(rule=rule).first()
    assert (ended.change, ended.status, ended.lifted_count) == ("ended", "done", 1)
    gb, cu = RuleApplication.objects.filter(client=client).order_by("rule_id")
    assert gb.rule == rule and gb.lifted_at is not None
    assert cu.rule == cuba and cu.lifted_at is None
    client.refresh_from_db()
    standing = client_standing(client, Purpose.DEPOSIT)
    assert "restricted" in standing.codes and "jurisdiction_restricted" in standing.codes
    assert f"jurisdiction rule {cuba.pk}" in standing.refusal().client_message
    assert client.restricted and client.restriction_reason == "Chargeback fraud under review"
    assert [m.subject for m in mail.outbox] == ["A limit on your account has ended"]
    assert AuditEvent.objects.filter(action="jurisdiction.lifted", subject_client_id=client.pk)


def test_a_client_moving_out_of_a_rules_reach_is_lifted_and_into_it_restricted(officer):
    client = person("mover@test.example", country="GB")
    with worker_runs_it():
        restrict_gb(officer)
    client.country = "DE"
    client.save(update_fields=["country"])
    assert jurisdiction_apply() == {"applied": 0, "lifted": 1}
    assert RuleApplication.objects.get().lift_reason == "The rule no longer reaches the client."
    client.nationality = "GB"
    client.save(update_fields=["nationality"])
    assert jurisdiction_apply() == {"applied": 1, "lifted": 0}


def test_each_money_path_refuses_naming_the_rule_and_withdrawals_go_on(
    officer,
    mt5_server,  # noqa: F811
    methods,  # noqa: F811
):
    client = person("money@test.example", country="GB")
    deposit_paid(client, methods["stripe"], "1000.00")
    account_type = mt5_server.account_types.get(currency="USD")
    account, _ = trading_account_open(
        client=client, account_type=account_type, leverage=30, actor="test"
    )
    rule = restrict_gb(officer)
    named = f"jurisdiction rule {rule.pk}"
    for attempt in (
        lambda: deposit_create(
            client=client, method=methods["stripe"], amount="100", actor=client.user
        ),
        lambda: transfer_request(
            client=client,
            trading_account=account,
            direction="to_trading",
            amount="100.00",
            actor=client.user,
        ),
        lambda: trading_account_open(
            client=client, account_type=account_type, leverage=30, actor=client.user
        ),
    ):
        with pytest.raises(DomainError) as exc:
            attempt()
        assert named in exc.value.message, exc.value.message
    withdrawal = withdrawal_request(
        client=client, amount="50", currency="USD", psp="stripe", actor=client.user
    )
    assert "jurisdiction_restricted" not in [r["code"] for r in withdrawal.check_reasons]


def _sequence_value() -> int:
    with connection.cursor() as cur:
        cur.execute("SELECT last_value FROM compliance_ruleapplication_id_seq")
        return cur.fetchone()[0]


def test_the_officers_request_returns_at_once_and_a_task_applies_the_rule_in_batches(
    client, officer, monkeypatch, django_capture_on_commit_callbacks
):
    """Adding a rule in force now writes the rule and a queued job in the officer's request;
    the clients are restricted by the task after commit, a batch per transaction, its
    progress on the country's page."""
    reached = [person(f"gb{i}@test.example", country="GB") for i in range(5)]
    login(client, officer)
    with django_capture_on_commit_callbacks() as queued:
        page = client.post(
            "/backoffice/compliance/jurisdictions/",
            {"country": "GB", "kind": "restricted", "basis": "FCA notice 2026/12"},
        )
    assert page.status_code == 302
    rule = CountryRule.objects.get(country="GB", kind="restricted")
    job = RuleApplyJob.objects.get(rule=rule)
    assert job.status == "queued" and not RuleApplication.objects.exists()  # nothing yet
    assert not mail.outbox
    # The standing reads the rule live meanwhile.
    assert client_standing(reached[0], Purpose.DEPOSIT).refusal().code == "jurisdiction_restricted"
    page = client.get("/backoffice/compliance/jurisdictions/GB/")
    assert b"Waiting to start" in page.content and b'hx-trigger="every 1s"' in page.content
    monkeypatch.setattr("compliance.jurisdictions.APPLY_BATCH", 2)
    batches = []
    real = jurisdictions.jurisdiction_apply

    def counted(**kwargs):
        batches.append(sorted(kwargs["client_ids"]))
        return real(**kwargs)

    monkeypatch.setattr("compliance.jurisdictions.jurisdiction_apply", counted)
    current_app.conf.task_always_eager = True
    try:
        with django_capture_on_commit_callbacks(execute=True):
            for callback in queued:
                callback()
    finally:
        current_app.conf.task_always_eager = False
    assert batches == [
        [reached[0].pk, reached[1].pk],
        [reached[2].pk, reached[3].pk],
        [reached[4].pk],
    ]
    job.refresh_from_db()
    assert (job.status, job.done, job.total, job.applied_count) == ("done", 5, 5, 5)
    assert RuleApplication.objects.filter(rule=rule, lifted_at=None).count() == 5
    assert len([m for m in mail.outbox if m.to[0].startswith("gb")]) == 5
    fragment = client.get(
        "/backoffice/compliance/jurisdictions/GB/?apply=" + str(rule.pk), HTTP_HX_REQUEST="true"
    )
    text = fragment.content.decode()
    assert "5 of 5 clients · 5 restricted, 0 lifted" in text and "hx-trigger" not in text
    assert 'data-status="done"' in text and ">Done<" in text


def test_the_beat_skips_pairs_already_applied_and_requeues_a_lost_job(officer, monkeypatch):
    person("applied@test.example", country="GB")
    with worker_runs_it():
        rule = restrict_gb(officer)
    before = _sequence_value()
    assert jurisdictions.jurisdiction_apply_batched() == {"applied": 0, "lifted": 0}
    assert jurisdiction_apply() == {"applied": 0, "lifted": 0}
    assert _sequence_value() == before  # no id spent on a pair already applied
    lost = RuleApplyJob.objects.create(
        rule=rule, change="added", requested_at=timezone.now() - timedelta(minutes=5)
    )
    queued = []
    monkeypatch.setattr("compliance.tasks.rule_apply_task.delay", queued.append)
    assert jurisdiction_apply_task()["jobs_requeued"] == 1
    assert queued == [lost.pk]
    assert rule_apply_job_run(job_id=lost.pk).status == "done"
    assert rule_apply_job_run(job_id=lost.pk).status == "done"  # run twice: nothing more
    lost.refresh_from_db()
    assert (lost.total, lost.applied_count) == (0, 0)  # nothing was left to apply
