"""Deposits, withdrawals, refunds and chargebacks through the services (PSP events as the
adapters deliver them; the HTTP and signature layer is in test_webhooks.py)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import override_settings
from django.utils import timezone

from brokerage.errors import InvalidInput, NotAllowed
from brokerage.models import AuditEvent
from finance.ledger import (
    InsufficientFunds,
    clearing_for,
    ledger_verify,
    system_account,
    wallet_for,
)
from finance.models import Chargeback, Deposit, LedgerAccount, PspEvent, Withdrawal
from finance.psp import EventKind, WebhookRejected
from finance.services import (
    DepositNotAllowed,
    WithdrawalNotAllowed,
    chargeback_open,
    chargeback_resolve,
    deposit_create,
    psp_event_apply,
    refund_request,
    withdrawal_approve,
    withdrawal_reject,
    withdrawal_request,
)
from tests.conftest import make_client_user, make_staff
from tests.finance.conftest import deposit_paid, event, fresh, verified_client

D = Decimal


def balance(client, currency="USD"):
    w = wallet_for(client, currency)
    w = fresh(w)
    return w.balance_amount, w.available_amount


def test_a_paid_deposit_credits_the_wallet_once_and_is_the_ftd(methods):
    client = verified_client()
    deposit = deposit_paid(client, methods["stripe"], "250.00")
    assert deposit.status == "completed" and deposit.is_ftd
    assert balance(client) == (D("250.00"), D("250.00"))
    clearing = clearing_for("stripe", "USD")
    clearing.refresh_from_db()
    assert clearing.balance_amount == D("-250.00")
    client.refresh_from_db()
    assert client.first_deposit_at and client.status == "active"
    second = deposit_paid(client, methods["checkout"], "50.00")
    assert not second.is_ftd
    assert AuditEvent.objects.filter(action="client.ftd").count() == 1
    assert ledger_verify()[1] is None


def test_repeated_and_reordered_events_credit_once(methods):
    client = verified_client()
    deposit = deposit_create(client=client, method=methods["checkout"], amount="80", actor="t")
    success = event(
        EventKind.PAYMENT_SUCCEEDED, reference=deposit.reference, amount="80", event_id="evt_ok"
    )
    pending = event(EventKind.PAYMENT_PENDING, reference=deposit.reference, event_id="evt_p")
    failed = event(EventKind.PAYMENT_FAILED, reference=deposit.reference, event_id="evt_f")
    outcomes = [
        psp_event_apply(psp="checkout", event=e) for e in [success, failed, success, pending]
    ]
    assert outcomes[0] == "credited (FTD)" and outcomes[2] == "duplicate"
    assert outcomes[1].startswith("ignored") and outcomes[3].startswith("ignored")
    deposit = fresh(deposit)
    assert deposit.status == "completed"
    assert balance(client)[0] == D("80.00")
    assert PspEvent.objects.filter(psp="checkout").count() == 3


def test_a_success_after_a_failure_still_credits(methods):
    client = verified_client()
    deposit = deposit_create(client=client, method=methods["stripe"], amount="40", actor="t")
    psp_event_apply(
        psp="stripe",
        event=event(EventKind.PAYMENT_FAILED, reference=deposit.reference, detail="declined"),
    )
    deposit = fresh(deposit)
    assert deposit.status == "failed" and deposit.failure_reason == "declined"
    assert balance(client)[0] == D("0")
    psp_event_apply(
        psp="stripe",
        event=event(EventKind.PAYMENT_SUCCEEDED, reference=deposit.reference, amount="40"),
    )
    assert balance(client)[0] == D("40.00")


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"reference": "DNOSUCH"}, "unknown_transaction"),
        ({"currency": "EUR"}, "currency_mismatch"),
        ({"amount": "79.99"}, "amount_mismatch"),
    ],
)
def test_events_that_do_not_fit_are_rejected_and_post_nothing(methods, overrides, code):
    client = verified_client()
    deposit = deposit_create(client=client, method=methods["stripe"], amount="80", actor="t")
    fields = {"reference": deposit.reference, "amount": "80", "currency": "USD", **overrides}
    with pytest.raises(WebhookRejected) as exc_info:
        psp_event_apply(psp="stripe", event=event(EventKind.PAYMENT_SUCCEEDED, **fields))
    assert exc_info.value.code == code
    assert not PspEvent.objects.exists()
    assert balance(client)[0] == D("0")


def test_expired_deposits_get_their_status_and_no_credit(methods):
    client = verified_client()
    deposit = deposit_create(client=client, method=methods["skrill"], amount="30", actor="t")
    psp_event_apply(
        psp="skrill",
        event=event(EventKind.PAYMENT_EXPIRED, reference=deposit.reference, currency="EUR"),
    )
    deposit = fresh(deposit)
    assert deposit.status == "expired" and balance(client, "EUR")[0] == 0


def test_deposit_limits_methods_and_the_unverified_limit(methods):
    client = make_client_user().client
    client.country = "GB"
    client.save()
    with pytest.raises(DepositNotAllowed, match="takes USD 10.00 to USD 50,000.00"):
        deposit_create(client=client, method=methods["stripe"], amount="5", actor="t")
    with pytest.raises(InvalidInput, match="at most 2 decimal"):
        deposit_create(client=client, method=methods["stripe"], amount="10.001", actor="t")
    deposit_create(client=client, method=methods["stripe"], amount="1500", actor="t")
    with pytest.raises(DepositNotAllowed, match="Verify your identity"):
        deposit_create(client=client, method=methods["stripe"], amount="600", actor="t")
    methods["coinpayments"].min_kyc_level = 1
    methods["coinpayments"].save()
    with pytest.raises(DepositNotAllowed, match="not offered"):
        deposit_create(client=client, method=methods["coinpayments"], amount="20", actor="t")
    methods["stripe"].excluded_countries = ["GB"]
    methods["stripe"].save()
    with pytest.raises(DepositNotAllowed, match="not offered"):
        deposit_create(client=client, method=methods["stripe"], amount="20", actor="t")


def test_a_clean_withdrawal_is_auto_approved_and_held(methods, django_capture_on_commit_callbacks):
    client = verified_client()
    deposit_paid(client, methods["stripe"], "500.00")
    with django_capture_on_commit_callbacks() as callbacks:
        w = withdrawal_request(client=client, amount="200", currency="USD", psp="stripe", actor="t")
    assert w.status == "approved" and w.check_reasons == []
    # After commit: the leadership figures refreshed, the client emailed (approved), and the
    # payout task queued.
    assert [getattr(c, "func", c).__qualname__ for c in callbacks] == [
        "_enqueue_refresh",
        "client_notify.<locals>.<lambda>",
        "Task.delay_logged",
    ]
    assert balance(client) == (D("500.00"), D("300.00"))
    with pytest.raises(InsufficientFunds):
        withdrawal_request(client=client, amount="300.01", currency="USD", psp="stripe", actor="t")


def test_every_failed_check_is_listed_for_finance(methods):
    client = verified_client()
    deposit_paid(client, methods["stripe"], "5000.00")
    client.kyc_level = 0
    client.restricted, client.restriction_reason = True, "Source of funds requested"
    client.risk_flags = ["chargeback"]
    client.save()
    w = withdrawal_request(client=client, amount="4000", currency="USD", psp="stripe", actor="t")
    codes = {r["code"] for r in w.check_reasons}
    assert w.status == "in_review"
    assert codes == {"kyc_not_verified", "restricted", "chargeback_history", "amount_threshold"}
    assert all(r["message"] and r["severity"] == "review" for r in w.check_reasons)


def test_closed_loop_expired_kyc_and_velocity(methods):
    client = verified_client()
    deposit_paid(client, methods["stripe"], "300.00")
    deposit_paid(client, methods["checkout"], "1000.00")
    w = withdrawal_request(client=client, amount="400", currency="USD", psp="stripe", actor="t")
    assert [r["code"] for r in w.check_reasons] == ["closed_loop"]
    with pytest.raises(WithdrawalNotAllowed, match="not deposited"):
        withdrawal_request(client=client, amount="10", currency="USD", psp="skrill", actor="t")
    client.id_document_expires_on = timezone.now().date() - timedelta(days=1)
    client.save()
    w2 = withdrawal_request(client=client, amount="20", currency="USD", psp="checkout", actor="t")
    assert [r["code"] for r in w2.check_reasons] == ["kyc_expired"]
    client.id_document_expires_on = timezone.now().date() + timedelta(days=100)
    client.save()
    for _ in range(2):
        last = withdrawal_request(
            client=client, amount="10", currency="USD", psp="checkout", actor="t"
        )
    assert [r["code"] for r in last.check_reasons] == ["velocity_count"]


@override_settings(FINANCE_FOUR_EYES_USD=1000)
def test_review_approval_needs_four_eyes_over_the_threshold_and_rejection_releases(methods):
    client = verified_client()
    deposit_paid(client, methods["stripe"], "6000.00")
    w = withdrawal_request(client=client, amount="3000", currency="USD", psp="stripe", actor="t")
    assert w.status == "in_review"
    first, second = (
        make_staff("finance_officer"),
        make_staff("finance_officer", email="f2@t.example"),
    )
    with pytest.raises(NotAllowed):
        withdrawal_approve(withdrawal=w, actor=make_staff("sales_agent"), reason="")
    w = withdrawal_approve(withdrawal=w, actor=first, reason="Source of funds seen")
    assert w.status == "in_review" and w.first_approval_by == first
    with pytest.raises(NotAllowed, match="second"):
        withdrawal_approve(withdrawal=w, actor=first, reason="again")
    w = withdrawal_approve(withdrawal=w, actor=second, reason="Agreed")
    assert w.status == "approved"
    w2 = withdrawal_request(client=client, amount="2500", currency="USD", psp="stripe", actor="t")
    with pytest.raises(InvalidInput, match="Say why"):
        withdrawal_reject(withdrawal=w2, actor=first, reason=" ")
    withdrawal_reject(withdrawal=w2, actor=first, reason="Third party card")
    assert balance(client) == (D("6000.00"), D("3000.00"))
    assert AuditEvent.objects.filter(
        action="withdrawal.rejected", reason="Third party card"
    ).exists()


def test_refunds_never_exceed_what_remains(methods, django_capture_on_commit_callbacks):
    client = verified_client()
    deposit = deposit_paid(client, methods["stripe"], "100.00")
    officer = make_staff("finance_officer")
    refund_request(deposit=deposit, amount="60", reason="Client asked", actor=officer)
    with pytest.raises(InvalidInput, match="Only USD 40.00"):
        refund_request(deposit=deposit, amount="40.01", reason="Client asked", actor=officer)
    assert balance(client) == (D("100.00"), D("40.00"))
    psp_event_apply(
        psp="stripe",
        event=event(
            EventKind.REFUND_SUCCEEDED,
            reference=deposit.refunds.get().reference,
            provider_reference="re_1",
        ),
    )
    assert balance(client) == (D("40.00"), D("40.00"))
    deposit = fresh(deposit)
    assert deposit.refunded_amount == D("60.00")
    with pytest.raises(NotAllowed):
        refund_request(deposit=deposit, amount="1", reason="x", actor=make_staff("sales_agent"))


def test_a_chargeback_debits_the_wallet_books_the_shortfall_and_can_be_won(methods):
    client = verified_client()
    deposit = deposit_paid(client, methods["stripe"], "100.00")
    pending = withdrawal_request(
        client=client, amount="30", currency="USD", psp="stripe", actor="t"
    )
    # The client also spent 70 elsewhere (moved to the trading platform).
    from finance.ledger import Leg, ledger_post

    omnibus = system_account(LedgerAccount.Kind.PLATFORM_OMNIBUS, "USD")
    ledger_post(
        kind="transfer",
        idempotency_key="to-mt5",
        legs=[Leg(wallet_for(client, "USD"), D("-70.00")), Leg(omnibus, D("70.00"))],
        actor="t",
    )
    cb = chargeback_open(
        deposit=deposit,
        amount="100.00",
        provider_reference="dp_1",
        reason="fraudulent",
        actor="psp:stripe",
    )
    pending = fresh(pending)
    assert pending.status == "cancelled"
    assert (cb.wallet_debited_amount, cb.loss_amount) == (D("30.00"), D("70.00"))
    assert balance(client) == (D("0.00"), D("0.00"))
    losses = system_account(LedgerAccount.Kind.CHARGEBACK_LOSSES, "USD")
    losses.refresh_from_db()
    assert losses.balance_amount == D("-70.00")
    client.refresh_from_db()
    assert "chargeback" in client.risk_flags
    assert (
        chargeback_open(
            deposit=deposit,
            amount="100.00",
            provider_reference="dp_1",
            reason="again",
            actor="psp:stripe",
        )
        == cb
    )
    with pytest.raises(InvalidInput):
        refund_request(deposit=deposit, amount="1", reason="x", actor=make_staff("finance_officer"))
    chargeback_resolve(chargeback=cb, outcome="won", reason="Evidence accepted", actor="psp:stripe")
    losses.refresh_from_db()
    assert losses.balance_amount == 0 and balance(client)[0] == D("30.00")
    deposit = fresh(deposit)
    assert deposit.charged_back_amount == 0
    assert ledger_verify()[1] is None


def test_chargeback_events_arriving_before_the_payment_are_sent_back(methods):
    client = verified_client()
    deposit = deposit_create(client=client, method=methods["stripe"], amount="80", actor="t")
    Deposit.objects.filter(pk=deposit.pk).update(provider_reference="pi_x")
    with pytest.raises(WebhookRejected) as exc_info:
        psp_event_apply(
            psp="stripe",
            event=event(
                EventKind.CHARGEBACK_OPENED,
                provider_reference="dp_9",
                payment_reference="pi_x",
                amount="80",
            ),
        )
    assert exc_info.value.code == "out_of_order" and exc_info.value.status == 409
    assert not Chargeback.objects.exists()


def test_the_first_deposit_converts_the_clients_lead(methods, django_capture_on_commit_callbacks):
    from leads.models import Channel, Lead
    from leads.services import lead_capture
    from leads.validation import clean_lead_input

    client = verified_client("lead@test.example")
    lead, _ = lead_capture(
        data=clean_lead_input({"email": "lead@test.example", "source": "portal"}),
        channel=Channel.PORTAL,
        actor="test",
        client=client,
        route=False,
    )
    with django_capture_on_commit_callbacks(execute=True):
        deposit_paid(client, methods["stripe"], "100.00")
    lead = Lead.objects.get(pk=lead.pk)
    assert lead.status == "converted"
    assert AuditEvent.objects.filter(action="lead.status_changed", target_id=str(lead.pk)).exists()
    with django_capture_on_commit_callbacks(execute=True):
        deposit_paid(client, methods["stripe"], "50.00")  # not an FTD: nothing more happens
    assert AuditEvent.objects.filter(action="lead.status_changed").count() == 1


def test_a_second_run_of_a_claimed_payout_or_refund_does_not_call_the_psp(methods, monkeypatch):
    from finance import psp as psp_registry
    from finance import services
    from finance.models import Refund

    def no_psp(code):
        raise AssertionError("the PSP must not be called while another run holds the claim")

    client = verified_client()
    deposit = deposit_paid(client, methods["stripe"], "500.00")
    w = withdrawal_request(client=client, amount="100", currency="USD", psp="stripe", actor="t")
    Withdrawal.objects.filter(pk=w.pk).update(status="processing", payout_started_at=timezone.now())
    refund = refund_request(
        deposit=deposit, amount="50", reason="asked", actor=make_staff("finance_officer")
    )
    Refund.objects.filter(pk=refund.pk).update(attempts=1, attempted_at=timezone.now())
    monkeypatch.setattr(psp_registry, "adapter_for", no_psp)
    assert services.withdrawal_payout(withdrawal_id=w.pk) == "in progress"
    assert services.refund_execute(refund_id=refund.pk) == "in progress"
    assert fresh(w).payout_attempts == 0


def test_a_chargeback_beyond_what_remains_is_booked_as_a_loss(methods):
    client = verified_client()
    deposit = deposit_paid(client, methods["stripe"], "100.00")
    refund_request(
        deposit=deposit, amount="100", reason="asked", actor=make_staff("finance_officer")
    )
    cb = chargeback_open(
        deposit=deposit, amount="100", provider_reference="dp_x", reason="", actor="psp:stripe"
    )
    assert (cb.counted_amount, cb.wallet_debited_amount, cb.loss_amount) == (
        D("0.00"),
        D("0.00"),
        D("100.00"),
    )
    assert fresh(deposit).charged_back_amount == 0
    chargeback_resolve(chargeback=cb, outcome="won", reason="won", actor="psp:stripe")
    losses = system_account(LedgerAccount.Kind.CHARGEBACK_LOSSES, "USD")
    losses.refresh_from_db()
    assert losses.balance_amount == 0 and fresh(deposit).charged_back_amount == 0
    assert ledger_verify()[1] is None


def test_funds_released_after_a_chargeback_first_make_good_its_loss(methods):
    from finance.psp import OperationResult
    from finance.services.withdrawals import withdrawal_finish as _withdrawal_finish

    client = verified_client()
    deposit = deposit_paid(client, methods["stripe"], "100.00")
    w = withdrawal_request(client=client, amount="60", currency="USD", psp="stripe", actor="t")
    Withdrawal.objects.filter(pk=w.pk).update(status="processing", payout_started_at=timezone.now())
    # The dispute arrives while the payout is with the PSP: 40 available, 60 held.
    cb = chargeback_open(
        deposit=deposit, amount="100", provider_reference="dp_r", reason="", actor="psp:stripe"
    )
    assert (cb.wallet_debited_amount, cb.loss_amount) == (D("40.00"), D("60.00"))
    # The payout fails: the 60 released go against the loss, not back to the client.
    assert _withdrawal_finish(
        w.pk, OperationResult("failed", "re_x", "declined"), "psp:stripe"
    ) == ("failed")
    cb = fresh(cb)
    assert cb.recovered_amount == D("60.00")
    assert balance(client) == (D("0.00"), D("0.00"))
    losses = system_account(LedgerAccount.Kind.CHARGEBACK_LOSSES, "USD")
    losses.refresh_from_db()
    assert losses.balance_amount == 0
    # Won after all: everything the client paid goes back to the wallet.
    chargeback_resolve(chargeback=cb, outcome="won", reason="won", actor="psp:stripe")
    losses.refresh_from_db()
    assert balance(client)[0] == D("100.00") and losses.balance_amount == 0
    assert ledger_verify()[1] is None
