"""The MT5 Web API sandbox speaks the contract in sandbox/mt5/__init__.py (users, accounts,
balance operations, deals, positions, sessions) and its control endpoints plant data and
faults."""

import http.client
import json
import time
import urllib.error
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from tests.mt5_support import RawClient, mt5_control, start_mt5_sandbox, stop_mt5_sandbox

D = Decimal
USD = "real\\standard-usd"
EUR = "real\\standard-eur"
ALL_TIME = {"from": "0", "to": str(2**40)}


@pytest.fixture
def api(mt5_sandbox):
    client = RawClient(mt5_sandbox.url, mt5_sandbox.login, mt5_sandbox.password)
    assert client.handshake()["retcode"] == "0 Done"
    return client


def add_user(api, group=USD, leverage="100", **extra) -> str:
    user = api.answer(
        "/api/user/add",
        pass_main="Secret#123",
        pass_investor="Invest#123",
        group=group,
        name="Nora Ng",
        leverage=leverage,
        email="nora@test.example",
        country="GB",
        **extra,
    )
    return user["Login"]


def deposit(api, login, amount="1000.00", comment="Deposit #1", **extra) -> str:
    body = api.answer(
        "/api/trade/balance", login=login, type="2", balance=amount, comment=comment, **extra
    )
    return body["Ticket"]  # as MetaQuotes documents it: {"Ticket": "136623"}


def deals(api, **params) -> list[dict]:
    return api.answer("/api/deal/get_batch", **{**ALL_TIME, **params})


def account(api, login) -> dict:
    return api.answer("/api/user/account/get", login=login)


def control(sandbox, method, path, payload=None) -> dict:
    status, body = sandbox.control(method, path, payload)
    assert status == 200, (path, status, body)
    return body


def server_now(tz="Europe/Athens") -> int:
    utc = time.time()
    return int(utc + datetime.fromtimestamp(utc, ZoneInfo(tz)).utcoffset().total_seconds())


# --- users and accounts ------------------------------------------------------------------------


def test_user_add_and_get_answer_strings_and_the_groups_currency(api):
    status, body = api.get(
        "/api/user/add", pass_main="Secret#123", group=EUR, name="Eva", leverage="200"
    )
    assert status == 200 and body["retcode"] == "0 Done"
    user = body["answer"]
    assert body["login"] == "500001"  # documented beside the record
    assert user["Login"] == "500001" and user["Group"] == EUR and user["Leverage"] == "200"
    assert all(isinstance(v, str) for v in user.values())
    assert set(user) == {
        "Login",
        "Group",
        "Name",
        "Email",
        "Country",
        "Leverage",
        "Balance",
        "Credit",
        "Registration",
        "LastAccess",
        "Comment",
        "Rights",
    }
    assert user["Balance"] == "0.00" and user["Credit"] == "0.00"
    assert api.answer("/api/user/get", login="500001") == user
    assert add_user(api) == "500002"  # sequential
    assert api.answer("/api/group/get", group=EUR) == {
        "Group": EUR,
        "Currency": "EUR",
        "CurrencyDigits": "2",
        "Symbols": [{"Path": "*", "TradeMode": "4"}],  # every symbol: full trading
    }
    assert api.answer("/api/group/get", group=USD)["Currency"] == "USD"
    record = account(api, "500001")
    assert record["CurrencyDigits"] == "2" and record["MarginLeverage"] == "200"
    assert all(isinstance(v, str) for v in record.values())

    # MetaQuotes: user/add into a group that does not exist answers 8, on a live session
    status, body = api.get(
        "/api/user/add", pass_main="Secret#123", name="n", group="real\\vip-gbp", leverage="100"
    )
    assert (status, body) == (200, {"retcode": "8 Not enough permissions"})
    refused = [
        {"group": USD, "leverage": "0"},
        {"group": USD, "leverage": "1001"},
        {"group": USD, "leverage": "lots"},
    ]
    for params in refused:
        _, body = api.get("/api/user/add", pass_main="Secret#123", name="n", **params)
        assert body["retcode"] == "3 Invalid parameters", params
    assert api.get("/api/group/get", group="real\\vip-gbp")[1]["retcode"] == "3 Invalid parameters"
    assert api.get("/api/user/get", login="999999")[1] == {"retcode": "13 Not found"}
    assert api.get("/api/user/account/get", login="999999")[1]["retcode"] == "13 Not found"
    assert api.get("/api/no/such")[0] == 404


