r"""Control endpoints (not part of the MT5 protocol): JSON in and out, no auth, under
/_sandbox/mt5/; errors are HTTP 4xx {"error": code, "detail": text}; the ids they take and
return are JSON numbers:

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
                  session dies now; {"auth": {"retcode": 1002, "count"=1}} the next handshakes
                  are refused at auth/start with that authentication retcode (1000-1023);
                  {"down": {"seconds": 30}} the server is down that long: the Web API
                  connections open now are closed, and every Web API request that arrives
                  meanwhile, on any connection, is dropped unanswered and not carried out (the
                  control endpoints go on answering); {"down": {"seconds": 0}} it is back;
                  {"drop": {"share": 0.3, "seconds": 30}} for that long, each Web API request
                  is carried out and then, at that chance, its connection is cut in the middle
                  of the answer (the headers and half the body sent); {"max_rps": 5} each
                  session may make that many requests per second from now on, the others
                  answered "12 Too frequent requests" and not carried out (0: no limit);
                  {"clear": true} disarm all but max_rps. Keys combine. -> {"faults": [...],
                  "down_s", "drop": {"share", "s"}, "max_rps"}
  POST deal       {"login", "raw": {...}, "exact": false}  plant a deal whose answer record is
                  `raw` ("Deal" is added when absent, with the assigned ticket, and "Time" = now
                  when absent; "exact": true adds nothing) -> {"ticket"}
  POST deal_update {"ticket", "fields": {"Volume": "5000", "Profit": "-12.50", ...}}  correct a
                  deal as a dealer does (the same as /api/deal/update: the record's fields, numbers
                  as strings or JSON numbers) -> {"retcode", "answer": the record after}
  POST deal_delete {"ticket"}  delete a deal (as /api/deal/delete) -> {"retcode"}
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
                  "quiet_days"=0, "loss_bias"=0.02, "seed"}  accounts with a deposit deal and
                  a trade history (deals_per_account deals each, the deposit included; an odd
                  remainder leaves one position open unless quiet) ending quiet_days ago;
                  loss_bias tilts each trade's result towards a loss; with a seed, the same
                  history (times relative to now) on every call, else the server's own draws
                  -> {"logins": [first, last], "deals": n}

This module has the endpoints that act on the present and the armed faults; `history` and
`bulk`, which write a trading past, are in history.py.
"""

from __future__ import annotations

import json
import random
import socket
import threading
import time
from collections import Counter
from contextlib import suppress
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

from . import deals
from .market import SYMBOLS
from .protocol import RET_OK, ApiError, parse_cents
from .simulation import PROFILES, default_profile
from .store import INSERT_DEAL

if TYPE_CHECKING:
    from .state import MT5State

FAULT_KINDS = ("drop_after_write", "slow", "malformed")
OUTAGE_KINDS = ("down", "drop", "max_rps")


class ControlError(Exception):
    def __init__(self, status: int, code: str, detail: str):
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail


def bad(detail: str, code: str = "invalid") -> ControlError:
    return ControlError(400, code, detail)


def number(body: dict, name: str, default, low=None, high=None, kind=int):
    """`body[name]` (or `default`) as a `kind` within [low, high]; else HTTP 400."""
    value = body.get(name, default)
    try:
        value = kind(value)
    except (TypeError, ValueError):
        raise bad(f"{name}: not a number: {value!r}") from None
    if (low is not None and value < low) or (high is not None and value > high):
        raise bad(f"{name}: out of range: {value!r}")
    return value


def cents(text) -> int:
    """A signed amount with at most 2 decimals, as cents; else HTTP 400."""
    try:
        return parse_cents(text)
    except ApiError:
        raise bad(f"not an amount with 2 decimals: {text!r}") from None


def control_user(state: MT5State, db, body: dict) -> dict:
    """The account `body["login"]` names; HTTP 400 without one, 404 for an unknown one."""
    try:
        login = int(body.get("login"))
    except (TypeError, ValueError):
        raise bad("login: an account login is required") from None
    user = state.store.user(db, login)
    if user is None:
        raise ControlError(404, "not_found", f"no account {login}")
    return user


