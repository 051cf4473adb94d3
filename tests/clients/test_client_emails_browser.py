"""The client emails' review pages in the browser, on a phone (390 px) and a desktop (1440 px):
each renders its key parts without sideways scrolling, and a full-page screenshot of each is
saved to test-artifacts/ (backoffice-client-emails-<page>-<width>.png)."""

import pytest

from tests.conftest import browser_session, login, make_staff, screen_check

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_email_review_pages_at_phone_and_desktop_widths(live_server, page, client):
    login(client, make_staff("compliance_officer"))
    browser_session(page.context, client, live_server)
    problems = []
    for width, height in ((390, 844), (1440, 900)):
        page.set_viewport_size({"width": width, "height": height})
        for name, path, key in [
            ("list", "/backoffice/clients/emails/", "[data-email=withdrawal_paid]"),
            ("detail", "/backoffice/clients/emails/ticket_answered/?language=es", "iframe"),
        ]:
            problems += screen_check(
                page, live_server, f"backoffice-client-emails-{name}-{width}", path, key
            )
    assert problems == [], problems
    frame = page.frame_locator("iframe[data-preview=html]")
    assert frame.get_by_text("Abrir el portal de clientes").is_visible()