def test_user_comment_batches_logins_and_passwords(api):
    a = add_user(api, comment="BO-AO-1")
    b, c = add_user(api, group=EUR), add_user(api)
    assert api.answer("/api/user/get", login=a)["Comment"] == "BO-AO-1"
    users = api.answer("/api/user/get_batch", login=f"{a},{b},999999")
    assert [(u["Login"], u["Comment"]) for u in users] == [(a, "BO-AO-1"), (b, "")]
    assert [u["Login"] for u in api.answer("/api/user/get_batch", group=EUR)] == [b]
    assert api.answer("/api/user/logins", group=USD) == [a, c]
    assert api.answer("/api/user/logins", group="real\\*") == [a, b, c]
    assert api.get("/api/user/logins")[1]["retcode"] == "3 Invalid parameters"

    # MT5's password rule: 8-16 characters of four kinds (lower and upper case, digits and
    # special characters), else "3006 Invalid account password"; comments up to 64.
    weak_passwords = ("Short#1", "lower#123", "NoDigits#Here", "UPPER#123", "Aa1#" * 5)
    for weak in (*weak_passwords, "Secret123", "NoSpecial1"):
        _, body = api.get("/api/user/add", pass_main=weak, group=USD, leverage="100")
        assert body["retcode"] == "3006 Invalid account password", weak
        _, body = api.post(
            "/api/user/add",
            json.dumps({"PassMain": "Secret#123", "PassInvestor": weak}).encode(),
            group=USD,
            leverage="100",
        )
        assert body["retcode"] == "3006 Invalid account password", weak
    _, body = api.get(
        "/api/user/add", pass_main="Secret#123", group=USD, leverage="100", comment="c" * 65
    )
    assert body["retcode"] == "3 Invalid parameters"

    check = {"login": a, "type": "main"}
    assert api.get("/api/user/check_password", password="Secret#123", **check)[1] == {
        "retcode": "0 Done"
    }
    assert api.get("/api/user/check_password", password="Invest#123", type="investor", login=a)[
        1
    ] == {"retcode": "0 Done"}
    assert api.get("/api/user/change_password", password="Fresh#4567", **check)[1] == {
        "retcode": "0 Done"
    }
    wrong = api.get("/api/user/check_password", password="Secret#123", **check)[1]
    assert wrong == {"retcode": "3006 Invalid account password"}
    assert api.get("/api/user/check_password", password="Fresh#4567", **check)[1] == {
        "retcode": "0 Done"
    }
    for weak in ("weak", "NoSpecial12"):
        refused = api.get("/api/user/change_password", password=weak, **check)[1]
        assert refused == {"retcode": "3006 Invalid account password"}, weak
    assert api.get("/api/user/change_password", login="999999", password="Fresh#4567")[1] == {
        "retcode": "13 Not found"
    }


def test_post_bodies_carry_record_fields(api):
    _, body = api.post(
        "/api/user/add",
        json.dumps({"PassMain": "Secret#123", "PassInvestor": "Invest#123"}).encode(),
        group=USD,
        leverage="100",
        comment="BO-AO-POST",
    )
    assert body["retcode"] == "0 Done" and body["answer"]["Comment"] == "BO-AO-POST"
    login = body["answer"]["Login"]
    change = json.dumps({"Login": login, "Type": "main", "Password": "Posted#123"}).encode()
    assert api.post("/api/user/change_password", change)[1] == {"retcode": "0 Done"}
    check = {"login": login, "password": "Posted#123"}
    assert api.get("/api/user/check_password", **check)[1] == {"retcode": "0 Done"}
    # Body fields stand over the query's; a body that is not a JSON object is refused.
    weak = json.dumps({"Password": "weak"}).encode()
    _, refused = api.post("/api/user/change_password", weak, login=login, password="Strong#123")
    assert refused == {"retcode": "3006 Invalid account password"}
    for bad in (b"{not json", b"[1, 2]"):
        assert api.post("/api/user/change_password", bad)[1] == {"retcode": "3 Invalid parameters"}


def test_account_batch_by_logins_and_group(api):
    a, b = add_user(api), add_user(api, group=EUR)
    c = add_user(api, group="demo\\forex-usd")
    batch = api.answer("/api/user/account/get_batch", login=f"{a},{b},999999")
    assert [r["Login"] for r in batch] == [a, b]
    assert [r["Login"] for r in api.answer("/api/user/account/get_batch", group="real\\*")] == [
        a,
        b,
    ]
    assert [r["Login"] for r in api.answer("/api/user/account/get_batch", group="*")] == [a, b, c]
    both = api.answer("/api/user/account/get_batch", login=c, group="real\\standard-eur")
    assert [r["Login"] for r in both] == [b, c]
    too_many = ",".join(str(500001 + i) for i in range(1001))
    _, body = api.get("/api/user/account/get_batch", login=too_many)
    assert body["retcode"] == "3 Invalid parameters"