def call(handler, state: MT5State, body: bytes) -> tuple[int, object]:
    """Run a control endpoint on a request body: (HTTP status, JSON answer)."""
    try:
        payload = json.loads(body or b"{}")
    except (ValueError, UnicodeDecodeError):
        payload = None
    if not isinstance(payload, dict):
        return 400, {"error": "malformed", "detail": "the body must be a JSON object"}
    try:
        return 200, handler(state, payload)
    except ControlError as err:
        return err.status, {"error": err.code, "detail": err.detail}
    except ApiError as err:
        return 200, {"retcode": err.retcode}


class Faults:
    """Armed faults: each {"kind", "path", "count"} (+ "seconds" when slow), taken by the
    requests they match until their count runs out."""

    def __init__(self, lock: threading.RLock):
        self.lock = lock
        self.armed: list[dict] = []
        # The server down, or cutting answers, until these times (time.monotonic()).
        self.down_until = 0.0
        self.drop_share, self.drop_until = 0.0, 0.0
        self.dropped: Counter = Counter()  # requests dropped: "down", "mid_answer"
        self.open: set[socket.socket] = set()  # connections that carried a Web API request
        self.rng = random.Random()  # noqa: S311 (which answers are cut, not security)

    def down(self) -> bool:
        return time.monotonic() < self.down_until

    def cut(self) -> bool:
        """Whether this answer is cut in the middle (the `drop` fault's chance)."""
        with self.lock:
            return time.monotonic() < self.drop_until and self.rng.random() < self.drop_share

    def count(self, kind: str) -> None:
        with self.lock:
            self.dropped[kind] += 1

    def opened(self, conn: socket.socket) -> None:
        with self.lock:
            self.open.add(conn)

    def closed(self, conn: socket.socket) -> None:
        with self.lock:
            self.open.discard(conn)

    def sever(self) -> None:
        """Close every Web API connection now (the server going down)."""
        with self.lock:
            conns = list(self.open)
        for conn in conns:
            with suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def outage(self) -> dict:
        now = time.monotonic()
        return {
            "down_s": round(max(0.0, self.down_until - now), 1),
            "drop": {"share": self.drop_share, "s": round(max(0.0, self.drop_until - now), 1)},
        }

    def disarm(self) -> None:
        self.armed = []
        self.down_until = self.drop_until = self.drop_share = 0.0

    def take(self, path: str) -> dict:
        """The armed faults this request consumes, by kind."""
        found: dict = {}
        with self.lock:
            for fault in self.armed:
                if fault["kind"] in found or fault["count"] <= 0:
                    continue
                if fault["path"] == path or (fault["path"] == "*" and path.startswith("/api/")):
                    fault["count"] -= 1
                    found[fault["kind"]] = fault
            self.armed = [f for f in self.armed if f["count"] > 0]
        return found

    def listed(self) -> list[dict]:
        return [dict(f) for f in self.armed]


# --- endpoints --------------------------------------------------------------------------------


def reset(state: MT5State, body: dict) -> dict:
    with state.store.tx() as db:
        state.store.wipe(db)
        state.market.reset_prices()
        state.sessions.reset_counters()
        state.simulation.refused = 0
        state.faults.disarm()
        state.faults.dropped.clear()
    return {"reset": True}


def status(state: MT5State, body: dict) -> dict:
    with state.store.read() as db:
        counts = state.store.counts(db)
        return {
            "accounts": counts["users"],
            "deals": counts["deals"],
            "positions": counts["positions"],
            "requests": dict(state.sessions.requests),
            "rejected_frequent": state.sessions.rejected_frequent,
            "faults": state.faults.listed(),
            **state.faults.outage(),
            "dropped": dict(state.faults.dropped),
            "max_rps": state.sessions.max_rps,
            "sessions": len(state.sessions.sessions),
            "simulate": {
                "running": state.simulation.running,
                "tick_seconds": state.simulation.tick_seconds,
                "refused": state.simulation.refused,
            },
            "prices": state.market.price_texts(),
            "timezone": state.clock.timezone,
        }


