r"""A MetaTrader 5 Web API server: the subset the product uses, with simulated trading, state
persisted in sqlite, and fault injection. This docstring is the contract's home: the product's
adapter (clients/platforms/) speaks exactly the contract below, and this server implements it.

# MT5 Web API contract (the subset the product uses; the sandbox implements it, the adapter speaks it)

Transport: HTTP(S), JSON answers. Every answer: {"retcode": "<code> <text>", "answer": ...}.
Calls are GETs with query parameters, or POSTs whose JSON object body carries record fields
(PassMain, PassInvestor, Login, Type, Password, Group, Name, Leverage, Email, Country, Comment)
standing for the parameters of the same meaning; the product sends passwords only that way.
ALL numbers in answers are JSON strings ("Login": "500012", "Balance": "1000.00", "Volume": "10000").
Times are SERVER-LOCAL epoch seconds (i.e. the wall-clock time in the server's time zone, written as if
it were UTC epoch) — `Time`, `TimeCreate`, `TimeUpdate`, `Registration`; `TimeMsc` is the same in ms.
The sandbox server's zone is SANDBOX_MT5_TIMEZONE (IANA name, default "Europe/Athens", i.e. UTC+2/UTC+3).
Request parameters `from`/`to` are server-local epoch seconds too.

Retcodes (text after the number is informative):
  "0 Done"                        success
  "3 Invalid parameters"          missing/bad parameter, unknown group
  "8 Not enough permissions"      HTTP 403: no session / session expired (client must re-authenticate)
  "13 Not found"                  unknown login / path (HTTP 404 for unknown path)
  "1001 Invalid account"          auth: wrong login
  "1002 Invalid password"         auth: wrong password answer   (MT_RET_AUTH_*)
  "10019 Not enough money"        trade/balance withdrawal beyond free margin (check_margin=1), or a
                                  simulated order without margin

Auth (exists already in sandbox/mt5.py; keep it; change failure retcodes to 1001/1002 as above):
  GET /api/auth/start?version=484&agent=<name>&login=<manager>&type=manager -> {"retcode","version_access","srv_rand"} + session cookie
  GET /api/auth/answer?srv_rand_answer=&cli_rand=  -> {"retcode","cli_rand_answer"}
  pw = MD5(MD5(utf16le(password)) + b"WebAPI"); srv_rand_answer = hex(MD5(pw + bytes(srv_rand)));
  cli_rand_answer = hex(MD5(pw + cli_rand)).
  Sessions expire after SANDBOX_MT5_SESSION_IDLE seconds without a request (default 600); an expired
  or unknown session gets HTTP 403 {"retcode": "8 Not enough permissions"}.
  GET /api/test/access -> {"retcode":"0 Done"} (keep-alive)

Users:
  GET /api/user/add?pass_main=&pass_investor=&group=&name=&leverage=&email=&country=&comment=
      Server assigns Login (sequential from 500001). group must be one of the server's groups:
      "real\\standard-usd" (USD), "real\\standard-eur" (EUR), "real\\pro-usd" (USD), "demo\\forex-usd" (USD).
      leverage: 1..1000. pass_main, pass_investor: 8-16 characters with lower and upper case
      letters and digits. comment: <= 64 chars. -> answer: user record. NO idempotency: sent twice, it opens two
      accounts (that is why the client looks the account up by its comment after a timeout).
  GET /api/user/get?login=   -> answer: user record    ("13 Not found" for unknown login)
  GET /api/user/get_batch?login=1,2,3 and/or &group=<mask> -> answer: list of user records
  GET /api/user/logins?group=<mask>  -> answer: list of logins (strings), ascending
  GET /api/user/change_password?login=&type=main|investor&password=  -> {"retcode": "0 Done"}
      (same password rule as user/add; "13 Not found" for an unknown login)
  GET /api/user/check_password?login=&type=main|investor&password=  -> {"retcode": "0 Done"}, or
      "3006 Invalid password"
  user record: {"Login","Group","Name","Email","Country","Leverage","Balance","Credit","Registration",
                "LastAccess","Comment"}
  GET /api/user/account/get?login=  -> answer: account record
  GET /api/user/account/get_batch?login=1,2,3   (comma-separated, up to 1000) and/or &group=<mask>
      -> answer: list of account records (unknown logins simply absent)
  account record: {"Login","CurrencyDigits":"2","Balance","Credit","Margin","MarginFree","MarginLevel",
                   "MarginLeverage","Profit","Storage","Floating","Equity"}
  (Equity = Balance + Credit + floating Profit + Storage of open positions; Margin from open positions
   volume*contract*price/leverage, MarginFree = Equity - Margin.)
  Group currency: the account's currency is its group's (see groups above); GET /api/group/get?group=
  -> answer {"Group","Currency","CurrencyDigits":"2"} (small, needed so a client can learn currency).

Balance operations:
  GET /api/trade/balance?login=&type=2&balance=<signed decimal, 2 dp>&comment=<<=32 chars>&check_margin=1
      positive deposits, negative withdraws. Writes a deal with Action=2 (balance), Symbol "",
      Profit=<amount>, Comment=<comment>, Volume "0", Price "0". -> answer {"ticket": "<deal ticket>"}
      negative beyond MarginFree with check_margin=1 -> "10019 Not enough money", nothing written.
      comment longer than 32 chars -> "3 Invalid parameters". NO idempotency: the same request twice
      makes two deals (that is why the client looks the ticket up by comment after a timeout).

Deals:
  GET /api/deal/get_batch?login=1,2,3&group=<mask>&from=<srv epoch>&to=<srv epoch>[&ticket=1,2]
      login and/or group (mask with * e.g. "real\\*", "*"); from/to inclusive on Time.
      -> answer: list of deal records sorted by Deal (ticket) ascending.
  deal record: {"Deal","Login","Order","Time","TimeMsc","Action" (0 buy,1 sell,2 balance),
                "Entry" (0 in,1 out,2 inout,3 out_by),"Symbol","Volume" (1/10000 lot: 1 lot = "10000"),
                "Price","Profit","Storage" (swap),"Commission","PositionID","Comment"}
      Deal tickets are unique and increasing across the server.

Positions:
  GET /api/position/get_batch?login=1,2,3&group=<mask>
      -> answer: list of {"Position","Login","Symbol","Action" (0 buy,1 sell),"TimeCreate","TimeUpdate",
                          "PriceOpen","PriceCurrent","PriceSL","PriceTP","Volume","Profit","Storage"}

Symbols: the server's symbol names carry broker suffixes: "EURUSD", "GBPUSD", "USDJPY", "XAUUSD.m",
"US30.cash", "BTCUSD.pro". (The product normalises XAUUSD.m -> XAUUSD etc.)

---------------------------------------------------------------------------------------------------
Sandbox notes (not part of the MT5 protocol)

The server keeps its state in sqlite (`state_path`, or in memory); accounts, balances, deals,
positions and prices survive a restart. Sessions, request counters and faults live in memory.
Where it is simpler than a real MT5 server: one price per symbol (no spread), swap is charged per
server-local midnight held (no triple Wednesday), commission is charged on the closing deal,
margin is volume * contract * price / leverage for every symbol, no stop-out. A planted raw deal
(below) changes the balance by its Profit + Storage + Commission where those parse as numbers.
`max_rps` > 0 limits each session to that many requests per one-second window; the others are
answered "12 Too frequent requests" (off by default).

Control endpoints (JSON in and out, no auth) under /_sandbox/mt5/; errors are HTTP 4xx
{"error": code, "detail": text}; the ids they take and return are JSON numbers:

  POST reset      {}  wipe accounts, deals, positions, prices, request counters and faults
                  (sessions stay)
  GET  state      -> {"accounts", "deals", "positions", "requests": {api path: count since reset},
                  "rejected_frequent", "faults": [...], "sessions", "simulate": {"running",
                  "tick_seconds", "refused"}, "prices": {symbol: price}, "timezone"}
  POST faults     {"drop_after_write": {"path", "count"=1}}  execute and store, then close the
                  socket without answering; {"slow": {"path", "seconds"=5, "count"=1}} answer
                  after a delay (after executing); {"malformed": {"path", "count"=1}} the answer
                  body is invalid JSON; each of these may also be a list of such objects, and
                  "path" "*" matches every /api/ path; {"expire_sessions": true} every current
                  session dies now; {"clear": true} disarm all. Keys combine. -> {"faults": [...]}
  POST deal       {"login", "raw": {...}, "exact": false}  plant a deal whose answer record is
                  `raw` ("Deal" is added when absent, with the assigned ticket, and "Time" = now
                  when absent; "exact": true adds nothing) -> {"ticket"}
  POST trade      {"login", "symbol", "side": "buy"|"sell", "volume": "0.10" (lots),
                  "profit": "-25.00" (optional: open and close at once with exactly that profit),
                  "at": UTC epoch (optional, backdated)} -> {"retcode", "deals": [tickets],
                  "position"}; {"close": position} closes at market -> same shape. Margin-checked:
                  {"retcode": "10019 Not enough money"} (HTTP 200) and nothing written.
  POST prices     {"EURUSD": "1.09000", ...}  set current prices -> {"prices": {...}}
  POST history    {"login", "days"=30, "profile" (default: the account's), "trades" (optional),
                  "quiet_days" (optional; a quiet profile defaults to days // 3), "deposit"
                  (optional, default "10000.00": credited at the window's start when the balance
                  then is under 100)} -> {"trades", "deals", "deposit", "balance", "profile"}.
                  Open/close pairs, no overlap, balance never negative; a losing profile's last 3
                  closed trades are losses; no deal in the last quiet_days. Sets the profile.
  POST profile    {"login", "profile": "active"|"losing"|"winner"|"quiet"|null} -> {"profile"}
  POST simulate   {"running": bool, "tick_seconds": x} -> {"running", "tick_seconds"}
  POST tick       {"count"=1}  run simulation ticks now (also when not running) -> {"deals"}
  POST bulk       {"accounts"=100, "deals_per_account"=50, "days"=30,
                  "group"="real\\standard-usd", "balance"="5000.00", "leverage"=100,
                  "quiet_days"=0, "loss_bias"=0.02}  accounts with a deposit deal and a trade
                  history (deals_per_account deals each, the deposit included; an odd remainder
                  leaves one position open unless quiet) ending quiet_days ago; loss_bias tilts
                  each trade's result towards a loss
                  -> {"logins": [first, last], "deals": n}
"""  # noqa: E501

