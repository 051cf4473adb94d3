"""The finance back-office pages on the demo data, in the browser: each renders its key parts
without console errors, and a full-page screenshot of each is saved to test-artifacts/
(backoffice-finance-<page>.png; the ones in docs/screenshots/ are copied from there)."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.utils import timezone

from brokerage.models import User
from finance.models import Chargeback, Deposit, Posting, Withdrawal
from finance.reconciliation.generic_csv import ColumnMapping
from finance.reconciliation.selectors import month_bounds
from finance.reconciliation.services import reconciliation_execute, reconciliation_start
from tests.conftest import browser_session, login, screen_check
from tests.demo.test_seed_demo import DEMO

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def stripe_statement_run(officer):
    """A generic CSV from Stripe for this month, partly matching the demo ledger: two deposits
    as booked, one for a different amount, one the ledger never saw, a payout to our bank
    (skipped); the other Stripe deposits are missing from it."""
    deposits = list(
        Deposit.objects.filter(psp="stripe", status=Deposit.Status.COMPLETED).order_by("pk")[:3]
    )
    today = timezone.now().date()
    rows = [("date", "id", "type", "amount", "currency", "description")]
    for d in deposits[:2]:
        rows.append((today, d.provider_reference, "charge", d.amount, d.currency, "Card payment"))
    odd = deposits[2]
    rows.append(
        (today, odd.provider_reference, "charge", odd.amount - 5, odd.currency, "Card payment")
    )
    rows.append((today, "pi_3UnknownToTheLedger00001", "charge", "149.00", "USD", "Card payment"))
    rows.append((today, "po_1StripePayoutToBank0001", "payout", "-2500.00", "USD", "Payout"))
    data = "\n".join(",".join(str(c) for c in r) for r in rows).encode()
    start, end = month_bounds(today)
    run = reconciliation_start(
        psp="stripe",
        fmt="csv",
        uploaded_file=SimpleUploadedFile("stripe-balance-export.csv", data),
        period_start=start,
        period_end=end,
        actor=officer,
        mapping=ColumnMapping(
            reference="id",
            amount="amount",
            currency="currency",
            date="date",
            description="description",
            category="type",
        ),
    )
    assert reconciliation_execute(run_id=run.pk) == "done"
    run.refresh_from_db()
    assert run.items.exists()
    return run


def test_finance_backoffice_pages_on_the_demo_data(live_server, page, client, settings):
    for k, v in DEMO.items():
        setattr(settings, k, v)
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    officer = User.objects.get(email="finance_officer@demo.test")
    run = stripe_statement_run(officer)
    login(client, officer)
    browser_session(page.context, client, live_server)
    review = Withdrawal.objects.get(
        status=Withdrawal.Status.IN_REVIEW, client__user__email="client@demo.test"
    )
    deposit = Deposit.objects.get(client__user__email="client@demo.test", is_ftd=True)
    chargeback = Chargeback.objects.get()
    pages = [
        ("home", "/backoffice/", "canvas[data-chart=deposits-per-day]"),
        ("withdrawals", "/backoffice/finance/withdrawals/", f"tr[data-withdrawal='{review.pk}']"),
        ("withdrawal", f"/backoffice/finance/withdrawals/{review.pk}/", "[data-reason]"),
        ("deposits", "/backoffice/finance/deposits/", "canvas[data-chart=deposits-by-psp]"),
        ("deposit", f"/backoffice/finance/deposits/{deposit.pk}/", "h1"),
        ("transactions", "/backoffice/finance/transactions/", "table tbody tr"),
        ("chargebacks", "/backoffice/finance/chargebacks/", "table tbody tr"),
        ("chargeback", f"/backoffice/finance/chargebacks/{chargeback.pk}/", "h1"),
        ("reconciliations", "/backoffice/finance/reconciliation/", "table tbody tr"),
        ("reconciliation", f"/backoffice/finance/reconciliation/{run.pk}/", "table tbody tr"),
    ]
    problems = []
    for name, path, key in pages:
        problems += screen_check(page, live_server, f"backoffice-finance-{name}", path, key)
    assert problems == [], problems

    # The charts are drawn, with the demo's deposits in them.
    for path, chart in [
        ("/backoffice/", "deposits-per-day"),
        ("/backoffice/finance/deposits/", "deposits-by-psp"),
    ]:
        page.goto(f"{live_server.url}{path}")
        drawn = page.evaluate(
            "id => { const c = Chart.getChart(document.querySelector(`canvas[data-chart=${id}]`));"
            " return c ? c.data.datasets.reduce((n, d) => n + d.data.reduce((a, b) => a + b, 0),"
            " 0) : -1; }",
            chart,
        )
        assert drawn > 0, (chart, drawn)

    page.goto(f"{live_server.url}/backoffice/finance/transactions/")
    assert page.locator("table tbody tr").count() == min(Posting.objects.count(), 50)
    assert page.console_errors == []
