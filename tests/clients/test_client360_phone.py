"""The client 360 on a phone (390 px): the trading accounts, open positions, deals and support
tickets fit the width, their less needed columns shown from a tablet's width up, and nothing
scrolls sideways; at 1440 px every column is there."""

import pytest

from clients.models import SupportTicket
from tests.clients.factories import make_account, make_deal, make_position
from tests.conftest import browser_session, login, make_client_user, make_staff, screen_check

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_360_fits_a_phone_with_accounts_positions_deals_and_tickets(live_server, page, client):
    user = make_client_user("maximiliana.rosenberg-vandersloot@mail.test")
    user.first_name, user.last_name = "Maximiliana", "Rosenberg-Vandersloot"
    user.save()
    trader = user.client
    officer = make_staff("compliance_officer")
    for currency in ("USD", "EUR"):
        account = make_account(trader, currency=currency, balance="1234567.89")
        make_position(account, symbol="XAUUSD", profit="-12345.67")
        for days in (2, 1):
            make_deal(account, days_ago=days)
    ticket = SupportTicket.objects.create(
        client=trader, subject="Withdrawal to a card that expired last month", assigned_to=officer
    )
    ticket.messages.create(body="Hello", author=user)
    login(client, officer)
    path = f"/backoffice/clients/{trader.pk}/"
    problems = []
    for width, height in ((390, 844), (1440, 900)):
        page.set_viewport_size({"width": width, "height": height})
        page.context.clear_cookies()
        browser_session(page.context, client, live_server)
        problems += screen_check(
            page, live_server, f"backoffice-360-trading-{width}", path, "[data-deals]"
        )
        shown = page.locator("table[data-deals] thead th:visible").count()
        assert shown == (5 if width == 390 else 7)
    assert not problems, problems