def faults(state: MT5State, body: dict) -> dict:
    unknown = set(body) - {*FAULT_KINDS, *OUTAGE_KINDS, "expire_sessions", "clear", "auth"}
    if unknown:
        raise bad(f"unknown faults: {', '.join(sorted(unknown))}", "unknown_fault")
    armed = []
    for kind in FAULT_KINDS:
        specs = body.get(kind)
        if specs is None:
            continue
        for spec in specs if isinstance(specs, list) else [specs]:
            if not isinstance(spec, dict) or not isinstance(spec.get("path"), str):
                raise bad(f"{kind}: expected {{'path': ..., 'count': n}}", "bad_fault")
            fault = {"kind": kind, "path": spec["path"], "count": number(spec, "count", 1, low=1)}
            if kind == "slow":
                fault["seconds"] = number(spec, "seconds", 5, low=0, kind=float)
            armed.append(fault)
    refusal = body.get("auth")
    if refusal is not None:
        if not isinstance(refusal, dict):
            raise bad("auth: expected {'retcode': 1000-1023, 'count': n}", "bad_fault")
        retcode = number(refusal, "retcode", None, low=1000, high=1023)
        refusal = (retcode, number(refusal, "count", 1, low=1))
    down = _seconds(body, "down")
    drop = body.get("drop")
    if drop is not None:
        share = number(drop if isinstance(drop, dict) else {}, "share", None, 0, 1, float)
        drop = (share, _seconds(body, "drop"))
    max_rps = None if "max_rps" not in body else number(body, "max_rps", None, low=0)
    with state.lock:
        if body.get("clear"):
            state.faults.disarm()
            state.sessions.refusals.clear()
        now = time.monotonic()
        if down is not None:
            state.faults.down_until = now + down
        if drop is not None:
            state.faults.drop_share, state.faults.drop_until = drop[0], now + drop[1]
        if max_rps is not None:
            state.sessions.max_rps = max_rps
        if body.get("expire_sessions"):
            state.sessions.expire_all()
        if refusal is not None:
            state.sessions.refuse(*refusal)
        state.faults.armed.extend(armed)
        answer = {
            "faults": state.faults.listed(),
            **state.faults.outage(),
            "max_rps": state.sessions.max_rps,
        }
    if down:
        state.faults.sever()
    return answer


def _seconds(body: dict, kind: str) -> float | None:
    """The `seconds` of an outage fault ({"seconds": n}, n >= 0), or None when not given."""
    spec = body.get(kind)
    if spec is None:
        return None
    if not isinstance(spec, dict):
        raise bad(f"{kind}: expected {{'seconds': n}}", "bad_fault")
    return number(spec, "seconds", None, low=0, kind=float)


def deal(state: MT5State, body: dict) -> dict:
    raw = body.get("raw")
    if not isinstance(raw, dict):
        raise bad("raw: the deal record (a JSON object) is required")
    try:
        login = int(body.get("login"))
    except (TypeError, ValueError):
        raise bad("login: an account login is required") from None
    record = dict(raw)
    srv = state.srv_time()
    with state.store.tx() as db:
        ticket = None
        with suppress(KeyError, TypeError, ValueError):
            ticket = int(record["Deal"])
        if (
            ticket is not None
            and db.execute("SELECT 1 FROM deals WHERE deal = ?", (ticket,)).fetchone()
        ):
            raise ControlError(409, "duplicate", f"deal {ticket} exists")
        if ticket is None:
            ticket = state.store.next_deal(db)
        if not body.get("exact"):
            record.setdefault("Deal", str(ticket))
            record.setdefault("Time", str(int(srv)))
        try:
            when = int(record["Time"])
        except (KeyError, TypeError, ValueError):
            when = int(srv)

        def field_cents(name):
            try:
                return cents(record.get(name, "0"))
            except ControlError:
                return 0

        change = field_cents("Profit") + field_cents("Storage") + field_cents("Commission")
        db.execute(
            INSERT_DEAL,
            (ticket, login, 0, when, when * 1000, 0, 0, "", 0, 0.0, 0, 0, 0, 0, "")
            + (json.dumps(record),),
        )
        if change:
            state.store.change_balance(db, login, change, int(srv))
    return {"ticket": ticket}


