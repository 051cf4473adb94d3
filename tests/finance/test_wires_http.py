"""Bank wire pages: who may see and act, what they show (labels, not codes), bad input, query
counts; the portal's bank details and the withdrawal by wire."""

from decimal import Decimal
from pathlib import Path

import pytest
import xmlschema
from django.core.files.uploadedfile import SimpleUploadedFile

from brokerage.errors import InvalidInput
from brokerage.models import AuditEvent
from clients.models import Client
from finance import audit_events
from finance.models import BankEntry, WireBatch, Withdrawal
from finance.services import bank_statement_import, withdrawal_request
from tests.conftest import login, make_client_user, make_staff
from tests.finance.conftest import fresh, verified_client

D = Decimal
DATA = Path(__file__).parent / "data" / "wires"
TIA_REF = "RF48CTIA4WIRE2"
pytestmark = pytest.mark.django_db


@pytest.fixture
def officer(client, methods):
    user = make_staff("finance_officer")
    login(client, user)
    return user


def imported(actor, path=DATA / "camt053-wires.xml"):
    return bank_statement_import(
        fmt="camt053", uploaded_file=SimpleUploadedFile(path.name, path.read_bytes()), actor=actor
    )


def tia():
    c = verified_client("tia@t.example")
    c.user.first_name, c.user.last_name = "Tia", "Wire"
    c.user.save()
    Client.objects.filter(pk=c.pk).update(payment_reference=TIA_REF)
    return fresh(c)


def test_finance_uploads_a_statement_and_sees_the_queue_with_labels(client, officer):
    t = tia()
    with (DATA / "camt053-wires.xml").open("rb") as fh:
        page = client.post(
            "/backoffice/finance/wires/", {"format": "camt053", "file": fh}, follow=True
        )
    assert page.status_code == 200
    assert b"6 entries read, 6 new: 2 credited" in page.content
    assert b"No client matched" in page.content and b"Unknown Payer GmbH" in page.content
    assert b"no_match" not in page.content.replace(b'value="no_match"', b"")
    assert BankEntry.objects.filter(client=t, status="credited").exists()
    home = client.get("/backoffice/")
    assert b"Bank wires to assign" in home.content
    page = client.get("/backoffice/finance/wires/", {"status": "", "q": "tia wire"})
    assert b"Credited to the client" in page.content and b"Unknown Payer" not in page.content
    page = client.get("/backoffice/finance/wires/", {"why": "no_match"})
    assert b"Unknown Payer" in page.content and b"Family Office" not in page.content


def test_a_file_that_is_not_a_statement_is_a_form_error(client, officer):
    bad = SimpleUploadedFile("x.xml", b"<?xml version='1.0'?><Document xmlns='urn:x'/>")
    page = client.post("/backoffice/finance/wires/", {"format": "camt053", "file": bad})
    assert page.status_code == 400 and b"cannot be imported: the file is XML" in page.content
    assert not BankEntry.objects.exists()


def test_the_queue_page_does_not_query_more_with_more_rows(
    client, officer, django_assert_max_num_queries
):
    imported(officer)
    client.get("/backoffice/finance/wires/", {"status": ""})
    with django_assert_max_num_queries(20):
        page = client.get("/backoffice/finance/wires/", {"status": ""})
    assert page.status_code == 200 and page.content.count(b"data-entry=") == 6


def test_an_officer_assigns_a_queued_wire_by_reference_and_dismisses_another(client, officer):
    statement = imported(officer)
    unknown = BankEntry.objects.get(statement=statement, line_no=3)
    payer = verified_client("payer@t.example")
    url = f"/backoffice/finance/wires/entries/{unknown.pk}/"
    page = client.get(url)
    assert page.status_code == 200 and b"Credit it to a client" in page.content
    refused = client.post(url, {"action": "assign", "client": "RF00NOBODY", "reason": "x"})
    assert refused.status_code == 400 and b"No client has this" in refused.content
    done = client.post(
        url,
        {"action": "assign", "client": payer.payment_reference.lower(), "reason": "Phoned us"},
    )
    assert done.status_code == 302
    unknown = fresh(unknown)
    assert (unknown.status, unknown.client_id, unknown.decided_by) == (
        "assigned",
        payer.pk,
        officer,
    )
    page = client.get(url)
    assert b"Bank wire assigned to a client by hand" in page.content  # the trail's label
    other = BankEntry.objects.get(statement=statement, line_no=4)
    url = f"/backoffice/finance/wires/entries/{other.pk}/"
    assert client.post(url, {"action": "dismiss", "dismiss-reason": "Sent back"}).status_code == 302
    assert fresh(other).status == "dismissed"


@pytest.mark.parametrize("role", ["compliance_officer", "sales_agent"])
def test_only_finance_officers_work_bank_wires(client, methods, role):
    actor = make_staff("finance_officer", email="f@t.example")
    statement = imported(actor)
    entry = BankEntry.objects.get(statement=statement, line_no=3)
    login(client, make_staff(role))
    expected_get = 200 if role == "compliance_officer" else 403
    assert client.get("/backoffice/finance/wires/").status_code == expected_get
    assert client.get("/backoffice/finance/wires/payments/").status_code == expected_get
    with (DATA / "camt053-wires.xml").open("rb") as fh:
        assert (
            client.post("/backoffice/finance/wires/", {"format": "camt053", "file": fh}).status_code
            == 403
        )
    url = f"/backoffice/finance/wires/entries/{entry.pk}/"
    payer = verified_client("payer@t.example")
    assert (
        client.post(url, {"action": "assign", "client": str(payer.pk), "reason": "x" * 9})
    ).status_code == 403
    assert client.post(url, {"action": "dismiss", "dismiss-reason": "x" * 9}).status_code == 403
    assert fresh(entry).status == "queued"
    assert (
        client.post("/backoffice/finance/wires/payments/", {"withdrawal": ["1"]}).status_code == 403
    )
    assert client.post("/backoffice/finance/wires/withdrawals/1/return/").status_code == 403


