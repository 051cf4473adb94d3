"""The jurisdiction rules' pages over HTTP: the list with its filters, adding a rule (and a
refused one losing nothing), a country's rules with their history, scheduling an end, and
officers only."""

from datetime import timedelta

import pytest
from django.utils import timezone

from brokerage.models import CountryRule
from compliance.jurisdictions import country_rule_add
from tests.conftest import login, make_staff

pytestmark = pytest.mark.django_db
URL = "/backoffice/compliance/jurisdictions/"


@pytest.fixture
def officer(client):
    user = make_staff("compliance_officer")
    login(client, user)
    return user


def test_the_list_filters_by_kind_state_and_country_name(client, officer):
    later = country_rule_add(
        actor=officer,
        country="GB",
        kind="restricted",
        basis="FCA notice",
        effective_from=timezone.now() + timedelta(days=3),
    )
    iran = CountryRule.objects.get(country="IR")
    page = client.get(URL)
    text = page.content.decode()
    assert page.status_code == 200
    assert "Iran, Islamic Republic of" in text and "Enhanced due diligence" in text
    assert "Scheduled" in text and "Restricted: withdraw only" in text
    for query, shown, hidden in [
        ("?kind=blocked", iran, later),
        ("?state=scheduled", later, iran),
        ("?state=in_force", iran, later),
        ("?q=united+king", later, iran),
        ("?q=ir", iran, later),
        ("?kind=bogus", iran, later),  # an unknown filter is ignored, never a 500
    ]:
        page = client.get(URL + query)
        assert page.status_code == 200, query
        assert f'data-rule="{shown.pk}"'.encode() in page.content, query
        if query != "?kind=bogus":
            assert f'data-rule="{hidden.pk}"'.encode() not in page.content, query


def test_the_list_reads_a_fixed_number_of_queries(client, officer, django_assert_max_num_queries):
    client.get(URL)
    for country in ("FR", "DE", "ES", "IT", "PT", "NL"):
        country_rule_add(actor=officer, country=country, kind="edd", basis="Test")
    with django_assert_max_num_queries(14):
        assert client.get(URL).status_code == 200


def test_an_officer_adds_a_rule_and_a_refused_one_keeps_what_was_typed(client, officer):
    page = client.post(URL, {"country": "GB", "kind": "restricted", "basis": "FCA notice 2026/12"})
    assert page.status_code == 302
    rule = CountryRule.objects.get(country="GB")
    assert rule.created_by == officer and rule.in_force()
    page = client.post(URL, {"country": "GB", "kind": "restricted", "basis": "Again"})
    assert page.status_code == 400
    text = page.content.decode()
    assert f"rule {rule.pk}" in text and 'value="Again"' in text
    page = client.post(URL, {"country": "", "kind": "nope", "basis": ""})
    assert page.status_code == 400 and CountryRule.objects.filter(country="GB").count() == 1


def test_a_country_page_shows_its_rules_and_history_and_schedules_an_end(client, officer):
    rule = country_rule_add(actor=officer, country="GB", kind="edd", basis="FCA notice")
    url = f"{URL}GB/"
    page = client.get(url)
    assert page.status_code == 200
    assert b"United Kingdom" in page.content and b"data-rule-end" in page.content
    end = (timezone.now() + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M")
    page = client.post(url, {"rule": rule.pk, "effective_to": end, "reason": ""})
    assert page.status_code == 400 and b"Why it ends" in page.content
    rule.refresh_from_db()
    assert rule.effective_to is None
    page = client.post(url, {"rule": rule.pk, "effective_to": end, "reason": "Notice lapses"})
    assert page.status_code == 302
    rule.refresh_from_db()
    assert rule.effective_to is not None and rule.end_reason == "Notice lapses"
    text = client.get(url).content.decode()
    assert "Added" in text and "Changed" in text and "Notice lapses" in text
    iran = CountryRule.objects.get(country="IR")
    page = client.post(url, {"rule": iran.pk, "reason": "not this country's"})
    assert page.status_code == 404
    assert client.get(f"{URL}ZZ/").status_code == 404


@pytest.mark.parametrize("role", ["sales_agent", "finance_officer", "ops_admin"])
def test_only_compliance_officers_see_or_change_rules(client, role):
    login(client, make_staff(role))
    assert client.get(URL).status_code == 403
    assert client.get(f"{URL}IR/").status_code == 403
    assert client.post(URL, {"country": "GB", "kind": "blocked", "basis": "x"}).status_code == 403
    assert not CountryRule.objects.filter(country="GB").exists()
