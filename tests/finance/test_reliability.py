"""Money under stress: concurrency, crashes, the real sandbox end to end, random histories.

- 100 concurrent withdrawal requests on one wallet never overdraw it;
- a worker killed in the middle of a payout: the payout resumes and pays once;
- a month of activity through every sandbox PSP reconciles with zero differences;
- random deposit, withdrawal, refund and chargeback histories keep every invariant.
"""

import os
import signal
import threading
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connections
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from brokerage.errors import DomainError
from finance.ledger import InsufficientFunds, ledger_verify, wallet_for
from finance.models import Chargeback, Deposit, Hold, Refund, Withdrawal
from finance.reconciliation.generic_csv import ColumnMapping
from finance.reconciliation.selectors import month_bounds
from finance.reconciliation.services import reconciliation_execute, reconciliation_start
from finance.services import (
    chargeback_open,
    chargeback_resolve,
    deposit_create,
    deposit_open_session,
    payouts_sweep,
    refund_execute,
    refund_request,
    withdrawal_payout,
    withdrawal_request,
)
from tests.conftest import make_staff, start_worker, stop_worker, wait_for
from tests.finance.conftest import deposit_paid, fresh, sandbox_control, verified_client

D = Decimal


DEAD_URL = "http://127.0.0.1:9/webhooks/"  # nothing listens: the PSP's notices never arrive


def sandbox_deposit(live_server, base, client, method, amount):
    """A deposit paid on the sandbox's hosted page; its signed webhook credits us. Without a
    live server the PSP's notices go nowhere and the success is applied as its event."""
    deposit = deposit_create(client=client, method=method, amount=amount, actor="test")
    deposit = deposit_open_session(
        deposit=deposit,
        return_url="http://127.0.0.1/portal/wallet/",
        cancel_url="http://127.0.0.1/portal/wallet/",
        notify_url=(
            f"{live_server.url}/api/v1/webhooks/{method.psp}/" if live_server else DEAD_URL
        ),
    )
    status, answer = sandbox_control(
        base,
        "POST",
        f"/_sandbox/{method.psp}/payments/{deposit.reference}/pay",
        {"sync_delivery": bool(live_server)},
    )
    assert status == 200, answer
    if not live_server:
        from finance.psp import EventKind
        from finance.services import psp_event_apply
        from tests.finance.conftest import event

        psp_event_apply(
            psp=method.psp,
            event=event(
                EventKind.PAYMENT_SUCCEEDED,
                reference=deposit.reference,
                provider_reference=deposit.provider_reference,
                amount=amount,
                currency=method.currency,
            ),
        )
    assert wait_for(lambda: fresh(deposit).status == "completed", timeout=20), fresh(deposit)
    return fresh(deposit)


@pytest.mark.django_db(transaction=True)
def test_a_hundred_concurrent_withdrawals_never_overdraw_the_wallet(methods):
    client = verified_client()
    deposit_paid(client, methods["stripe"], "1000.00")
    outcomes, barrier = [], threading.Barrier(50)

    def request_two():
        try:
            barrier.wait()
            for _ in range(2):
                try:
                    w = withdrawal_request(
                        client=client, amount="15.00", currency="USD", psp="stripe", actor="t"
                    )
                    outcomes.append(w.status)
                except InsufficientFunds:
                    outcomes.append("refused")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=request_two) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(outcomes) == 100
    accepted = [o for o in outcomes if o != "refused"]
    assert len(accepted) == 66  # 66 x 15.00 = 990.00 held; the 67th would overdraw
    wallet = wallet_for(client, "USD")
    wallet.refresh_from_db()
    assert wallet.held_amount == D("990.00") and wallet.available_amount == D("10.00")
    assert Hold.objects.filter(status="active").count() == 66
    assert ledger_verify()[1] is None


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_in_the_middle_of_a_payout_resumes_without_paying_twice(
    psp_sandbox, methods
):
    client = verified_client()
    # No webhooks reach us here: the resumed payout must find out by asking the PSP.
    sandbox_deposit(None, psp_sandbox, client, methods["checkout"], "300.00")
    env = {
        f"{code.upper()}_API_URL": f"{psp_sandbox}/{code}"
        for code in ("stripe", "checkout", "skrill", "coinpayments")
    }
    # The PSP records the payout, then takes 8 s to answer: the worker is killed meanwhile.
    sandbox_control(psp_sandbox, "POST", "/_sandbox/faults", {"payout_delay_seconds": 8})
    first = start_worker(env)
    try:
        w = withdrawal_request(
            client=client, amount="120.00", currency="USD", psp="checkout", actor="t"
        )
        assert w.status == "approved"
        assert wait_for(lambda: fresh(w).status == "processing", timeout=30)
        assert wait_for(lambda: payouts_at_psp(psp_sandbox, w.reference), timeout=15)
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        stop_worker(first)
    assert fresh(w).status == "processing"
    sandbox_control(psp_sandbox, "DELETE", "/_sandbox/faults")
    second = start_worker(env)
    try:
        # The sweeper (beat, every minute) finds the stale payout and queues it again.
        Withdrawal.objects.filter(pk=w.pk).update(
            payout_started_at=timezone.now() - timedelta(minutes=5)
        )
        assert payouts_sweep() >= 1
        assert wait_for(lambda: fresh(w).status == "paid", timeout=30), fresh(w)
    finally:
        stop_worker(second)
    assert len(payouts_at_psp(psp_sandbox, w.reference)) == 1
    w = fresh(w)
    assert w.payout_attempts == 2
    wallet = wallet_for(client, "USD")
    wallet.refresh_from_db()
    assert (wallet.balance_amount, wallet.held_amount) == (D("180.00"), D("0.00"))
    assert ledger_verify()[1] is None


