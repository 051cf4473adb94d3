"""The regions page in the browser at a phone's and a desktop's width: the list with countries
by name, a region with its countries, history and the country picker; the page never scrolls
sideways. Saved as test-artifacts/ib-regions-*.png and ib-region-*.png."""

import pytest

from brokerage.models import Region
from brokerage.regions import region_save
from tests.conftest import make_staff, shipped_defaults
from tests.ib.test_disputes_browser import DESKTOP, PHONE, _context, _shoot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("width", [PHONE, DESKTOP])
def test_the_regions_pages_fit_a_phone_and_a_desktop(live_server, browser, width):
    shipped_defaults()
    eea = Region.objects.get(code="EEA")
    region_save(actor="system:test", region=eea, code="EEA", name=eea.name, countries="DE FR")
    context = _context(browser, live_server, make_staff("compliance_officer"), width)
    page = context.new_page()
    page.goto(f"{live_server.url}/backoffice/regions/")
    assert "Gulf Cooperation Council" in page.inner_text("[data-regions]")
    assert "Saudi Arabia" in page.inner_text("[data-region=GCC]")
    problems = _shoot(page, "regions", width)
    page.click("text=European Economic Area")
    assert page.inner_text("[data-countries]") == "France, Germany"
    assert "Removed" in page.inner_text("[data-history]")
    problems += _shoot(page, "region", width)
    assert problems == []
    context.close()
