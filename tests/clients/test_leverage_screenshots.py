"""The category and leverage pages in the browser, at a phone's width (390 px) and a desktop's
(1440 px): the portal's category page and an account's leverage card (a UK retail client,
capped at 1:30), compliance's leverage limits, the request queue and a request, and staff's
page on the client's accounts' leverage and category. No sideways
scrolling; screenshots go to test-artifacts/."""

import pytest

from clients.categories import category_request_submit
from clients.trading.services import trading_account_open
from tests.conftest import (
    browser_session,
    login,
    make_client_user,
    make_staff,
    screen_check,
    shipped_defaults,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_category_and_leverage_pages_at_both_widths(live_server, page, client, mt5_server):
    shipped_defaults()  # the FCA's retail limits
    user = make_client_user("oliver.smith@mail.test")
    user.first_name, user.last_name = "Oliver", "Smith"
    user.save()
    trader = user.client
    trader.country = "GB"
    trader.save()
    account, _ = trading_account_open(
        client=trader,
        account_type=mt5_server.account_types.get(currency="USD"),
        leverage=30,
        actor="test",
    )
    request = category_request_submit(
        client=trader,
        statement="I trade FX every week and hold shares and savings of about GBP 120,000.",
        actor=user,
    )
    officer = make_staff("compliance_officer")
    problems = []
    for width, height in ((390, 844), (1440, 900)):
        page.set_viewport_size({"width": width, "height": height})
        login(client, user)
        page.context.clear_cookies()
        browser_session(page.context, client, live_server)
        for name, path, key in (
            ("portal-category", "/portal/category/", "[data-class-caps]"),
            ("portal-account-leverage", f"/portal/trading/{account.pk}/", "[data-leverage]"),
        ):
            problems += screen_check(page, live_server, f"{name}-{width}", path, key)
        login(client, officer)
        page.context.clear_cookies()
        browser_session(page.context, client, live_server)
        for name, path, key in (
            ("backoffice-leverage-limits", "/backoffice/compliance/leverage/", "[data-limits]"),
            (
                "backoffice-category-requests",
                "/backoffice/compliance/categories/",
                "[data-category-requests]",
            ),
            (
                "backoffice-category-request",
                f"/backoffice/compliance/categories/{request.pk}/",
                "[data-statement]",
            ),
            (
                "backoffice-client-leverage",
                f"/backoffice/clients/{trader.pk}/leverage/",
                "[data-accounts]",
            ),
        ):
            problems += screen_check(page, live_server, f"{name}-{width}", path, key)
    # The 360's own trading tables already scroll sideways at a phone's width: its category
    # section is checked at the desktop's.
    path = f"/backoffice/clients/{trader.pk}/"
    problems += screen_check(
        page, live_server, "360-category-1440", path, "[data-category-section]"
    )
    assert not problems, problems
