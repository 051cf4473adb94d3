"""Finance pages in the back-office: who may act, what they see, bad input, query counts."""

from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings

from finance.ledger import wallet_for
from finance.models import Chargeback, ReconciliationRun, Refund, Withdrawal
from finance.services import withdrawal_request
from kyc import specimens
from tests.conftest import login, make_staff
from tests.finance.conftest import deposit_paid, fresh, verified_client

D = Decimal


@pytest.fixture
def officer(client, methods):
    user = make_staff("finance_officer")
    login(client, user)
    return user


def in_review(methods, amount="3000"):
    c = verified_client()
    deposit_paid(c, methods["stripe"], "5000.00")
    return withdrawal_request(client=c, amount=amount, currency="USD", psp="stripe", actor="t")


def test_the_queue_lists_withdrawals_in_review_with_their_reasons(client, officer, methods):
    w = in_review(methods)
    page = client.get("/backoffice/finance/withdrawals/")
    assert page.status_code == 200
    assert w.reference.encode() in page.content and b"Amount threshold" in page.content


def test_an_officer_approves_and_the_payout_is_queued(
    client, officer, methods, django_capture_on_commit_callbacks
):
    w = in_review(methods)
    with django_capture_on_commit_callbacks() as callbacks:
        r = client.post(
            f"/backoffice/finance/withdrawals/{w.pk}/", {"action": "approve", "reason": "SoF ok"}
        )
    assert r.status_code == 302 and fresh(w).status == "approved"
    # after commit: the payout queued once (and the client's email)
    assert sum("withdrawal_payout_task" in repr(c) for c in callbacks) == 1


@override_settings(FINANCE_FOUR_EYES_USD=1000)
def test_four_eyes_on_the_page(client, officer, methods):
    w = in_review(methods)
    client.post(f"/backoffice/finance/withdrawals/{w.pk}/", {"action": "approve", "reason": "a"})
    again = client.post(
        f"/backoffice/finance/withdrawals/{w.pk}/", {"action": "approve", "reason": "b"}
    )
    assert again.status_code == 400 and b"second finance officer" in again.content
    assert fresh(w).status == "in_review"


def test_rejecting_needs_a_reason_and_releases_the_hold(client, officer, methods):
    w = in_review(methods)
    r = client.post(f"/backoffice/finance/withdrawals/{w.pk}/", {"action": "reject", "reason": ""})
    assert r.status_code == 400 and b"Say why" in r.content
    client.post(
        f"/backoffice/finance/withdrawals/{w.pk}/", {"action": "reject", "reason": "3rd party"}
    )
    assert fresh(w).status == "rejected"
    wallet = wallet_for(w.client, "USD")
    wallet.refresh_from_db()
    assert wallet.held_amount == 0


def test_compliance_reads_but_cannot_decide(client, methods):
    w = in_review(methods)
    login(client, make_staff("compliance_officer"))
    assert client.get(f"/backoffice/finance/withdrawals/{w.pk}/").status_code == 200
    r = client.post(f"/backoffice/finance/withdrawals/{w.pk}/", {"action": "approve"})
    assert r.status_code == 403 and fresh(w).status == "in_review"


