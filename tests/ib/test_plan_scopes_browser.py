"""In the browser, at a phone's and a desktop's width: an IB manager drafts a version with a rate
for a region on an account type and reads it back in words; a partner setting its sub-IB's
rates sees its own rates narrowed to some clients. Pages saved as test-artifacts/ib-*.png."""

from datetime import timedelta

import pytest
from django.utils import timezone

from brokerage.models import Region
from ib.models import Plan, PlanVersion
from ib.plans import plan_version_create
from tests.conftest import make_staff
from tests.ib.test_commissions import ACTOR, START, network  # noqa: F401
from tests.ib.test_disputes_browser import DESKTOP, PHONE, _context, _shoot
from tests.ib.test_plan_scopes import regions  # noqa: F401 (the regions shipped)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("width", [PHONE, DESKTOP])
def test_a_manager_drafts_a_rate_for_a_region_and_a_partner_sees_its_narrowed_rates(
    live_server,
    browser,
    network,  # noqa: F811
    width,
):
    plan = Plan.objects.get(name="Mid")
    eea = Region.objects.get(code="EEA")
    context = _context(browser, live_server, make_staff("ib_manager"), width)
    page = context.new_page()
    page.goto(f"{live_server.url}/backoffice/ib/plans/{plan.pk}/")
    assert "account type and country, account type and region" in page.inner_text(
        "[data-lookup-order]"
    )
    assert _shoot(page, "plan-scopes", width) == []
    page.fill(
        "input[name=valid_from]", (timezone.now() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    )
    page.select_option("select[name=rule-1-symbol_group]", "fx_major")
    page.select_option("select[name=rule-1-where]", f"region:{eea.pk}")
    page.fill("input[name=rule-1-rate]", "7")
    page.click("button:has-text('Save draft')")
    page.wait_for_url("**/plans/versions/*/")
    assert "FX major, region European Economic Area" in page.inner_text("[data-rates]")
    assert _shoot(page, "version-scopes", width) == []
    context.close()
    assert PlanVersion.objects.filter(plan=plan, published_at=None).count() == 1

    plan_version_create(
        plan=plan,
        valid_from=START + timedelta(minutes=1),
        rules=[
            {"symbol_group": "fx_major", "rate": "8"},
            {"symbol_group": "fx_major", "region": "GCC", "rate": "6"},
        ],
        actor=ACTOR,
        publish=True,
    )
    context = _context(browser, live_server, network["mid"].user, width)
    page = context.new_page()
    page.goto(f"{live_server.url}/partners/network/{network['leaf'].pk}/rates/")
    assert "FX major, region Gulf Cooperation Council" in page.inner_text("[data-narrowed]")
    assert _shoot(page, "sub-rates-narrowed", width) == []
    context.close()