def deal_update(state: MT5State, body: dict) -> dict:
    fields = body.get("fields")
    if not isinstance(fields, dict):
        raise bad("fields: the deal's corrected fields (a JSON object) are required")
    answer = deals.correct(state, {**fields, "Deal": body.get("ticket")})
    return {"retcode": RET_OK, "answer": answer}


def deal_delete(state: MT5State, body: dict) -> dict:
    try:
        ticket = int(body.get("ticket"))
    except (TypeError, ValueError):
        raise bad("ticket: a deal ticket is required") from None
    deals.remove(state, [ticket])
    return {"retcode": RET_OK}


def trade(state: MT5State, body: dict) -> dict:
    srv = state.srv_time()
    market = state.market
    with state.store.tx() as db:
        if "close" in body:
            position = number(body, "close", None)
            pos = db.execute(
                "SELECT login FROM positions WHERE position = ?", (position,)
            ).fetchone()
            if pos is None:
                raise ControlError(404, "not_found", f"no open position {position}")
            user = state.store.user(db, pos[0])
            ticket = market.close(db, user, position, srv)
            return {"retcode": RET_OK, "deals": [ticket], "position": position}
        user = control_user(state, db, body)
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
            srv = state.srv_time(number(body, "at", None, kind=float))
        ticket, position = market.open(db, user, symbol, 0 if side == "buy" else 1, volume, srv)
        tickets = [ticket]
        if body.get("profit") is not None:
            profit = cents(body["profit"])
            tickets.append(market.close(db, user, position, srv, profit=profit))
        return {"retcode": RET_OK, "deals": tickets, "position": position}


def prices(state: MT5State, body: dict) -> dict:
    market = state.market
    with state.store.tx() as db:
        for name in body:
            if name not in SYMBOLS:
                raise bad(f"unknown symbol {name}")
            price = number(body, name, None, low=0, kind=float)
            if price <= 0:
                raise bad(f"{name}: a price is positive")
            market.prices[name] = round(price, SYMBOLS[name].digits)
        market.save_prices(db)
        return {"prices": market.price_texts()}


def profile(state: MT5State, body: dict) -> dict:
    chosen = body.get("profile")
    if chosen is not None and chosen not in PROFILES:
        raise bad(f"profile: one of {', '.join(PROFILES)} (or null)")
    with state.store.tx() as db:
        user = control_user(state, db, body)
        db.execute("UPDATE users SET profile = ? WHERE login = ?", (chosen, user["login"]))
    return {"login": user["login"], "profile": chosen or default_profile(user["login"])}


def simulate(state: MT5State, body: dict) -> dict:
    simulation = state.simulation
    tick_seconds = body.get("tick_seconds")
    if tick_seconds is not None:
        tick_seconds = number(body, "tick_seconds", None, low=0.01, kind=float)
    if body.get("running"):
        simulation.start(tick_seconds)
    else:
        with state.lock:
            simulation.running = bool(body.get("running", simulation.running))
            if tick_seconds:
                simulation.tick_seconds = tick_seconds
    return {"running": simulation.running, "tick_seconds": simulation.tick_seconds}


def tick(state: MT5State, body: dict) -> dict:
    count = number(body, "count", 1, low=1, high=1000)
    tickets: list[int] = []
    for _ in range(count):
        tickets.extend(state.simulation.tick())
    return {"deals": tickets}