import hashlib
import json
import logging
import os
import random
import re
import secrets
import sqlite3
import threading
import time
import zlib
from collections import Counter
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse
from zoneinfo import ZoneInfo

log = logging.getLogger("sandbox.mt5")

RET_OK = "0 Done"
RET_ERROR = "2 Common error"
RET_BAD_PARAMS = "3 Invalid parameters"
RET_NO_PERMISSIONS = "8 Not enough permissions"
RET_FREQUENT = "12 Too frequent requests"
RET_NOT_FOUND = "13 Not found"
RET_INVALID_ACCOUNT = "1001 Invalid account"
RET_INVALID_PASSWORD = "1002 Invalid password"
RET_USER_PASSWORD = "3006 Invalid password"
RET_NO_MONEY = "10019 Not enough money"

CONTROL_PREFIX = "/_sandbox/mt5/"
FIRST_LOGIN = 500001
FIRST_DEAL = 1001
FIRST_ORDER = 300001
MAX_BATCH_LOGINS = 1000
MAX_COMMENT = 32
MAX_USER_COMMENT = 64

GROUPS = {
    "real\\standard-usd": "USD",
    "real\\standard-eur": "EUR",
    "real\\pro-usd": "USD",
    "demo\\forex-usd": "USD",
}
PROFILES = ("active", "losing", "winner", "quiet")


@dataclass(frozen=True)
class Symbol:
    name: str
    digits: int
    contract: float
    quote: str  # profit currency
    start: float
    volatility: float  # standard deviation of one simulation tick's relative move
    swap: float  # USD per lot per night held (a cost)
    commission: float  # USD per lot, charged on the closing deal


SYMBOLS = {
    s.name: s
    for s in (
        Symbol("EURUSD", 5, 100_000, "USD", 1.08500, 0.00015, 7.0, 7.0),
        Symbol("GBPUSD", 5, 100_000, "USD", 1.27000, 0.00018, 5.0, 7.0),
        Symbol("USDJPY", 3, 100_000, "JPY", 151.500, 0.00015, 3.0, 7.0),
        Symbol("XAUUSD.m", 2, 100, "USD", 2350.00, 0.0003, 25.0, 7.0),
        Symbol("US30.cash", 2, 1, "USD", 39000.00, 0.0003, 3.0, 0.0),
        Symbol("BTCUSD.pro", 2, 1, "USD", 65000.00, 0.0008, 40.0, 30.0),
    )
}
LOT_CHOICES = (100, 100, 200, 300, 500, 1000, 1000, 2000, 5000, 10000)  # volume, 1/10000 lot

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    login INTEGER PRIMARY KEY, grp TEXT NOT NULL, name TEXT NOT NULL, email TEXT NOT NULL,
    country TEXT NOT NULL, leverage INTEGER NOT NULL, balance INTEGER NOT NULL DEFAULT 0,
    credit INTEGER NOT NULL DEFAULT 0, registration INTEGER NOT NULL,
    last_access INTEGER NOT NULL, pw_hash TEXT NOT NULL DEFAULT '', profile TEXT,
    comment TEXT NOT NULL DEFAULT '', pw_investor TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS users_grp ON users(grp);
