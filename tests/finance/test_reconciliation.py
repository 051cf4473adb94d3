"""Reconciliation of statements against the ledger: matching, differences, close."""

import calendar
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from brokerage.errors import InvalidInput, NotAllowed
from finance.ledger import Leg, clearing_for, ledger_post, wallet_for
from finance.models import PeriodClose, ReconciliationItem, ReconciliationRun
from finance.reconciliation.base import StatementRow
from finance.reconciliation.generic_csv import ColumnMapping
from finance.reconciliation.services import (
    period_close,
    reconciliation_execute,
    reconciliation_item_resolve,
    reconciliation_start,
)
from sandbox import statements as writers
from tests.conftest import login, make_client_user, make_staff
from tests.finance.conftest import deposit_paid, verified_client

D = Decimal
TODAY = timezone.now().date()
MONTH_START = TODAY.replace(day=1)
MONTH_END = (MONTH_START + timedelta(days=32)).replace(day=1) - timedelta(days=1)


def post_deposit(client, ref, amount, psp="stripe", description=""):
    ledger_post(
        kind="deposit",
        idempotency_key=f"dep-{ref}",
        legs=[Leg(wallet_for(client, "USD"), D(amount)), Leg(clearing_for(psp, "USD"), -D(amount))],
        actor="test",
        client=client,
        psp=psp,
        external_reference=ref,
        description=description,
    )


def row(n, ref, amount, *, days=0, category="charge", currency="USD", payment_reference=""):
    return StatementRow(
        line_no=n,
        reference=ref,
        amount=D(amount),
        currency=currency,
        booked_on=TODAY - timedelta(days=days),
        description=f"row {n}",
        category=category,
        payment_reference=payment_reference,
    )


def run_file(officer, data: bytes, fmt: str, mapping=None, start=MONTH_START, end=MONTH_END):
    run = reconciliation_start(
        psp="stripe",
        fmt=fmt,
        uploaded_file=SimpleUploadedFile("statement", data),
        period_start=start,
        period_end=end,
        mapping=mapping,
        actor=officer,
    )
    reconciliation_execute(run_id=run.pk)
    return ReconciliationRun.objects.get(pk=run.pk)


@pytest.fixture
def officer(db):
    return make_staff("finance_officer")


@pytest.fixture
def ledger(db):
    client = make_client_user().client
    for ref, amount in [
        ("pi_a", "100.00"),
        ("pi_b", "250.00"),
        ("pi_c", "75.50"),
        ("pi_d", "40.00"),
    ]:
        post_deposit(client, ref, amount)
    return client


def test_a_statement_that_agrees_reconciles_with_no_differences(officer, ledger):
    rows = [
        row(1, "pi_a", "100.00"),
        row(2, "pi_b", "250.00"),
        row(3, "pi_c", "75.50"),
        row(4, "pi_d", "40.00"),
        row(5, "po_1", "-465.50", category="payout"),
    ]
    run = run_file(officer, writers.write_stripe_itemized_csv(rows), "stripe_csv")
    assert run.status == "done", run.error
    assert run.counts["matched_reference"] == 4 and run.counts["differences"] == 0
    assert run.counts["skipped"] == 1
    close = period_close(run=run, actor=officer)
    assert close.month == MONTH_START
    with pytest.raises(InvalidInput, match="closed"):
        run_file(officer, writers.write_stripe_itemized_csv(rows), "stripe_csv")


def test_every_kind_of_difference_is_found_and_must_be_explained_before_close(officer, ledger):
    rows = [
        row(1, "pi_a", "100.00"),
        row(2, "pi_a", "100.00"),  # the PSP listed it twice
        row(3, "pi_b", "249.00"),  # amount differs
        row(4, "pi_x", "60.00"),  # we never booked it
        row(5, "", "75.50", days=1),  # no reference: matched by amount and date
    ]  # pi_d is missing at the PSP
    mapping = ColumnMapping(
        reference="reference", amount="amount", currency="currency", date="date"
    )
    run = run_file(officer, writers.write_generic_csv(rows), "csv", mapping=mapping)
    assert run.status == "done", run.error
    kinds = sorted(run.items.values_list("kind", "reference"))
    assert kinds == [
        ("amount_mismatch", "pi_b"),
        ("duplicate", "pi_a"),
        ("missing_at_psp", "pi_d"),
        ("missing_in_ledger", "pi_x"),
    ]
    assert run.counts["matched_amount_date"] == 1
    with pytest.raises(InvalidInput, match="4 differences still to explain"):
        period_close(run=run, actor=officer)
    for item in run.items.all():
        with pytest.raises(InvalidInput):
            reconciliation_item_resolve(item=item, reason="", actor=officer)
        reconciliation_item_resolve(
            item=item, reason="Checked with the PSP's support", actor=officer
        )
    with pytest.raises(NotAllowed):
        period_close(run=run, actor=make_staff("sales_agent"))
    period_close(run=run, actor=officer)
    assert PeriodClose.objects.filter(psp="stripe", month=MONTH_START).exists()
    with pytest.raises(InvalidInput, match="locked"):
        reconciliation_item_resolve(item=run.items.first(), reason="late change", actor=officer)