def test_equity_reflects_an_open_positions_floating_profit(api, mt5_sandbox):
    login = add_user(api)
    deposit(api, login, "1000.00")
    control(mt5_sandbox, "POST", "prices", {"EURUSD": "1.08500"})
    opened = control(
        mt5_sandbox,
        "POST",
        "trade",
        {"login": login, "symbol": "EURUSD", "side": "buy", "volume": "0.10"},
    )
    assert opened["retcode"] == "0 Done" and len(opened["deals"]) == 1
    control(mt5_sandbox, "POST", "prices", {"EURUSD": "1.09000"})
    record = account(api, login)
    assert record["Balance"] == "1000.00"
    assert record["Profit"] == "50.00"  # 0.005 * 0.10 lot * 100000
    assert record["Equity"] == "1050.00"
    assert record["Margin"] == "109.00"  # 0.10 * 100000 * 1.09 / 100
    assert record["MarginFree"] == "941.00"
    assert D(record["MarginLevel"]) == D("963.30")

    # an EUR account's profit is converted from USD at EURUSD
    eur = add_user(api, group=EUR)
    deposit(api, eur, "1000.00")
    control(mt5_sandbox, "POST", "prices", {"EURUSD": "1.25000", "USDJPY": "150.000"})
    control(
        mt5_sandbox,
        "POST",
        "trade",
        {"login": eur, "symbol": "USDJPY", "side": "sell", "volume": "1.00"},
    )
    control(mt5_sandbox, "POST", "prices", {"USDJPY": "149.000"})
    # 1 lot * 100000 * 1.000 JPY = 100000 JPY -> /149 USD -> /1.25 EUR
    assert account(api, eur)["Profit"] == f"{100000 / 149 / 1.25:.2f}"


# --- balance operations ------------------------------------------------------------------------


def test_balance_operation_writes_an_action_2_deal_and_is_not_idempotent(api):
    login = add_user(api)
    ticket = deposit(api, login, "250.50", comment="PSP dep 77")
    [deal] = deals(api, login=login)
    assert deal["Deal"] == ticket
    assert deal["Action"] == "2" and deal["Symbol"] == "" and deal["Comment"] == "PSP dep 77"
    assert deal["Profit"] == "250.50" and deal["Volume"] == "0" and deal["Price"] == "0"
    assert deal["Login"] == login and all(isinstance(v, str) for v in deal.values())
    assert api.answer("/api/user/get", login=login)["Balance"] == "250.50"

    again = deposit(api, login, "250.50", comment="PSP dep 77")  # the same request, again
    assert int(again) > int(ticket)
    assert [d["Deal"] for d in deals(api, login=login)] == [ticket, again]
    deposit(api, login, "-1.50", comment="fee")
    assert api.answer("/api/user/get", login=login)["Balance"] == "499.50"

    for params in (
        {"balance": "1.00", "comment": "x" * 33},
        {"balance": "0"},
        {"balance": "1.005"},
        {"balance": "ten"},
        {"balance": "1.00", "type": "3"},
    ):
        query = {"login": login, "type": "2", "comment": "c", **params}
        assert api.get("/api/trade/balance", **query)[1]["retcode"] == "3 Invalid parameters"
    assert deposit(api, login, "1.00", comment="y" * 32)
    _, body = api.get("/api/trade/balance", login="999999", type="2", balance="1.00", comment="")
    assert body["retcode"] == "13 Not found"


def test_withdrawal_beyond_free_margin_is_refused_and_writes_nothing(api, mt5_sandbox):
    login = add_user(api)
    deposit(api, login, "1000.00")
    control(mt5_sandbox, "POST", "prices", {"XAUUSD.m": "2000.00"})
    control(
        mt5_sandbox,
        "POST",
        "trade",
        {"login": login, "symbol": "XAUUSD.m", "side": "buy", "volume": "0.40"},
    )
    free = D(account(api, login)["MarginFree"])
    assert free == D("200.00")  # 1000 - 0.40 lot * 100 oz * 2000 / 100
    before = deals(api, login=login)
    _, body = api.get(
        "/api/trade/balance",
        login=login,
        type="2",
        balance=f"-{free + D('0.01')}",
        comment="wd",
        check_margin="1",
    )
    assert body == {"retcode": "10019 Not enough money"}
    assert deals(api, login=login) == before
    assert api.answer("/api/user/get", login=login)["Balance"] == "1000.00"
    assert deposit(api, login, f"-{free}", comment="wd", check_margin="1")
    assert account(api, login)["MarginFree"] == "0.00"


# --- deals and positions -----------------------------------------------------------------------


