import json

import pytest
from allauth.account.models import EmailAddress

from brokerage.models import AuditEvent, User
from brokerage.services import api_key_create
from clients.services import client_register
from ib.models import Attribution
from ib.services import lead_attribution_set
from leads.models import Channel, Lead, LeadTouch
from leads.services import lead_capture, lead_route
from leads.validation import clean_lead_input
from tests.conftest import make_partner_user, make_staff

pytestmark = pytest.mark.django_db

GOOD = {
    "first_name": "Amal",
    "last_name": "Saeed",
    "email": "Amal.Saeed@Example.com",
    "phone": "+971 50 123 4567",
    "country": "ae",
    "language": "ar",
    "experience": "some",
    "net_worth_usd": 80000,
    "annual_income_usd": "60000",
    "source": "landing-page",
    "utm_source": "google",
    "utm_medium": "cpc",
    "utm_campaign": "uae-q4",
}


@pytest.fixture
def key():
    return api_key_create(actor="test", name="Landing", scopes=["leads:write"])[1]


def post(client, key, body, **headers):
    return client.post(
        "/api/v1/leads/",
        json.dumps(body),
        content_type="application/json",
        HTTP_X_API_KEY=key,
        **headers,
    )


def test_capture_answers_201_with_id_status_score(client, key, floor):
    response = post(client, key, GOOD)
    assert response.status_code == 201
    body = response.json()
    lead = Lead.objects.get(pk=body["id"])
    assert body == {"id": lead.pk, "status": "new", "score": lead.score, "warnings": []}
    assert lead.email == "amal.saeed@example.com" and lead.phone == "+971501234567"
    assert lead.country == "AE" and str(lead.net_worth_usd) == "80000.00"
    assert lead.utm_campaign == "uae-q4" and lead.channel == "api"


def test_get_returns_score_breakdown_and_routing(client, key, floor):
    lead_id = post(client, key, GOOD).json()["id"]
    lead_route(lead_id=lead_id)
    body = client.get(f"/api/v1/leads/{lead_id}/", HTTP_X_API_KEY=key).json()
    assert body["desk"] == "Dubai" and body["assigned_to"] == "dubai.ar@test.example"
    assert body["nurture_sequence"] is None and body["assigned_at"]
    assert sum(p["points"] for p in body["score_breakdown"]) == body["score"]
    assert {p["rule"] for p in body["score_breakdown"]} >= {"Tier-1 country", "Valid phone number"}


def test_nurtured_lead_names_its_sequence(client, key, floor):
    lead_id = post(
        client, key, {**GOOD, "country": "GB", "phone": "+447911123456", "experience": "none"}
    ).json()["id"]
    lead_route(lead_id=lead_id)
    body = client.get(f"/api/v1/leads/{lead_id}/", HTTP_X_API_KEY=key).json()
    assert body["nurture_sequence"] == "First-time trader" and body["assigned_to"] is None


def test_an_integration_reads_only_its_own_leads(client, key, floor):
    lead_id = post(client, key, GOOD).json()["id"]
    other = api_key_create(actor="test", name="Other affiliate")[1]
    assert client.get(f"/api/v1/leads/{lead_id}/", HTTP_X_API_KEY=other).status_code == 404
    reader = api_key_create(actor="test", name="CRM sync", scopes=["leads:read_all"])[1]
    assert client.get(f"/api/v1/leads/{lead_id}/", HTTP_X_API_KEY=reader).status_code == 200


def test_idempotency_key_replays_the_first_answer(client, key, floor):
    first = post(client, key, GOOD, HTTP_IDEMPOTENCY_KEY="abc-1")
    again = post(client, key, {**GOOD, "first_name": "Changed"}, HTTP_IDEMPOTENCY_KEY="abc-1")
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert Lead.objects.count() == 1 and LeadTouch.objects.count() == 1


