"""Threshold alerts to team heads (brokerage.alerts): each app's real figures crossing their
team's limit, the heads told once (back office and email), the breach resolved when back under
and a new crossing telling them again; limits set by the heads, audited."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from brokerage import alerts as alerts_module
from brokerage.alerts import alert_threshold_set, alerts_check
from brokerage.errors import InvalidInput, NotAllowed
from brokerage.models import AlertBreach, AuditEvent, StaffNotification
from finance.models import Deposit, ReconciliationItem, ReconciliationRun, Withdrawal
from finance.services import deposit_create
from tests.conftest import login, make_client_user, make_staff
from tests.finance.conftest import deposit_paid, verified_client

pytestmark = pytest.mark.django_db
H = timedelta(hours=1)


def opened(done) -> list[str]:
    return sorted(done["opened"])


def told(metric: str) -> list[str]:
    return sorted(
        StaffNotification.objects.filter(breach__metric=metric).values_list(
            "user__email", flat=True
        )
    )


def events(action: str) -> int:
    return AuditEvent.objects.filter(action=action).count()


@pytest.fixture
def methods(db):
    from finance.models import PaymentMethod

    stripe = PaymentMethod.objects.create(
        psp="stripe", name="Stripe", currency="USD", min_amount=10, max_amount=50_000
    )
    return {"stripe": stripe}


@pytest.fixture
def finance_heads(db):
    return [make_staff("head_of_finance", email=f"fo{n}@alerts.test") for n in (1, 2)]


def waiting_withdrawal(client, methods) -> Withdrawal:
    from finance.services import withdrawal_request

    deposit_paid(client, methods["stripe"], "500.00")
    w = withdrawal_request(client=client, amount="50", currency="USD", psp="stripe", actor="t")
    Withdrawal.objects.filter(pk=w.pk).update(status=Withdrawal.Status.IN_REVIEW)
    return w


def test_a_withdrawal_waiting_past_its_sla_tells_the_finance_heads_once(
    finance_heads, methods, mailoutbox
):
    make_staff("compliance_officer", email="co@alerts.test")  # not finance's head
    make_staff("finance_officer", email="officer@alerts.test")  # finance, not its head
    w = waiting_withdrawal(verified_client("w1@alerts.test"), methods)
    start = timezone.now()
    metric = "finance.withdrawals_waiting"

    assert metric + ":" not in opened(alerts_check(start + 23 * H))  # 23 h: within 24 h
    assert told(metric) == []

    assert metric + ":" in opened(alerts_check(start + 25 * H))  # 25 h: over
    assert told(metric) == ["fo1@alerts.test", "fo2@alerts.test"]
    breach = AlertBreach.objects.get(metric=metric)
    assert breach.status == "notified" and breach.opened_value == Decimal("25.00")
    mails = [m for m in mailoutbox if "withdrawal" in m.subject.lower()]
    assert sorted(m.to[0] for m in mails) == ["fo1@alerts.test", "fo2@alerts.test"]
    assert "/backoffice/finance/withdrawals/?status=in_review" in mails[0].body
    assert "over the limit" in mails[0].subject

    # Still over an hour later: nobody is told again; the breach follows the figure.
    alerts_check(start + 26 * H)
    alerts_check(start + 26 * H)  # a second run of the same check changes nothing
    assert len(told(metric)) == 2 and len(mailoutbox) == len(mails) + 0
    assert AlertBreach.objects.get(pk=breach.pk).peak_value == Decimal("26.00")

    # Decided: back under, the breach is resolved.
    Withdrawal.objects.filter(pk=w.pk).update(status=Withdrawal.Status.REJECTED)
    assert metric + ":" in alerts_check(start + 27 * H)["resolved"]
    assert AlertBreach.objects.get(pk=breach.pk).status == "resolved"
    assert events("alert.breach_opened") == 1 and events("alert.breach_resolved") == 1

    # A new one waiting past its SLA is a new breach: the heads are told again.
    waiting_withdrawal(verified_client("w2@alerts.test"), methods)
    assert metric + ":" in opened(alerts_check(timezone.now() + 25 * H))
    assert AlertBreach.objects.filter(metric=metric).count() == 2
    assert len(told(metric)) == 4 and len(mailoutbox) == len(mails) + 2


def test_a_psp_decline_rate_crossing_and_recrossing_the_limit_its_heads_set(
    finance_heads, methods, client
):
    head = finance_heads[0]
    alert_threshold_set(
        actor=head, metric="finance.psp_decline_rate", limit=Decimal(20), enabled=True,
        reason="Stripe declines above a fifth need a call to them",
    )  # fmt: skip
    event = AuditEvent.objects.get(action="alert.threshold_set")
    assert event.actor_id == head.pk and event.evidence["before"]["limit"] == "30"
    customer = verified_client("d@alerts.test")

    def deposits(n, status):
        for _ in range(n):
            d = deposit_create(client=customer, method=methods["stripe"], amount="20", actor="t")
            Deposit.objects.filter(pk=d.pk).update(status=status)

    deposits(3, Deposit.Status.FAILED)
    deposits(6, Deposit.Status.COMPLETED)
    assert alerts_check()["opened"] == []  # 9 finished: too few to read
    deposits(1, Deposit.Status.COMPLETED)  # 3 of 10 failed: 30% > 20%
    assert "finance.psp_decline_rate:stripe" in alerts_check()["opened"]
    breach = AlertBreach.objects.get(metric="finance.psp_decline_rate")
    assert breach.subject_label == "Stripe (cards)" and breach.opened_value == Decimal("30.00")
    assert breach.url == "/backoffice/finance/deposits/?psp=stripe&status=failed"
    deposits(5, Deposit.Status.COMPLETED)  # 3 of 15: 20%, not over
    assert alerts_check()["resolved"] == ["finance.psp_decline_rate:stripe"]
    deposits(2, Deposit.Status.FAILED)  # 5 of 17: 29.4%
    assert alerts_check()["opened"] == ["finance.psp_decline_rate:stripe"]
    assert len(told("finance.psp_decline_rate")) == 4  # two heads, two breaches

    # Turned off by a head: the open breach resolves and no new one opens.
    alert_threshold_set(
        actor=head, metric="finance.psp_decline_rate", limit=Decimal(20), enabled=False,
        reason="Known outage at Stripe",
    )  # fmt: skip
    assert alerts_check()["resolved"] == ["finance.psp_decline_rate:stripe"]
    assert alerts_check()["opened"] == []


def test_unexplained_reconciliation_differences(finance_heads):
    run = ReconciliationRun.objects.create(
        psp="stripe", format="generic", file="s.csv", original_name="s.csv",
        period_start=timezone.now().date(), period_end=timezone.now().date(),
        status=ReconciliationRun.Status.DONE, created_by=finance_heads[0],
    )  # fmt: skip
    item = ReconciliationItem.objects.create(run=run, kind="amount_mismatch", reference="r1")
    assert alerts_check()["opened"] == ["finance.reconciliation_unexplained:"]
    ReconciliationItem.objects.filter(pk=item.pk).update(resolved_at=timezone.now())
    assert alerts_check()["resolved"] == ["finance.reconciliation_unexplained:"]


def test_kyc_review_ageing_and_aml_alerts_on_no_case_tell_compliance(mailoutbox):
    from compliance.cases import case_open
    from kyc.models import KycSubmission
    from kyc.services import kyc_submission_current
    from tests.compliance.test_cases import aml_alert

    officer = make_staff("head_of_compliance", email="co@alerts.test")
    make_staff("compliance_officer", email="co-officer@alerts.test")  # not the head
    make_staff("finance_officer", email="fo@alerts.test")
    submission = kyc_submission_current(client=make_client_user("k@alerts.test").client)
    KycSubmission.objects.filter(pk=submission.pk).update(
        state="in_review", submitted_at=timezone.now()
    )
    assert "kyc.review_age:" in alerts_check(timezone.now() + 25 * H)["opened"]
    assert told("kyc.review_age") == ["co@alerts.test"]
    KycSubmission.objects.filter(pk=submission.pk).update(state="approved")
    assert "kyc.review_age:" in alerts_check(timezone.now() + 26 * H)["resolved"]

    alert_threshold_set(
        actor=officer, metric="compliance.aml_unassigned", limit=Decimal(0), enabled=True,
        reason="Every alert should be in a case within the day",
    )  # fmt: skip
    customer = verified_client("aml@alerts.test")
    alert = aml_alert(customer)
    assert alerts_check()["opened"] == ["compliance.aml_unassigned:"]
    assert told("compliance.aml_unassigned") == ["co@alerts.test"]
    case_open(client=customer, actor=officer, summary="Structuring", aml_alerts=[alert])
    assert alerts_check()["resolved"] == ["compliance.aml_unassigned:"]


def test_a_trading_server_lagging_tells_operations_per_server():
    from clients.models import TradingServer
    from tests.clients.factories import make_server

    make_staff("ops_admin", email="ops@alerts.test")
    now = timezone.now()
    server = make_server("MT5 Live")
    make_server("MT5 Demo")
    TradingServer.objects.update(deals_synced_through=now)
    assert alerts_check(now + timedelta(seconds=500))["opened"] == []  # limit 600 s
    TradingServer.objects.filter(pk=server.pk).update(deals_synced_through=now)
    TradingServer.objects.exclude(pk=server.pk).update(
        deals_synced_through=now + timedelta(seconds=700)
    )
    assert alerts_check(now + timedelta(seconds=700))["opened"] == ["clients.sync_lag:MT5 Live"]
    assert told("clients.sync_lag") == ["ops@alerts.test"]
    TradingServer.objects.filter(pk=server.pk).update(
        deals_synced_through=now + timedelta(seconds=690)
    )
    assert alerts_check(now + timedelta(seconds=700))["resolved"] == ["clients.sync_lag:MT5 Live"]


def test_a_breach_with_no_head_waits_and_is_told_when_one_exists():
    from clients.models import TradingServer
    from tests.clients.factories import make_server

    make_server("MT5 Live")
    TradingServer.objects.update(deals_synced_through=timezone.now() - timedelta(hours=1))
    alerts_check()
    breach = AlertBreach.objects.get(metric="clients.sync_lag")
    assert breach.status == "open" and breach.notified_at is None
    make_staff("ops_admin", email="ops@alerts.test")
    assert alerts_check()["notified"] == 1
    assert AlertBreach.objects.get(pk=breach.pk).status == "notified"
    assert alerts_check()["notified"] == 0


def test_only_a_teams_heads_set_its_limits_and_a_bad_limit_is_refused(finance_heads):
    for not_head in (make_staff("compliance_officer"), make_staff("finance_officer")):
        with pytest.raises(NotAllowed):
            alert_threshold_set(
                actor=not_head, metric="finance.psp_decline_rate", limit=Decimal(5),
                enabled=True, reason="x",
            )  # fmt: skip
    officer = make_staff("head_of_compliance", email="hoc@alerts.test")
    with pytest.raises(NotAllowed):
        alert_threshold_set(
            actor=officer, metric="finance.psp_decline_rate", limit=Decimal(5), enabled=True,
            reason="x",
        )  # fmt: skip
    for limit, reason in ((Decimal(101), "x"), (Decimal(-1), "x"), (Decimal(5), " ")):
        with pytest.raises(InvalidInput):
            alert_threshold_set(
                actor=finance_heads[0], metric="finance.psp_decline_rate", limit=limit,
                enabled=True, reason=reason,
            )  # fmt: skip
    with pytest.raises(InvalidInput):
        alert_threshold_set(
            actor=finance_heads[0], metric="nope", limit=Decimal(1), enabled=True, reason="x"
        )
    assert events("alert.threshold_set") == 0


def test_the_alerts_page_lists_notifications_marks_them_read_and_edits_limits(
    client, finance_heads, methods
):
    head = finance_heads[0]
    waiting_withdrawal(verified_client("w1@alerts.test"), methods)
    alerts_check(timezone.now() + 25 * H)
    login(client, head)
    badge = client.get("/backoffice/alerts/badge/")
    assert b"data-unread>1<" in badge.content
    page = client.get("/backoffice/alerts/")
    assert page.status_code == 200
    assert b"Oldest withdrawal waiting for a decision" in page.content
    assert b'data-limit="finance.psp_decline_rate"' in page.content
    assert b'data-limit="kyc.review_age"' not in page.content  # not their team
    assert b"Over the limit, heads told" in page.content  # the breach's label, not its code

    mine = StaffNotification.objects.get(user=head)
    other = StaffNotification.objects.get(user=finance_heads[1])
    assert client.post("/backoffice/alerts/read/", {"id": other.pk}).status_code == 302
    assert StaffNotification.objects.get(pk=other.pk).read_at is None  # not theirs
    client.post("/backoffice/alerts/read/", {"id": mine.pk})
    assert StaffNotification.objects.get(pk=mine.pk).read_at is not None
    assert b"data-unread" not in client.get("/backoffice/alerts/badge/").content
    assert client.post("/backoffice/alerts/read/", {"id": "x"}).status_code == 404

    url = "/backoffice/alerts/limits/finance.psp_decline_rate/"
    prefix = "finance-psp_decline_rate"
    refused = client.post(url, {f"{prefix}-limit": "150", f"{prefix}-reason": "too high"})
    assert refused.status_code == 400 and b'data-field-error="limit"' in refused.content
    saved = client.post(
        url, {f"{prefix}-limit": "12.5", f"{prefix}-enabled": "on", f"{prefix}-reason": "PSP SLA"}
    )
    assert saved.status_code == 302
    assert AuditEvent.objects.get(action="alert.threshold_set").evidence["limit"] == "12.5"
    assert client.post("/backoffice/alerts/limits/nope/", {}).status_code == 404

    client.logout()
    login(client, make_staff("finance_officer", email="fo3@alerts.test"))  # not a head
    assert client.post(url, {f"{prefix}-limit": "1", f"{prefix}-reason": "x"}).status_code == 403
    client.logout()
    login(client, make_staff("executive", email="boss@alerts.test"))
    page = client.get("/backoffice/alerts/")
    assert page.status_code == 200 and b"data-limits" not in page.content


# --- The emails: in the head's language, marked sent after they went, recorded ------------------


def test_an_alert_email_is_marked_sent_only_after_it_went(finance_heads, methods, monkeypatch):
    start = timezone.now()
    waiting_withdrawal(verified_client("w1@alerts.test"), methods)

    def refused(**kwargs):
        raise ConnectionRefusedError("the mail server is down")

    monkeypatch.setattr(alerts_module, "email_send", refused)
    mail.outbox.clear()
    alerts_check(start + 25 * H)
    notes = StaffNotification.objects.filter(breach__metric="finance.withdrawals_waiting")
    assert notes.count() == 2 and mail.outbox == []
    for n in notes:  # nothing lost: released for the next check, the error kept
        assert (n.emailed_at, n.email_claimed_at, n.email_attempts) == (None, None, 1)
        assert "mail server is down" in n.email_error
    monkeypatch.undo()
    assert alerts_module.notifications_email_due() == 2
    assert sorted(m.to[0] for m in mail.outbox) == ["fo1@alerts.test", "fo2@alerts.test"]
    for n in notes.all():  # recorded as it went
        message = next(m for m in mail.outbox if m.to == [n.user.email])
        assert n.emailed_at is not None and n.email_attempts == 2 and n.email_error == ""
        assert (n.email_subject, n.email_body) == (message.subject, message.body)
        assert n.email_language == "en" and "Open the queue: http" in n.email_body
    assert alerts_module.notifications_email_due() == 0  # never twice
    assert len(mail.outbox) == 2


def test_a_run_that_died_between_the_claim_and_the_send_loses_nothing(finance_heads, methods):
    now = timezone.now()
    waiting_withdrawal(verified_client("w1@alerts.test"), methods)
    alerts_check(now + 25 * H)
    note = StaffNotification.objects.filter(user=finance_heads[0]).get()
    # A run claimed it and died before the mail went.
    StaffNotification.objects.filter(pk=note.pk).update(
        emailed_at=None, email_claimed_at=now, email_attempts=1
    )
    mail.outbox.clear()
    assert alerts_module.notifications_email_due(now + timedelta(minutes=1)) == 0  # live claim
    later = now + alerts_module.EMAIL_CLAIM_STALE + timedelta(seconds=1)
    assert alerts_module.notifications_email_due(later) == 1
    assert [m.to for m in mail.outbox] == [["fo1@alerts.test"]]
    assert alerts_module.notifications_email_due(later + 2 * H) == 0
    assert len(mail.outbox) == 1


def test_alert_emails_are_written_in_the_heads_language(finance_heads, methods, settings):
    settings.LANGUAGE_CODE = "es"  # staff keep no language of their own: the site's
    waiting_withdrawal(verified_client("w1@alerts.test"), methods)
    mail.outbox.clear()
    alerts_check(timezone.now() + 25 * H)
    message = next(m for m in mail.outbox if m.to == ["fo1@alerts.test"])
    assert message.subject.endswith("por encima del límite")
    assert "que fijó su equipo" in message.body and "Abrir la cola: http" in message.body
    note = StaffNotification.objects.get(user=finance_heads[0])
    assert note.email_language == "es" and "por encima del límite" in note.title
