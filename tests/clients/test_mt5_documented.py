"""The MT5 adapter reads what MetaQuotes documents, not only what our sandbox sends.

A canned Web API server answers with the documentation's own examples
(`data/mt5_docs/answers.json`, see its README) and the adapter must read every one of them:
the password hash worked example, `Ticket` of trade/balance, the login of user/add, deals and
positions with `VolumeExt`. The authentication retcodes 1000-1023 are read by their meaning.
"""

import json
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from clients.platforms import PlatformAuthFailed, PlatformUnavailable, SymbolMap
from clients.platforms.mt5 import MT5WebAPI, password_hash, rand_answer
from clients.platforms.mt5_retcodes import AUTH_REFUSALS

DOCS = json.loads((Path(__file__).parent / "data" / "mt5_docs" / "answers.json").read_text())
AUTH = DOCS["auth"]


class Canned:
    """A Web API server answering the documentation's examples; `refuse` makes auth/start
    answer that retcode instead."""

    def __init__(self):
        canned = self
        self.refuse: str | None = None
        self.seen: list[str] = []
        self.queries: list[tuple[str, dict]] = []

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.do_GET()

            def do_GET(self):
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                canned.seen.append(url.path)
                canned.queries.append((url.path, query))
                self.reply(canned.answer(url.path, query))

            def reply(self, payload):
                body = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Set-Cookie", "session=canned; path=/")
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def answer(self, path: str, query: dict) -> dict:
        if path == "/api/auth/start":
            if self.refuse:
                return {"retcode": self.refuse}
            return AUTH["start"]
        if path == "/api/auth/answer":
            if query.get("srv_rand_answer") != AUTH["srv_rand_answer"]:
                return {"retcode": "1001 Invalid account"}
            proof = rand_answer(
                bytes.fromhex(AUTH["password_hash"]), bytes.fromhex(query["cli_rand"])
            )
            return {**AUTH["answer"], "cli_rand_answer": proof}
        return DOCS.get(path, {"retcode": "13 Not found"})

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def canned():
    server = Canned()
    yield server
    server.stop()


def adapter(url: str, password: str = AUTH["password"]) -> MT5WebAPI:
    symbols = SymbolMap({"EURUSD": [], "XAUUSD": []})
    return MT5WebAPI(url=url, login="1000", password=password, symbols=symbols, timeout=3)


def test_the_documented_password_hash_example():
    pw = password_hash(AUTH["password"])
    assert pw.hex() == AUTH["password_hash"]
    assert rand_answer(pw, bytes.fromhex(AUTH["srv_rand"])) == AUTH["srv_rand_answer"]
    assert rand_answer(pw, bytes.fromhex(AUTH["cli_rand"])) == AUTH["cli_rand_answer"]


def test_the_adapter_reads_every_documented_answer(canned):
    api = adapter(canned.url)
    # trade/balance answers {"Ticket": "136623"}: capitalised, as documented.
    assert api.balance_operation(login=764636, amount=Decimal("1000"), comment="deposit") == 136623
    # user/add: the record, and the login beside it.
    opened = api.account_create(
        group="demoforex",
        leverage=100,
        name="JohnSmith",
        email="j@example.test",
        country="US",
        password="1Ar#pqkj",
    )
    assert opened.login == 954402 and opened.currency == "USD" and opened.leverage == 100
    got = api.account_get(764636)
    assert (got.login, got.balance, got.equity) == (764636, Decimal("1000.00"), Decimal("1002.00"))

    since = datetime(2020, 10, 19, tzinfo=UTC)
    deals = api.deals(logins=[764636, 764637], since=since, until=since + timedelta(days=1))
    assert not deals.rejected
    first, second = deals.records
    assert (first.ticket, first.volume, first.lots) == (11918642, 1000, Decimal("0.1"))
    # A volume finer than Volume's 1/10000 lot: VolumeExt (1/100000000 lot) gives the lots.
    assert second.volume_ext == 1250 and second.lots == Decimal("0.0000125")
    positions = api.positions(logins=[764636])
    assert not positions.rejected
    assert [(p.position_id, p.symbol, p.lots) for p in positions.records] == [
        (618, "EURUSD", Decimal("0.1")),
        (617, "XAUUSD", Decimal("0.01")),
    ]