def test_deal_batches_by_logins_group_mask_window_and_tickets(api, mt5_sandbox):
    a, b = add_user(api), add_user(api, group=EUR)
    demo = add_user(api, group="demo\\forex-usd")
    for login in (a, b, demo):
        deposit(api, login, "100.00")  # now: outside the window below
    hour = 3600
    now = time.time()
    tickets = {}
    for login, hours_ago in ((a, 50), (b, 30), (demo, 20), (a, 10), (b, 1)):
        body = control(
            mt5_sandbox,
            "POST",
            "trade",
            {
                "login": login,
                "symbol": "EURUSD",
                "side": "buy",
                "volume": "0.01",
                "profit": "0.00",
                "at": now - hours_ago * hour,
            },
        )
        tickets[(login, hours_ago)] = body["deals"]
    by_login = deals(api, login=f"{a},{b}")
    assert [int(d["Deal"]) for d in by_login] == sorted(int(d["Deal"]) for d in by_login)
    assert {d["Login"] for d in by_login} == {a, b} and len(by_login) == 10
    assert {d["Login"] for d in deals(api, group="real\\*")} == {a, b}
    assert {d["Login"] for d in deals(api, group="*,!real\\standard-eur")} == {a, demo}
    assert {d["Login"] for d in deals(api, group="demo\\*", login=a)} == {a, demo}

    srv = server_now()
    window = deals(api, group="*", **{"from": str(srv - 31 * hour), "to": str(srv - 5 * hour)})
    assert {(d["Login"], int(d["Deal"])) for d in window} == {
        (login, t) for (login, ago), ts in tickets.items() if 5 < ago < 31 for t in ts
    }
    edge = int(window[0]["Time"])  # from/to are inclusive
    assert window[0] in deals(api, group="*", **{"from": str(edge), "to": str(edge)})
    wanted = tickets[(a, 10)]
    picked = api.answer("/api/deal/get_batch", ticket=",".join(map(str, wanted)))
    assert [int(d["Deal"]) for d in picked] == wanted
    assert api.get("/api/deal/get_batch", login=a)[1]["retcode"] == "3 Invalid parameters"
    assert api.get("/api/deal/get_batch", **ALL_TIME)[1]["retcode"] == "3 Invalid parameters"


def test_times_are_server_local_epochs():
    base, server = start_mt5_sandbox(timezone="Asia/Tokyo")  # UTC+9 all year
    try:
        api = RawClient(base)
        api.handshake()
        login = add_user(api)
        ticket = deposit(api, login, "10.00")
        expected = time.time() + 9 * 3600
        user = api.answer("/api/user/get", login=login)
        [deal] = api.answer("/api/deal/get_batch", login=login, **ALL_TIME)
        assert deal["Deal"] == ticket
        assert abs(int(deal["Time"]) - expected) <= 2
        assert abs(int(user["Registration"]) - expected) <= 2
        assert int(deal["TimeMsc"]) // 1000 == int(deal["Time"])
        assert (
            int(deal["Time"]) == server_now("Asia/Tokyo")
            or abs(int(deal["Time"]) - server_now("Asia/Tokyo")) <= 2
        )
    finally:
        stop_mt5_sandbox(server)


def test_position_batch(api, mt5_sandbox):
    a, b = add_user(api), add_user(api)
    deposit(api, a, "5000.00")
    deposit(api, b, "5000.00")
    control(mt5_sandbox, "POST", "prices", {"GBPUSD": "1.27000", "BTCUSD.pro": "65000.00"})
    one = control(
        mt5_sandbox,
        "POST",
        "trade",
        {"login": a, "symbol": "GBPUSD", "side": "sell", "volume": "0.5"},
    )
    two = control(
        mt5_sandbox,
        "POST",
        "trade",
        {"login": b, "symbol": "BTCUSD.pro", "side": "buy", "volume": "0.10"},
    )
    control(mt5_sandbox, "POST", "prices", {"GBPUSD": "1.26000", "BTCUSD.pro": "66000.00"})
    positions = api.answer("/api/position/get_batch", login=f"{a},{b}")
    assert [p["Position"] for p in positions] == [str(one["position"]), str(two["position"])]
    first, second = positions
    assert first["Symbol"] == "GBPUSD" and first["Action"] == "1" and first["Volume"] == "5000"
    assert first["PriceOpen"] == "1.27000" and first["PriceCurrent"] == "1.26000"
    assert first["Profit"] == "500.00" and first["Storage"] == "0.00"
    assert second["Profit"] == "100.00" and second["PriceCurrent"] == "66000.00"
    assert all(isinstance(v, str) for p in positions for v in p.values())
    assert api.answer("/api/position/get_batch", group="real\\*") == positions
    control(mt5_sandbox, "POST", "trade", {"close": one["position"]})
    assert [p["Login"] for p in api.answer("/api/position/get_batch", group="*")] == [b]
    [out] = [d for d in deals(api, login=a) if d["Entry"] == "1"]
    assert out["Action"] == "0" and out["Profit"] == "500.00"
    assert out["PositionID"] == str(one["position"]) and D(out["Commission"]) < 0
    assert api.answer("/api/user/get", login=a)["Balance"] == str(
        D("5500.00") + D(out["Commission"]) + D(out["Storage"])
    )