CREATE TABLE IF NOT EXISTS deals (
    deal INTEGER PRIMARY KEY, login INTEGER NOT NULL, ord INTEGER NOT NULL, time INTEGER NOT NULL,
    time_msc INTEGER NOT NULL, action INTEGER NOT NULL, entry INTEGER NOT NULL,
    symbol TEXT NOT NULL, volume INTEGER NOT NULL, price REAL NOT NULL, profit INTEGER NOT NULL,
    storage INTEGER NOT NULL, commission INTEGER NOT NULL, position_id INTEGER NOT NULL,
    comment TEXT NOT NULL, raw TEXT
);
CREATE INDEX IF NOT EXISTS deals_time ON deals(time);
CREATE INDEX IF NOT EXISTS deals_login_time ON deals(login, time);
CREATE TABLE IF NOT EXISTS positions (
    position INTEGER PRIMARY KEY, login INTEGER NOT NULL, symbol TEXT NOT NULL,
    action INTEGER NOT NULL, time_create INTEGER NOT NULL, time_update INTEGER NOT NULL,
    price_open REAL NOT NULL, volume INTEGER NOT NULL, sl REAL NOT NULL DEFAULT 0,
    tp REAL NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS positions_login ON positions(login);
CREATE TABLE IF NOT EXISTS seq (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS prices (symbol TEXT PRIMARY KEY, price REAL NOT NULL);
"""
# deals(deal) is the table's INTEGER PRIMARY KEY (its rowid b-tree): the ticket index.
DEAL_COLS = (
    "deal, login, ord, time, time_msc, action, entry, symbol, volume, price, profit, storage, "
    "commission, position_id, comment, raw"
)
POSITION_COLS = (
    "position, login, symbol, action, time_create, time_update, price_open, volume, sl, tp"
)
USER_COLS = (
    "login, grp, name, email, country, leverage, balance, credit, registration, last_access, "
    "profile, comment"
)
# The columns above are fixed names; only values are bound.
SELECT_USER = f"SELECT {USER_COLS} FROM users WHERE login = ?"  # noqa: S608
SELECT_USERS_IN = (
    f"SELECT {USER_COLS} FROM users WHERE login IN (SELECT value FROM json_each(?)) ORDER BY login"  # noqa: S608
)
SELECT_POSITION = f"SELECT {POSITION_COLS} FROM positions WHERE position = ?"  # noqa: S608
SELECT_POSITIONS_IN = (
    f"SELECT {POSITION_COLS} FROM positions WHERE login IN (SELECT value FROM json_each(?)) "  # noqa: S608
    "ORDER BY position"
)
SELECT_DEALS_WHERE = f"SELECT {DEAL_COLS} FROM deals WHERE "  # noqa: S608
INSERT_DEAL = f"INSERT INTO deals ({DEAL_COLS}) VALUES ({','.join('?' * 16)})"  # noqa: S608
INSERT_DEAL_NO_RAW = f"INSERT INTO deals ({DEAL_COLS}) VALUES ({','.join('?' * 15)},NULL)"  # noqa: S608
INSERT_POSITION = f"INSERT INTO positions ({POSITION_COLS}) VALUES (?,?,?,?,?,?,?,?,0,0)"  # noqa: S608


# A POST's JSON body names the record's fields (PascalCase); they stand for these parameters.
BODY_FIELDS = {
    "PassMain": "pass_main",
    "PassInvestor": "pass_investor",
    "Login": "login",
    "Type": "type",
    "Password": "password",
    "Group": "group",
    "Name": "name",
    "Leverage": "leverage",
    "Email": "email",
    "Country": "country",
    "Comment": "comment",
}


def body_params(method: str, body: bytes) -> dict:
    """The parameters a POST's JSON object body carries (they override the query's)."""
    if method != "POST" or not body:
        return {}
    try:
        record = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(RET_BAD_PARAMS) from None
    if not isinstance(record, dict):
        raise ApiError(RET_BAD_PARAMS)
    return {BODY_FIELDS[k]: str(v) for k, v in record.items() if k in BODY_FIELDS}


def valid_password(password: str) -> bool:
    """MT5's rule for account passwords: 8 to 16 characters with lower and upper case letters
    and digits."""
    kinds = (str.islower, str.isupper, str.isdigit)
    return 8 <= len(password) <= 16 and all(any(test(c) for c in password) for test in kinds)


def password_hash(password: str) -> bytes:
    inner = hashlib.md5(password.encode("utf-16-le")).digest()  # noqa: S324 (MT5 protocol)
    return hashlib.md5(inner + b"WebAPI").digest()  # noqa: S324 (MT5 protocol)


def rand_answer(pw_hash: bytes, rand: bytes) -> str:
    return hashlib.md5(pw_hash + rand).hexdigest()  # noqa: S324 (protocol)


def money(cents: int) -> str:
    return f"{cents / 100:.2f}"


def default_profile(login: int) -> str:
    """The behaviour profile an account has unless one is set: stable per login."""
    bucket = zlib.crc32(str(login).encode()) % 20
    return (
        "active"
        if bucket < 8
        else "losing"
        if bucket < 13
        else "winner"
        if bucket < 16
        else "quiet"
    )


def groups_matching(mask: str) -> list[str]:
    """The server's groups an MT5 group mask selects: `*` wildcards, comma-separated masks,
    `!mask` excludes; case-insensitive."""
    include, exclude = [], []
    for part in mask.split(","):
        part = part.strip()
        if not part:
            continue
        negative = part.startswith("!")
        pattern = part[1:] if negative else part
        rx = re.compile("^" + re.escape(pattern).replace(r"\*", ".*") + "$", re.IGNORECASE)
        (exclude if negative else include).append(rx)
    return [
        g
        for g in GROUPS
        if any(rx.match(g) for rx in include) and not any(rx.match(g) for rx in exclude)
    ]


class ApiError(Exception):
    def __init__(self, retcode: str, status: int = 200):
        super().__init__(retcode)
        self.retcode = retcode
        self.status = status


class ControlError(Exception):
    def __init__(self, status: int, code: str, detail: str):
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail


def bad(detail: str, code: str = "invalid") -> ControlError:
    return ControlError(400, code, detail)


def parse_cents(text, *, api: bool = True) -> int:
    """A signed decimal with at most 2 decimals, as cents."""
    try:
        value = Decimal(str(text).strip())
    except (InvalidOperation, ValueError):
        value = None
    if value is None or not value.is_finite() or (value * 100) % 1:
        if api:
            raise ApiError(RET_BAD_PARAMS)
        raise bad(f"not an amount with 2 decimals: {text!r}")
    return int(value * 100)


def int_param(q: dict, name: str, *, required: bool = True, default: int | None = None) -> int:
    raw = q.get(name)
    if raw is None or raw.strip() == "":
        if required:
            raise ApiError(RET_BAD_PARAMS)
        return default
    try:
        return int(raw)
    except ValueError:
        raise ApiError(RET_BAD_PARAMS) from None


def list_param(q: dict, name: str, limit: int | None = None) -> list[int] | None:
    raw = q.get(name)
    if raw is None or raw.strip() == "":
        return None
    try:
        values = [int(part) for part in raw.split(",") if part.strip()]
    except ValueError:
        raise ApiError(RET_BAD_PARAMS) from None
    if limit is not None and len(values) > limit:
        raise ApiError(RET_BAD_PARAMS)
    return values


@dataclass
class Reply:
    status: int
    payload: object
    cookie: str | None = None
    drop: bool = False
    slow: float = 0.0
    malformed: bool = False


class MT5State:
    """Everything the server knows. One sqlite connection guarded by `lock`."""

    def __init__(
        self,
        login: str,
        password: str,
        *,
        state_path: str | os.PathLike | None = None,
        timezone: str = "Europe/Athens",
        session_idle: float = 600,
        max_rps: int = 0,
        tick_seconds: float = 2.0,
        seed: int | None = None,
    ):
        self.login = str(login)
        self.pw_hash = password_hash(password)
        self.tz = ZoneInfo(timezone)
        self.timezone = timezone
        self.session_idle = float(session_idle)
        self.max_rps = int(max_rps)
        self.tick_seconds = float(tick_seconds)
        self.lock = threading.RLock()
        self.rng = random.Random(seed)
        self.pending: dict[str, tuple[bytes, float]] = {}  # session -> (srv_rand, started)
        self.sessions: dict[str, float] = {}  # session -> last request (monotonic)
        self.windows: dict[str, list] = {}  # session -> [second, requests in it]
        self.requests: Counter = Counter()
        self.rejected_frequent = 0
        self.sim_refused = 0
        self.faults: list[dict] = []
        self.sim_running = False
        self._sim_thread: threading.Thread | None = None
        self._closed = threading.Event()
        if state_path:
            Path(state_path).parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(
            str(state_path) if state_path else ":memory:",
            check_same_thread=False,
            isolation_level=None,
        )
        if state_path:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)
        # A state file from before a column was added gets it (sqlite has no ADD IF NOT EXISTS).
        have = {row[1] for row in self.db.execute("PRAGMA table_info(users)")}
        for column in ("comment", "pw_investor"):
            if column not in have:
                self.db.execute(f"ALTER TABLE users ADD COLUMN {column} TEXT NOT NULL DEFAULT ''")
        self.prices = {name: s.start for name, s in SYMBOLS.items()}
        self.prices.update(dict(self.db.execute("SELECT symbol, price FROM prices")))

    # --- plumbing ---------------------------------------------------------------------------

    @contextmanager
    def _tx(self):
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")

    def close(self) -> None:
        self._closed.set()
        if self._sim_thread is not None:
            self._sim_thread.join(timeout=10)
        with self.lock:
            self.db.close()

    def srv_time(self, utc: float | None = None) -> float:
        """Server-local epoch: the wall clock in the server's zone written as if it were UTC."""
        utc = time.time() if utc is None else utc
        return utc + datetime.fromtimestamp(utc, self.tz).utcoffset().total_seconds()

    def _alloc(self, db, name: str, first: int, count: int = 1) -> int:
        row = db.execute("SELECT value FROM seq WHERE name = ?", (name,)).fetchone()
        value = row[0] if row else first
        db.execute("INSERT OR REPLACE INTO seq (name, value) VALUES (?, ?)", (name, value + count))
        return value

    @staticmethod
    def _next_deal(db) -> int:
        top = db.execute("SELECT MAX(deal) FROM deals").fetchone()[0]
        return FIRST_DEAL if top is None else top + 1

    def _usd_value(self, currency: str) -> float:
        if currency == "EUR":
            return self.prices["EURUSD"]
        if currency == "GBP":
            return self.prices["GBPUSD"]
        if currency == "JPY":
            return 1 / self.prices["USDJPY"]
        return 1.0

    def _conv(self, source: str, target: str) -> float:
        return 1.0 if source == target else self._usd_value(source) / self._usd_value(target)

    def _user(self, db, login) -> dict | None:
        row = db.execute(SELECT_USER, (login,)).fetchone()
        return dict(zip(USER_COLS.split(", "), row, strict=True)) if row else None

    def _positions(self, db, logins: list[int]) -> list[tuple]:
        return db.execute(
            SELECT_POSITIONS_IN,
            (json.dumps(logins),),
        ).fetchall()

    def _figures(self, pos: tuple, currency: str, leverage: int, now: int) -> tuple:
        """(profit, storage, margin) in cents of the account currency, and the current price."""
        _, _, symbol, action, created, _, price_open, volume, _, _ = pos
        spec = SYMBOLS[symbol]
        price = self.prices[symbol]
        lots = volume / 10000
        conv = self._conv(spec.quote, currency)
        move = (price - price_open) if action == 0 else (price_open - price)
        profit = round(move * lots * spec.contract * conv * 100)
        nights = max(0, now // 86400 - created // 86400)
        storage = -round(spec.swap * lots * nights * self._conv("USD", currency) * 100)
        margin = round(lots * spec.contract * price / max(leverage, 1) * conv * 100)
        return profit, storage, margin, price

    def _account(self, user: dict, positions: list[tuple], now: int) -> dict:
        currency = GROUPS.get(user["grp"], "USD")
        profit = storage = margin = 0
        for pos in positions:
            p, s, m, _ = self._figures(pos, currency, user["leverage"], now)
            profit, storage, margin = profit + p, storage + s, margin + m
        equity = user["balance"] + user["credit"] + profit + storage
        return {
            "balance": user["balance"],
            "credit": user["credit"],
            "profit": profit,
            "storage": storage,
            "margin": margin,
            "equity": equity,
            "free": equity - margin,
            "level": equity / margin * 100 if margin else 0.0,
        }

    def _free_margin(self, db, user: dict, now: int) -> int:
        return self._account(user, self._positions(db, [user["login"]]), now)["free"]

    def _insert_deal(self, db, row: tuple) -> int:
        ticket = self._next_deal(db)
        db.execute(
            INSERT_DEAL,
            (ticket, *row),
        )
        return ticket

    def _change_balance(self, db, login: int, cents: int, now: int) -> None:
        db.execute(
            "UPDATE users SET balance = balance + ?, last_access = ? WHERE login = ?",
            (cents, now, login),
        )

    # --- sessions, counters, faults -----------------------------------------------------------

    def count(self, path: str) -> None:
        with self.lock:
            self.requests[path] += 1

    def auth_start(self, q: dict) -> Reply:
        if q.get("type") != "manager":
            return Reply(200, {"retcode": RET_BAD_PARAMS})
        if q.get("login") != self.login:
            return Reply(200, {"retcode": RET_INVALID_ACCOUNT})
        sid, srv_rand = secrets.token_hex(16), secrets.token_bytes(16)
        with self.lock:
            horizon = time.monotonic() - max(self.session_idle, 60)
            for stale in [k for k, (_, t) in self.pending.items() if t < horizon]:
                del self.pending[stale]
            self.pending[sid] = (srv_rand, time.monotonic())
        return Reply(
            200,
            {"retcode": RET_OK, "version_access": "4150", "srv_rand": srv_rand.hex()},
            cookie=sid,
        )

    def auth_answer(self, q: dict, sid: str | None) -> Reply:
        with self.lock:
            pending = self.pending.pop(sid, None) if sid else None
        if pending is None or "cli_rand" not in q:
            return Reply(200, {"retcode": RET_BAD_PARAMS})
        if q.get("srv_rand_answer", "").lower() != rand_answer(self.pw_hash, pending[0]):
            return Reply(200, {"retcode": RET_INVALID_PASSWORD})
        try:
            cli_rand = bytes.fromhex(q["cli_rand"])
        except ValueError:
            return Reply(200, {"retcode": RET_BAD_PARAMS})
        with self.lock:
            self.sessions[sid] = time.monotonic()
        return Reply(
            200, {"retcode": RET_OK, "cli_rand_answer": rand_answer(self.pw_hash, cli_rand)}
        )

    def authorize(self, sid: str | None) -> Reply | None:
        """None when the session may go on; else the refusal."""
        now = time.monotonic()
        with self.lock:
            last = self.sessions.get(sid) if sid else None
            if last is not None and self.session_idle > 0 and now - last > self.session_idle:
                del self.sessions[sid]
                self.windows.pop(sid, None)
                last = None
            if last is None:
                return Reply(403, {"retcode": RET_NO_PERMISSIONS})
            self.sessions[sid] = now
            if self.max_rps > 0:
                second = int(now)
                window = self.windows.get(sid)
                if window is None or window[0] != second:
                    window = self.windows[sid] = [second, 0]
                window[1] += 1
                if window[1] > self.max_rps:
                    self.rejected_frequent += 1
                    return Reply(200, {"retcode": RET_FREQUENT})
        return None

    def take_faults(self, path: str) -> dict:
        """The armed faults this request consumes, by kind."""
        found: dict = {}
        with self.lock:
            for fault in self.faults:
                if fault["kind"] in found or fault["count"] <= 0:
                    continue
                if fault["path"] == path or (fault["path"] == "*" and path.startswith("/api/")):
                    fault["count"] -= 1
                    found[fault["kind"]] = fault
            self.faults = [f for f in self.faults if f["count"] > 0]
        return found

    # --- the Web API --------------------------------------------------------------------------

    def api(self, path: str, q: dict) -> dict:
        handler = self.API.get(path)
        if handler is None:
            raise ApiError(RET_NOT_FOUND, 404)
        return handler(self, q)

    def api_test_access(self, q: dict) -> dict:
        return {"retcode": RET_OK}

    @staticmethod
    def _user_record(u: dict) -> dict:
        return {
            "Login": str(u["login"]),
            "Group": u["grp"],
            "Name": u["name"],
            "Email": u["email"],
            "Country": u["country"],
            "Leverage": str(u["leverage"]),
            "Balance": money(u["balance"]),
            "Credit": money(u["credit"]),
            "Registration": str(u["registration"]),
            "LastAccess": str(u["last_access"]),
            "Comment": u["comment"],
        }

    @staticmethod
    def _account_record(u: dict, a: dict) -> dict:
        return {
            "Login": str(u["login"]),
            "CurrencyDigits": "2",
            "Balance": money(a["balance"]),
            "Credit": money(a["credit"]),
            "Margin": money(a["margin"]),
            "MarginFree": money(a["free"]),
            "MarginLevel": f"{a['level']:.2f}",
            "MarginLeverage": str(u["leverage"]),
            "Profit": money(a["profit"]),
            "Storage": money(a["storage"]),
            "Floating": money(a["profit"] + a["storage"]),
            "Equity": money(a["equity"]),
        }

    def api_user_add(self, q: dict) -> dict:
        group = q.get("group", "")
        if group not in GROUPS or not valid_password(q.get("pass_main", "")):
            raise ApiError(RET_BAD_PARAMS)
        if "pass_investor" in q and not valid_password(q["pass_investor"]):
            raise ApiError(RET_BAD_PARAMS)
        if len(q.get("comment", "")) > MAX_USER_COMMENT:
            raise ApiError(RET_BAD_PARAMS)
        leverage = int_param(q, "leverage")
        if not 1 <= leverage <= 1000:
            raise ApiError(RET_BAD_PARAMS)
        now = int(self.srv_time())
        with self._tx() as db:
            top = db.execute("SELECT MAX(login) FROM users").fetchone()[0]
            login = FIRST_LOGIN if top is None else top + 1
            db.execute(
                "INSERT INTO users (login, grp, name, email, country, leverage, registration, "
                "last_access, pw_hash, pw_investor, comment) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    login,
                    group,
                    q.get("name", ""),
                    q.get("email", ""),
                    q.get("country", ""),
                    leverage,
                    now,
                    now,
                    password_hash(q["pass_main"]).hex(),
                    password_hash(q.get("pass_investor", "")).hex(),
                    q.get("comment", ""),
                ),
            )
            user = self._user(db, login)
        return {"retcode": RET_OK, "answer": self._user_record(user)}

    def api_user_get(self, q: dict) -> dict:
        login = int_param(q, "login")
        with self.lock:
            user = self._user(self.db, login)
        if user is None:
            raise ApiError(RET_NOT_FOUND)
        return {"retcode": RET_OK, "answer": self._user_record(user)}

    def api_user_get_batch(self, q: dict) -> dict:
        with self.lock:
            logins = self._selected_logins(self.db, q, MAX_BATCH_LOGINS)
            users = [
                self._user_record(dict(zip(USER_COLS.split(", "), row, strict=True)))
                for row in self.db.execute(SELECT_USERS_IN, (json.dumps(logins),))
            ]
        return {"retcode": RET_OK, "answer": users}

    def api_user_logins(self, q: dict) -> dict:
        mask = q.get("group")
        if not mask:
            raise ApiError(RET_BAD_PARAMS)
        with self.lock:
            logins = self._selected_logins(self.db, {"group": mask})
        return {"retcode": RET_OK, "answer": [str(n) for n in logins]}

    def api_user_change_password(self, q: dict) -> dict:
        login = int_param(q, "login")
        kind = q.get("type", "main")
        password = q.get("password", "")
        if kind not in ("main", "investor") or not valid_password(password):
            raise ApiError(RET_BAD_PARAMS)
        column = "pw_hash" if kind == "main" else "pw_investor"
        with self._tx() as db:
            changed = db.execute(
                f"UPDATE users SET {column} = ? WHERE login = ?",  # noqa: S608 (fixed names)
                (password_hash(password).hex(), login),
            ).rowcount
        if not changed:
            raise ApiError(RET_NOT_FOUND)
        return {"retcode": RET_OK}

    def api_user_check_password(self, q: dict) -> dict:
        login = int_param(q, "login")
        kind = q.get("type", "main")
        if kind not in ("main", "investor"):
            raise ApiError(RET_BAD_PARAMS)
        column = "pw_hash" if kind == "main" else "pw_investor"
        with self.lock:
            row = self.db.execute(
                f"SELECT {column} FROM users WHERE login = ?",  # noqa: S608 (fixed names)
                (login,),
            ).fetchone()
        if row is None:
            raise ApiError(RET_NOT_FOUND)
        if row[0] != password_hash(q.get("password", "")).hex():
            raise ApiError(RET_USER_PASSWORD)
        return {"retcode": RET_OK}

    def _selected_logins(self, db, q: dict, limit: int | None = None) -> list[int]:
        """login=1,2,3 and/or group=<mask>: the union, existing accounts only."""
        logins = list_param(q, "login", limit)
        mask = q.get("group")
        if logins is None and not mask:
            raise ApiError(RET_BAD_PARAMS)
        found: set[int] = set()
        if logins:
            found.update(
                r[0]
                for r in db.execute(
                    "SELECT login FROM users WHERE login IN (SELECT value FROM json_each(?))",
                    (json.dumps(logins),),
                )
            )
        if mask:
            groups = groups_matching(mask)
            found.update(
                r[0]
                for r in db.execute(
                    "SELECT login FROM users WHERE grp IN (SELECT value FROM json_each(?))",
                    (json.dumps(groups),),
                )
            )
        return sorted(found)

    def _accounts(self, db, logins: list[int]) -> list[dict]:
        now = int(self.srv_time())
        users = [
            dict(zip(USER_COLS.split(", "), row, strict=True))
            for row in db.execute(
                SELECT_USERS_IN,
                (json.dumps(logins),),
            )
        ]
        by_login: dict[int, list] = {}
        for pos in self._positions(db, logins):
            by_login.setdefault(pos[1], []).append(pos)
        return [
            self._account_record(u, self._account(u, by_login.get(u["login"], []), now))
            for u in users
        ]

    def api_account_get(self, q: dict) -> dict:
        login = int_param(q, "login")
        with self.lock:
            records = self._accounts(self.db, [login])
        if not records:
            raise ApiError(RET_NOT_FOUND)
        return {"retcode": RET_OK, "answer": records[0]}

    def api_account_get_batch(self, q: dict) -> dict:
        with self.lock:
            logins = self._selected_logins(self.db, q, MAX_BATCH_LOGINS)
            records = self._accounts(self.db, logins)
        return {"retcode": RET_OK, "answer": records}

    def api_group_get(self, q: dict) -> dict:
        group = q.get("group", "")
        if group not in GROUPS:
            raise ApiError(RET_BAD_PARAMS)
        return {
            "retcode": RET_OK,
            "answer": {"Group": group, "Currency": GROUPS[group], "CurrencyDigits": "2"},
        }

    def api_trade_balance(self, q: dict) -> dict:
        login = int_param(q, "login")
        if int_param(q, "type") != 2:
            raise ApiError(RET_BAD_PARAMS)
        amount = parse_cents(q.get("balance", ""))
        comment = q.get("comment", "")
        if amount == 0 or len(comment) > MAX_COMMENT:
            raise ApiError(RET_BAD_PARAMS)
        check_margin = q.get("check_margin", "0") not in ("", "0")
        srv = self.srv_time()
        now = int(srv)
        with self._tx() as db:
            user = self._user(db, login)
            if user is None:
                raise ApiError(RET_NOT_FOUND)
            if check_margin and amount < 0 and -amount > self._free_margin(db, user, now):
                raise ApiError(RET_NO_MONEY)
            ticket = self._insert_deal(
                db,
                (login, 0, now, int(srv * 1000), 2, 0, "", 0, 0.0, amount, 0, 0, 0, comment, None),
            )
            self._change_balance(db, login, amount, now)
        return {"retcode": RET_OK, "answer": {"ticket": str(ticket)}}

    def api_deal_get_batch(self, q: dict) -> dict:
        tickets = list_param(q, "ticket")
        has_owner = q.get("login", "").strip() or q.get("group", "").strip()
        start = int_param(q, "from", required=tickets is None, default=None)
        end = int_param(q, "to", required=tickets is None, default=None)
        where, params = [], []
        if start is not None:
            where.append("time >= ?")
            params.append(start)
        if end is not None:
            where.append("time <= ?")
            params.append(end)
        if tickets is not None:
            where.append("deal IN (SELECT value FROM json_each(?))")
            params.append(json.dumps(tickets))
        with self.lock:
            if has_owner or tickets is None:
                logins = self._selected_logins(self.db, q)
                where.append("login IN (SELECT value FROM json_each(?))")
                params.append(json.dumps(logins))
            rows = self.db.execute(
                SELECT_DEALS_WHERE + " AND ".join(where) + " ORDER BY deal",
                params,
            ).fetchall()
        digits = {name: s.digits for name, s in SYMBOLS.items()}
        out = []
        append = out.append
        for (
            deal,
            login,
            order,
            t,
            msc,
            action,
            entry,
            symbol,
            volume,
            price,
            profit,
            storage,
            commission,
            position,
            comment,
            raw,
        ) in rows:
            if raw is not None:
                append(json.loads(raw))
                continue
            d = digits.get(symbol)
            append(
                {
                    "Deal": str(deal),
                    "Login": str(login),
                    "Order": str(order),
                    "Time": str(t),
                    "TimeMsc": str(msc),
                    "Action": str(action),
                    "Entry": str(entry),
                    "Symbol": symbol,
                    "Volume": str(volume),
                    "Price": "0" if d is None else f"{price:.{d}f}",
                    "Profit": f"{profit / 100:.2f}",
                    "Storage": f"{storage / 100:.2f}",
                    "Commission": f"{commission / 100:.2f}",
                    "PositionID": str(position),
                    "Comment": comment,
                }
            )
        return {"retcode": RET_OK, "answer": out}

    def api_position_get_batch(self, q: dict) -> dict:
        now = int(self.srv_time())
        out = []
        with self.lock:
            logins = self._selected_logins(self.db, q)
            users = {
                row[0]: (GROUPS.get(row[1], "USD"), row[2])
                for row in self.db.execute(
                    "SELECT login, grp, leverage FROM users WHERE login IN "
                    "(SELECT value FROM json_each(?))",
                    (json.dumps(logins),),
                )
            }
            for pos in self._positions(self.db, logins):
                position, login, symbol, action, created, updated, price_open, volume, sl, tp = pos
                currency, leverage = users[login]
                profit, storage, _, price = self._figures(pos, currency, leverage, now)
                d = SYMBOLS[symbol].digits
                out.append(
                    {
                        "Position": str(position),
                        "Login": str(login),
                        "Symbol": symbol,
                        "Action": str(action),
                        "TimeCreate": str(created),
                        "TimeUpdate": str(updated),
                        "PriceOpen": f"{price_open:.{d}f}",
                        "PriceCurrent": f"{price:.{d}f}",
                        "PriceSL": f"{sl:.{d}f}",
                        "PriceTP": f"{tp:.{d}f}",
                        "Volume": str(volume),
                        "Profit": money(profit),
                        "Storage": money(storage),
                    }
                )
        return {"retcode": RET_OK, "answer": out}

    API = {
        "/api/test/access": api_test_access,
        "/api/user/add": api_user_add,
        "/api/user/get": api_user_get,
        "/api/user/get_batch": api_user_get_batch,
        "/api/user/logins": api_user_logins,
        "/api/user/change_password": api_user_change_password,
        "/api/user/check_password": api_user_check_password,
        "/api/user/account/get": api_account_get,
        "/api/user/account/get_batch": api_account_get_batch,
        "/api/group/get": api_group_get,
        "/api/trade/balance": api_trade_balance,
        "/api/deal/get_batch": api_deal_get_batch,
        "/api/position/get_batch": api_position_get_batch,
    }

    # --- trading --------------------------------------------------------------------------------

    def _open(self, db, user: dict, symbol: str, action: int, volume: int, srv: float) -> tuple:
        """Open a position at the current price: (deal ticket, position id). Raises 10019 when
        its margin is beyond the account's free margin."""
        now = int(srv)
        spec = SYMBOLS[symbol]
        currency = GROUPS.get(user["grp"], "USD")
        price = round(self.prices[symbol], spec.digits)
        need = (volume / 10000) * spec.contract * price / user["leverage"]
        need = round(need * self._conv(spec.quote, currency) * 100)
        if need > self._free_margin(db, user, int(self.srv_time())):
            raise ApiError(RET_NO_MONEY)
        position = self._alloc(db, "order", FIRST_ORDER)
        ticket = self._insert_deal(
            db,
            (user["login"], position, now, int(srv * 1000), action, 0, symbol, volume, price)
            + (0, 0, 0, position, "", None),
        )
        db.execute(
            INSERT_POSITION,
            (position, user["login"], symbol, action, now, now, price, volume),
        )
        db.execute("UPDATE users SET last_access = ? WHERE login = ?", (now, user["login"]))
        return ticket, position

    def _close(self, db, user: dict, position: int, srv: float, profit: int | None = None) -> int:
        """Close a position at the current price (or, given `profit`, at the price that makes
        exactly that profit, without swap or commission). Returns the deal ticket."""
        now = int(srv)
        pos = db.execute(SELECT_POSITION, (position,)).fetchone()
        _, login, symbol, action, _, _, price_open, volume, _, _ = pos
        spec = SYMBOLS[symbol]
        currency = GROUPS.get(user["grp"], "USD")
        if profit is None:
            profit, storage, _, price = self._figures(pos, currency, user["leverage"], now)
            commission = -round(
                spec.commission * volume / 10000 * self._conv("USD", currency) * 100
            )
        else:
            storage = commission = 0
            move = (
                profit / 100 / self._conv(spec.quote, currency) / (volume / 10000 * spec.contract)
            )
            price = price_open + (move if action == 0 else -move)
        price = round(max(price, 10**-spec.digits), spec.digits)
        order = self._alloc(db, "order", FIRST_ORDER)
        ticket = self._insert_deal(
            db,
            (login, order, now, int(srv * 1000), 1 - action, 1, symbol, volume, price, profit)
            + (storage, commission, position, "", None),
        )
        db.execute("DELETE FROM positions WHERE position = ?", (position,))
        self._change_balance(db, login, profit + storage + commission, now)
        return ticket

    def _move_prices(self) -> None:
        gauss = self.rng.gauss
        for name, spec in SYMBOLS.items():
            price = self.prices[name]
            price *= 1 + gauss(0, spec.volatility) + (spec.start - price) / spec.start * 0.001
            self.prices[name] = round(price, spec.digits)

    def _save_prices(self, db) -> None:
        db.executemany(
            "INSERT OR REPLACE INTO prices (symbol, price) VALUES (?, ?)", self.prices.items()
        )

    def tick(self) -> list[int]:
        """One simulation step: prices move; a few funded, non-quiet accounts open or close a
        position. Returns the deal tickets written."""
        rng = self.rng
        tickets: list[int] = []
        with self._tx() as db:
            self._move_prices()
            self._save_prices(db)
            low, high = db.execute("SELECT MIN(login), MAX(login) FROM users").fetchone()
            if low is None:
                return tickets
            seen = set()
            for _ in range(4):
                row = db.execute(
                    "SELECT login FROM users WHERE login >= ? AND balance > 0 "
                    "ORDER BY login LIMIT 1",
                    (rng.randint(low, high),),
                ).fetchone()
                if row is None or row[0] in seen:
                    continue
                seen.add(row[0])
                user = self._user(db, row[0])
                profile = user["profile"] or default_profile(user["login"])
                if profile == "quiet" or rng.random() < 0.3:
                    continue
                srv = self.srv_time()
                positions = self._positions(db, [user["login"]])
                if positions and (len(positions) >= 3 or rng.random() < 0.45):
                    position = self._pick_close(user, positions, profile, int(srv))
                    if position is not None:
                        tickets.append(self._close(db, user, position, srv))
                    continue
                symbol = rng.choice(list(SYMBOLS))
                try:
                    ticket, _ = self._open(
                        db, user, symbol, rng.randint(0, 1), rng.choice(LOT_CHOICES), srv
                    )
                except ApiError:
                    self.sim_refused += 1  # refused as 10019 Not enough money; skipped
                    continue
                tickets.append(ticket)
        return tickets

    def _pick_close(self, user: dict, positions: list, profile: str, now: int) -> int | None:
        currency = GROUPS.get(user["grp"], "USD")
        scored = sorted(
            (self._figures(p, currency, user["leverage"], now)[0], p[0]) for p in positions
        )
        if profile == "losing":  # cuts nothing, realises losses, holds winners
            losers = [s for s in scored if s[0] < 0]
            return losers[0][1] if losers else (scored[0][1] if len(scored) >= 3 else None)
        if profile == "winner":  # takes profit, lets losers run until full
            winners = [s for s in scored if s[0] > 0]
            return winners[-1][1] if winners else (scored[-1][1] if len(scored) >= 3 else None)
        return self.rng.choice(scored)[1]

    def start_simulation(self, tick_seconds: float | None = None) -> None:
        with self.lock:
            if tick_seconds:
                self.tick_seconds = float(tick_seconds)
            self.sim_running = True
            if self._sim_thread is None:
                self._sim_thread = threading.Thread(
                    target=self._sim_loop, name="mt5-simulation", daemon=True
                )
                self._sim_thread.start()

    def _sim_loop(self) -> None:
        while not self._closed.wait(self.tick_seconds):
            if not self.sim_running:
                continue
            try:
                self.tick()
            except Exception:
                if self._closed.is_set():
                    return
                log.exception("MT5 sandbox simulation tick failed")

    # --- control endpoints (/_sandbox/mt5/) -------------------------------------------------------

    def control(self, method: str, name: str, body: bytes) -> tuple[int, object]:
        handler = self.CONTROL.get((method, name))
        if handler is None:
            return 404, {"error": "not_found", "detail": f"no control endpoint {method} {name}"}
        try:
            payload = json.loads(body or b"{}")
        except (ValueError, UnicodeDecodeError):
            payload = None
        if not isinstance(payload, dict):
            return 400, {"error": "malformed", "detail": "the body must be a JSON object"}
        try:
            return 200, handler(self, payload)
        except ControlError as err:
            return err.status, {"error": err.code, "detail": err.detail}
        except ApiError as err:
            return 200, {"retcode": err.retcode}

    def _control_user(self, db, body: dict) -> dict:
        try:
            login = int(body.get("login"))
        except (TypeError, ValueError):
            raise bad("login: an account login is required") from None
        user = self._user(db, login)
        if user is None:
            raise ControlError(404, "not_found", f"no account {login}")
        return user

    @staticmethod
    def _number(body: dict, name: str, default, low=None, high=None, kind=int):
        value = body.get(name, default)
        try:
            value = kind(value)
        except (TypeError, ValueError):
            raise bad(f"{name}: not a number: {value!r}") from None
        if (low is not None and value < low) or (high is not None and value > high):
            raise bad(f"{name}: out of range: {value!r}")
        return value

    def control_reset(self, body: dict) -> dict:
        with self._tx() as db:
            for table in ("users", "deals", "positions", "seq", "prices"):
                db.execute(f"DELETE FROM {table}")  # noqa: S608 (fixed names)
            self.prices = {name: s.start for name, s in SYMBOLS.items()}
            self.requests.clear()
            self.rejected_frequent = 0
            self.sim_refused = 0
            self.faults = []
        return {"reset": True}

    def control_state(self, body: dict) -> dict:
        with self.lock:
            db = self.db
            counts = {
                table: db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]  # noqa: S608
                for table in ("users", "deals", "positions")
            }
            return {
                "accounts": counts["users"],
                "deals": counts["deals"],
                "positions": counts["positions"],
                "requests": dict(self.requests),
                "rejected_frequent": self.rejected_frequent,
                "faults": [dict(f) for f in self.faults],
                "sessions": len(self.sessions),
                "simulate": {
                    "running": self.sim_running,
                    "tick_seconds": self.tick_seconds,
                    "refused": self.sim_refused,
                },
                "prices": {
                    name: f"{price:.{SYMBOLS[name].digits}f}" for name, price in self.prices.items()
                },
                "timezone": self.timezone,
            }

    def control_faults(self, body: dict) -> dict:
        unknown = set(body) - {"drop_after_write", "slow", "malformed", "expire_sessions", "clear"}
        if unknown:
            raise bad(f"unknown faults: {', '.join(sorted(unknown))}", "unknown_fault")
        armed = []
        for kind in ("drop_after_write", "slow", "malformed"):
            specs = body.get(kind)
            if specs is None:
                continue
            for spec in specs if isinstance(specs, list) else [specs]:
                if not isinstance(spec, dict) or not isinstance(spec.get("path"), str):
                    raise bad(f"{kind}: expected {{'path': ..., 'count': n}}", "bad_fault")
                fault = {
                    "kind": kind,
                    "path": spec["path"],
                    "count": self._number(spec, "count", 1, low=1),
                }
                if kind == "slow":
                    fault["seconds"] = self._number(spec, "seconds", 5, low=0, kind=float)
                armed.append(fault)
        with self.lock:
            if body.get("clear"):
                self.faults = []
            if body.get("expire_sessions"):
                self.sessions.clear()
                self.pending.clear()
                self.windows.clear()
            self.faults.extend(armed)
            return {"faults": [dict(f) for f in self.faults]}

    def control_deal(self, body: dict) -> dict:
        raw = body.get("raw")
        if not isinstance(raw, dict):
            raise bad("raw: the deal record (a JSON object) is required")
        try:
            login = int(body.get("login"))
        except (TypeError, ValueError):
            raise bad("login: an account login is required") from None
        record = dict(raw)
        srv = self.srv_time()
        with self._tx() as db:
            ticket = None
            with suppress(KeyError, TypeError, ValueError):
                ticket = int(record["Deal"])
            if (
                ticket is not None
                and db.execute("SELECT 1 FROM deals WHERE deal = ?", (ticket,)).fetchone()
            ):
                raise ControlError(409, "duplicate", f"deal {ticket} exists")
            if ticket is None:
                ticket = self._next_deal(db)
            if not body.get("exact"):
                record.setdefault("Deal", str(ticket))
                record.setdefault("Time", str(int(srv)))
            try:
                when = int(record["Time"])
            except (KeyError, TypeError, ValueError):
                when = int(srv)

            def cents(name):
                try:
                    return parse_cents(record.get(name, "0"), api=False)
                except ControlError:
                    return 0

            change = cents("Profit") + cents("Storage") + cents("Commission")
            db.execute(
                INSERT_DEAL,
                (ticket, login, 0, when, when * 1000, 0, 0, "", 0, 0.0, 0, 0, 0, 0, "")
                + (json.dumps(record),),
            )
            if change:
                self._change_balance(db, login, change, int(srv))
        return {"ticket": ticket}

    def control_trade(self, body: dict) -> dict:
        srv = self.srv_time()
        with self._tx() as db:
            if "close" in body:
                position = self._number(body, "close", None)
                pos = db.execute(
                    "SELECT login FROM positions WHERE position = ?", (position,)
                ).fetchone()
                if pos is None:
                    raise ControlError(404, "not_found", f"no open position {position}")
                user = self._user(db, pos[0])
                ticket = self._close(db, user, position, srv)
                return {"retcode": RET_OK, "deals": [ticket], "position": position}
            user = self._control_user(db, body)
            symbol = body.get("symbol")
            if symbol not in SYMBOLS:
                raise bad(f"symbol: one of {', '.join(SYMBOLS)}")
            side = body.get("side")
            if side not in ("buy", "sell"):
                raise bad("side: buy or sell")
            try:
                volume = int(Decimal(str(body.get("volume", "0.10"))) * 10000)
            except InvalidOperation:
                volume = 0
            if volume <= 0:
                raise bad('volume: lots, e.g. "0.10"')
            if body.get("at") is not None:
                srv = self.srv_time(self._number(body, "at", None, kind=float))
            ticket, position = self._open(db, user, symbol, 0 if side == "buy" else 1, volume, srv)
            tickets = [ticket]
            if body.get("profit") is not None:
                profit = parse_cents(body["profit"], api=False)
                tickets.append(self._close(db, user, position, srv, profit=profit))
            return {"retcode": RET_OK, "deals": tickets, "position": position}

    def control_prices(self, body: dict) -> dict:
        with self._tx() as db:
            for name in body:
                if name not in SYMBOLS:
                    raise bad(f"unknown symbol {name}")
                price = self._number(body, name, None, low=0, kind=float)
                if price <= 0:
                    raise bad(f"{name}: a price is positive")
                self.prices[name] = round(price, SYMBOLS[name].digits)
            self._save_prices(db)
            return {"prices": {n: f"{p:.{SYMBOLS[n].digits}f}" for n, p in self.prices.items()}}

    def control_profile(self, body: dict) -> dict:
        profile = body.get("profile")
        if profile is not None and profile not in PROFILES:
            raise bad(f"profile: one of {', '.join(PROFILES)} (or null)")
        with self._tx() as db:
            user = self._control_user(db, body)
            db.execute("UPDATE users SET profile = ? WHERE login = ?", (profile, user["login"]))
        return {"login": user["login"], "profile": profile or default_profile(user["login"])}

    def control_simulate(self, body: dict) -> dict:
        tick = body.get("tick_seconds")
        if tick is not None:
            tick = self._number(body, "tick_seconds", None, low=0.01, kind=float)
        if body.get("running"):
            self.start_simulation(tick)
        else:
            with self.lock:
                self.sim_running = bool(body.get("running", self.sim_running))
                if tick:
                    self.tick_seconds = tick
        return {"running": self.sim_running, "tick_seconds": self.tick_seconds}

    def control_tick(self, body: dict) -> dict:
        count = self._number(body, "count", 1, low=1, high=1000)
        tickets: list[int] = []
        for _ in range(count):
            tickets.extend(self.tick())
        return {"deals": tickets}

    def control_history(self, body: dict) -> dict:
        days = self._number(body, "days", 30, low=1, high=3650)
        deposit = parse_cents(body.get("deposit", "10000.00"), api=False)
        rng = self.rng
        with self._tx() as db:
            user = self._control_user(db, body)
            login = user["login"]
            profile = body.get("profile") or user["profile"] or default_profile(login)
            if profile not in PROFILES:
                raise bad(f"profile: one of {', '.join(PROFILES)}")
            quiet_days = self._number(
                body, "quiet_days", max(1, days // 3) if profile == "quiet" else 0, low=0
            )
            if quiet_days >= days:
                raise bad("quiet_days: fewer than days")
            default_trades = {"active": 2 * days, "losing": 2 * days, "winner": days}
            trades = self._number(
                body, "trades", default_trades.get(profile, max(3, days // 2)), low=0, high=5000
            )
            now = self.srv_time()
            start = int(now) - days * 86400
            end = int(now) - quiet_days * 86400 - 60
            currency = GROUPS.get(user["grp"], "USD")
            usd = self._conv("USD", currency)
            balance = db.execute(
                "SELECT COALESCE(SUM(profit + storage + commission), 0) FROM deals "
                "WHERE login = ? AND time < ? AND raw IS NULL",
                (login, start),
            ).fetchone()[0]
            rows = []
            order = self._alloc(db, "order", FIRST_ORDER, 2 * trades)
            credited = 0
            if balance < 10000 and deposit > 0:
                t = start + 1
                rows.append((login, 0, t, t * 1000, 2, 0, "", 0, 0.0, deposit, 0, 0, 0, "Deposit"))
                balance += deposit
                credited = deposit
            slot = (end - start - 120) / max(trades, 1)
            win_rate = {"active": 0.5, "losing": 0.3, "winner": 0.7, "quiet": 0.5}[profile]
            made = 0
            for i in range(trades):
                spec = SYMBOLS[rng.choice(list(SYMBOLS))]
                price_open = round(self.prices[spec.name] * (1 + rng.gauss(0, 0.01)), spec.digits)
                conv = self._conv(spec.quote, currency)
                per_lot = spec.contract * price_open / user["leverage"] * conv * 100
                room = int(balance * 0.2 / per_lot * 100) * 100  # volume whose margin fits 20%
                volume = min(rng.choice(LOT_CHOICES), room)
                if volume < 100:
                    continue
                t_open = int(start + 120 + i * slot + rng.uniform(0, slot * 0.4))
                t_close = int(t_open + 60 + rng.uniform(0, slot * 0.5))
                lots = volume / 10000
                nights = max(0, t_close // 86400 - t_open // 86400)
                storage = -round(spec.swap * lots * nights * usd * 100)
                commission = -round(spec.commission * lots * usd * 100)
                loss = profile == "losing" and i >= trades - 3 or rng.random() >= win_rate
                size = max(1, round(balance * rng.uniform(0.002, 0.02)))
                profit = -size if loss else size
                if balance + profit + storage + commission < 0:
                    profit = -max(1, balance + storage + commission) if loss else size
                    if balance + profit + storage + commission < 0:
                        storage = commission = 0
                        profit = -max(1, balance // 2)
                move = profit / 100 / conv / (lots * spec.contract)
                action = rng.randint(0, 1)
                price_close = price_open + (move if action == 0 else -move)
                price_close = round(max(price_close, 10**-spec.digits), spec.digits)
                position = order + 2 * i
                rows.append(
                    (login, position, t_open, t_open * 1000 + rng.randint(0, 999), action, 0)
                    + (spec.name, volume, price_open, 0, 0, 0, position, "")
                )
                rows.append(
                    (login, position + 1, t_close, t_close * 1000 + rng.randint(0, 999))
                    + (1 - action, 1, spec.name, volume, price_close, profit, storage)
                    + (commission, position, "")
                )
                balance += profit + storage + commission
                made += 1
            first = self._next_deal(db)
            db.executemany(
                INSERT_DEAL_NO_RAW,
                [(first + k, *row) for k, row in enumerate(rows)],
            )
            change = sum(r[9] + r[10] + r[11] for r in rows)
            db.execute(
                "UPDATE users SET balance = balance + ?, profile = ? WHERE login = ?",
                (change, profile, login),
            )
            final = db.execute("SELECT balance FROM users WHERE login = ?", (login,)).fetchone()
        return {
            "login": login,
            "profile": profile,
            "trades": made,
            "deals": len(rows),
            "deposit": money(credited),
            "balance": money(final[0]),
        }

    def control_bulk(self, body: dict) -> dict:
        accounts = self._number(body, "accounts", 100, low=1, high=1_000_000)
        per_account = self._number(body, "deals_per_account", 50, low=1, high=10_000)
        days = self._number(body, "days", 30, low=1, high=3650)
        leverage = self._number(body, "leverage", 100, low=1, high=1000)
        group = body.get("group", "real\\standard-usd")
        if group not in GROUPS:
            raise bad(f"group: one of {', '.join(GROUPS)}")
        deposit = parse_cents(body.get("balance", "5000.00"), api=False)
        if deposit <= 0:
            raise bad("balance: positive")
        currency = GROUPS[group]
        rnd, randint = self.rng.random, self.rng.randint
        specs = list(SYMBOLS.values())
        usd = self._conv("USD", currency)
        factors = [
            (
                s.name,
                s.digits,
                s.contract,
                self.prices[s.name],
                self._conv(s.quote, currency),
                s.swap * usd * 100,
                s.commission * usd * 100,
            )
            for s in specs
        ]
        pairs, open_one = divmod(per_account - 1, 2)
        quiet_days = self._number(body, "quiet_days", 0, low=0, high=days - 1)
        bias = float(body.get("loss_bias", 0.02))
        if not -0.5 <= bias <= 0.5:
            raise bad("loss_bias: between -0.5 and 0.5")
        now = int(self.srv_time())
        start = now - days * 86400
        span = (days - quiet_days) * 86400
        slot = max(120, (span - 7200) // (pairs + 1))
        deal_sql = INSERT_DEAL_NO_RAW
        total = 0
        with self._tx() as db:
            top = db.execute("SELECT MAX(login) FROM users").fetchone()[0]
            first_login = FIRST_LOGIN if top is None else top + 1
            deal = self._next_deal(db)
            order = self._alloc(db, "order", FIRST_ORDER, accounts * (2 * pairs + open_one))
            users, deals, positions = [], [], []
            for n in range(accounts):
                login = first_login + n
                balance = deposit
                t0 = start + randint(0, 3600)
                deals.append(
                    (deal, login, 0, t0, t0 * 1000, 2, 0, "", 0, 0.0, deposit, 0, 0, 0, "Deposit")
                )
                deal += 1
                for k in range(pairs):
                    name, digits, contract, price, conv, swap, fee = factors[int(rnd() * 6)]
                    volume = (1 + int(rnd() * 10)) * 100
                    lots = volume / 10000
                    t_open = t0 + 60 + k * slot + int(rnd() * slot * 0.4)
                    t_close = t_open + 60 + int(rnd() * slot * 0.4)
                    price_open = round(price * (1 + (rnd() - 0.5) * 0.01), digits)
                    profit = int((rnd() - 0.5 - bias) * deposit * 0.01)
                    storage = -int(swap * lots * (t_close // 86400 - t_open // 86400))
                    commission = -int(fee * lots)
                    action = 0 if rnd() < 0.5 else 1
                    move = profit / 100 / conv / (lots * contract)
                    price_close = round(price_open + (move if action == 0 else -move), digits)
                    deals.append(
                        (deal, login, order, t_open, t_open * 1000, action, 0, name, volume)
                        + (price_open, 0, 0, 0, order, "")
                    )
                    deals.append(
                        (deal + 1, login, order + 1, t_close, t_close * 1000 + 250, 1 - action)
                        + (1, name, volume, price_close, profit, storage, commission, order, "")
                    )
                    deal += 2
                    order += 2
                    balance += profit + storage + commission
                if open_one and not quiet_days:
                    name, digits, contract, price, conv, swap, fee = factors[int(rnd() * 6)]
                    t_open = now - randint(60, 3600)
                    deals.append(
                        (deal, login, order, t_open, t_open * 1000, 0, 0, name, 100, price)
                        + (0, 0, 0, order, "")
                    )
                    positions.append((order, login, name, 0, t_open, t_open, price, 100))
                    deal += 1
                    order += 1
                users.append(
                    (login, group, f"Bulk {login}", f"bulk{login}@sandbox.example", "GB")
                    + (leverage, balance, t0, now)
                )
                if len(deals) >= 50_000:
                    db.executemany(deal_sql, deals)
                    total += len(deals)
                    deals.clear()
            db.executemany(deal_sql, deals)
            total += len(deals)
            db.executemany(
                "INSERT INTO users (login, grp, name, email, country, leverage, balance, "
                "registration, last_access) VALUES (?,?,?,?,?,?,?,?,?)",
                users,
            )
            db.executemany(INSERT_POSITION, positions)
        return {"logins": [first_login, first_login + accounts - 1], "deals": total}

    CONTROL = {
        ("POST", "reset"): control_reset,
        ("GET", "state"): control_state,
        ("POST", "faults"): control_faults,
        ("POST", "deal"): control_deal,
        ("POST", "trade"): control_trade,
        ("POST", "prices"): control_prices,
        ("POST", "history"): control_history,
        ("POST", "profile"): control_profile,
        ("POST", "simulate"): control_simulate,
        ("POST", "tick"): control_tick,
        ("POST", "bulk"): control_bulk,
    }


# --- the HTTP server ----------------------------------------------------------------------------


def make_handler(state: MT5State):
    class Handler(BaseHTTPRequestHandler):
        server_version = "MetaTrader 5 Web API"
        protocol_version = "HTTP/1.1"
        timeout = 120  # an idle keep-alive connection is closed after this

        def log_message(self, fmt, *args):
            if os.environ.get("SANDBOX_VERBOSE"):
                super().log_message(fmt, *args)

        def _send(self, status: int, body: bytes, cookie: str | None = None) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                if cookie:
                    self.send_header("Set-Cookie", f"mt5session={cookie}; HttpOnly; Path=/")
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

        def _session(self) -> str | None:
            jar = SimpleCookie(self.headers.get("Cookie", ""))
            return jar["mt5session"].value if "mt5session" in jar else None

        def _reply(self, path: str, q: dict) -> Reply:
            if path == "/api/auth/start":
                return state.auth_start(q)
            if path == "/api/auth/answer":
                return state.auth_answer(q, self._session())
            refused = state.authorize(self._session())
            if refused is not None:
                return refused
            try:
                return Reply(200, state.api(path, q))
            except ApiError as err:
                return Reply(err.status, {"retcode": err.retcode})

        def _handle(self):
            url = urlparse(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length > 0 else b""
            if url.path.startswith(CONTROL_PREFIX):
                try:
                    status, payload = state.control(
                        self.command, url.path[len(CONTROL_PREFIX) :], body
                    )
                except Exception:
                    log.exception("MT5 sandbox control %s failed", url.path)
                    status, payload = 500, {"error": "sandbox_error", "detail": "see its log"}
                return self._send(status, json.dumps(payload).encode())
            q = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
            state.count(url.path)
            try:
                q.update(body_params(self.command, body))
                reply = self._reply(url.path, q)
            except ApiError as err:
                reply = Reply(err.status, {"retcode": err.retcode})
            except Exception:
                log.exception("MT5 sandbox failed on %s", url.path)
                reply = Reply(500, {"retcode": RET_ERROR})
            if reply.status != 403 and reply.payload.get("retcode") != RET_FREQUENT:
                faults = state.take_faults(url.path)
            else:
                faults = {}
            out = json.dumps(reply.payload, separators=(",", ":")).encode()
            if "slow" in faults:
                time.sleep(faults["slow"]["seconds"])
            if "drop_after_write" in faults:
                self.close_connection = True  # executed and stored; no answer at all
                return
            if "malformed" in faults:
                out = out[: max(1, len(out) // 2)]
            self._send(reply.status, out, reply.cookie)

        do_GET = do_POST = _handle  # noqa: N815 (http.server API)

    return Handler


class MT5Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, state: MT5State):
        self.state = state
        super().__init__(address, make_handler(state))

    def server_close(self):
        super().server_close()
        if not self.state._closed.is_set():
            self.state.close()


def serve(
    host: str,
    port: int,
    login: str,
    password: str,
    *,
    state_path: str | os.PathLike | None = None,
    timezone: str = "Europe/Athens",
    simulate: bool = False,
    tick_seconds: float = 2.0,
    session_idle: float = 600,
    max_rps: int = 0,
) -> MT5Server:
    """The MT5 Web API sandbox on host:port (port 0: any free port), not yet serving: call
    serve_forever() (in a thread for tests); `server.state` is its state, closed by
    server_close()."""
    state = MT5State(
        login,
        password,
        state_path=state_path,
        timezone=timezone,
        session_idle=session_idle,
        max_rps=max_rps,
        tick_seconds=tick_seconds,
    )
    server = MT5Server((host, port), state)
    if simulate:
        state.start_simulation(tick_seconds)
    return server
