"""Browser journeys: Playwright driving Debian's Chromium against the live test server."""

import re

import pytest
from django.core import mail

from tests.conftest import ARTIFACTS, PASSWORD, fresh_totp_code, make_staff

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_staff_signs_in_with_password_and_totp(live_server, page):
    make_staff("compliance_officer")
    page.goto(f"{live_server.url}/backoffice/")
    assert "/accounts/login/" in page.url
    page.fill("input[name=login]", "compliance_officer@test.example")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/accounts/2fa/authenticate/"))
    page.fill("input[name=code]", "000000")
    page.click("button[type=submit]")
    page.locator("text=Incorrect code").wait_for(state="visible")
    page.fill("input[name=code]", fresh_totp_code())
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/backoffice/")
    assert page.locator("h1").inner_text().startswith("Good ")
    assert page.locator("[data-kpi=clients]").is_visible()
    assert page.locator("canvas[data-chart=client-signups]").is_visible()
    page.click("text=Audit log")
    page.wait_for_url(re.compile(r"/backoffice/audit/"))
    assert page.locator("table tbody tr").count() >= 1
    assert page.console_errors == []  # CSP blocked nothing, no script failed


def test_client_signs_up_verifies_email_and_lands_in_portal(live_server, page):
    page.goto(f"{live_server.url}/accounts/signup/")
    page.fill("input[name=first_name]", "Maya")
    page.fill("input[name=last_name]", "Lopez")
    page.fill("input[name=email]", "maya@example.com")
    page.fill("input[name=phone]", "+447911123457")
    page.select_option("select[name=country]", "GB")
    page.select_option("select[name=language]", "en")
    page.select_option("select[name=experience]", "some")
    page.fill("input[name=password1]", "sunny-harbour-42")
    page.fill("input[name=password2]", "sunny-harbour-42")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/accounts/confirm-email/"))
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["maya@example.com"]
    link = re.search(r"https?://\S+/accounts/confirm-email/\S+", mail.outbox[0].body).group(0)
    path = link.split("/accounts/", 1)[1]
    page.goto(f"{live_server.url}/accounts/{path}")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/portal/")
    assert page.locator("h1").inner_text() == "Welcome, Maya"
    assert page.console_errors == []


@pytest.mark.worker
def test_visitor_registers_and_the_dubai_agent_sees_the_lead(live_server, browser, worker):
    from tests.leads.conftest import Floor

    floor = Floor()
    visitor = browser.new_context().new_page()
    visitor.goto(f"{live_server.url}/accounts/signup/")
    visitor.fill("input[name=first_name]", "Hamdan")
    visitor.fill("input[name=last_name]", "Al Falasi")
    visitor.fill("input[name=email]", "hamdan@example.com")
    visitor.fill("input[name=phone]", "+971501112299")
    visitor.select_option("select[name=country]", "AE")
    visitor.select_option("select[name=language]", "ar")
    visitor.select_option("select[name=experience]", "some")
    visitor.fill("input[name=password1]", "desert-falcon-77")
    visitor.fill("input[name=password2]", "desert-falcon-77")
    visitor.click("button[type=submit]")
    visitor.wait_for_url(re.compile(r"/accounts/confirm-email/"))

    from leads.models import Lead
    from tests.conftest import wait_for

    assert wait_for(
        lambda: Lead.objects.filter(email="hamdan@example.com", assigned_to__isnull=False).exists(),
        timeout=20,
    )
    agent = browser.new_context(viewport={"width": 1366, "height": 900}).new_page()
    agent.goto(f"{live_server.url}/accounts/login/")
    agent.fill("input[name=login]", floor.dubai_ar.email)
    agent.fill("input[name=password]", PASSWORD)
    agent.click("button[type=submit]")
    agent.wait_for_url(re.compile(r"/accounts/2fa/authenticate/"))
    agent.fill("input[name=code]", fresh_totp_code())
    agent.click("button[type=submit]")
    agent.wait_for_url(f"{live_server.url}/backoffice/")
    agent.click("text=My leads")
    agent.wait_for_url(re.compile(r"/backoffice/leads/$"))
    row = agent.locator("tr", has_text="Hamdan Al Falasi")
    assert row.is_visible()
    row.locator("a").click()
    agent.wait_for_url(re.compile(r"/backoffice/leads/\d+/$"))
    assert "UAE leads to the Dubai desk" in agent.content()
    ARTIFACTS.mkdir(exist_ok=True)
    agent.screenshot(path=str(ARTIFACTS / "dubai_agent_lead.png"), full_page=True)