def test_control_trade_is_margin_checked_and_can_close_with_an_exact_profit(api, mt5_sandbox):
    login = add_user(api, leverage="10")
    deposit(api, login, "100.00")
    body = control(
        mt5_sandbox,
        "POST",
        "trade",
        {"login": login, "symbol": "EURUSD", "side": "buy", "volume": "1.00"},
    )
    assert body == {"retcode": "10019 Not enough money"}
    assert len(deals(api, login=login)) == 1
    body = control(
        mt5_sandbox,
        "POST",
        "trade",
        {
            "login": login,
            "symbol": "US30.cash",
            "side": "sell",
            "volume": "0.01",
            "profit": "-25.00",
        },
    )
    opened, closed = deals(api, ticket=",".join(map(str, body["deals"])))
    assert (opened["Entry"], closed["Entry"]) == ("0", "1")
    assert closed["Profit"] == "-25.00" and closed["PositionID"] == str(body["position"])
    assert api.answer("/api/user/get", login=login)["Balance"] == "75.00"
    assert api.answer("/api/position/get_batch", login=login) == []
    status, err = mt5_sandbox.control("POST", "trade", {"login": login, "symbol": "EURUSDX"})
    assert status == 400 and err["error"] == "invalid"
    assert mt5_sandbox.control("POST", "trade", {"login": 1, "symbol": "EURUSD"})[0] == 404


# --- sessions and faults -----------------------------------------------------------------------


def test_an_idle_session_expires_and_a_new_handshake_works():
    base, server = start_mt5_sandbox(session_idle=0.3)
    try:
        api = RawClient(base)
        assert api.handshake()["retcode"] == "0 Done"
        assert api.get("/api/test/access") == (200, {"retcode": "0 Done"})
        time.sleep(0.5)
        assert api.get("/api/test/access") == (403, {"retcode": "8 Not enough permissions"})
        assert api.get("/api/user/get", login="1") == (
            403,
            {"retcode": "8 Not enough permissions"},
        )
        assert api.handshake()["retcode"] == "0 Done"
        assert api.get("/api/test/access") == (200, {"retcode": "0 Done"})
    finally:
        stop_mt5_sandbox(server)


def test_expire_sessions_fault_kills_every_session(api, mt5_sandbox):
    other = RawClient(mt5_sandbox.url)
    other.handshake()
    control(mt5_sandbox, "POST", "faults", {"expire_sessions": True})
    for client in (api, other):
        assert client.get("/api/test/access") == (403, {"retcode": "8 Not enough permissions"})
    assert api.handshake()["retcode"] == "0 Done"
    assert api.get("/api/test/access")[0] == 200


def test_drop_after_write_executes_the_request_but_never_answers(api, mt5_sandbox):
    login = add_user(api)
    armed = control(
        mt5_sandbox,
        "POST",
        "faults",
        {"drop_after_write": {"path": "/api/trade/balance", "count": 1}},
    )
    assert armed["faults"] == [
        {"kind": "drop_after_write", "path": "/api/trade/balance", "count": 1}
    ]
    with pytest.raises((urllib.error.URLError, http.client.HTTPException, ConnectionError)):
        api.get("/api/trade/balance", login=login, type="2", balance="300.00", comment="dep-42")
    # it was executed: the client finds it by its comment
    [deal] = [d for d in deals(api, login=login) if d["Comment"] == "dep-42"]
    assert deal["Profit"] == "300.00"
    assert api.answer("/api/user/get", login=login)["Balance"] == "300.00"
    assert control(mt5_sandbox, "GET", "state")["faults"] == []
    assert deposit(api, login, "1.00", comment="next")  # only `count` requests affected


def test_slow_fault_delays_the_answer(api, mt5_sandbox):
    control(
        mt5_sandbox,
        "POST",
        "faults",
        {"slow": {"path": "/api/test/access", "seconds": 0.6, "count": 1}},
    )
    started = time.monotonic()
    assert api.get("/api/test/access") == (200, {"retcode": "0 Done"})
    assert time.monotonic() - started >= 0.6
    started = time.monotonic()
    api.get("/api/test/access")
    assert time.monotonic() - started < 0.5
    # a client that gives up earlier sees a timeout, yet the call was executed
    login = add_user(api)
    control(
        mt5_sandbox,
        "POST",
        "faults",
        {"slow": {"path": "/api/trade/balance", "seconds": 1, "count": 1}},
    )
    with pytest.raises((TimeoutError, urllib.error.URLError)):
        api.get(
            "/api/trade/balance", timeout=0.3, login=login, type="2", balance="5.00", comment="s"
        )
    time.sleep(0.8)
    assert [d["Comment"] for d in deals(api, login=login)] == ["s"]


def test_malformed_fault_sends_invalid_json(api, mt5_sandbox):
    login = add_user(api)
    deposit(api, login)
    control(mt5_sandbox, "POST", "faults", {"malformed": {"path": "/api/deal/get_batch"}})
    status, raw = api.get_raw("/api/deal/get_batch", login=login, **ALL_TIME)
    assert status == 200
    with pytest.raises(ValueError):
        json.loads(raw)
    assert len(deals(api, login=login)) == 1
    control(mt5_sandbox, "POST", "faults", {"malformed": {"path": "*", "count": 5}, "clear": True})
    assert control(mt5_sandbox, "POST", "faults", {"clear": True})["faults"] == []
    status, err = mt5_sandbox.control("POST", "faults", {"explode": True})
    assert status == 400 and err["error"] == "unknown_fault"


