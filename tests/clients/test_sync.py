"""Deal, position and account sync from the sandbox MT5 server."""

import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from clients.models import Deal, Position, SyncRejection, SyncRun, TradingAccount, TradingServer
from clients.platforms import platform_for
from clients.sync import rejections_retry, server_sync, sync_lag_report
from clients.trading.services import trading_account_open
from tests.conftest import make_client_user

pytestmark = pytest.mark.django_db


def _account(mt5_server, email="sync@test.example", deposit="1000.00"):
    client = make_client_user(email).client
    account, _ = trading_account_open(
        client=client,
        account_type=mt5_server.account_types.get(currency="USD"),
        leverage=100,
        actor="test",
    )
    if deposit:
        api = platform_for(mt5_server)
        api.balance_operation(login=account.login, amount=Decimal(deposit), comment="seed")
        api.close()
    return account


def _trade(mt5_server, account, symbol="EURUSD", profit="10.00", side="buy", volume="0.10"):
    payload = {"login": account.login, "symbol": symbol, "side": side, "volume": volume}
    if profit is not None:
        payload["profit"] = profit
    status, answer = mt5_server.sandbox.control("POST", "trade", payload)
    assert status == 200 and "deals" in answer, answer
    return answer


def test_sync_ingests_deals_positions_and_balances_once(mt5_server):
    account = _account(mt5_server)
    _trade(mt5_server, account, "XAUUSD.m", "-25.00")
    _trade(mt5_server, account, "EURUSD", "40.00")
    opened = _trade(mt5_server, account, "US30.cash", None)  # stays open

    result = server_sync(server_id=mt5_server.pk)
    assert result["deals"]["ingested"] == 6  # balance + 2x(in, out) + open
    deals = Deal.objects.filter(account=account)
    assert deals.count() == 6
    assert set(deals.exclude(symbol="").values_list("symbol", flat=True)) == {
        "XAUUSD",
        "EURUSD",
        "US30",
    }
    balance = deals.get(action=Deal.Action.BALANCE)
    assert balance.profit_amount == Decimal("1000.00") and balance.comment == "seed"
    assert abs((balance.time - timezone.now()).total_seconds()) < 60  # UTC, not server time
    position = Position.objects.get(account=account)
    assert position.position_id == opened["position"] and position.symbol == "US30"
    account.refresh_from_db()
    assert account.balance_amount == Decimal("1015.00")
    assert account.refreshed_at is not None and account.last_trade_at is not None
    assert account.client.__class__.objects.get(pk=account.client_id).last_trade_at
    mt5_server.refresh_from_db()
    assert mt5_server.deals_synced_through is not None and not mt5_server.last_error

    again = server_sync(server_id=mt5_server.pk)  # overlapping window: nothing twice
    assert again["deals"]["ingested"] == 0
    assert Deal.objects.filter(account=account).count() == 6

    mt5_server.sandbox.control("POST", "trade", {"close": opened["position"]})
    server_sync(server_id=mt5_server.pk)
    assert not Position.objects.filter(account=account).exists()
    assert Deal.objects.filter(account=account).count() == 7


def test_bad_deals_are_refused_with_reasons_and_the_rest_synced(mt5_server):
    account = _account(mt5_server)
    sandbox = mt5_server.sandbox
    _, unknown = sandbox.control(
        "POST",
        "deal",
        {
            "login": account.login,
            "raw": {
                "Login": str(account.login),
                "Action": "0",
                "Entry": "1",
                "Symbol": "FOO.x",
                "Volume": "10000",
                "Price": "1.5",
                "Profit": "5.00",
            },
        },
    )
    _, missing = sandbox.control(
        "POST",
        "deal",
        {
            "login": account.login,
            "raw": {"Login": str(account.login), "Action": "0", "Symbol": "EURUSD"},
        },
    )
    _trade(mt5_server, account)
    result = server_sync(server_id=mt5_server.pk)
    assert result["deals"]["ingested"] == 3 and result["deals"]["rejected"] == 2
    reasons = dict(SyncRejection.objects.values_list("ticket", "reason"))
    assert reasons[int(unknown["ticket"])] == "unknown symbol 'FOO.x'"
    assert reasons[int(missing["ticket"])].startswith("deal lacks")
    assert "Price" in reasons[int(missing["ticket"])]

    server_sync(server_id=mt5_server.pk)  # seen again: still one rejection each
    assert SyncRejection.objects.count() == 2

    # Ops add the instrument; the refused deal is read again from what was stored.
    from clients.models import Instrument

    Instrument.objects.create(symbol="FOO", asset_class="stocks")
    taken, still = rejections_retry(rejections=list(SyncRejection.objects.all()))
    assert (taken, still) == (1, 1)
    assert Deal.objects.filter(ticket=int(unknown["ticket"]), symbol="FOO").exists()


