"""Real time, nightly and backtest: hits become alerts once, later hits of the same client and
scenario join the open alert, a closed alert is not raised again by the same rows, a held
withdrawal waits in finance review for an officer."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from brokerage.models import AuditEvent
from compliance.monitoring import audit_events, backtest, evaluate_transaction, run_nightly
from compliance.monitoring.models import Alert, Evaluation, Scenario
from compliance.monitoring.services import version_draft
from compliance.monitoring.sweep import unevaluated
from finance.models import Withdrawal
from finance.services import withdrawal_approve, withdrawal_request
from tests.clients.factories import fund_wallet
from tests.conftest import login, make_staff

from . import factories as f

pytestmark = pytest.mark.django_db


def test_a_deposit_raises_one_alert_that_later_hits_join():
    c = f.client()
    deposits = [f.deposit(c, amount, at=f.ago(n + 1)) for n, amount in enumerate([9500, 9600])]
    assert evaluate_transaction("deposit", deposits[-1].pk) == []
    deposits.append(f.deposit(c, 9700))
    (alert,) = evaluate_transaction("deposit", deposits[-1].pk)
    assert (alert.scenario.code, alert.score, alert.action, alert.source) == (
        "structuring",
        70,
        "alert",
        "realtime",
    )
    assert alert.snapshot["email"] == c.user.email and "risk_rating" in alert.snapshot
    assert alert.params["threshold_usd"] == "10000"
    assert sorted(alert.evidence.values_list("object_id", flat=True)) == sorted(
        d.pk for d in deposits
    )
    assert evaluate_transaction("deposit", deposits[-1].pk) == []  # nothing new
    assert Evaluation.objects.filter(kind="deposit", object_id=deposits[-1].pk).exists()
    fourth = f.deposit(c, 9800)
    (again,) = evaluate_transaction("deposit", fourth.pk)
    assert again.pk == alert.pk
    again.refresh_from_db()
    assert (again.score, again.action, again.evidence.count()) == (80, "hold", 4)
    assert Alert.objects.filter(client=c).count() == 1
    actions = AuditEvent.objects.filter(subject_client_id=c.pk).values_list("action", flat=True)
    assert audit_events.ALERT_RAISED in actions and audit_events.ALERT_EVIDENCE_ADDED in actions


def test_nightly_writes_once_and_a_closed_alert_stays_closed():
    c = f.client()
    for n, amount in enumerate([9500, 9600, 9700]):
        f.deposit(c, amount, at=f.ago(n + 1))
    first = run_nightly()
    assert first["scenarios"]["structuring"]["alerts"] == 1
    assert set(first["scenarios"]) == {s.code for s in Scenario.objects.all()}
    alert = Alert.objects.get(client=c)
    assert alert.source == "nightly"
    assert run_nightly()["scenarios"]["structuring"]["alerts"] == 0
    alert.close("Salary in instalments; payslips on file.", make_staff("compliance_officer"))
    assert run_nightly()["scenarios"]["structuring"]["alerts"] == 0
    assert Alert.objects.filter(client=c).count() == 1
    f.deposit(c, 9900)  # a new row inside the closed alert's window: that alert again
    run_nightly()
    assert Alert.objects.filter(client=c, status="open").count() == 1
    assert Alert.objects.filter(client=c).count() == 1
    assert AuditEvent.objects.filter(action=audit_events.NIGHTLY_RUN).count() == 4


def test_more_evidence_inside_a_closed_alert_s_window_reopens_it_and_later_raises_anew(client):
    officer = make_staff("compliance_officer")
    c = f.client()
    for n, amount in enumerate([9500, 9600, 9700]):
        f.deposit(c, amount, at=f.ago(n + 2))
    run_nightly(as_of=f.ago(1))
    alert = Alert.objects.get(client=c)
    first_end = alert.window_end
    alert.close("Salary in instalments; payslips on file.", officer)

    fourth = f.deposit(c, 9800)  # the next night: the same episode goes on
    run_nightly()
    again = Alert.objects.get(client=c)
    assert again.pk == alert.pk and again.status == "open" and again.closed_at is None
    assert again.window_end > first_end and (again.score, again.action) == (80, "hold")
    assert again.evidence.filter(kind="deposit", object_id=fourth.pk).exists()
    assert again.evidence.count() == 4
    reopened = AuditEvent.objects.get(action=audit_events.ALERT_REOPENED)
    assert reopened.subject_client_id == c.pk and reopened.target_id == str(alert.pk)
    assert reopened.evidence["closed_before"]["closed_reason"].startswith("Salary")
    assert reopened.evidence["evidence"] == [f"deposit:{fourth.pk}"]
    # the closing stays on the alert, marked reopened
    (closing,) = again.closings
    assert closing["reason"].startswith("Salary") and closing["closed_by"] == officer.email
    assert closing["closed_by_id"] == officer.pk
    assert closing["closed_at"] < closing["reopened_at"]

    # Weeks later, past the window, a new episode is a new alert.
    again.close("Explained by the client.", officer)
    again.refresh_from_db()
    assert [c["reason"][:9] for c in again.closings] == ["Salary in", "Explained"]
    assert again.closings[-1]["reopened_at"] is None
    login(client, officer)
    page = client.get(reverse("compliance:aml_alert", args=[alert.pk]))
    assert page.content.count(b"data-closing>") == 2
    assert b"Salary in instalments; payslips on file." in page.content
    assert b"Explained by the client." in page.content
    later = f.ago(-30)
    for n, amount in enumerate([9400, 9500, 9600]):
        f.deposit(c, amount, at=later - timedelta(days=n + 1))
    run_nightly(as_of=later)
    assert Alert.objects.filter(client=c).count() == 2
    new = Alert.objects.get(client=c, status="open")
    assert new.pk != alert.pk and new.window_start > again.window_end - timedelta(days=1)


def test_backtest_shows_the_draft_beside_the_live_version_writing_nothing():
    officer = make_staff("compliance_officer")
    two, three = f.structuring_book()
    draft = version_draft(
        scenario=Scenario.objects.get(code="structuring"), actor=officer, params={"min_count": 2}
    )
    result = backtest(draft, days=10)
    assert result["version"]["clients"] == sorted([two.pk, three.pk])
    assert result["live"]["clients"] == [three.pk]
    assert result["live"]["alerts"] == 1 and result["version"]["alerts"] == 2
    assert not Alert.objects.exists()


def test_a_withdrawal_monitoring_holds_waits_for_an_officer_in_review():
    c = f.verified_client()
    funding = f.deposit(c, 40000, at=f.ago(60))
    fund_wallet(c, "40000.00", key="hold-test-funds")
    for n, amount in enumerate([9500, 9600]):
        f.withdrawal(c, amount, at=f.ago(n + 1), funding=funding, status="paid")
    w = withdrawal_request(client=c, amount="9700", currency="USD", psp="stripe", actor=c.user)
    assert w.status == Withdrawal.Status.IN_REVIEW
    codes = [r["code"] for r in w.check_reasons]
    assert "aml_hold" in codes
    held = next(r for r in w.check_reasons if r["code"] == "aml_hold")
    assert "3 withdrawals" in held["message"]
    alert = Alert.objects.get(client=c, scenario__code="structuring")
    assert alert.action == "hold"
    assert alert.evidence.filter(kind="withdrawal", object_id=w.pk).exists()
    assert AuditEvent.objects.filter(
        action=audit_events.WITHDRAWAL_HELD, target_id=str(w.pk)
    ).exists()
    finance = make_staff("finance_officer")
    second = make_staff("finance_officer", email="second@test.example")
    w = withdrawal_approve(withdrawal=w, actor=finance, reason="Compliance cleared it.")
    if w.status == Withdrawal.Status.IN_REVIEW:  # four eyes at this amount
        w = withdrawal_approve(withdrawal=w, actor=second, reason="Agreed.")
    assert w.status == Withdrawal.Status.APPROVED


def test_an_ordinary_withdrawal_is_evaluated_and_not_held():
    c = f.verified_client()
    f.deposit(c, 300, at=f.ago(60))
    fund_wallet(c, "300.00", key="ordinary-funds")
    w = withdrawal_request(client=c, amount="50", currency="USD", psp="stripe", actor=c.user)
    assert "aml_hold" not in [r["code"] for r in w.check_reasons]
    assert Evaluation.objects.get(kind="withdrawal", object_id=w.pk).held is False


def test_the_sweeper_finds_money_rows_never_evaluated():
    c = f.client()
    lost = f.deposit(c, Decimal("100"), at=f.ago(hours=1))
    evaluated = f.deposit(c, Decimal("100"), at=f.ago(hours=1))
    evaluate_transaction("deposit", evaluated.pk)
    rows = unevaluated()
    assert ("deposit", lost.pk) in rows and ("deposit", evaluated.pk) not in rows