def test_max_rps_answers_too_frequent_requests():
    base, server = start_mt5_sandbox(max_rps=3)
    try:
        api = RawClient(base)
        api.handshake()
        answers = [api.get("/api/test/access")[1]["retcode"] for _ in range(10)]
        rejected = answers.count("12 Too frequent requests")
        assert rejected >= 4 and set(answers) == {"0 Done", "12 Too frequent requests"}
        state = mt5_control(base, "GET", "state")[1]
        assert state["rejected_frequent"] == rejected
        assert state["requests"]["/api/test/access"] == 10
        time.sleep(1.05)
        assert api.get("/api/test/access")[1]["retcode"] == "0 Done"
    finally:
        stop_mt5_sandbox(server)


def test_down_drops_every_web_api_request_unanswered_and_undone(api, mt5_sandbox):
    login = add_user(api)
    status, armed = mt5_sandbox.control("POST", "faults", {"down": {"seconds": 30}})
    assert status == 200 and armed["down_s"] > 29
    with pytest.raises((urllib.error.URLError, http.client.HTTPException, OSError)):
        api.get_raw("/api/trade/balance", login=login, type="2", balance="10.00", comment="x")
    with pytest.raises((urllib.error.URLError, http.client.HTTPException, OSError)):
        RawClient(mt5_sandbox.url).handshake()  # a new session cannot be had either
    state = control(mt5_sandbox, "GET", "state")  # the control endpoints go on answering
    assert state["dropped"] == {"down": 2} and state["deals"] == 0
    control(mt5_sandbox, "POST", "faults", {"down": {"seconds": 0}})
    assert deposit(api, login) and len(deals(api, login=login)) == 1


def test_drop_cuts_answers_mid_way_after_carrying_the_request_out(api, mt5_sandbox):
    login = add_user(api)
    control(mt5_sandbox, "POST", "faults", {"drop": {"share": 1, "seconds": 30}})
    with pytest.raises((urllib.error.URLError, http.client.HTTPException, OSError)):
        api.get_raw("/api/trade/balance", login=login, type="2", balance="10.00", comment="cut")
    state = control(mt5_sandbox, "GET", "state")
    assert state["dropped"] == {"mid_answer": 1} and state["deals"] == 1  # done, answer lost
    assert state["drop"]["share"] == 1
    control(mt5_sandbox, "POST", "faults", {"clear": True})
    assert [d["Comment"] for d in deals(api, login=login)] == ["cut"]


def test_max_rps_is_set_and_lifted_at_run_time(api, mt5_sandbox):
    assert control(mt5_sandbox, "POST", "faults", {"max_rps": 2})["max_rps"] == 2
    answers = [api.get("/api/test/access")[1]["retcode"] for _ in range(6)]
    assert "12 Too frequent requests" in answers
    control(mt5_sandbox, "POST", "faults", {"max_rps": 0})
    answers = [api.get("/api/test/access")[1]["retcode"] for _ in range(6)]
    assert set(answers) == {"0 Done"}
    status, err = mt5_sandbox.control("POST", "faults", {"drop": {"share": 2, "seconds": 1}})
    assert status == 400 and "share" in err["detail"]


def test_state_counts_requests_per_path_since_reset(api, mt5_sandbox):
    login = add_user(api)
    deposit(api, login)
    api.get("/api/user/account/get_batch", login=login)
    state = control(mt5_sandbox, "GET", "state")
    assert state["accounts"] == 1 and state["deals"] == 1 and state["positions"] == 0
    assert state["requests"]["/api/user/account/get_batch"] == 1
    assert state["requests"]["/api/auth/start"] == 1
    assert control(mt5_sandbox, "POST", "reset") == {"reset": True}
    state = control(mt5_sandbox, "GET", "state")
    assert (state["accounts"], state["deals"], state["requests"]) == (0, 0, {})
    assert api.get("/api/test/access")[0] == 200  # the session survives a reset
    assert add_user(api) == "500001"


# --- planted data, histories, simulation -------------------------------------------------------


def test_planted_deal_answers_exactly_its_raw_record(api, mt5_sandbox):
    login = add_user(api)
    raw = {"Login": login, "Action": "0", "Entry": "1", "Symbol": "FOO.x", "Profit": "12.50"}
    ticket = control(mt5_sandbox, "POST", "deal", {"login": int(login), "raw": raw})["ticket"]
    [deal] = deals(api, login=login)
    assert deal == {**raw, "Deal": str(ticket), "Time": deal["Time"]}
    assert abs(int(deal["Time"]) - server_now()) <= 2
    assert api.answer("/api/user/get", login=login)["Balance"] == "12.50"
    bare = {"Login": login, "Symbol": "EURUSD"}
    second = control(mt5_sandbox, "POST", "deal", {"login": login, "raw": bare, "exact": True})
    assert second["ticket"] > ticket
    assert api.answer("/api/deal/get_batch", ticket=str(second["ticket"])) == [bare]
    status, _ = mt5_sandbox.control("POST", "deal", {"login": login, "raw": {"Deal": ticket}})
    assert status == 409


