"""In the browser: the client 360's "Linked clients" at a phone's width and a desktop's, each
linked client with its reasons, nothing wider than the window."""

import pytest
from django.test import Client as DjangoClient

from tests.clients.test_client360 import desks  # noqa: F401
from tests.clients.test_links_360 import linked  # noqa: F401
from tests.conftest import ARTIFACTS, browser_session, layout_problems, login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("width", [390, 1440])
def test_linked_clients_read_well_on_a_phone_and_a_desktop(
    live_server,
    browser,
    linked,  # noqa: F811
    width,
):
    session = DjangoClient()
    login(session, linked["agent"])
    context = browser.new_context(viewport={"width": width, "height": 900})
    browser_session(context, session, live_server)
    page = context.new_page()
    page.goto(f"{live_server.url}/backoffice/clients/{linked['me'].pk}/")
    part = page.locator("section[data-section=links]")
    part.scroll_into_view_if_needed()
    assert part.is_visible()
    assert part.locator("[data-reason]").all_inner_texts() == [
        "Same phone",
        "Same card •••• 4242",
    ]
    assert "A client outside your desk" in part.inner_text()
    # Not wider than the window; at a phone's width other sections' tables scroll sideways
    # inside their cards, as they are made to.
    problems = layout_problems(page)
    if width < 576:
        problems = [p for p in problems if not p.startswith("a table scrolls sideways")]
    assert problems == []
    assert part.evaluate("e => e.scrollWidth - e.clientWidth") <= 0
    ARTIFACTS.mkdir(exist_ok=True)
    part.screenshot(path=str(ARTIFACTS / f"client360-linked-clients-{width}.png"))
    page.screenshot(path=str(ARTIFACTS / f"client360-links-page-{width}.png"), full_page=True)
    context.close()
