"""The demo's finance data: installed by seed_demo through the finance services, idempotent."""

import time
from decimal import Decimal

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db.models import Count
from django.test import override_settings
from django.utils import timezone

from brokerage.audit import audit_chain_verify, audit_seal_all
from clients.models import Client
from demo import finance as finance_demo
from demo.management.commands import seed_demo
from finance.ledger import ledger_verify, wallet_for
from finance.models import (
    Chargeback,
    Deposit,
    FxRate,
    Hold,
    LedgerTransaction,
    PaymentMethod,
    PspEvent,
    Refund,
    Withdrawal,
)
from finance.psp import EventKind, adapter_for
from finance.services import method_available
from sandbox.psp import signed_webhook
from tests.conftest import module_transaction
from tests.demo.test_seed_demo import DEMO

pytestmark = pytest.mark.django_db


def seed():
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115


@pytest.fixture(scope="module")
def seeded_once(django_db_setup, django_db_blocker):
    """The demo seeded once for the module, in a transaction rolled back at its end (each test
    runs in a savepoint inside it: `tests.conftest.module_transaction`); how long the finance
    part took, in seconds."""
    took = []

    def timed(**kwargs):
        started = time.monotonic()
        finance_demo.install_demo_finance(**kwargs)
        took.append(time.monotonic() - started)

    with override_settings(**DEMO), module_transaction(django_db_blocker):
        seed_demo.install_demo_finance = timed
        try:
            seed()
        finally:
            seed_demo.install_demo_finance = finance_demo.install_demo_finance
        yield took[0]


@pytest.fixture
def seeded(seeded_once, db):
    return seeded_once


def finance_snapshot():
    return {
        "rates": sorted(FxRate.objects.values_list("currency", "usd_rate")),
        "methods": sorted(PaymentMethod.objects.values_list("psp", "name", "currency")),
        "deposits": sorted(
            Deposit.objects.values_list("client__user__email", "psp", "amount", "status")
        ),
        "withdrawals": sorted(
            Withdrawal.objects.values_list("client__user__email", "psp", "amount", "status")
        ),
        "ledger": sorted(
            LedgerTransaction.objects.values("kind")
            .annotate(n=Count("id"))
            .values_list("kind", "n")
        ),
        "psp_events": PspEvent.objects.count(),
        "refunds": sorted(Refund.objects.values_list("deposit__reference", "amount", "status")),
        "chargebacks": sorted(Chargeback.objects.values_list("provider_reference", "status")),
        "holds": sorted(Hold.objects.values_list("reference", "status")),
    }


def test_seeding_twice_gives_the_same_finance_data(seeded):
    first = finance_snapshot()
    assert first["deposits"] and first["withdrawals"] and first["chargebacks"]
    seed()
    assert finance_snapshot() == first
    counts, problem = ledger_verify()
    assert problem is None, problem
    assert counts["transactions"] == LedgerTransaction.objects.count() > 0
    assert audit_seal_all() and audit_chain_verify().ok


def test_finance_seeding_is_quick(seeded):
    assert seeded < 10


def test_rates_and_methods_follow_the_country_rules(seeded):
    assert FxRate.objects.get(currency="EUR").usd_rate == Decimal("1.08")
    assert FxRate.objects.get(currency="GBP").usd_rate == Decimal("1.27")
    assert set(PaymentMethod.objects.values_list("psp", "currency")) == {
        ("stripe", "USD"),
        ("stripe", "EUR"),
        ("checkout", "USD"),
        ("skrill", "EUR"),
        ("coinpayments", "USD"),
        ("bank_wire", "EUR"),
    }

    def offered(email):
        client = Client.objects.get(user__email=email)
        return {
            (m.psp, m.currency) for m in PaymentMethod.objects.all() if method_available(m, client)
        }

    uk, ca, de = (
        offered("client@demo.test"),
        offered("trader15@demo.test"),
        offered("trader01@demo.test"),
    )
    assert ("coinpayments", "USD") not in uk and ("skrill", "EUR") in uk
    assert ("checkout", "USD") not in ca and ("skrill", "EUR") not in ca
    assert ("coinpayments", "USD") in ca and ("stripe", "EUR") in ca
    assert len(de) == 6 and ("bank_wire", "EUR") in uk


def test_the_demo_client_is_verified_and_funded(seeded):
    client = Client.objects.get(user__email="client@demo.test")
    assert client.kyc_level == 1
    assert client.id_document_expires_on > timezone.now().date()
    assert client.first_deposit_at is not None
    wallet = wallet_for(client, "USD")
    assert wallet.balance_amount > 0 and wallet.available_amount > 0
    assert Deposit.objects.filter(client=client, is_ftd=True).count() == 1
    assert Deposit.objects.filter(client=client, status=Deposit.Status.FAILED).exists()


def test_each_psp_settles_deposits_and_the_outcomes_vary(seeded):
    completed = Deposit.objects.filter(status=Deposit.Status.COMPLETED)
    assert set(completed.values_list("psp", flat=True)) == {
        "stripe",
        "checkout",
        "skrill",
        "coinpayments",
        "bank_wire",
    }
    statuses = set(Deposit.objects.values_list("status", flat=True))
    assert {"completed", "failed", "expired", "pending"} <= statuses
    prefixes = {"stripe": "pi_3", "checkout": "pay_", "coinpayments": "CP"}
    for deposit in completed:
        assert deposit.ledger_transaction_id is not None
        if deposit.psp == "skrill":
            assert deposit.provider_reference.isdigit()
        elif deposit.psp == "bank_wire":  # the bank's own reference for the statement entry
            assert deposit.provider_reference
        else:
            assert deposit.provider_reference.startswith(prefixes[deposit.psp])
    assert Client.objects.filter(user__email__startswith="trader", kyc_level=1).count() == 15