def test_refund_and_chargeback_from_the_deposit_page(
    client, officer, methods, django_capture_on_commit_callbacks
):
    c = verified_client()
    d = deposit_paid(c, methods["stripe"], "100.00")
    url = f"/backoffice/finance/deposits/{d.pk}/"
    assert client.get(url).status_code == 200
    bad = client.post(url, {"form": "refund", "amount": "100.01", "reason": "asked"})
    assert bad.status_code == 400 and b"remains to refund" in bad.content
    bad = client.post(url, {"form": "refund", "amount": "abc", "reason": "asked"})
    assert bad.status_code == 400 and b"not a number" in bad.content
    with django_capture_on_commit_callbacks():
        ok = client.post(url, {"form": "refund", "amount": "40", "reason": "asked"})
    assert ok.status_code == 302 and Refund.objects.get().amount == D("40.00")
    r = client.post(
        url,
        {"form": "chargeback", "amount": "60", "provider_reference": "dp_77", "reason": "fraud"},
    )
    cb = Chargeback.objects.get()
    assert r.status_code == 302 and r["Location"] == f"/backoffice/finance/chargebacks/{cb.pk}/"
    evidence = SimpleUploadedFile(
        "receipt.pdf", specimens.proof_of_address_pdf(specimens.Person()), "application/pdf"
    )
    page = f"/backoffice/finance/chargebacks/{cb.pk}/"
    assert (
        client.post(page, {"form": "evidence", "file": evidence, "note": "ToS"}).status_code == 302
    )
    fake = SimpleUploadedFile("x.pdf", b"MZ\x90\x00 not a pdf", "application/pdf")
    assert client.post(page, {"form": "evidence", "file": fake}).status_code == 400
    ev = cb.evidence.get()
    doc = client.get(f"/backoffice/finance/chargebacks/evidence/{ev.pk}/")
    assert doc.status_code == 200 and doc["Cache-Control"] == "private, no-store"
    assert doc["Content-Disposition"] == f'attachment; filename="evidence-{ev.pk}.pdf"'
    assert doc["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in doc["Content-Security-Policy"]
    client.post(page, {"form": "resolve", "outcome": "won", "reason": "evidence accepted"})
    assert fresh(cb).status == "won"


def test_lists_and_export_do_not_grow_queries_with_rows(client, officer, methods):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    urls = [
        "/backoffice/finance/deposits/",
        "/backoffice/finance/transactions/",
        "/backoffice/finance/withdrawals/?status=",
        "/backoffice/finance/chargebacks/",
        "/backoffice/finance/reconciliation/",
    ]

    def counts():
        out = {}
        for url in urls:
            with CaptureQueriesContext(connection) as ctx:
                assert client.get(url).status_code == 200
            out[url] = len(ctx)
        return out

    officer_user = make_staff("finance_officer", email="f9@t.example")
    from finance.services import chargeback_open

    for i in range(3):
        c = verified_client(f"c{i}@t.example")
        d = deposit_paid(c, methods["stripe"], "20.00")
        withdrawal_request(client=c, amount="5", currency="USD", psp="stripe", actor="t")
    chargeback_open(deposit=d, amount="1", provider_reference="dp", reason="", actor=officer_user)
    few = counts()
    for i in range(3, 25):
        c = verified_client(f"c{i}@t.example")
        d = deposit_paid(c, methods["stripe"], "20.00")
        withdrawal_request(client=c, amount="5", currency="USD", psp="stripe", actor="t")
        if i < 6:
            chargeback_open(
                deposit=d, amount="1", provider_reference=f"dp{i}", reason="", actor=officer_user
            )
    assert counts() == few
    csv = client.get("/backoffice/finance/transactions.csv?psp=stripe")
    body = b"".join(csv.streaming_content).decode()
    assert body.startswith("posted_at_utc,") and body.count("\n") == 1 + 2 * 25 + 2 * 4


def test_search_and_filters(client, officer, methods):
    c = verified_client("findme@t.example")
    d = deposit_paid(c, methods["checkout"], "33.00")
    deposit_paid(verified_client("other@t.example"), methods["stripe"], "44.00")
    page = client.get("/backoffice/finance/deposits/?q=findme&psp=checkout&status=completed")
    assert d.reference.encode() in page.content and b"other@t.example" not in page.content
    tx = client.get(f"/backoffice/finance/transactions/?q={d.provider_reference}")
    assert b"findme@t.example" in tx.content and b"other@t.example" not in tx.content
    assert client.get("/backoffice/finance/deposits/?status=nonsense&psp=x").status_code == 200


def test_reconciliation_upload_runs_and_shows_progress_then_results(
    client, officer, methods, django_capture_on_commit_callbacks
):
    from datetime import date

    from finance.reconciliation.services import reconciliation_execute

    month = date.today().replace(day=1).isoformat()
    data = b"date,reference,amount,currency\n2026-11-01,pi_nowhere,12.00,USD\n"
    form = {
        "psp": "stripe",
        "format": "csv",
        "month": month,
        "file": SimpleUploadedFile("s.csv", data),
    }
    missing = client.post("/backoffice/finance/reconciliation/", form)
    assert missing.status_code == 400 and b"Name the CSV" in missing.content
    form.update(
        file=SimpleUploadedFile("s.csv", data),
        col_reference="reference",
        col_amount="amount",
        col_currency="currency",
        col_date="date",
        save_mapping_as="Stripe test CSV",
    )
    with django_capture_on_commit_callbacks():
        r = client.post("/backoffice/finance/reconciliation/", form)
    run = ReconciliationRun.objects.get()
    assert r.status_code == 302
    progress = client.get(f"/backoffice/finance/reconciliation/{run.pk}/progress/")
    assert b"progress-bar" in progress.content
    reconciliation_execute(run_id=run.pk)
    page = client.get(f"/backoffice/finance/reconciliation/{run.pk}/")
    assert b"Missing in the ledger" in page.content
    matched = client.get(f"/backoffice/finance/reconciliation/{run.pk}/?show=matched")
    assert matched.status_code == 200 and b"Nothing matched." in matched.content
    item = run.items.get()
    client.post(
        f"/backoffice/finance/reconciliation/items/{item.pk}/resolve/",
        {"reason": "PSP test charge"},
    )
    item.refresh_from_db()
    assert item.resolved_at
    client.post(f"/backoffice/finance/reconciliation/{run.pk}/close/")
    assert b"month closed" in client.get(f"/backoffice/finance/reconciliation/{run.pk}/").content


def test_a_client_statement_pdf_for_staff(client, officer, methods):
    c = verified_client()
    deposit_paid(c, methods["stripe"], "100.00")
    r = client.get(f"/backoffice/finance/clients/{c.pk}/statement.pdf?currency=USD")
    assert r.status_code == 200 and r.content.startswith(b"%PDF")
    assert (
        client.get(f"/backoffice/finance/clients/{c.pk}/statement.pdf?currency=JPY").status_code
        == 404
    )
    bad = client.get(
        f"/backoffice/finance/clients/{c.pk}/statement.pdf?currency=USD&start=2026-02-01&end=2026-01-01"
    )
    assert bad.status_code == 400


def test_withdrawal_page_for_an_unknown_client_standing(client, officer, methods):
    w = in_review(methods)
    Withdrawal.objects.filter(pk=w.pk)
    assert b"Automatic checks" in client.get(f"/backoffice/finance/withdrawals/{w.pk}/").content


def test_the_matched_lines_of_a_run_are_listed(client, officer, methods):
    from datetime import date

    from finance.reconciliation.generic_csv import ColumnMapping
    from finance.reconciliation.selectors import month_bounds
    from finance.reconciliation.services import reconciliation_execute, reconciliation_start

    d = deposit_paid(verified_client(), methods["stripe"], "42.00")
    first, last = month_bounds(date.today())
    data = f"date,reference,amount,currency\n{date.today()},{d.provider_reference},42.00,USD\n"
    run = reconciliation_start(
        psp="stripe",
        fmt="csv",
        uploaded_file=SimpleUploadedFile("s.csv", data.encode()),
        period_start=first,
        period_end=last,
        mapping=ColumnMapping(
            reference="reference", amount="amount", currency="currency", date="date"
        ),
        actor=officer,
    )
    reconciliation_execute(run_id=run.pk)
    page = client.get(f"/backoffice/finance/reconciliation/{run.pk}/?show=matched")
    assert (
        b'data-matched="reference"' in page.content
        and d.provider_reference.encode() in page.content
    )


def test_ops_configure_payment_methods_and_rates_in_admin(client, methods):
    login(client, make_staff("ops_admin"))
    assert client.get("/admin/finance/paymentmethod/").status_code == 200
    form = {
        "psp": "skrill",
        "name": "Skrill GBP",
        "currency": "KWD",
        "countries": '["GB", "XX"]',
        "excluded_countries": "[]",
        "min_amount": "10",
        "max_amount": "100",
        "min_kyc_level": "0",
        "is_active": "on",
        "sort_order": "5",
    }
    bad = client.post("/admin/finance/paymentmethod/add/", form)
    assert bad.status_code == 200 and b"more than 2 decimal places" in bad.content
    assert b"XX" in bad.content
    form.update(currency="gbp", countries='["gb"]')
    assert client.post("/admin/finance/paymentmethod/add/", form).status_code == 302
    from finance.models import FxRate, PaymentMethod

    assert PaymentMethod.objects.get(name="Skrill GBP").countries == ["GB"]
    r = client.post("/admin/finance/fxrate/add/", {"currency": "GBP", "usd_rate": "1.27"})
    assert r.status_code == 302 and FxRate.objects.filter(currency="GBP").exists()
    login(client, make_staff("finance_officer"))
    assert client.get("/admin/finance/paymentmethod/").status_code in (302, 403)


def test_the_deposit_summary_reads_status_labels_not_codes(client, officer, methods):
    from finance.models import Deposit

    d = deposit_paid(verified_client(), methods["stripe"], "10.00")
    Deposit.objects.filter(pk=d.pk).update(status=Deposit.Status.PENDING)
    page = client.get("/backoffice/finance/deposits/").content.decode()
    assert "<td>Pending at the PSP</td>" in page and "<td>Pending</td>" not in page
    assert 'class="badge text-bg-warning" data-status="pending">Pending at the PSP<' in page


def test_opening_a_withdrawal_is_written_to_the_access_log(client, officer, methods):
    """The withdrawal page shows the client's bank details and payments: each staff view is
    logged as the 360 and KYC pages are; a refused view logs nothing."""
    from clients.models import PersonalDataView

    w = in_review(methods)
    assert client.get(f"/backoffice/finance/withdrawals/{w.pk}/").status_code == 200
    view = PersonalDataView.objects.get()
    assert (view.user, view.client_id, view.what) == (officer, w.client_id, "withdrawal")
    assert view.detail == f"withdrawal {w.reference}"
    login(client, make_staff("sales_agent"))
    assert client.get(f"/backoffice/finance/withdrawals/{w.pk}/").status_code == 403
    assert PersonalDataView.objects.count() == 1
