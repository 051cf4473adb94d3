"""The trading pages in the browser with real data from the sandbox: the portal's accounts, an
account's history and the transfer form, and the back-office sync page. Each renders its key
parts without console errors or sideways scrolling; full-page screenshots go to test-artifacts/
(the ones in docs/screenshots/ are copied from there)."""

import pytest

from brokerage.models import AuditEvent
from clients.models import AccountOpening
from clients.sync import server_sync
from clients.trading.services import trading_account_open
from finance.transfers import transfer_execute, transfer_request
from tests.clients.factories import fund_wallet
from tests.conftest import browser_session, login, make_client_user, make_staff, screen_check
from tests.mt5_support import RawClient

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_trading_pages_in_the_browser(live_server, page, client, mt5_server):
    user = make_client_user("dana.trader@mail.test")
    user.first_name, user.last_name = "Dana", "Trader"
    user.save()
    c = user.client
    fund_wallet(c, "5000.00")
    account, _ = trading_account_open(
        client=c, account_type=mt5_server.account_types.get(currency="USD"), leverage=200,
        actor="test",
    )  # fmt: skip
    sandbox = mt5_server.sandbox
    sandbox.control("POST", "history", {"login": account.login, "days": 20, "profile": "active",
                                        "trades": 18, "deposit": "3000.00"})  # fmt: skip
    t = transfer_request(
        client=c, trading_account=account, direction="to_trading", amount="1500.00", actor="test"
    )
    transfer_execute(transfer_id=t.pk)
    for symbol, side in (("XAUUSD.m", "buy"), ("EURUSD", "sell"), ("US30.cash", "buy")):
        sandbox.control(
            "POST",
            "trade",
            {"login": account.login, "symbol": symbol, "side": side, "volume": "0.10"},
        )
    sandbox.control("POST", "prices", {"XAUUSD.m": "2361.50", "EURUSD": "1.08320"})
    server_sync(server_id=mt5_server.pk)
    server_sync(server_id=mt5_server.pk)

    # An opening whose answer was lost, still being confirmed.
    AccountOpening.objects.create(
        client=c,
        account_type=mt5_server.account_types.get(currency="EUR"),
        leverage=30,
        reference="BO-AO-5E1F0C2A9B7D4E31",
    )

    def check(name, path, key):
        problems.extend(screen_check(page, live_server, name, path, key))

    problems = []
    login(client, user)
    page.context.clear_cookies()
    browser_session(page.context, client, live_server)
    check("portal-trading", "/portal/trading/", "[data-positions]")
    if not page.locator("[data-opening-status=pending]").is_visible():
        problems.append(("portal-trading", "the opening being confirmed is not shown"))
    check("portal-trading-account", f"/portal/trading/{account.pk}/", "[data-deals]")
    password_path = f"/portal/trading/{account.pk}/password/"
    check("portal-trading-password", password_path, "[data-set-password]")
    # A double click on the button: the password shown is the one the server has.
    page.dblclick("[data-set-password]")
    shown = page.locator("[data-password]").inner_text().strip()
    resets = AuditEvent.objects.filter(action="trading_account.password_reset").count()
    raw = RawClient(sandbox.url)
    raw.handshake()
    check_pw = raw.get("/api/user/check_password", login=str(account.login), password=shown)[1]
    if resets != 1 or check_pw != {"retcode": "0 Done"}:
        problems.append(("portal-trading-password", f"{resets} resets, check {check_pw}"))
    check("portal-transfer", "/portal/wallet/transfer/", "[data-transfer-form]")
    ops = make_staff("ops_admin")
    login(client, ops)
    page.context.clear_cookies()
    browser_session(page.context, client, live_server)
    check("backoffice-platforms", "/backoffice/platforms/", "[data-server='MT5 Sandbox']")
    if not page.locator("[data-openings]").is_visible():
        problems.append(("backoffice-platforms", "openings not shown"))
    check(
        "backoffice-client-360-opening",
        f"/backoffice/clients/{c.pk}/",
        "[data-opening-status=pending]",
    )
    page.goto(f"{live_server.url}/backoffice/platforms/")
    drawn = page.evaluate("!!document.querySelector('canvas[data-chart=sync-ingested]').width")
    assert problems == [] and drawn, problems
    assert page.console_errors == []