@pytest.mark.parametrize("fmt", ["camt053", "mt940"])
def test_bank_statements_reconcile_too(officer, ledger, fmt):
    rows = [
        row(1, "pi_a", "100.00"),
        row(2, "pi_b", "250.00"),
        row(3, "pi_c", "75.50"),
        row(4, "pi_d", "40.00"),
    ]
    if fmt == "camt053":
        data = writers.write_camt053(
            rows, account_iban="GB33BUKB20201555555555", currency="USD", opening_balance=D("0")
        )
    else:
        data = writers.write_mt940(
            rows, account="GB33BUKB20201555555555", currency="USD", opening_balance=D("0")
        )
    run = run_file(officer, data, fmt)
    assert run.status == "done", run.error
    assert run.counts["matched_reference"] == 4 and run.counts["differences"] == 0


@pytest.mark.parametrize(
    ("data", "fmt", "message"),
    [
        (b"not,a,stripe\nfile,at,all\n", "stripe_csv", "lacks the columns"),
        (b"<?xml version='1.0'?><nope/>", "camt053", ""),
        (b"date,reference,amount,currency\n2026-11-01,pi_a,abc,USD\n", "csv", "line 2"),
    ],
)
def test_a_malformed_or_mislabelled_file_fails_the_run_and_loads_nothing(
    officer, ledger, data, fmt, message
):
    mapping = ColumnMapping(
        reference="reference", amount="amount", currency="currency", date="date"
    )
    run = run_file(officer, data, fmt, mapping=mapping if fmt == "csv" else None)
    assert run.status == "failed" and message in run.error
    assert not run.lines.exists() and not ReconciliationItem.objects.exists()


def test_only_finance_reconciles_and_the_period_must_make_sense(ledger):
    with pytest.raises(NotAllowed):
        reconciliation_start(
            psp="stripe",
            fmt="stripe_csv",
            uploaded_file=SimpleUploadedFile("s", b"x"),
            period_start=MONTH_START,
            period_end=MONTH_END,
            actor=make_staff("sales_agent"),
        )
    with pytest.raises(InvalidInput) as exc_info:
        reconciliation_start(
            psp="nope",
            fmt="xls",
            uploaded_file=SimpleUploadedFile("s", b""),
            period_start=MONTH_END,
            period_end=MONTH_START,
            actor=make_staff("finance_officer"),
        )
    assert set(exc_info.value.fields) == {"psp", "format", "period_end", "file"}
    assert not ReconciliationRun.objects.exists()


def test_what_the_reader_assumed_is_kept_with_the_run_and_shown_to_finance(client, officer, ledger):
    """An MT940 line whose value date is not a date (31 November) is read (its entry date
    is one), and finance sees what was assumed; a sales agent cannot see the run."""
    day = TODAY
    short = MONTH_START  # the nearest month without a 31st
    while calendar.monthrange(short.year, short.month)[1] == 31:
        short = (short - timedelta(days=1)).replace(day=1)
    value_date = f"{short:%y%m}31"
    line_61 = f":61:{value_date}{day:%m%d}C100,00NTRFpi_a//B1"
    data = (
        f":20:S1\r\n:25:GB33BUKB20201555555555\r\n:60F:C{day:%y%m%d}USD0,00\r\n{line_61}\r\n"
        f":86:166?00GUTSCHRIFT?20EREF+pi_a\r\n:62F:C{day:%y%m%d}USD100,00\r\n-\r\n"
    ).encode()
    run = run_file(officer, data, "mt940")
    assert run.status == "done", run.error
    assert run.counts["noted"] == 1 and run.counts["matched_reference"] == 1
    line = run.lines.get()
    assert line.booked_on == day
    assert line.note == f"value date {value_date} is not a date; the entry date is used"
    login(client, officer)
    page = client.get(f"/backoffice/finance/reconciliation/{run.pk}/")
    assert b'data-noted="1"' in page.content and b"See what was assumed" in page.content
    noted = client.get(f"/backoffice/finance/reconciliation/{run.pk}/?show=noted")
    assert f"value date {value_date} is not a date".encode() in noted.content
    login(client, make_staff("sales_agent"))
    assert client.get(f"/backoffice/finance/reconciliation/{run.pk}/").status_code in (302, 403)


