"""In the browser: a partner makes an API token (shown once, copied with the button), calls the
API with it, and revokes it; /partners/api/ at a phone's width and a desktop's, saved as
test-artifacts/partners-api-<width>.png (the new token) and partners-api-revoked-<width>.png."""

import pytest
from django.test import Client as DjangoClient

from ib.models import PartnerToken
from tests.conftest import ARTIFACTS, browser_session, layout_problems, login, open_from_menu
from tests.ib.test_commissions import network  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("width", [390, 1440])
def test_a_partner_makes_a_token_copies_it_uses_it_and_revokes_it(
    live_server,
    browser,
    network,  # noqa: F811
    width,
):
    session = DjangoClient()
    login(session, network["leaf"].user)
    context = browser.new_context(viewport={"width": width, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    browser_session(context, session, live_server)
    page = context.new_page()
    page.goto(f"{live_server.url}/partners/")
    open_from_menu(page, width, "/partners/api/")
    assert "No tokens yet" in page.inner_text("[data-tokens]")

    page.fill("input[name=name]", "Reporting sheet")
    page.click("button[type=submit]:has-text('Make a token')")
    page.wait_for_selector("[data-token]")
    raw = page.inner_text("[data-token]").strip()
    assert raw.startswith("ibp_") and raw in page.inner_text("[data-curl]")
    page.click("[data-copy='#new-token']")
    page.wait_for_selector("[data-copy-label]:has-text('Copied')")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"partners-api-{width}.png"), full_page=True)
    problems = layout_problems(page)
    if width == 390:
        problems = [p for p in problems if not p.startswith("a table scrolls sideways")]
    assert not problems, problems

    # The token reads the partner's figures; reloading the page never shows it again.
    answer = context.request.get(
        f"{live_server.url}/api/v1/partners/me", headers={"Authorization": f"Bearer {raw}"}
    )
    assert answer.status == 200 and answer.json()["token"] == "Reporting sheet"
    page.goto(f"{live_server.url}/partners/api/")
    assert raw not in page.content()
    token = PartnerToken.objects.get()
    row = page.locator(f"[data-token-row='{token.prefix}']")
    assert "Active" in row.inner_text()

    row.locator("button:has-text('Revoke')").click()
    page.wait_for_selector("text=no longer works")
    assert "Revoked" in page.locator(f"[data-token-row='{token.prefix}']").inner_text()
    page.screenshot(path=str(ARTIFACTS / f"partners-api-revoked-{width}.png"), full_page=True)
    problems = layout_problems(page)
    if width == 390:
        problems = [p for p in problems if not p.startswith("a table scrolls sideways")]
    assert not problems, problems
    refused = context.request.get(
        f"{live_server.url}/api/v1/partners/me", headers={"Authorization": f"Bearer {raw}"}
    )
    assert refused.status == 401
    context.close()