def payouts_at_psp(base, reference):
    status, activity = sandbox_control(base, "GET", "/_sandbox/checkout/activity")
    return [a for a in activity if a["kind"] == "payout" and a["reference"] == reference]


@pytest.mark.django_db(transaction=True)
def test_a_month_of_sandbox_activity_reconciles_with_zero_differences(
    live_server, psp_sandbox, methods
):
    officer = make_staff("finance_officer")
    alice, bob = verified_client("alice@test.example"), verified_client("bob@test.example")
    deposits = {
        "stripe": [
            sandbox_deposit(live_server, psp_sandbox, alice, methods["stripe"], a)
            for a in ("100.00", "250.00", "75.00")
        ],
        "checkout": [
            sandbox_deposit(live_server, psp_sandbox, bob, methods["checkout"], a)
            for a in ("500.00", "60.00")
        ],
        "skrill": [sandbox_deposit(live_server, psp_sandbox, alice, methods["skrill"], "80.00")],
        "coinpayments": [
            sandbox_deposit(live_server, psp_sandbox, bob, methods["coinpayments"], "200.00")
        ],
    }
    # Refunds (finance), payouts (clients' withdrawals), a dispute the PSP opens.
    for deposit, amount in [(deposits["stripe"][0], "40.00"), (deposits["checkout"][1], "60.00")]:
        refund = refund_request(deposit=deposit, amount=amount, reason="Asked", actor=officer)
        assert refund_execute(refund_id=refund.pk) in ("succeeded", "pending")
        assert wait_for(lambda r=refund: fresh(r).status == "succeeded", timeout=20)
    for client, psp, currency, amount in [
        (alice, "stripe", "USD", "50.00"),
        (bob, "checkout", "USD", "120.00"),
        (alice, "skrill", "EUR", "30.00"),
        (bob, "coinpayments", "USD", "90.00"),
    ]:
        w = withdrawal_request(client=client, amount=amount, currency=currency, psp=psp, actor="t")
        assert withdrawal_payout(withdrawal_id=w.pk) in ("paid", "pending")
        assert wait_for(lambda w=w: fresh(w).status == "paid", timeout=20), fresh(w)
    disputed = deposits["stripe"][2]
    status, dispute = sandbox_control(
        psp_sandbox,
        "POST",
        "/_sandbox/stripe/disputes",
        {
            "payment_reference": disputed.provider_reference,
            "reason": "fraudulent",
            "sync_delivery": True,
        },
    )
    assert status in (200, 201), dispute
    assert wait_for(lambda: Chargeback.objects.filter(deposit=disputed).exists(), timeout=20)
    assert ledger_verify()[1] is None

    first, last = month_bounds(timezone.now().date())
    csv = ColumnMapping(
        reference="reference",
        amount="amount",
        currency="currency",
        date="date",
        category="category",
    )
    for psp, fmt, query in [
        ("stripe", "stripe_csv", ""),
        ("checkout", "csv", ""),
        ("skrill", "camt053", "&currency=EUR"),
        ("coinpayments", "mt940", "&currency=USD"),
    ]:
        url = f"{psp_sandbox}/_sandbox/{psp}/statement?from={first}&to={last}&format={fmt}{query}"
        import urllib.request

        with urllib.request.urlopen(url, timeout=30) as resp:  # noqa: S310 (the test sandbox)
            data = resp.read()
        run = reconciliation_start(
            psp=psp,
            fmt=fmt,
            uploaded_file=SimpleUploadedFile(f"{psp}.{fmt}", data),
            period_start=first,
            period_end=last,
            mapping=csv if fmt == "csv" else None,
            actor=officer,
        )
        reconciliation_execute(run_id=run.pk)
        run.refresh_from_db()
        assert run.status == "done", (psp, run.error)
        unexplained = list(run.items.values_list("kind", "reference"))
        assert run.counts["differences"] == 0, (psp, unexplained, run.counts)
        assert run.counts["matched_reference"] >= 2, (psp, run.counts)