def test_withdrawals_approved_or_in_review_with_reasons(seeded):
    approved = Withdrawal.objects.filter(status=Withdrawal.Status.APPROVED)
    assert approved.count() >= 3
    assert all(w.check_reasons == [] for w in approved)
    review = Withdrawal.objects.filter(status=Withdrawal.Status.IN_REVIEW)
    assert 2 <= review.count() <= 3
    codes = {r["code"] for w in review for r in w.check_reasons}
    assert {"amount_threshold", "closed_loop"} <= codes
    assert all(w.check_reasons for w in review)
    demo_client_review = review.get(client__user__email="client@demo.test")
    assert [r["code"] for r in demo_client_review.check_reasons] == ["amount_threshold"]
    # Funds of open withdrawals are held, not yet debited.
    assert all(w.hold.status == Hold.Status.ACTIVE for w in [*approved, *review])
    assert not LedgerTransaction.objects.filter(kind="withdrawal").exists()


def test_refund_done_and_chargeback_open(seeded):
    refund = Refund.objects.get()
    assert refund.status == Refund.Status.SUCCEEDED and refund.hold.status == Hold.Status.SETTLED
    assert LedgerTransaction.objects.filter(kind="refund").count() == 1
    chargeback = Chargeback.objects.get()
    assert chargeback.status == Chargeback.Status.OPEN
    assert chargeback.opened_by_label == "psp:stripe"
    assert chargeback.provider_reference.startswith("dp_")
    client = chargeback.deposit.client
    assert "chargeback" in client.risk_flags
    # The client's approved withdrawal was cancelled by the chargeback.
    assert Withdrawal.objects.get(client=client).status == Withdrawal.Status.CANCELLED
    assert LedgerTransaction.objects.filter(kind="chargeback").count() == 1


@pytest.mark.parametrize(
    ("psp", "outcome"),
    [
        ("stripe", "succeeded"),
        ("stripe", "failed"),
        ("stripe", "expired"),
        ("checkout", "succeeded"),
        ("checkout", "failed"),
        ("skrill", "succeeded"),
        ("coinpayments", "succeeded"),
        ("coinpayments", "expired"),
        ("coinpayments", "pending"),
    ],
)
def test_demo_events_read_as_the_psp_webhook_would(psp, outcome):
    """Each demo event's raw payload, signed and parsed by the PSP's adapter, is the same event."""
    made = finance_demo.payment_event(
        psp,
        key=f"t@demo.test#{outcome}",
        reference="D0123456789ABCDEF",
        amount=Decimal("250.00"),
        currency="EUR" if psp == "skrill" else "USD",
        outcome=outcome,
        email="t@demo.test",
    )
    headers, body = signed_webhook(psp, made.raw, config=settings.PSP_CONFIG[psp])
    [parsed] = adapter_for(psp).parse_webhook(headers=headers, body=body, now=timezone.now())
    fields = ["event_id", "kind", "reference", "provider_reference", "amount", "currency", "detail"]
    assert {f: getattr(parsed, f) for f in fields} == {f: getattr(made, f) for f in fields}
    assert made.kind == getattr(EventKind, f"PAYMENT_{outcome.upper()}")
    assert made.event_id == finance_demo.payment_event_id(
        psp, f"t@demo.test#{outcome}", outcome, made.reference
    )


def test_the_demo_month_reconciles_to_zero_against_the_psp_sandbox(seeded):
    """The sandbox `make up` starts never saw the demo's payments: seed_demo tells it, and a
    statement of the demo's month from the sandbox then reconciles with no difference, its fees
    booked. Telling it twice adds nothing."""
    import threading
    import urllib.request

    from django.core.files.uploadedfile import SimpleUploadedFile

    from demo.psp_history import psp_history_send
    from finance.models import ReconciliationRun
    from finance.reconciliation.generic_csv import ColumnMapping
    from finance.reconciliation.services import reconciliation_execute, reconciliation_start
    from sandbox import psp as psp_sandbox
    from tests.conftest import make_staff

    server = psp_sandbox.serve("127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    officer = make_staff("finance_officer")
    today = timezone.now().date()
    try:
        added = psp_history_send(base, out=print)
        assert set(added) == {"stripe", "checkout", "skrill", "coinpayments"}
        assert all(added.values()), added
        assert set(psp_history_send(base, out=print).values()) == {0}
        for psp in added:
            fmt = "stripe_csv" if psp == "stripe" else "csv"
            url = f"{base}/_sandbox/{psp}/statement?from={today}&to={today}&format={fmt}"
            with urllib.request.urlopen(url) as response:  # noqa: S310
                data = response.read()
            run = reconciliation_start(
                psp=psp,
                fmt=fmt,
                uploaded_file=SimpleUploadedFile(f"{psp}.{fmt}", data),
                period_start=today,
                period_end=today,
                actor=officer,
                mapping=None
                if fmt == "stripe_csv"
                else ColumnMapping(
                    reference="reference",
                    amount="amount",
                    currency="currency",
                    date="date",
                    category="category",
                ),
            )
            reconciliation_execute(run_id=run.pk)
            run = ReconciliationRun.objects.get(pk=run.pk)
            assert run.status == "done", run.error
            assert run.counts["differences"] == 0, (psp, list(run.items.values()))
            assert run.counts["matched_reference"] == added[psp]
            if psp == "stripe":
                assert run.counts["fees"] and {f["status"] for f in run.counts["fees"]} == {
                    "booked"
                }
    finally:
        server.shutdown()
        server.server_close()