def test_a_run_without_assumptions_says_nothing_of_them(client, officer, ledger):
    rows = [row(1, "pi_a", "100.00")]
    run = run_file(officer, writers.write_stripe_itemized_csv(rows), "stripe_csv")
    assert run.counts["noted"] == 0
    login(client, officer)
    page = client.get(f"/backoffice/finance/reconciliation/{run.pk}/")
    assert b"data-noted" not in page.content
    noted = client.get(f"/backoffice/finance/reconciliation/{run.pk}/?show=noted")
    assert b"Every line was read as written." in noted.content


def test_stripe_balance_report_in_its_default_columns_matches_by_description(client, officer, db):
    """Stripe's balance change from activity report, itemized, as run with its default
    columns: no source_id, no payment ids; each charge's description is the one the
    deposit's payment was opened with, which is the ledger's description of the deposit."""
    holder = make_client_user().client
    for n, amount in [(1, "100.00"), (2, "250.00"), (3, "75.50"), (4, "40.00")]:
        post_deposit(holder, f"pi_d{n}", amount, description=f"Deposit D-{n}")
    day = TODAY.isoformat()
    data = (
        "balance_transaction_id,created_utc,available_on_utc,currency,gross,fee,net,"
        "reporting_category,description\n"
        f"txn_1,{day} 09:00:00,{day} 00:00:00,usd,100.00,3.20,96.80,charge,Deposit D-1\n"
        f"txn_2,{day} 09:05:00,{day} 00:00:00,usd,250.00,7.55,242.45,charge,Deposit D-2\n"
        f"txn_3,{day} 09:10:00,{day} 00:00:00,usd,75.00,2.48,72.52,charge,Deposit D-3\n"
        f"txn_9,{day} 09:15:00,{day} 00:00:00,usd,60.00,2.04,57.96,charge,Deposit D-9\n"
        f"txn_f,{day} 23:59:00,{day} 00:00:00,usd,-2.00,0.00,-2.00,fee,Radar fees\n"
    ).encode()
    run = run_file(officer, data, "stripe_csv")
    assert run.status == "done", run.error
    assert run.counts["matched_description"] == 3 and run.counts["skipped"] == 1
    kinds = sorted(run.items.values_list("kind", "reference"))
    assert kinds == [
        ("amount_mismatch", "txn_3"),  # Deposit D-3: 75.50 in the ledger, 75.00 at Stripe
        ("missing_at_psp", "pi_d4"),
        ("missing_in_ledger", "txn_9"),
    ]
    assert set(run.lines.filter(match="description").values_list("reference", flat=True)) == {
        "txn_1",
        "txn_2",
        "txn_3",
    }
    login(client, officer)
    page = client.get(f"/backoffice/finance/reconciliation/{run.pk}/")
    assert b"and 3 by description" in page.content
    matched = client.get(f"/backoffice/finance/reconciliation/{run.pk}/?show=matched")
    assert matched.content.count(b"<td>by description</td>") == 3


def test_a_description_two_lines_share_is_no_match_by_description(officer, db):
    client = make_client_user().client
    post_deposit(client, "pi_d1", "100.00", description="Deposit")
    post_deposit(client, "pi_d2", "100.00", description="Deposit")
    day = TODAY.isoformat()
    data = (
        "balance_transaction_id,created_utc,currency,gross,reporting_category,description\n"
        f"txn_1,{day} 09:00:00,usd,100.00,charge,Deposit\n"
        f"txn_2,{day} 09:05:00,usd,100.00,charge,Deposit\n"
    ).encode()
    run = run_file(officer, data, "stripe_csv")
    assert run.counts["matched_description"] == 0
    assert run.counts["matched_amount_date"] == 2 and run.counts["differences"] == 0