def test_user_update_is_sent_and_read_as_documented(canned):
    """`/api/user/update?login=&leverage=` (and `rights=`, a sum of IMTUser::EnUsersRights
    flags), answered with the record as it now stands."""
    from clients.platforms import PlatformRejected

    api = adapter(canned.url)
    info = api.account_update(login=954402, leverage=200)
    assert canned.queries[-1] == ("/api/user/update", {"login": "954402", "leverage": "200"})
    assert (info.login, info.leverage, info.rights) == (954402, 200, 2531)
    assert info.trading_disabled is False  # 2531 = 0x9E3: USER_RIGHT_TRADE_DISABLED (0x4) unset
    # Disabling trading sends the record's own rights with 0x4 set, nothing else changed...
    with pytest.raises(PlatformRejected) as refused:
        api.account_update(login=764636, trading_disabled=True)
    assert canned.queries[-2] == ("/api/user/get", {"login": "764636"})
    assert canned.queries[-1] == ("/api/user/update", {"login": "764636", "rights": "6631"})
    # ...and an answer showing the server kept the record as it was is a refusal, not a success.
    assert refused.value.code == "not_changed"


def test_an_undocumented_lower_case_ticket_is_not_taken_for_one(canned, monkeypatch):
    """The old sandbox's {"ticket": ...}: a real server never sends it, so an answer without
    `Ticket` is an operation whose ticket we do not know (to be looked up), never a guess."""
    from clients.platforms import PlatformOutcomeUnknown

    monkeypatch.setitem(
        DOCS, "/api/trade/balance", {"retcode": "0 Done", "answer": {"ticket": "1"}}
    )
    with pytest.raises(PlatformOutcomeUnknown):
        adapter(canned.url).balance_operation(login=1, amount=Decimal("1"), comment="x")


@pytest.mark.parametrize("code", range(1000, 1024))
def test_every_authentication_retcode_is_read_by_its_meaning(canned, code):
    canned.refuse = f"{code} Refused"
    with pytest.raises((PlatformAuthFailed, PlatformUnavailable)) as err:
        adapter(canned.url).account_get(1)
    refusal = AUTH_REFUSALS[code]
    assert isinstance(err.value, PlatformUnavailable) == refusal.transient
    assert refusal.message in err.value.message and str(code) in err.value.message
    if not refusal.transient:
        assert err.value.reason == refusal.reason and err.value.retcode == code


def test_meanings_operators_act_on_are_told_apart():
    reasons = {code: AUTH_REFUSALS[code].reason for code in (1001, 1002, 1010, 1012, 1022)}
    assert reasons == {
        1001: "bad_credentials",
        1002: "account_disabled",
        1010: "client_version_old",
        1012: "ip_not_allowed",
        1022: "too_many_connections",
    }
    assert AUTH_REFUSALS[1018].transient and AUTH_REFUSALS[1022].transient
    assert not AUTH_REFUSALS[1001].transient


def test_the_sandbox_refuses_as_documented(mt5_sandbox):
    wrong = MT5WebAPI(url=mt5_sandbox.url, login="1000", password="Wrong#123", timeout=3)
    with pytest.raises(PlatformAuthFailed) as err:
        wrong.account_get(1)
    assert err.value.retcode == 1001 and err.value.reason == "bad_credentials"

    right = MT5WebAPI(url=mt5_sandbox.url, login="1000", password=mt5_sandbox.password, timeout=3)
    assert mt5_sandbox.control("POST", "faults", {"auth": {"retcode": 1002}})[0] == 200
    with pytest.raises(PlatformAuthFailed) as err:
        right.account_get(1)
    assert err.value.reason == "account_disabled" and "disabled" in err.value.message
    assert mt5_sandbox.control("POST", "faults", {"auth": {"retcode": 1018}})[0] == 200
    with pytest.raises(PlatformUnavailable):
        right.account_get(1)


def test_a_group_the_server_does_not_have_is_a_refusal_not_a_dead_session(mt5_sandbox):
    """user/add into an unknown group answers 8 on a live session (MetaQuotes): the adapter
    tries a fresh session once, then reports the request refused, not our credentials."""
    from clients.platforms import PlatformRejected

    api = MT5WebAPI(url=mt5_sandbox.url, login="1000", password=mt5_sandbox.password, timeout=3)
    with pytest.raises(PlatformRejected) as err:
        api.account_create(
            group="real\\no-such",
            leverage=100,
            name="N",
            email="n@x.test",
            country="CY",
            password="Pw1#aaaa",
        )
    assert err.value.code == "not_permitted" and "group" in err.value.message
    assert api.account_find(group="real\\standard-usd", comment="none") is None  # still in
