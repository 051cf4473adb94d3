"""The bank wire pages in the browser at 1440 px and 390 px: each renders its key part without
console errors or layout problems; full-page screenshots go to test-artifacts/
(wires-<page>-<width>.png; the ones in docs/screenshots/ are copied from there)."""

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from clients.models import Client
from finance.models import BankEntry
from finance.services import bank_statement_import, wire_batch_create, withdrawal_request
from sandbox import statements as writers
from tests.conftest import browser_session, login, make_staff, screen_check
from tests.finance.conftest import verified_client
from tests.finance.test_wires import ACCOUNT, TIA_REF, _row

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
DATA = Path(__file__).parent / "data" / "wires"
WIDTHS = ((1440, 900), (390, 844))


def _named(email, first, last):
    c = verified_client(email)
    c.user.first_name, c.user.last_name = first, last
    c.user.save()
    return Client.objects.select_related("user").get(pk=c.pk)


def _data(officer):
    tia = _named("tia@t.example", "Tia", "Wire")
    Client.objects.filter(pk=tia.pk).update(payment_reference=TIA_REF)
    bob = _named("bob@t.example", "Bob", "Other")
    Client.objects.filter(pk=bob.pk).update(payment_reference="RF22CBOB7WIRE3")
    robert = _named("rs@t.example", "Robert", "Schneider")
    funding = writers.write_camt053(
        [_row(f"FUND-{robert.pk}", 5000, "Robert Schneider", "", robert.payment_reference)],
        account_iban=ACCOUNT,
        currency="EUR",
        opening_balance=0,
    )
    bank_statement_import(
        fmt="camt053", uploaded_file=SimpleUploadedFile("funding.xml", funding), actor=officer
    )
    wires = [
        withdrawal_request(
            client=robert,
            amount=amount,
            currency="EUR",
            psp="bank_wire",
            actor="t",
            iban="CH9300762011623852957",
            bic="UBSWCHZH80A",
        )
        for amount in ("120.00", "80.00")
    ]
    wire_batch_create(withdrawal_ids=[wires[0].pk], actor=officer)
    path = DATA / "camt053-wires.xml"
    bank_statement_import(
        fmt="camt053",
        uploaded_file=SimpleUploadedFile(path.name, path.read_bytes()),
        actor=officer,
    )
    return tia, robert


def test_wire_pages_at_desktop_and_phone_widths(live_server, page, client, methods):
    officer = make_staff("finance_officer")
    tia, robert = _data(officer)
    queued = BankEntry.objects.filter(status="queued").order_by("pk").first()
    pages_staff = [
        ("queue", "/backoffice/finance/wires/", "[data-wire-queue] tr[data-entry]"),
        ("entry", f"/backoffice/finance/wires/entries/{queued.pk}/", "[data-assign-form]"),
        ("payments", "/backoffice/finance/wires/payments/", "[data-batch-form]"),
    ]
    pages_client = [
        ("portal-deposit", "/portal/wallet/deposit/", "[data-payment-reference]"),
        ("portal-withdraw", "/portal/wallet/withdraw/wire/", "[data-wire-withdraw-form]"),
    ]
    problems = []
    for who, pages in ((officer, pages_staff), (robert.user, pages_client)):
        client.logout()
        login(client, who)
        browser_session(page.context, client, live_server)
        for width, height in WIDTHS:
            page.set_viewport_size({"width": width, "height": height})
            for name, path, key in pages:
                problems += screen_check(page, live_server, f"wires-{name}-{width}", path, key)
    assert problems == [], problems
    assert page.console_errors == []