def closed_trades(records):
    return [d for d in records if d["Entry"] == "1"]


def test_history_profiles(api, mt5_sandbox):
    losing, quiet, winner = add_user(api), add_user(api, group=EUR), add_user(api)
    result = control(
        mt5_sandbox, "POST", "history", {"login": losing, "days": 30, "profile": "losing"}
    )
    assert result["profile"] == "losing" and result["trades"] == 60
    assert result["deals"] == 1 + 2 * 60 and result["deposit"] == "10000.00"
    history = sorted(deals(api, login=losing), key=lambda d: (int(d["TimeMsc"]), int(d["Deal"])))
    assert len(history) == result["deals"]
    balance = D(0)
    for deal in history:  # self-consistent and never negative
        balance += D(deal["Profit"]) + D(deal["Storage"]) + D(deal["Commission"])
        assert balance >= 0
    assert str(balance) == api.answer("/api/user/get", login=losing)["Balance"] == result["balance"]
    closed = closed_trades(history)
    assert all(D(d["Profit"]) < 0 for d in closed[-3:])
    assert sum(D(d["Profit"]) < 0 for d in closed) > len(closed) / 2
    srv = server_now()
    assert all(srv - 30 * 86400 <= int(d["Time"]) <= srv for d in history)
    for deal in closed:  # every close pairs with its open
        [opened] = [d for d in history if d["PositionID"] == deal["PositionID"] and d is not deal]
        assert opened["Entry"] == "0" and opened["Volume"] == deal["Volume"]
        assert int(opened["Time"]) <= int(deal["Time"])

    result = control(
        mt5_sandbox,
        "POST",
        "history",
        {"login": quiet, "days": 30, "profile": "quiet", "trades": 10, "quiet_days": 12},
    )
    assert result["trades"] == 10
    times = [int(d["Time"]) for d in deals(api, login=quiet)]
    assert len(times) == 21 and max(times) < server_now() - 12 * 86400

    result = control(
        mt5_sandbox, "POST", "history", {"login": winner, "days": 10, "profile": "winner"}
    )
    wins = [D(d["Profit"]) > 0 for d in closed_trades(deals(api, login=winner))]
    assert len(wins) == 10 and result["trades"] == 10
    status, _ = mt5_sandbox.control("POST", "history", {"login": winner, "profile": "rich"})
    assert status == 400


def test_simulation_trades_funded_accounts_within_free_margin(api, mt5_sandbox):
    active, quiet, broke = add_user(api), add_user(api), add_user(api, leverage="1")
    deposit(api, active, "50000.00")
    deposit(api, quiet, "50000.00")
    deposit(api, broke, "0.50")
    control(mt5_sandbox, "POST", "profile", {"login": active, "profile": "active"})
    control(mt5_sandbox, "POST", "profile", {"login": quiet, "profile": "quiet"})
    control(mt5_sandbox, "POST", "profile", {"login": broke, "profile": "active"})
    prices = control(mt5_sandbox, "GET", "state")["prices"]
    made = control(mt5_sandbox, "POST", "tick", {"count": 60})["deals"]
    assert made and len(made) <= 60 * 4
    assert control(mt5_sandbox, "GET", "state")["prices"] != prices
    records = deals(api, ticket=",".join(map(str, made)))
    assert {d["Login"] for d in records} == {active}
    assert {d["Entry"] for d in records} == {"0", "1"}
    for deal in closed_trades(records):
        assert D(deal["Commission"]) <= 0 and deal["Symbol"] in {
            "EURUSD",
            "GBPUSD",
            "USDJPY",
            "XAUUSD.m",
            "US30.cash",
            "BTCUSD.pro",
        }
    assert D(account(api, active)["MarginFree"]) >= 0
    assert api.answer("/api/position/get_batch", login=f"{quiet},{broke}") == []
    assert control(mt5_sandbox, "GET", "state")["simulate"]["refused"] > 0  # broke's orders

    # the background thread does the same on its own
    before = control(mt5_sandbox, "GET", "state")["deals"]
    assert control(mt5_sandbox, "POST", "simulate", {"running": True, "tick_seconds": 0.02}) == {
        "running": True,
        "tick_seconds": 0.02,
    }
    deadline = time.monotonic() + 5
    while control(mt5_sandbox, "GET", "state")["deals"] == before:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    control(mt5_sandbox, "POST", "simulate", {"running": False})


def test_bulk_creates_accounts_with_histories(api, mt5_sandbox):
    body = control(
        mt5_sandbox,
        "POST",
        "bulk",
        {"accounts": 20, "deals_per_account": 6, "days": 7, "group": EUR, "balance": "5000.00"},
    )
    assert body == {"logins": [500001, 500020], "deals": 120}
    state = control(mt5_sandbox, "GET", "state")
    assert (state["accounts"], state["deals"], state["positions"]) == (20, 120, 20)
    history = deals(api, login="500007")
    assert len(history) == 6 and history[0]["Action"] == "2" and history[0]["Profit"] == "5000.00"
    total = sum(D(d["Profit"]) + D(d["Storage"]) + D(d["Commission"]) for d in history)
    assert api.answer("/api/user/get", login="500007")["Balance"] == str(total)
    assert len(api.answer("/api/user/account/get_batch", group=EUR)) == 20
    assert add_user(api) == "500021"


