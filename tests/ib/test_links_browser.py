"""In the browser: a partner makes a campaign link, a visitor follows it and signs up, and the
partner reads the link's funnel; then its earnings (with the CSV) and its payouts, where it asks
for a payout. At a phone's width and a desktop's, saved as test-artifacts/partners-links-*,
partners-link-*, partners-earnings-* and partners-payouts-* (<width>.png)."""

from datetime import timedelta

import pytest
from django.test import Client as DjangoClient
from django.utils import timezone

from clients.services import client_kyc_level_set
from finance.models import Withdrawal
from ib.models import CampaignLink, Referral
from ib.periods import period_close
from tests.conftest import ARTIFACTS, browser_session, layout_problems, login, open_from_menu
from tests.ib.conftest import signup_confirmed
from tests.ib.test_commissions import ACTOR, network, trade  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
IBAN = "DE89370400440532013000"
CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"


def shot(page, name, width):
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}-{width}.png"), full_page=True)
    problems = layout_problems(page)
    if width == 390:
        problems = [p for p in problems if not p.startswith("a table scrolls sideways")]
    assert not problems, (name, problems)


@pytest.mark.parametrize("width", [390, 1440])
def test_a_partner_makes_a_link_reads_its_funnel_its_earnings_and_asks_for_a_payout(
    live_server,
    browser,
    network,  # noqa: F811
    width,
):
    leaf = network["leaf"]
    trade(network["account"], volume=15000, at=timezone.now() - timedelta(minutes=10))
    period_close(
        programme=network["top"].plans.first().plan.programme,
        start=timezone.now() - timedelta(days=1),
        end=timezone.now() - timedelta(minutes=1),
        actor=ACTOR,
    )
    client_kyc_level_set(client=leaf.holder, level=1, actor="test", reason="partner verified")
    session = DjangoClient()
    login(session, leaf.user)
    context = browser.new_context(viewport={"width": width, "height": 900})
    browser_session(context, session, live_server)
    page = context.new_page()
    page.goto(f"{live_server.url}/partners/")
    open_from_menu(page, width, "/partners/links/")
    assert "No campaign links yet" in page.inner_text("[data-links]")
    page.fill("input[name=name]", "Spring webinar")
    page.fill("input[name=utm_campaign]", "spring-2026")
    page.click("button[type=submit]:has-text('Make the link')")
    page.wait_for_selector("text=made:")
    link = CampaignLink.objects.get(partner=leaf)

    # a visitor follows it in a browser of their own, and signs up
    # (as a person's browser: headless Chromium says so in its browser string, and is not counted)
    visitor = browser.new_context(user_agent=CHROME)
    landing = visitor.new_page()
    landing.goto(f"{live_server.url}/r/{link.code}")
    assert "/accounts/signup/" in landing.url and "utm_campaign=spring-2026" in landing.url
    cookies = {c["name"]: c["value"] for c in visitor.cookies()}
    signup_client = DjangoClient()
    signup_client.cookies["bo_ref"] = cookies["bo_ref"]
    signup_confirmed(signup_client, "vera@example.com", first_name="Vera")
    visitor.close()
    assert Referral.objects.get(client__user__email="vera@example.com").campaign_link == link

    page.goto(f"{live_server.url}/partners/links/")
    row = page.locator(f"[data-link='{link.code}']")
    assert row.locator("[data-stage='clicks']").inner_text().startswith("1")
    assert row.locator("[data-stage='registrations']").inner_text().startswith("1")
    page.wait_for_selector("canvas[data-chart='funnel-all']")
    shot(page, "partners-links", width)
    row.locator("a").first.click()
    page.wait_for_url(f"**/partners/links/{link.pk}/")
    assert "100.0%" in page.inner_text("[data-funnel] [data-stage='registrations']")
    shot(page, "partners-link", width)

    open_from_menu(page, width, "/partners/earnings/")
    assert "USD" in page.inner_text("[data-total='USD']")
    with page.expect_download() as download:
        page.click("[data-earnings-csv]")
    assert download.value.suggested_filename.startswith("earnings-LEAFIB01-")
    shot(page, "partners-earnings", width)

    open_from_menu(page, width, "/partners/payouts/")
    assert "Credited" in page.inner_text("[data-settlements]")
    page.click("[data-request-payout]")
    page.wait_for_url("**/partners/payouts/request/")
    page.fill("input[name=amount]", "5.00")
    page.fill("input[name=iban]", IBAN)
    page.click("button[type=submit]:has-text('Request the payout')")
    page.wait_for_url("**/partners/payouts/")
    withdrawal = Withdrawal.objects.get(client=leaf.holder)
    assert withdrawal.reference in page.inner_text("[data-withdrawals]")
    shot(page, "partners-payouts", width)
    context.close()
