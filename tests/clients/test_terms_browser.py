"""The terms in the browser, at a phone's and a desktop's width: a visitor signs up ticking one
"I accept" per document (refused without them); compliance publishes a new client agreement
on its page; the client's next portal visit asks for it first, showing what changed, and
accepting it opens the portal again. Screenshots in test-artifacts/terms-*-<width>.png."""

import re

import pytest
from django.core import mail

from clients.models import TermsAcceptance
from tests.conftest import (
    ARTIFACTS,
    browser_session,
    layout_problems,
    login,
    make_staff,
    shipped_defaults,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("width", [390, 1440])
def test_terms_accepted_at_signup_and_again_when_a_new_version_needs_it(
    live_server, browser, client, width
):
    shipped_defaults()
    ARTIFACTS.mkdir(exist_ok=True)
    email = f"maya{width}@example.com"
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    page.goto(f"{live_server.url}/accounts/signup/")
    for name, value in [
        ("first_name", "Maya"),
        ("last_name", "Lopez"),
        ("email", email),
        ("phone", "+447911123457"),
        ("password1", "sunny-harbour-42"),
        ("password2", "sunny-harbour-42"),
    ]:
        page.fill(f"input[name={name}]", value)
    page.select_option("select[name=country]", "GB")
    page.select_option("select[name=experience]", "some")
    for box in page.locator("input[name^=accept_]").all():
        box.evaluate("e => e.removeAttribute('required')")  # the server's own check
    page.click("button[type=submit]")
    page.locator("[data-field-error=accept_client_agreement]").wait_for()
    assert page.locator("a[data-terms-link=risk_disclosure]").is_visible()
    page.screenshot(path=str(ARTIFACTS / f"terms-signup-{width}.png"), full_page=True)
    assert layout_problems(page) == []
    for document in ("client_agreement", "risk_disclosure", "privacy_notice"):
        page.check(f"input[name=accept_{document}]")
    page.fill("input[name=password1]", "sunny-harbour-42")
    page.fill("input[name=password2]", "sunny-harbour-42")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/accounts/confirm-email/"))
    assert TermsAcceptance.objects.filter(client__user__email=email).count() == 3
    link = re.search(r"https?://\S+/accounts/confirm-email/\S+", mail.outbox[-1].body).group(0)
    page.goto(f"{live_server.url}/accounts/{link.split('/accounts/', 1)[1]}")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/portal/")

    officer = context.browser.new_context(viewport={"width": width, "height": 900})
    login(client, make_staff("compliance_officer", email=f"co{width}@test.example"))
    browser_session(officer, client, live_server)
    desk = officer.new_page()
    desk.goto(f"{live_server.url}/backoffice/clients/terms/")
    desk.select_option("select[name=document]", "client_agreement")
    desk.fill("input[name=title]", "Client agreement")
    desk.fill("textarea[name=text]", "Our client agreement, with margin calls explained in full.")
    desk.fill("textarea[name=changes]", "Section 7 now explains how margin calls work.")
    desk.click("[data-action=publish]")
    desk.locator("[data-version=client_agreement-2]").wait_for()
    desk.screenshot(path=str(ARTIFACTS / f"terms-publish-{width}.png"), full_page=True)
    assert layout_problems(desk) == []

    page.goto(f"{live_server.url}/portal/wallet/")
    page.wait_for_url(f"{live_server.url}/portal/terms/")
    assert page.locator("[data-terms-changes]").inner_text().startswith("What changed")
    assert page.locator("[data-terms-due]").count() == 1
    page.screenshot(path=str(ARTIFACTS / f"terms-accept-{width}.png"), full_page=True)
    assert layout_problems(page) == []
    page.check("input[name=accept_client_agreement]")
    page.click("[data-action=accept]")
    page.wait_for_url(f"{live_server.url}/portal/")
    assert page.locator("h1").inner_text() == "Welcome, Maya"
