"""The portal's overview (balances, identity check, the next step) and profile (contact
details, the address with a new proof of it once verified)."""

import pytest

from brokerage.models import AuditEvent
from clients.models import Client, Deal
from clients.services import client_kyc_level_set
from kyc.models import KycDocument, KycSubmission
from tests.clients.factories import make_account, make_deal, make_server
from tests.conftest import login, make_client_user
from tests.kyc.conftest import prepared

pytestmark = pytest.mark.django_db

NEW_ADDRESS = {
    "address_line": "2 Canal Road",
    "city": "Leeds",
    "postcode": "LS1 2AB",
    "country": "GB",
}


def verified(user, submission):
    """The submission approved as a compliance officer would (the OCR checks are tested in
    tests/kyc)."""
    KycSubmission.objects.filter(pk=submission.pk).update(state="approved")
    client_kyc_level_set(client=user.client, level=1, actor="test", reason="approved")
    return Client.objects.get(pk=user.client.pk), KycSubmission.objects.get(pk=submission.pk)


def test_a_new_client_is_told_to_verify_first(client):
    user = make_client_user()
    login(client, user)
    html = client.get("/portal/").content.decode()
    assert "data-next-step" in html and "Verify your identity" in html
    assert 'data-tile="wallet"' in html and "No funds yet." in html
    assert 'data-tile="kyc"' in html and "Not started" in html
    assert 'data-tile="trading"' in html and "No trading account yet." in html


def test_a_verified_client_without_funds_is_told_to_deposit(client):
    user, submission = prepared()
    verified(user, submission)
    login(client, user)
    html = client.get("/portal/").content.decode()
    assert "Fund your wallet" in html and "Verify your identity" not in html
    assert ">Approved<" in html


def test_the_overview_reads_a_bounded_number_of_queries(client, django_assert_max_num_queries):
    user = make_client_user()
    login(client, user)
    with django_assert_max_num_queries(20):
        assert client.get("/portal/").status_code == 200


def test_the_client_changes_their_phone_audited(client):
    user = make_client_user()
    login(client, user)
    response = client.post("/portal/profile/", {"phone": "+44 7911 123999"})
    assert response.status_code == 302
    c = Client.objects.get(pk=user.client.pk)
    assert c.phone == "+447911123999"
    event = AuditEvent.objects.get(action="client.contact_changed")
    assert event.evidence["phone"]["to"] == "+447911123999"


@pytest.mark.parametrize("data", [{"phone": "12"}, {"phone": ""}])
def test_bad_contact_details_are_a_clear_400_and_nothing_changes(client, data):
    user = make_client_user()
    login(client, user)
    before = Client.objects.values("phone", "language").get(pk=user.client.pk)
    response = client.post("/portal/profile/", data)
    assert response.status_code == 400
    assert "is-invalid" in response.content.decode()
    assert Client.objects.values("phone", "language").get(pk=user.client.pk) == before
    assert not AuditEvent.objects.filter(action="client.contact_changed").exists()


def test_before_verification_a_new_address_is_simply_saved(client):
    user = make_client_user()
    login(client, user)
    response = client.post("/portal/profile/address/", NEW_ADDRESS)
    assert response.status_code == 302 and response["Location"] == "/portal/profile/"
    submission = KycSubmission.objects.get(client=user.client)
    assert (submission.address_line, submission.city) == ("2 Canal Road", "Leeds")
    event = AuditEvent.objects.get(action="kyc.address_changed")
    assert event.evidence["proof_of_address_needed"] is False
    assert "2 Canal Road" in client.get("/portal/profile/").content.decode()


def test_a_verified_clients_new_address_asks_for_a_proof_of_it(client):
    user, submission = prepared()
    c, submission = verified(user, submission)
    login(client, user)
    response = client.post("/portal/profile/address/", NEW_ADDRESS)
    assert response.status_code == 302 and response["Location"] == "/portal/verify/"
    latest = KycSubmission.objects.filter(client=c).order_by("-created_at").first()
    assert latest.pk != submission.pk and latest.state == "draft"
    assert (latest.address_line, latest.postcode) == ("2 Canal Road", "LS1 2AB")
    assert latest.first_name == submission.first_name and latest.questionnaire_outcome
    kinds = set(latest.documents.filter(is_current=True).values_list("kind", flat=True))
    assert kinds == {"passport"}  # the identity carries over, the proof of address does not
    assert KycDocument.objects.filter(submission=submission).count() == 2  # old one untouched
    assert Client.objects.get(pk=c.pk).kyc_level == 1  # still verified meanwhile
    event = AuditEvent.objects.get(action="kyc.address_changed")
    assert event.evidence["from"]["city"] == "Bristol" and event.evidence["to"]["city"] == "Leeds"
    assert event.evidence["proof_of_address_needed"] is True
    html = client.get("/portal/").content.decode()
    assert "Confirm your new address" in html


def test_a_bad_address_is_a_clear_400_on_the_profile(client):
    user = make_client_user()
    login(client, user)
    response = client.post("/portal/profile/address/", {**NEW_ADDRESS, "country": "XX"})
    assert response.status_code == 400
    html = response.content.decode()
    assert 'data-card="address"' in html and "is-invalid" in html
    assert not AuditEvent.objects.filter(action="kyc.address_changed").exists()


def test_staff_cannot_change_a_clients_address(as_role):
    client = as_role("compliance_officer")
    assert client.post("/portal/profile/address/", NEW_ADDRESS).status_code == 403


def test_the_trading_page_links_each_servers_platform(client):
    user = make_client_user()
    server = make_server(
        download_url="https://downloads.example.com/mt5",
        web_terminal_url="https://trade.example.com/terminal",
    )
    make_account(user.client, server=server)
    plain = make_server("MT5 Plain")
    make_account(user.client, server=plain)
    login(client, user)
    html = client.get("/portal/trading/").content.decode()
    assert f'data-platform="{server.pk}"' in html and f'data-platform="{plain.pk}"' not in html
    assert 'href="https://downloads.example.com/mt5"' in html
    assert 'href="https://trade.example.com/terminal"' in html


def test_a_transfer_into_the_account_is_a_balance_operation_not_profit(client):
    user = make_client_user()
    account = make_account(user.client)
    make_deal(
        account,
        action=Deal.Action.BALANCE,
        entry=Deal.Entry.IN,
        profit="250.00",
        comment="BO-TR-1",
    )
    login(client, user)
    html = client.get(f"/portal/trading/{account.pk}/").content.decode()
    row = html[html.index("data-deal=") :]
    row = row[: row.index("</tr>")]
    assert "Balance" in row and "data-balance-amount" in row
    cells = row.split("<td")
    assert "250.00" in cells[4] and "250.00" not in cells[-1]  # under Type, not under Profit
