"""Jurisdiction rules where onboarding happens, each refusal naming the rule: a lead from a
blocked country is kept but not routed to sales; residents of a blocked country cannot
register; KYC refuses a blocked residence or nationality and sends an enhanced-due-diligence
one to two officers; an EDD client's unverified deposit limit is lower; a restricted client
sees why on every portal page; the client 360 lists the rules that apply."""

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model

from brokerage.errors import DomainError, NotAllowed
from brokerage.models import AuditEvent, CountryRule
from clients.services import client_register
from clients.standing import Purpose, client_standing
from compliance.jurisdictions import country_rule_add
from kyc import specimens
from kyc.services import (
    kyc_details_save,
    kyc_review_approve,
    kyc_submission_autocheck,
    kyc_submission_current,
    kyc_submission_submit,
)
from leads.models import Lead
from tests.conftest import login, make_client_user, make_staff, signup_form
from tests.kyc.conftest import details, prepared
from tests.leads.conftest import floor  # noqa: F401

pytestmark = pytest.mark.django_db
IRAN = "jurisdiction rule {}"


def iran():
    return CountryRule.objects.get(country="IR", kind="blocked")


def test_a_lead_from_a_blocked_country_is_kept_not_routed_and_its_page_says_why(
    client,
    floor,  # noqa: F811
):
    lead = floor.capture(country="IR", language="en")
    assert Lead.objects.filter(pk=lead.pk).exists()
    assert lead.assigned_to is None and lead.desk is None and lead.routed_at is not None
    assert lead.routing["jurisdiction_rule"] == iran().pk
    assert AuditEvent.objects.filter(
        action="lead.held_by_jurisdiction", target_id=str(lead.pk)
    ).exists()
    other = floor.capture(country="GB", language="en")
    assert "jurisdiction_rule" not in other.routing
    login(client, make_staff("ops_admin"))
    page = client.get(f"/backoffice/leads/{lead.pk}/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "data-lead-held" in text and IRAN.format(iran().pk) in text


def test_a_lead_posted_to_the_api_from_a_blocked_country_is_stored_not_routed(client):
    from brokerage.services import api_key_create

    _key, raw = api_key_create(actor="test", name="landing", scopes=["leads:write"])
    answer = client.post(
        "/api/v1/leads/",
        {"first_name": "Ali", "last_name": "R", "email": "ali@example.com", "country": "IR"},
        content_type="application/json",
        HTTP_X_API_KEY=raw,
    )
    assert answer.status_code in (200, 201), answer.content
    lead = Lead.objects.get(email="ali@example.com")
    from leads.services import lead_route

    lead = lead_route(lead_id=lead.pk)
    assert lead.assigned_to is None and lead.routing["jurisdiction_rule"] == iran().pk


def test_residents_of_a_blocked_country_cannot_sign_up_and_are_told_the_rule(client):
    page = client.post("/accounts/signup/", signup_form("ali@example.com", country="IR"))
    assert page.status_code == 200
    assert IRAN.format(iran().pk) in page.content.decode()
    assert not get_user_model().objects.filter(email="ali@example.com").exists()
    user = get_user_model().objects.create_user(email="direct@example.com", password="x" * 12)
    with pytest.raises(NotAllowed) as exc:
        client_register(user=user, actor="test", country="US")
    assert exc.value.code == "jurisdiction_blocked"
    assert "United States" in exc.value.message


def test_kyc_refuses_a_blocked_nationality_naming_the_rule():
    user = make_client_user("kyc@test.example")
    submission = kyc_submission_current(client=user.client)
    data = details(specimens.Person(), nationality="KP")
    with pytest.raises(DomainError) as exc:
        kyc_details_save(submission=submission, actor=user, data=data)
    rule = CountryRule.objects.get(country="KP", kind="blocked")
    assert f"jurisdiction rule {rule.pk}" in exc.value.fields["nationality"][0]


def test_a_rule_added_after_the_details_stops_the_submission_and_its_approval():
    officer = make_staff("compliance_officer")
    user, submission = prepared(email="late@test.example")
    rule = country_rule_add(actor=officer, country="GB", kind="blocked", basis="Test ban")
    with pytest.raises(NotAllowed) as exc:
        kyc_submission_submit(submission=submission, actor=user)
    assert f"jurisdiction rule {rule.pk}" in exc.value.message


def test_a_blocked_submission_is_never_approved_automatically_nor_by_an_officer():
    officer = make_staff("compliance_officer")
    user, submission = prepared(email="inreview@test.example")
    kyc_submission_submit(submission=submission, actor=user)
    country_rule_add(actor=officer, country="GB", kind="blocked", basis="Test ban")
    submission = kyc_submission_autocheck(submission_id=submission.pk)
    assert submission.state == "in_review"
    assert submission.checks.filter(flag="jurisdiction_blocked").exists()
    with pytest.raises(NotAllowed) as exc:
        kyc_review_approve(submission=submission, actor=officer, reason="fine")
    assert exc.value.code == "jurisdiction_blocked"


def test_an_edd_client_has_the_lower_unverified_deposit_limit(settings):
    settings.KYC_UNVERIFIED_DEPOSIT_LIMIT_USD = 2000
    settings.KYC_EDD_UNVERIFIED_DEPOSIT_LIMIT_USD = 500
    client = make_client_user("edd@test.example").client
    client.country = "SY"
    assert client_standing(client, Purpose.DEPOSIT, amount_usd=Decimal("400")).clear
    refusal = client_standing(client, Purpose.DEPOSIT, amount_usd=Decimal("600")).refusal()
    assert refusal.code == "kyc_deposit_limit" and "USD 500" in refusal.client_message
    assert "jurisdiction rule" in refusal.client_message
    client.country = "GB"
    assert client_standing(client, Purpose.DEPOSIT, amount_usd=Decimal("600")).clear


def test_a_restricted_client_sees_why_on_portal_pages_and_staff_on_the_360(client):
    officer = make_staff("compliance_officer")
    user = make_client_user("banner@test.example")
    user.client.country = "GB"
    user.client.save(update_fields=["country"])
    login(client, user)
    assert b"data-jurisdiction-banner" not in client.get("/portal/").content
    rule = country_rule_add(actor=officer, country="GB", kind="restricted", basis="FCA notice")
    for url in ("/portal/", "/portal/wallet/"):
        page = client.get(url)
        if page.status_code != 200:
            continue
        text = page.content.decode()
        assert "data-jurisdiction-banner" in text and f"jurisdiction rule {rule.pk}" in text
    login(client, make_staff("compliance_officer", email="co2@test.example"))
    page = client.get(f"/backoffice/clients/{user.client.pk}/")
    text = page.content.decode()
    assert page.status_code == 200 and "data-jurisdictions-360" in text
    assert f"Rule {rule.pk}: FCA notice" in text and "withdraw only" in text
    # staff who see the client but are not compliance officers: not the section
    for role in ("ops_admin", "finance_officer"):
        login(client, make_staff(role, email=f"{role}@test.example"))
        page = client.get(f"/backoffice/clients/{user.client.pk}/")
        assert page.status_code == 200 and "data-jurisdictions-360" not in page.content.decode()