def test_wrong_credentials_are_recorded_and_nothing_moves(mt5_server):
    _account(mt5_server)
    TradingServer.objects.filter(pk=mt5_server.pk).update(manager_password="not-it")
    result = server_sync(server_id=mt5_server.pk)
    assert "refused" in result["deals"]["error"]
    mt5_server.refresh_from_db()
    assert mt5_server.deals_synced_through is None
    assert "refused" in mt5_server.last_error
    run = SyncRun.objects.get(server=mt5_server)
    assert run.error == mt5_server.last_error
    assert sync_lag_report()["MT5 Sandbox"]["status"] == "never synced"


def test_unreachable_server_and_malformed_json(mt5_server):
    account = _account(mt5_server)
    _trade(mt5_server, account)
    mt5_server.sandbox.control(
        "POST", "faults", {"malformed": {"path": "/api/deal/get_batch", "count": 1}}
    )
    result = server_sync(server_id=mt5_server.pk)
    assert "not JSON" in result["deals"]["error"]
    assert not Deal.objects.exists()
    assert server_sync(server_id=mt5_server.pk)["deals"]["ingested"] == 3  # next pass catches up

    TradingServer.objects.filter(pk=mt5_server.pk).update(url="http://127.0.0.1:9")
    result = server_sync(server_id=mt5_server.pk)
    assert "unreachable" in result["deals"]["error"]
    assert Deal.objects.count() == 3


def test_new_account_is_backfilled_and_cursor_moves(mt5_server):
    first = _account(mt5_server, "a@test.example")
    server_sync(server_id=mt5_server.pk)
    mt5_server.refresh_from_db()
    cursor = mt5_server.deals_synced_through
    # An account whose history predates the cursor (e.g. migrated from another system).
    second = _account(mt5_server, "b@test.example", deposit="5000.00")
    status, _ = mt5_server.sandbox.control(
        "POST", "history", {"login": second.login, "days": 2, "profile": "active", "trades": 6}
    )
    assert status == 200
    server_sync(server_id=mt5_server.pk)
    second.refresh_from_db()
    assert not second.backfill_pending
    old = Deal.objects.filter(account=second, time__lt=cursor - timedelta(hours=1))
    assert old.count() >= 6  # read from the backfill window, not only since the cursor
    assert Deal.objects.filter(account=first).count() == 1
    mt5_server.refresh_from_db()
    assert mt5_server.deals_synced_through > cursor


def test_many_accounts_sync_in_batches_at_the_rate_limit(mt5_server):
    status, bulk = mt5_server.sandbox.control(
        "POST", "bulk", {"accounts": 1200, "deals_per_account": 2, "days": 1}
    )
    assert status == 200, bulk
    first, last = bulk["logins"]
    client = make_client_user("bulk@test.example").client
    TradingAccount.objects.bulk_create(
        [
            TradingAccount(
                client=client,
                server=mt5_server,
                login=login,
                group="real\\standard-usd",
                currency="USD",
                leverage=100,
            )
            for login in range(first, last + 1)
        ]
    )
    TradingServer.objects.filter(pk=mt5_server.pk).update(batch_size=500)
    _, before = mt5_server.sandbox.control("GET", "state")
    result = server_sync(server_id=mt5_server.pk)
    _, after = mt5_server.sandbox.control("GET", "state")
    calls = {
        path: after["requests"].get(path, 0) - before["requests"].get(path, 0)
        for path in (
            "/api/deal/get_batch",
            "/api/position/get_batch",
            "/api/user/account/get_batch",
        )
    }
    assert calls == {
        "/api/deal/get_batch": 3,
        "/api/position/get_batch": 3,
        "/api/user/account/get_batch": 3,
    }
    assert result["deals"]["ingested"] == Deal.objects.count() >= 1200 * 2


def test_lag_on_healthz(client, mt5_server):
    _account(mt5_server)
    server_sync(server_id=mt5_server.pk)
    body = client.get("/healthz").json()
    assert body["platform_sync"]["MT5 Sandbox"]["status"] == "ok"
    assert body["platform_sync"]["MT5 Sandbox"]["lag_s"] < 30
    TradingServer.objects.filter(pk=mt5_server.pk).update(
        deals_synced_through=timezone.now() - timedelta(minutes=10)
    )
    body = client.get("/healthz").json()
    assert body["platform_sync"]["MT5 Sandbox"]["status"] == "lagging"
    TradingServer.objects.filter(pk=mt5_server.pk).update(last_error="at host:1 login 1000")
    body = client.get("/healthz").json()
    assert "last_error" not in body["platform_sync"]["MT5 Sandbox"]  # public: no hosts, logins