# --- Random histories -------------------------------------------------------------------------

STEPS = st.lists(
    st.tuples(
        st.sampled_from(["deposit", "withdraw", "refund", "chargeback", "resolve"]),
        st.integers(1, 40000),
        st.integers(0, 10),
    ),
    min_size=1,
    max_size=20,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=STEPS)
def test_random_histories_keep_every_invariant(methods, psp_sandbox, steps):
    client = verified_client(f"h{time.monotonic_ns()}@test.example")
    officer = make_staff("finance_officer", email=f"f{time.monotonic_ns()}@test.example")
    deposits: list[Deposit] = []
    for action, cents, pick in steps:
        amount = D(cents) / 100
        try:
            if action == "deposit":
                deposits.append(
                    sandbox_deposit(None, psp_sandbox, client, methods["checkout"], max(amount, 10))
                )
            elif action == "withdraw" and deposits:
                w = withdrawal_request(
                    client=client, amount=str(amount), currency="USD", psp="checkout", actor="t"
                )
                if w.status == "approved" and withdrawal_payout(withdrawal_id=w.pk) == "pending":
                    withdrawal_payout(withdrawal_id=w.pk)  # resumed: asks the PSP
            elif action == "refund" and deposits:
                d = deposits[pick % len(deposits)]
                r = refund_request(deposit=d, amount=str(amount), reason="r", actor=officer)
                if refund_execute(refund_id=r.pk) == "pending":  # Checkout.com answers later
                    lookup_finish(r)
            elif action == "chargeback" and deposits:
                d = fresh(deposits[pick % len(deposits)])
                chargeback_open(
                    deposit=d,
                    amount=str(min(amount, d.remaining_amount) or amount),
                    provider_reference=f"dsp_{time.monotonic_ns()}",
                    reason="",
                    actor="psp:checkout",
                )
            elif action == "resolve":
                cb = Chargeback.objects.filter(deposit__client=client, status="open").first()
                if cb:
                    chargeback_resolve(
                        chargeback=cb, outcome="won" if pick % 2 else "lost", reason="", actor="t"
                    )
        except DomainError:
            pass  # refused with a reason: fine, as long as nothing below breaks
        assert_invariants(client)


def lookup_finish(refund):
    """What the sweeper does for a refund still pending: ask the PSP, post its answer."""
    Refund.objects.filter(pk=refund.pk).update(attempts=1)
    refund_execute(refund_id=refund.pk)


def assert_invariants(client):
    assert ledger_verify()[1] is None
    wallet = wallet_for(client, "USD")
    wallet.refresh_from_db()
    assert wallet.available_amount >= 0 and wallet.held_amount >= 0
    completed = Deposit.objects.filter(client=client, status="completed")
    credited = sum((d.amount for d in completed), D(0))
    paid = sum((w.amount for w in Withdrawal.objects.filter(client=client, status="paid")), D(0))
    refunded = sum(
        (r.amount for r in Refund.objects.filter(deposit__client=client, status="succeeded")),
        D(0),
    )
    charged = sum(
        (
            c.wallet_debited_amount + c.recovered_amount
            for c in Chargeback.objects.filter(deposit__client=client).exclude(status="won")
        ),
        D(0),
    )
    assert wallet.balance_amount == credited - paid - refunded - charged
    for d in completed:
        assert d.refunded_amount + d.charged_back_amount <= d.amount