def test_anonymous_and_clients_never_see_bank_wires(client, methods):
    assert client.get("/backoffice/finance/wires/").status_code == 302
    login(client, make_client_user("c@t.example"))
    assert client.get("/backoffice/finance/wires/").status_code in (302, 403)


def _wire_client():
    c = verified_client("rs@t.example")
    c.user.first_name, c.user.last_name = "Robert", "Schneider"
    c.user.save()
    return fresh(c)


def test_payment_file_from_the_page_downloads_as_valid_pain001(client, officer):
    robert = _wire_client()
    from tests.finance.test_wires import funded

    funded(robert, "500.00", None)
    w = withdrawal_request(
        client=robert,
        amount="100",
        currency="EUR",
        psp="bank_wire",
        actor="t",
        iban="CH9300762011623852957",
    )
    page = client.get("/backoffice/finance/wires/payments/")
    assert page.status_code == 200 and w.reference.encode() in page.content
    done = client.post("/backoffice/finance/wires/payments/", {"withdrawal": [str(w.pk)]})
    assert done.status_code == 302
    batch = WireBatch.objects.get()
    xml = client.get(f"/backoffice/finance/wires/batches/{batch.pk}.xml")
    assert xml.status_code == 200 and xml["Content-Disposition"].startswith("attachment")
    xmlschema.XMLSchema(str(DATA / "pain.001.001.09.xsd")).validate(xml.content.decode())
    again = client.post("/backoffice/finance/wires/payments/", {"withdrawal": [str(w.pk)]})
    assert again.status_code == 302 and WireBatch.objects.count() == 1
    detail = client.get(f"/backoffice/finance/withdrawals/{w.pk}/")
    assert detail.status_code == 200 and b"CH9300762011623852957" in detail.content
    assert batch.message_id.encode() in detail.content
    returned = client.post(
        f"/backoffice/finance/wires/withdrawals/{w.pk}/return/", {"reason": "Account closed"}
    )
    assert returned.status_code == 302 and fresh(w).status == "failed"
    assert AuditEvent.objects.filter(action=audit_events.WITHDRAWAL_RETURNED).exists()


# --- The portal ------------------------------------------------------------------------------


def test_the_deposit_page_shows_the_clients_reference_and_the_bank(client, methods):
    c = verified_client()
    login(client, c.user)
    page = client.get("/portal/wallet/deposit/")
    ref = c.payment_reference
    spaced = " ".join(ref[i : i + 4] for i in range(0, len(ref), 4))
    assert page.status_code == 200 and spaced.encode() in page.content
    assert b"CH56 0483 5012 3456 7800 9" in page.content and b"Demo Brokerage Ltd" in page.content


def test_the_deposit_page_offers_no_wire_without_a_bank_account(client, methods, settings):
    settings.BANK_WIRE_IBAN = ""
    login(client, verified_client().user)
    assert b"data-bank-wire" not in client.get("/portal/wallet/deposit/").content


def test_a_client_asks_for_a_wire_to_their_own_iban(client, methods):
    robert = _wire_client()
    from tests.finance.test_wires import funded

    funded(robert, "500.00", None)
    login(client, robert.user)
    url = "/portal/wallet/withdraw/wire/"
    page = client.get(url)
    assert page.status_code == 200 and b"Robert Schneider" in page.content
    bad = client.post(url, {"currency": "EUR", "amount": "50", "iban": "CH9300762011623852958"})
    assert bad.status_code == 400 and b"check digits are wrong" in bad.content
    done = client.post(
        url, {"currency": "EUR", "amount": "50", "iban": "CH93 0076 2011 6238 5295 7", "bic": ""}
    )
    assert done.status_code == 302
    w = Withdrawal.objects.get(client=robert)
    assert (w.psp, w.status, w.wire.iban) == ("bank_wire", "approved", "CH9300762011623852957")
    wallet = client.get("/portal/wallet/")
    assert b"Bank wire" in wallet.content


def test_another_client_cannot_use_the_wire_page_unverified(client, methods):
    c = make_client_user("new@t.example").client
    login(client, c.user)
    page = client.post(
        "/portal/wallet/withdraw/wire/",
        {"currency": "EUR", "amount": "5", "iban": "CH9300762011623852957"},
    )
    assert page.status_code == 403 and not Withdrawal.objects.exists()


def test_a_wire_deposit_shows_like_any_deposit_but_is_not_refunded_through_a_psp(client, officer):
    from finance.models import Deposit
    from finance.services import refund_request

    t = tia()
    imported(officer)
    deposit = Deposit.objects.get(client=t, amount=D("500.00"))
    page = client.get("/backoffice/finance/deposits/", {"psp": "bank_wire"})
    assert page.status_code == 200 and deposit.reference.encode() in page.content
    detail = client.get(f"/backoffice/finance/deposits/{deposit.pk}/")
    assert detail.status_code == 200 and b"Bank wire" in detail.content
    assert b'name="form" value="refund"' not in detail.content
    with pytest.raises(InvalidInput):
        refund_request(deposit=deposit, amount="10", reason="Asked", actor=officer)
    login(client, t.user)
    wallet = client.get("/portal/wallet/")
    assert deposit.reference.encode() in wallet.content and b"Bank wire" in wallet.content