def test_state_persists_across_a_restart(tmp_path):
    path = tmp_path / "mt5.sqlite3"
    base, server = start_mt5_sandbox(state_path=path)
    try:
        api = RawClient(base)
        api.handshake()
        login = add_user(api)
        ticket = deposit(api, login, "700.00", comment="kept")
        mt5_control(base, "POST", "prices", {"EURUSD": "1.10000"})
        mt5_control(
            base,
            "POST",
            "trade",
            {"login": login, "symbol": "EURUSD", "side": "buy", "volume": "0.01"},
        )
    finally:
        stop_mt5_sandbox(server)
    base, server = start_mt5_sandbox(state_path=path)
    try:
        api = RawClient(base)
        assert api.get("/api/test/access")[0] == 403  # sessions do not survive
        api.handshake()
        assert api.answer("/api/user/get", login=login)["Balance"] == "700.00"
        history = api.answer("/api/deal/get_batch", login=login, **ALL_TIME)
        assert [d["Deal"] for d in history][0] == ticket and history[0]["Comment"] == "kept"
        [position] = api.answer("/api/position/get_batch", login=login)
        assert position["PriceCurrent"] == "1.10000"
        assert add_user(api) == str(int(login) + 1)
    finally:
        stop_mt5_sandbox(server)


# --- user/update and the Rights that stop trading ------------------------------------------------

TRADE_DISABLED = 0x4  # IMTUser::EnUsersRights USER_RIGHT_TRADE_DISABLED
RIGHTS_DEFAULT = 0x163  # USER_RIGHT_DEFAULT: enabled, password, trailing, expert, reports


def test_user_update_changes_rights_and_leverage_as_documented(api):
    login = add_user(api, leverage="500")
    record = api.answer("/api/user/get", login=login)
    assert record["Rights"] == str(RIGHTS_DEFAULT) and record["Leverage"] == "500"
    updated = api.answer(
        "/api/user/update", login=login, rights=str(RIGHTS_DEFAULT | TRADE_DISABLED), leverage="30"
    )
    assert updated["Login"] == login and updated["Rights"] == str(RIGHTS_DEFAULT | TRADE_DISABLED)
    assert updated["Leverage"] == "30" and updated["Group"] == USD
    assert api.answer("/api/user/get", login=login) == updated
    assert api.answer("/api/user/account/get", login=login)["MarginLeverage"] == "30"
    # A POST's JSON body carries the record's fields and overrides the query.
    status, body = api.post(
        "/api/user/update", json.dumps({"Rights": str(RIGHTS_DEFAULT)}).encode(), login=login
    )
    assert status == 200 and body["answer"]["Rights"] == str(RIGHTS_DEFAULT)


def test_user_update_leaves_incorrect_values_and_refuses_an_unknown_login(api):
    login = add_user(api, leverage="100")
    # "If a parameter value is incorrect, the parameter does not change."
    same = api.answer("/api/user/update", login=login, leverage="0", rights="x", group="nope")
    assert (same["Leverage"], same["Rights"], same["Group"]) == ("100", str(RIGHTS_DEFAULT), USD)
    assert api.answer("/api/user/update", login=login, leverage="501")["Leverage"] == "100"
    status, body = api.get("/api/user/update", login="999999", leverage="30")
    assert body["retcode"] == "13 Not found"
    status, body = api.get("/api/user/update", leverage="30")
    assert body["retcode"] == "3 Invalid parameters"


def test_an_account_with_trading_disabled_opens_and_closes_nothing(api, mt5_sandbox):
    login = add_user(api)
    deposit(api, login, "10000.00")
    opened = control(
        mt5_sandbox, "POST", "trade", {"login": login, "symbol": "EURUSD", "side": "buy"}
    )
    api.answer("/api/user/update", login=login, rights=str(RIGHTS_DEFAULT | TRADE_DISABLED))
    refused = control(
        mt5_sandbox, "POST", "trade", {"login": login, "symbol": "EURUSD", "side": "sell"}
    )
    assert refused == {"retcode": "10017 Trade disabled"}
    assert control(mt5_sandbox, "POST", "trade", {"close": opened["position"]}) == refused
    control(mt5_sandbox, "POST", "profile", {"login": login, "profile": "active"})
    before = len(deals(api, login=login))
    control(mt5_sandbox, "POST", "tick", {"count": 60})
    assert len(deals(api, login=login)) == before  # the simulation leaves it alone
    api.answer("/api/user/update", login=login, rights=str(RIGHTS_DEFAULT))
    closed = control(mt5_sandbox, "POST", "trade", {"close": opened["position"]})
    assert closed["retcode"] == "0 Done"