def test_the_differences_show_the_date_the_client_and_the_deposit(officer, methods, client):
    trader = verified_client("diff.trader@test.example")
    deposit = deposit_paid(trader, methods["stripe"], "100.00")  # the PSP's file lacks it
    run = run_file(
        officer, writers.write_stripe_itemized_csv([row(1, "pi_x", "60.00")]), "stripe_csv"
    )
    assert sorted(run.items.values_list("kind", flat=True)) == [
        "missing_at_psp",
        "missing_in_ledger",
    ]
    login(client, officer)
    html = client.get(f"/backoffice/finance/reconciliation/{run.pk}/").content.decode()
    assert f'href="/backoffice/clients/{trader.pk}/"' in html
    assert f'href="/backoffice/finance/deposits/{deposit.pk}/"' in html
    assert html.count(TODAY.isoformat()) >= 2  # each difference is dated


def fee_postings(currency="USD"):
    from finance.models import LedgerTransaction

    return list(
        LedgerTransaction.objects.filter(kind="fee", psp="stripe")
        .order_by("id")
        .values_list("idempotency_key", "description")
    )


def test_psp_fees_are_booked_by_day_once_and_never_a_difference(client, officer, ledger):
    from finance.ledger import system_account
    from finance.models import LedgerAccount

    rows = [row(1, "pi_a", "100.00"), row(2, "pi_b", "250.00"), row(3, "pi_c", "75.50")]
    rows += [row(4, "pi_d", "40.00", days=1)]
    # Stripe's fee column: 2.9% + 0.30 of each charge
    fees_today = D("3.20") + D("7.55") + D("2.49")
    fees_yesterday = D("1.46")
    data = writers.write_stripe_itemized_csv(rows)
    start = TODAY - timedelta(days=3)
    run = run_file(officer, data, "stripe_csv", start=start, end=TODAY)
    assert run.status == "done", run.error
    assert run.counts["differences"] == 0
    by_day = {(f["day"], f["status"]): D(f["amount"]) for f in run.counts["fees"]}
    yesterday = (TODAY - timedelta(days=1)).isoformat()
    assert by_day == {
        (yesterday, "booked"): fees_yesterday,
        (TODAY.isoformat(), "booked"): fees_today,
    }
    fee_account = system_account(LedgerAccount.Kind.FEES, "USD")
    assert fee_account.balance_amount == -(fees_today + fees_yesterday)  # an expense: a debit
    clearing = clearing_for("stripe", "USD")
    clearing.refresh_from_db()
    assert clearing.balance_amount == -(D("465.50") - fees_today - fees_yesterday)
    assert len(fee_postings()) == 2
    ok, problem = __import__("finance.ledger", fromlist=["ledger_verify"]).ledger_verify()
    assert problem is None, problem

    # The same statement again: the fees are found booked, nothing is booked twice, and the fee
    # postings on the clearing account are never differences.
    again = run_file(officer, data, "stripe_csv", start=start, end=TODAY)
    assert again.counts["differences"] == 0
    assert {f["status"] for f in again.counts["fees"]} == {"already_booked"}
    assert len(fee_postings()) == 2

    # A statement whose fees for a day differ from the booking: a difference, not a new booking.
    changed = data.replace(b",3.20,96.80,", b",3.50,96.50,")
    assert changed != data
    third = run_file(officer, changed, "stripe_csv", start=start, end=TODAY)
    items = list(third.items.values_list("kind", "statement_amount", "ledger_amount"))
    assert items == [("fee_mismatch", -(fees_today + D("0.30")), -fees_today)]
    assert len(fee_postings()) == 2

    login(client, officer)
    page = client.get(f"/backoffice/finance/reconciliation/{run.pk}/").content.decode()
    assert "data-fees" in page and "Booked by this run" in page, page[page.find("<main") :][:3000]
    assert "14.70" in page  # the statement's fees in all


def test_a_bank_fee_line_is_booked_as_a_fee(officer, ledger):
    rows = [
        row(1, "pi_a", "100.00"),
        row(2, "pi_b", "250.00"),
        row(3, "pi_c", "75.50"),
        row(4, "pi_d", "40.00"),
        row(5, "FEE-NOV", "-12.40", category="fee"),
    ]
    data = writers.write_mt940(
        rows, account="GB33BUKB20201555555555", currency="USD", opening_balance=D("0")
    )
    run = run_file(officer, data, "mt940")
    assert run.status == "done", run.error
    assert run.counts["differences"] == 0 and run.counts["skipped"] == 1
    assert [(f["amount"], f["status"]) for f in run.counts["fees"]] == [("12.40", "booked")]