def test_account_totals_follow_the_deals_and_ignore_repeats(mt5_server):
    account = _account(mt5_server)
    _trade(mt5_server, account, "EURUSD", "40.00")
    _trade(mt5_server, account, "XAUUSD.m", "-15.50")
    _trade(mt5_server, account, "US30.cash", None)  # open: one deal in, no close
    server_sync(server_id=mt5_server.pk)
    TradingServer.objects.filter(pk=mt5_server.pk).update(deals_synced_through=None)
    server_sync(server_id=mt5_server.pk)  # the whole backfill window again: nothing twice
    account.refresh_from_db()
    trades = Deal.objects.filter(account=account, action__in=[0, 1])
    assert account.trade_deals == trades.count() == 5
    assert (account.closed_trades, account.won_trades) == (2, 1)
    assert account.closed_volume == 2 * 1000
    net = sum(d.net_amount for d in trades)
    assert account.realized_pl_amount == net == Decimal("24.50")


def test_old_passes_are_pruned(mt5_server):
    from clients.sync import sync_runs_prune

    now = timezone.now()
    for days, error in ((1, ""), (20, ""), (20, "boom"), (100, "boom")):
        SyncRun.objects.create(
            server=mt5_server, kind="deals", started_at=now - timedelta(days=days), error=error
        )
    assert sync_runs_prune() == 2
    assert sorted(SyncRun.objects.values_list("error", flat=True)) == ["", "boom"]


def test_a_pass_whose_worker_died_frees_its_server_within_the_lock_ttl(mt5_server, monkeypatch):
    """A worker killed mid-pass never releases the server's lock: it lapses after LOCK_TTL
    seconds (not the task's time limit), and the next pass syncs."""
    from clients import sync

    monkeypatch.setattr(sync, "LOCK_TTL", 1)
    account = _account(mt5_server, deposit="500.00")
    dead = sync._lock(mt5_server.pk)
    assert dead.acquire()  # the killed pass's: nobody renews or releases it
    assert "running" in server_sync(server_id=mt5_server.pk)["skipped"]
    time.sleep(1.3)
    assert server_sync(server_id=mt5_server.pk)["deals"]["ingested"] == 1
    assert Deal.objects.filter(account=account).count() == 1


def test_a_live_pass_keeps_its_server_past_the_lock_ttl(mt5_server, monkeypatch):
    from clients import sync

    monkeypatch.setattr(sync, "LOCK_TTL", 1)
    monkeypatch.setattr(sync, "LOCK_RENEW", 0.2)
    with sync.server_held(mt5_server.pk) as (server, platform, problem):
        assert server is not None and problem is None
        time.sleep(1.5)  # longer than the TTL: renewed meanwhile
        assert "running" in server_sync(server_id=mt5_server.pk)["skipped"]
    assert "skipped" not in server_sync(server_id=mt5_server.pk)


def test_positions_and_balances_are_read_at_their_own_interval(mt5_server, settings):
    """A pass every 2 s reads the new deals each time; positions and balances, which read every
    account, only every PLATFORM_SYNC_BALANCES_INTERVAL_SECONDS."""
    settings.PLATFORM_SYNC_BALANCES_INTERVAL_SECONDS = 10
    account = _account(mt5_server)
    opened = _trade(mt5_server, account, "US30.cash", None)
    first = server_sync(server_id=mt5_server.pk)
    assert set(first) == {"deals", "positions", "accounts"}
    assert Position.objects.filter(account=account).exists()

    mt5_server.sandbox.control("POST", "trade", {"close": opened["position"]})
    soon = server_sync(server_id=mt5_server.pk)
    assert set(soon) == {"deals"} and soon["deals"]["ingested"] == 1  # the closing deal
    assert Position.objects.filter(account=account).exists()  # positions read later

    earlier = timezone.now() - timedelta(seconds=11)
    TradingServer.objects.filter(pk=mt5_server.pk).update(positions_synced_at=earlier)
    later = server_sync(server_id=mt5_server.pk)
    assert set(later) == {"deals", "positions", "accounts"}
    assert not Position.objects.filter(account=account).exists()
