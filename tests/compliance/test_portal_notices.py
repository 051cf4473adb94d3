"""The notices on every client portal page: a jurisdiction rule, a source-of-funds document
needed, an identity document expired or expiring, a professional-status decision, each in words
a client reads; never a sanctions match or an AML case (no tipping off)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from brokerage.portal import portal_notices
from clients.models import CategoryRequest, Client
from clients.services import client_aml_case_set, client_restrict
from clients.terms import terms_accept_in_force
from compliance.jurisdictions import country_rule_add
from compliance.models import Alert
from compliance.services import alert_confirm, client_screen
from kyc.models import SourceOfFundsDocument
from tests.compliance.test_alerts import register, watch_list
from tests.conftest import login, make_client_user, make_staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def officer():
    return make_staff("compliance_officer")


def codes(client):
    return [n.code for n in portal_notices(Client.objects.get(pk=client.pk))]


def notices_on_page(http, user):
    terms_accept_in_force(client=user.client, actor="test")  # as a client who signed up has
    login(http, user)
    page = http.get("/portal/")
    assert page.status_code == 200
    return page.content.decode()


def test_a_source_of_funds_document_is_asked_for_until_one_is_approved(client, officer):
    user = make_client_user("edd@test.example")
    Client.objects.filter(pk=user.client.pk).update(country="YE")
    country_rule_add(actor=officer, country="YE", kind="edd", basis="High-risk third country")
    html = notices_on_page(client, user)
    assert 'data-portal-notice="source_of_funds_required"' in html
    assert 'href="/portal/finances/"' in html
    assert "High-risk third country" not in html.split("data-portal-notice")[1][:400]
    SourceOfFundsDocument.objects.create(
        client=user.client,
        description="Payslip",
        status=SourceOfFundsDocument.Status.APPROVED,
        file="sof/x.pdf",
        original_name="x.pdf",
        content_type="application/pdf",
        size=10,
        sha256="0" * 64,
    )
    assert "source_of_funds_required" not in codes(user.client)


def test_an_identity_document_expiring_then_expired():
    user = make_client_user("expiry@test.example")
    today = timezone.now().date()
    Client.objects.filter(pk=user.client.pk).update(
        kyc_level=1, id_document_expires_on=today + timedelta(days=10)
    )
    [expiring] = portal_notices(Client.objects.get(pk=user.client.pk))
    assert expiring.code == "kyc_expiring" and expiring.url == "/portal/verify/"
    assert f"{today + timedelta(days=10):%d %B %Y}" in expiring.title
    Client.objects.filter(pk=user.client.pk).update(id_document_expires_on=today + timedelta(60))
    assert codes(user.client) == []
    Client.objects.filter(pk=user.client.pk).update(id_document_expires_on=today - timedelta(1))
    assert codes(user.client) == ["kyc_expired"]


def test_a_category_decision_is_shown_for_two_weeks(client, officer):
    user = make_client_user("pro@test.example")
    request_ = CategoryRequest.objects.create(
        client=user.client,
        category="professional",
        statement="I trade a lot.",
        status=CategoryRequest.Status.REFUSED,
        decision_reason="Only one of the three criteria is met.",
        decided_at=timezone.now() - timedelta(days=2),
    )
    html = notices_on_page(client, user)
    assert 'data-portal-notice="category_refused"' in html
    assert "Only one of the three criteria is met." in html
    CategoryRequest.objects.filter(pk=request_.pk).update(
        decided_at=timezone.now() - timedelta(days=15)
    )
    assert codes(user.client) == []


def test_a_jurisdiction_rule_is_named_and_comes_first(client, officer):
    user = make_client_user("gb@test.example")
    today = timezone.now().date()
    Client.objects.filter(pk=user.client.pk).update(
        country="GB", kyc_level=1, id_document_expires_on=today + timedelta(days=5)
    )
    rule = country_rule_add(actor=officer, country="GB", kind="restricted", basis="FCA notice")
    assert codes(user.client) == ["jurisdiction_restricted", "kyc_expiring"]
    html = notices_on_page(client, user)
    assert "data-jurisdiction-banner" in html and f"jurisdiction rule {rule.pk}" in html
    # Trading is disabled on the platform (MT5 has no close-only right for a user): the banner
    # must not promise the client they can close positions themselves.
    assert "Trading on your accounts is stopped" in html and "still close" not in html


def test_a_sanctions_match_an_aml_case_or_a_restriction_is_never_told(client, officer):
    watch_list()
    person = register("Ivan", "Zlobnikov", "ivan@test.example")
    client_screen(client_id=person.pk, reason="on_demand")
    alert_confirm(alert=Alert.objects.get(client=person), actor=officer, reason="DOB matches")
    client_aml_case_set(client=person, is_open=True, actor=officer, reason="Structuring")
    client_restrict(client=person, actor=officer, reason="AML hold")
    person = Client.objects.get(pk=person.pk)
    assert person.aml_case_open
    assert codes(person) == []
    html = notices_on_page(client, person.user).lower()
    assert "data-portal-notice" not in html
    for word in ("sanction", "aml case", "structuring", "watch list", "match"):
        assert word not in html
