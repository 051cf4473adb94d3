"""The leadership workspace in Chromium: a desk manager drills from the FTD card to the
clients behind it; the page at a desktop's and a phone's width, saved for a look."""

import pytest

from tests.brokerage.test_leadership import make_book
from tests.conftest import ARTIFACTS, browser_session, layout_problems, login, make_staff

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _book():
    return make_book()["london"]


def test_a_desk_manager_drills_from_the_ftd_card_to_the_clients(live_server, page, client):
    london = _book()
    manager = make_staff("desk_manager", email="dm@lead.test", desk=london)
    login(client, manager)
    browser_session(page.context, client, live_server)
    page.goto(f"{live_server.url}/backoffice/")
    card = page.locator("[data-figure=ftds]")
    assert card.locator("[data-value]").inner_text() == "2"
    assert page.locator("canvas[data-chart=money-per-day]").is_visible()
    with page.expect_navigation(url="**/backoffice/clients/?**"):
        card.locator("a.stretched-link").click()
    rows = page.locator("tr[data-client]")
    assert rows.count() == 2
    assert "c2@lead.test" not in page.locator("table").inner_text()  # Dubai's
    assert page.locator("[data-drill]").is_visible()
    assert page.console_errors == []


def test_the_workspace_fits_a_desktop_and_a_phone(live_server, browser, client):
    _book()
    login(client, make_staff("executive", email="boss@lead.test"))
    problems = []
    for width in (1440, 390):
        context = browser.new_context(viewport={"width": width, "height": 900})
        browser_session(context, client, live_server)
        page = context.new_page()
        errors = []
        page.on("console", lambda m, e=errors: e.append(m.text) if m.type == "error" else None)
        page.goto(f"{live_server.url}/backoffice/?country=GB")
        page.evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"leadership-{width}.png"), full_page=True)
        over = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        if over > 0:
            problems.append(f"{width}: {over} px wider than the screen")
        if width > 1000:
            problems += layout_problems(page)
        assert errors == [], errors
        assert page.locator("[data-figure=ftds] [data-value]").inner_text() == "1"
        context.close()
    assert problems == [], problems