def test_the_same_person_twice_is_one_lead_with_two_touches(client, key, floor):
    first = post(client, key, GOOD).json()
    again = post(
        client,
        key,
        {"email": "AMAL.saeed@example.com", "source": "webinar", "utm_campaign": "webinar-nov"},
    )
    by_phone = post(client, key, {"phone": "00971501234567", "country": "AE"})
    assert again.status_code == 200 and again.json()["id"] == first["id"]
    assert by_phone.json()["id"] == first["id"]
    lead = Lead.objects.get()
    assert lead.touches.filter(is_duplicate=True).count() == 2
    assert set(lead.touches.values_list("utm_campaign", flat=True)) >= {"uae-q4", "webinar-nov"}


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({**GOOD, "email": "not-an-email"}, {"email"}),
        ({"phone": "12345", "country": "AE"}, {"phone"}),
        ({"phone": "12345", "email": "not-an-email"}, {"phone", "email"}),
        ({**GOOD, "country": "XX"}, {"country"}),
        ({**GOOD, "country": "ARE"}, {"country"}),
        ({**GOOD, "experience": "guru"}, {"experience"}),
        ({**GOOD, "net_worth_usd": -5}, {"net_worth_usd"}),
        ({**GOOD, "language": "klingon"}, {"language"}),
        ({**GOOD, "favourite_colour": "blue"}, {"favourite_colour"}),
        ({"first_name": "Nobody"}, {"email"}),
        ({**GOOD, "email": "bad", "phone": "bad", "country": "ZZ"}, {"email", "phone", "country"}),
    ],
)
def test_bad_input_is_a_field_level_422_and_writes_nothing(client, key, floor, body, fields):
    response = post(client, key, body)
    assert response.status_code == 422, response.content
    assert fields <= set(response.json()["fields"])
    assert not Lead.objects.exists() and not LeadTouch.objects.exists()


def test_oversized_body_is_413(client, key, floor):
    response = post(client, key, {**GOOD, "source": "x" * 20000})
    assert response.status_code in (413, 422)
    assert not Lead.objects.exists()
    big = client.post(
        "/api/v1/leads/",
        json.dumps({**GOOD, "first_name": "y" * 17000}),
        content_type="application/json",
        HTTP_X_API_KEY=key,
    )
    assert big.status_code in (413, 422) and big.json()["error"]


def test_script_in_a_name_is_stored_as_text(client, key, floor):
    response = post(client, key, {**GOOD, "first_name": "<script>alert(1)</script>"})
    assert response.status_code == 201
    assert Lead.objects.get().first_name == "<script>alert(1)</script>"


def test_referral_code_credits_the_ib(client, key, floor):
    partner = make_partner_user().partner
    lead_id = post(client, key, {**GOOD, "referral_code": "ibtest01"}).json()["id"]
    attribution = Attribution.objects.get(lead_id=lead_id)
    assert attribution.partner == partner and attribution.source == Attribution.Source.API
    assert attribution.made_by_label == "integration:Landing" and attribution.code == "IBTEST01"
    assert AuditEvent.objects.filter(action="lead.attributed").exists()


def test_the_sending_integration_may_credit_its_own_lead_later(client, key, floor):
    first = post(client, key, GOOD).json()
    partner = make_partner_user().partner
    again = post(client, key, {"email": GOOD["email"], "referral_code": "IBTEST01"})
    assert again.status_code == 200 and again.json()["id"] == first["id"]
    assert Attribution.objects.get(lead_id=first["id"]).partner == partner


def test_a_key_cannot_credit_fill_or_read_a_lead_it_did_not_send(client, key, floor):
    """A lead no integration sent (here, from a portal sign-up) is not any key's to change:
    the post is recorded as a touch, nothing is filled in, nobody is credited, and the answer
    says only that the person is known."""
    lead, _ = lead_capture(
        data=clean_lead_input({"email": "omar@example.com", "first_name": "Omar"}),
        channel=Channel.PORTAL,
        actor="test",
        route=False,
    )
    make_partner_user()
    response = post(
        client,
        key,
        {
            "email": "Omar@example.com",
            "phone": "+971501234567",
            "last_name": "Other",
            "referral_code": "IBTEST01",
        },
    )
    assert response.status_code == 200
    assert response.json() == {
        "id": None,
        "status": "duplicate",
        "score": 0,
        "warnings": [],
    }
    lead = Lead.objects.get(pk=lead.pk)
    assert lead.phone == "" and lead.last_name == "" and lead.api_key_id is None
    assert not Attribution.objects.exists()
    assert not AuditEvent.objects.filter(action="lead.attributed").exists()
    assert lead.touches.filter(is_duplicate=True).count() == 1


