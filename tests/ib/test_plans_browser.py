"""In the browser: a partner sees a client's trade become a line with its why, sets its sub-IB's
rate and downloads its statement; an IB manager drafts a plan version, previews it against what
was paid and publishes it. Pages saved as test-artifacts/ib-*-<width>.png."""

from datetime import timedelta

import pytest
from django.utils import timezone

from ib.models import PartnerPlan, PlanVersion
from ib.periods import period_close
from tests.conftest import make_staff
from tests.ib.test_commissions import ACTOR, network, pay_all, trade  # noqa: F401
from tests.ib.test_disputes_browser import DESKTOP, PHONE, _context, _shoot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_partner_reads_a_lines_why_sets_a_sub_ibs_rate_and_downloads_its_statement(
    live_server,
    browser,
    network,  # noqa: F811
):
    trade(network["account"], volume=25000, at=timezone.now() - timedelta(minutes=20))
    pay_all()
    mid = network["mid"]
    context = _context(browser, live_server, mid.user, DESKTOP)
    page = context.new_page()
    page.goto(f"{live_server.url}/partners/commissions/")
    why = page.inner_text("[data-why]")
    assert "2.5 lots x" in why and "less 5 paid below" in why

    page.goto(f"{live_server.url}/partners/network/")
    page.click("[data-node='LEAFIB01'] a")
    page.wait_for_url(f"**/partners/network/{network['leaf'].pk}/rates/")
    page.fill("input[name=rate_fx_major]", "9")  # above its own 8: refused
    page.click("button:has-text('Set their rates')")
    assert "At most your own 8 per lot" in page.content()
    page.fill("input[name=rate_fx_major]", "6.5")
    page.click("button:has-text('Set their rates')")
    page.wait_for_load_state()
    assert PartnerPlan.objects.filter(partner=network["leaf"]).latest("valid_from").plan.name == (
        "LEAFIB01 by MIDIB001"
    )

    programme = network["top"].plans.first().plan.programme
    period_close(
        programme=programme,
        start=timezone.now() - timedelta(hours=1),
        end=timezone.now() - timedelta(seconds=1),
        actor=ACTOR,
    )
    page.goto(f"{live_server.url}/partners/statements/")
    with page.expect_download() as download:
        page.click("[data-statement] a:has-text('PDF')")
    path = download.value.path()
    with open(path, "rb") as pdf:
        assert pdf.read(5) == b"%PDF-"
    context.close()


def test_a_manager_drafts_previews_and_publishes_a_plan_version(
    live_server,
    browser,
    network,  # noqa: F811
):
    trade(network["account"], volume=20000, at=timezone.now() - timedelta(minutes=20))
    pay_all()
    manager = make_staff("ib_manager")
    problems = []
    context = _context(browser, live_server, manager, DESKTOP)
    page = context.new_page()
    page.goto(f"{live_server.url}/backoffice/ib/plans/")
    problems += _shoot(page, "plans", DESKTOP)
    page.click("[data-plan] a:has-text('Leaf')")
    page.wait_for_url("**/backoffice/ib/plans/*/")
    problems += _shoot(page, "plan", DESKTOP)
    plan_url = page.url
    page.fill(
        "input[name=valid_from]", (timezone.now() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    )
    page.fill("input[name='rule-0-rate']", "7")
    page.fill("input[name=note]", "Leaf up to 7")
    page.click("[data-version-form] button[type=submit]")
    page.wait_for_url("**/backoffice/ib/plans/versions/*/")
    today = timezone.now().date()
    page.fill("input[name=start]", str(today - timedelta(days=1)))
    page.fill("input[name=end]", str(today + timedelta(days=1)))
    page.click("button:has-text('Preview')")
    page.wait_for_selector("[data-preview]")
    row = page.inner_text("[data-preview] [data-partner='LEAFIB01']")
    assert "10.00" in row and "14.00" in row  # 2 lots: 5 -> 7 per lot
    problems += _shoot(page, "version-preview", DESKTOP)
    previewed = page.url

    phone = _context(browser, live_server, manager, PHONE)
    small = phone.new_page()
    for name, url in (
        ("plans", "/backoffice/ib/plans/"),
        ("plan", plan_url),
        ("version-preview", previewed),
    ):
        small.goto(url if url.startswith("http") else f"{live_server.url}{url}")
        problems += _shoot(small, name, PHONE)
    phone.close()

    page.click("[data-publish]")
    page.wait_for_load_state()
    assert "Published" in page.inner_text("main")
    context.close()
    assert PlanVersion.objects.filter(note="Leaf up to 7", published_at__isnull=False).exists()
    assert not problems, "\n".join(problems)
