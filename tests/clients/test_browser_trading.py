"""The issue's done-when, in the browser with a real worker: a client opens a trading account,
moves funds from the wallet and trades in the sandbox; the sync (as beat runs it) brings the
deals in and an agent sees them on the client 360 within a minute. A quiet, losing client is in
the retention queue with the reasons."""

import re

import pytest

from brokerage.models import Desk
from clients.models import Client, Deal, TradingAccount
from clients.services import client_assign
from clients.tasks import platform_sync_all_task, retention_flags_task
from finance.models import Transfer
from tests.clients.factories import fund_wallet, make_account, make_deal
from tests.conftest import make_client_user, make_staff, start_worker, stop_worker, wait_for
from tests.kyc.test_browser_kyc import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_client_trades_and_the_agent_sees_it_on_the_360(live_server, browser, mt5_server):
    desk = Desk.objects.create(name="London", languages=["en"])
    agent = make_staff("retention_agent", desk=desk)
    user = make_client_user("dana@test.example")
    client_assign(client=user.client, desk=desk, account_manager=agent, actor="test", reason="test")
    fund_wallet(user.client, "800.00")
    # A quiet client of the same desk whose last three trades lost, 20 days ago.
    quiet = make_client_user("quiet@test.example").client
    client_assign(client=quiet, desk=desk, account_manager=agent, actor="test", reason="test")
    account = make_account(quiet, server=mt5_server, balance="900.00")
    for days, profit in ((24, "30.00"), (22, "-40.00"), (21, "-55.00"), (20, "-35.25")):
        make_deal(account, days_ago=days, profit=profit, symbol="XAUUSD")

    worker = start_worker()
    try:
        page = sign_in(browser, live_server, "dana@test.example")
        page.goto(f"{live_server.url}/portal/trading/open/")
        page.select_option("select[name=account_type]", label="Standard USD (MT5 Sandbox)")
        page.select_option("select[name=leverage]", "200")
        page.click("[data-open-account] button[type=submit]")
        login = page.locator("[data-login]").inner_text().strip()
        assert page.locator("[data-password]").inner_text().strip()
        trading = TradingAccount.objects.get(login=int(login))

        page.click("text=Fund it from your wallet")
        page.fill("input[name=amount]", "300.00")
        page.click("[data-transfer-form] button[type=submit]")
        page.wait_for_selector("[data-transfer-status=completed]", timeout=30_000)
        assert Transfer.objects.get().status == "completed"

        status, traded = mt5_server.sandbox.control(
            "POST",
            "trade",
            {"login": trading.login, "symbol": "XAUUSD.m", "side": "buy", "volume": "0.05",
             "profit": "-12.40"},
        )  # fmt: skip
        assert status == 200, traded
        platform_sync_all_task.delay()  # what beat does every 10 s
        assert wait_for(lambda: Deal.objects.filter(account=trading).count() >= 3, timeout=60)

        staff = sign_in(browser, live_server, agent.email, totp=True)
        staff.goto(f"{live_server.url}/backoffice/clients/{user.client.pk}/")
        for ticket in traded["deals"]:
            assert staff.locator(f"tr[data-deal='{ticket}']").count() == 1
        assert "XAUUSD" in staff.locator("[data-deals]").inner_text()
        assert staff.locator(f"tr[data-account='{trading.login}']").count() == 1

        retention_flags_task.delay()
        assert wait_for(
            lambda: Client.objects.filter(pk=quiet.pk, retention_flags__status="open").exists(),
            timeout=30,
        )
        staff.goto(f"{live_server.url}/backoffice/retention/")
        row = staff.locator("tr[data-flag]", has_text="quiet@test.example")
        assert row.locator("[data-signal=inactive]").count() == 1
        assert row.locator("[data-signal=losing_streak]").count() == 1
        assert re.search(r"Last 3 closed trades lost", row.inner_text())
        assert staff.locator("tr[data-flag]", has_text="dana@test.example").count() == 0
    finally:
        stop_worker(worker)