def test_a_repost_never_replaces_a_credit_an_ib_manager_made(client, key, floor):
    lead_id = post(client, key, GOOD).json()["id"]
    chosen = make_partner_user("chosen@test.example", "CHOSEN01").partner
    make_partner_user()
    lead_attribution_set(
        lead=Lead.objects.get(pk=lead_id),
        partner=chosen,
        actor=make_staff("ib_manager"),
        reason="Introduced at the Dubai expo",
    )
    post(client, key, {"email": GOOD["email"], "referral_code": "IBTEST01"})
    attribution = Attribution.objects.get(lead_id=lead_id)
    assert attribution.partner == chosen and attribution.source == Attribution.Source.MANUAL


def test_needs_a_key(client, floor):
    response = client.post("/api/v1/leads/", json.dumps(GOOD), content_type="application/json")
    assert response.status_code == 401 and response.json()["error"] == "missing_api_key"


def test_a_lead_for_an_existing_client_is_linked_to_them(client, key, floor):
    from tests.conftest import make_client_user

    user = make_client_user("dana@example.com")
    lead_id = post(client, key, {**GOOD, "email": "Dana@example.com"}).json()["id"]
    assert Lead.objects.get(pk=lead_id).client == user.client


def test_a_lead_is_linked_only_to_a_client_who_proved_the_address(client, key, floor):
    """Someone who signed up with the address but never confirmed it does not get the lead."""
    user = User.objects.create_user(email="rami@example.com", password="x-long-pass-phrase")
    EmailAddress.objects.create(user=user, email=user.email, verified=False, primary=True)
    client_register(user=user, actor="test")
    lead_id = post(client, key, {**GOOD, "email": "rami@example.com"}).json()["id"]
    assert Lead.objects.get(pk=lead_id).client is None


def test_a_key_without_the_leads_scope_cannot_send_leads(client, floor):
    other = api_key_create(actor="test", name="PSP callbacks", scopes=[])[1]
    response = post(client, other, GOOD)
    assert response.status_code == 403 and not Lead.objects.exists()


def test_another_integrations_lead_is_neither_revealed_nor_changed(client, key, floor):
    first = post(client, key, {**GOOD, "phone": None, "utm_campaign": ""}).json()
    rival = api_key_create(actor="test", name="Rival affiliate", scopes=["leads:write"])[1]
    make_partner_user()
    response = post(
        client,
        rival,
        {"email": GOOD["email"], "phone": "+971501234567", "referral_code": "IBTEST01"},
    )
    assert response.status_code == 200
    assert response.json() == {
        "id": None,
        "status": "duplicate",
        "score": 0,
        "warnings": [],
    }
    lead = Lead.objects.get(pk=first["id"])
    assert lead.phone == "" and not Attribution.objects.filter(lead=lead).exists()
    assert lead.touches.count() == 2


def test_an_invalid_phone_keeps_the_lead_with_a_warning_and_scores_it(client, key, floor):
    response = post(client, key, {**GOOD, "phone": "12345"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "new"
    [warning] = body["warnings"]
    assert warning["field"] == "phone" and warning["code"] == "phone_invalid"
    assert "12345" in warning["detail"]
    lead = Lead.objects.get(pk=body["id"])
    assert lead.phone == "" and not lead.phone_valid
    assert lead.phone_invalid_reason.startswith("“12345”: ")
    rules = {part["rule"]: part["points"] for part in lead.score_breakdown}
    assert rules["Phone number given but not valid"] == -10
    assert "Valid phone number" not in rules
    valid = post(client, key, {**GOOD, "email": "valid.phone@example.com"}).json()
    assert valid["warnings"] == [] and valid["score"] == body["score"] + 25
    read = client.get(f"/api/v1/leads/{lead.pk}/", HTTP_X_API_KEY=key).json()
    assert (
        read["phone_valid"] is False and read["phone_invalid_reason"] == lead.phone_invalid_reason
    )


def test_a_valid_number_later_clears_the_invalid_one(client, key, floor):
    first = post(client, key, {**GOOD, "phone": "12345"}).json()
    again = post(client, key, {"email": GOOD["email"], "phone": "+971501234567"})
    assert again.status_code == 200 and again.json()["warnings"] == []
    lead = Lead.objects.get(pk=first["id"])
    assert lead.phone == "+971501234567" and lead.phone_valid and lead.phone_invalid_reason == ""


def test_the_lead_page_shows_the_invalid_phone(client, key, floor):
    from tests.conftest import login

    lead_id = post(client, key, {**GOOD, "phone": "12345"}).json()["id"]
    login(client, make_staff("ops_admin"))
    page = client.get(f"/backoffice/leads/{lead_id}/")
    assert b"data-phone-invalid" in page.content and "“12345”".encode() in page.content
