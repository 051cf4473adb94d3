"""MetaTrader 5 Web API adapter (docs/architecture.md, outside systems).

Auth is the Web API's challenge-response: `auth/start` returns `srv_rand`; we answer
`MD5(pw + srv_rand)` with pw = MD5(MD5(utf16le(password)) + "WebAPI") and check the server's
proof of the same password over our `cli_rand`. The session is a cookie on one keep-alive
connection; an expired session (HTTP 403 / retcode 8) is re-established once and the call
repeated only when the server said it did nothing.

The server speaks its own local time and writes every number as a string; this module turns
both into the product's terms (aware UTC, Decimal, 1/10000 lot, canonical symbols) and returns
records it cannot read as `Rejected` with the reason.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import logging
import secrets
import threading
import time
from dataclasses import replace as dataclass_replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from urllib.parse import urlencode, urlparse
from zoneinfo import ZoneInfo

from brokerage.metrics import outside_call

from .base import (
    AccountInfo,
    Batch,
    DealRecord,
    PlatformAuthFailed,
    PlatformError,
    PlatformMalformed,
    PlatformOutcomeUnknown,
    PlatformRejected,
    PlatformUnavailable,
    PositionRecord,
    Rejected,
    SymbolMap,
    TradingPlatform,
    strong_password,
)
from .mt5_retcodes import AUTH_RANGE, auth_refused

log = logging.getLogger(__name__)

AGENT = "brokerage-backoffice"
VERSION = "484"
RET_NO_MONEY = 10019
RET_NOT_FOUND = 13
RET_PERMISSIONS = 8
RET_FREQUENT = 12
TRANSIENT_RETCODES = {7, 9, 10}  # MT_RET_ERR_NETWORK, _TIMEOUT, _CONNECTION
# "12 Too frequent requests" (MT_RET_ERR_FREQUENT): refused before anything was done, so a call
# is sent again (a write too), each time after the adapter has halved its own pace, this many
# times before it gives up (PlatformUnavailable: the caller retries later).
FREQUENT_RETRIES = 3
COMMENT_MAX = 32
# IMTUser::EnUsersRights, the user record's `Rights` (a sum of flags), as MetaQuotes documents
# them: "Trading is disabled for the user". MT5 has no per-account close-only right (close-only
# is a symbol's trade mode), so this is how an account's trading is stopped.
USER_RIGHT_TRADE_DISABLED = 0x4
VOLUME_EXT_PER_VOLUME = 10000  # VolumeExt (1e-8 lot) per Volume (1e-4 lot)
RECENT_LOGINS = 200  # logins read when looking a new account up by its comment
# The keys MetaQuotes documents for each answer read here (Web API, "Data structure" pages).
DEAL_FIELDS = ("Deal", "Login", "Time", "Action", "Entry", "Symbol", "Price", "Profit")
POSITION_FIELDS = ("Position", "Login", "Symbol", "Action", "TimeCreate", "PriceOpen")
VOLUME_FIELDS = ("Volume", "VolumeExt")  # one of them: VolumeExt (1e-8 lot) is the finer


def password_hash(password: str) -> bytes:
    inner = hashlib.md5(password.encode("utf-16-le")).digest()  # noqa: S324 (MT5 protocol)
    return hashlib.md5(inner + b"WebAPI").digest()  # noqa: S324 (MT5 protocol)


def rand_answer(pw_hash: bytes, rand: bytes) -> str:
    return hashlib.md5(pw_hash + rand).hexdigest()  # noqa: S324 (MT5 protocol)


def retcode_of(answer: dict) -> tuple[int, str]:
    raw = str(answer.get("retcode", "")).strip()
    number, _, text = raw.partition(" ")
    try:
        return int(number), text or raw
    except ValueError:
        raise PlatformMalformed(f"MT5 answered without a retcode: {raw[:80]!r}") from None


class _TooFrequent(PlatformUnavailable):
    """The server answered "12 Too frequent requests": nothing was done."""


class RateLimiter:
    """At most `per_second` calls per second (a token bucket of one second), thread-safe."""

    def __init__(self, per_second: float):
        self.interval = 1.0 / per_second if per_second and per_second > 0 else 0.0
        self.next_at = 0.0
        self.lock = threading.Lock()

    def slow_down(self) -> None:
        """Half the pace (at least a quarter of a second between calls, at most a second): the
        server said we call too often."""
        with self.lock:
            self.interval = min(max(self.interval * 2, 0.25), 1.0)
            self.next_at = max(self.next_at, time.monotonic() + self.interval)

    def wait(self) -> None:
        if not self.interval:
            return
        with self.lock:
            now = time.monotonic()
            at = max(now, self.next_at)
            self.next_at = at + self.interval
        if at > now:
            time.sleep(at - now)


class MT5WebAPI(TradingPlatform):
    def __init__(
        self,
        *,
        url: str,
        login: str,
        password: str,
        timezone: str = "UTC",
        symbols: SymbolMap | None = None,
        batch_size: int = 500,
        max_requests_per_second: float = 10,
        timeout: float = 15.0,
    ):
        parsed = urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise PlatformError(f"The trading server URL {url!r} is not an http(s) URL.")
        self.scheme, self.host = parsed.scheme, parsed.hostname
        self.port = parsed.port or (443 if parsed.scheme == "https" else 80)
        self.login, self.pw_hash = str(login), password_hash(password)
        self.zone = ZoneInfo(timezone)
        self.symbols = symbols or SymbolMap({})
        self.batch_size = max(1, batch_size)
        self.limiter = RateLimiter(max_requests_per_second)
        self.timeout = timeout
        self.conn: http.client.HTTPConnection | None = None
        self.cookie: str | None = None
        self.calls = 0
        self.frequent = 0  # calls the server refused as too frequent, sent again

    # --- transport -----------------------------------------------------------------------------

    def _connection(self) -> http.client.HTTPConnection:
        if self.conn is None:
            cls = (
                http.client.HTTPSConnection
                if self.scheme == "https"
                else http.client.HTTPConnection
            )
            self.conn = cls(self.host, self.port, timeout=self.timeout)
        return self.conn

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
        self.conn, self.cookie = None, None

    def _raw_get(self, path: str, params: dict, body: dict | None = None) -> tuple[int, bytes]:
        """One GET, or a POST when there is a JSON `body` (how secrets travel: never in the
        URL, which servers and proxies log). PlatformUnavailable if it could not be sent,
        PlatformOutcomeUnknown if it was sent and nothing (or a cut-off answer) came back."""
        self.limiter.wait()
        target = f"{path}?{urlencode(params)}" if params else path
        headers = {"Accept": "application/json", "Connection": "keep-alive"}
        if self.cookie:
            headers["Cookie"] = self.cookie
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        conn = self._connection()
        self.calls += 1
        try:
            conn.request("GET" if payload is None else "POST", target, payload, headers)
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            raise PlatformUnavailable(
                f"The trading server at {self.host}:{self.port} is unreachable ({exc})."
            ) from exc
        try:
            resp = conn.getresponse()
            body = resp.read()
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            raise PlatformOutcomeUnknown(
                f"The trading server did not answer {path} ({exc.__class__.__name__})."
            ) from exc
        cookie = resp.getheader("Set-Cookie")
        if cookie:
            self.cookie = cookie.split(";", 1)[0]
        if resp.getheader("Connection", "").lower() == "close":
            self.close()
        return resp.status, body

    def _parse(self, path: str, status: int, body: bytes) -> dict:
        try:
            answer = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise PlatformMalformed(
                f"The trading server answered {path} with something that is not JSON "
                f"(HTTP {status}, {body[:60]!r})."
            ) from None
        if not isinstance(answer, dict):
            raise PlatformMalformed(
                f"The trading server answered {path} with a JSON {type(answer).__name__}."
            )
        return answer

    def _authenticate(self) -> None:
        self.cookie = None
        params = {"version": VERSION, "agent": AGENT, "login": self.login, "type": "manager"}
        start = self._parse("/api/auth/start", *self._raw_get("/api/auth/start", params))
        code, text = retcode_of(start)
        if code != 0:
            raise self._refused(code, text)
        try:
            srv_rand = bytes.fromhex(start["srv_rand"])
        except (KeyError, ValueError, TypeError):
            raise PlatformMalformed(
                "The trading server's auth/start answer has no valid srv_rand."
            ) from None
        cli_rand = secrets.token_bytes(16)
        params = {
            "srv_rand_answer": rand_answer(self.pw_hash, srv_rand),
            "cli_rand": cli_rand.hex(),
        }
        answer = self._parse("/api/auth/answer", *self._raw_get("/api/auth/answer", params))
        code, text = retcode_of(answer)
        if code != 0:
            raise self._refused(code, text)
        if str(answer.get("cli_rand_answer", "")).lower() != rand_answer(self.pw_hash, cli_rand):
            raise PlatformAuthFailed(
                "The trading server could not prove it knows the manager password."
            )

    def _refused(self, code: int, text: str) -> PlatformError:
        if code in AUTH_RANGE:
            return auth_refused(code, text, login=self.login)
        if code == RET_FREQUENT:
            return _TooFrequent(f"The trading server is rate-limiting us: {code} {text}.")
        if code in TRANSIENT_RETCODES:
            return PlatformUnavailable(f"The trading server cannot log us in now: {code} {text}.")
        return PlatformAuthFailed(
            f"The trading server refused manager login {self.login}: {code} {text}."
        )

    def call(
        self,
        path: str,
        params: dict | None = None,
        *,
        body: dict | None = None,
        idempotent: bool = True,
        whole: bool = False,
    ):
        """An authenticated call: the `answer`, or a PlatformError. A dead session is
        re-established once (the server executed nothing when it refused the session). A read
        whose answer was lost (e.g. a keep-alive connection the server had closed) is sent once
        more on a new connection; a write never is. A call the server refused as too frequent
        (nothing done) is sent again at a slower pace, up to FREQUENT_RETRIES times. Timed and
        counted by path (errors by their code) in brokerage.metrics."""
        with outside_call("platform", "mt5", path):
            retries = 0
            while True:
                try:
                    return self._call(path, params, body=body, idempotent=idempotent, whole=whole)
                except _TooFrequent:
                    if retries == FREQUENT_RETRIES:
                        raise
                    retries += 1
                    self.frequent += 1
                    self.limiter.slow_down()  # the next send waits for the slower pace

    def _call(self, path: str, params: dict | None, *, body, idempotent: bool, whole: bool):
        params = params or {}
        for attempt in (1, 2):
            if self.cookie is None:
                try:
                    self._authenticate()
                except PlatformOutcomeUnknown:  # a stale connection: the handshake is harmless
                    try:
                        self._authenticate()
                    except PlatformOutcomeUnknown as exc:  # `path` was never sent
                        raise PlatformUnavailable(exc.message) from exc
            try:
                status, answer_body = self._raw_get(path, params, body)
            except PlatformOutcomeUnknown:
                if idempotent and attempt == 1:
                    continue
                raise
            if status == 403 or status == 401:
                self.cookie = None
                if attempt == 1:
                    continue
            if status >= 500:
                message = f"The trading server failed on {path} (HTTP {status})."
                if idempotent:
                    raise PlatformUnavailable(message)
                raise PlatformOutcomeUnknown(message)  # it may have done it before failing
            try:
                answer = self._parse(path, status, answer_body)
            except PlatformMalformed as exc:
                if idempotent:
                    raise
                raise PlatformOutcomeUnknown(f"{exc.message} It may have been done.") from exc
            code, text = retcode_of(answer)
            if code == RET_PERMISSIONS and attempt == 1:
                self.cookie = None
                continue
            if code == 0:
                return answer if whole else answer.get("answer")
            if code == RET_FREQUENT:  # refused before doing anything: sent again, slower
                raise _TooFrequent(f"The trading server is rate-limiting us: {text}.")
            if code in TRANSIENT_RETCODES:  # network, timeout, connection inside the server
                message = f"The trading server failed on {path}: {code} {text}."
                if idempotent:
                    raise PlatformUnavailable(message)
                raise PlatformOutcomeUnknown(message)
            if code == RET_NO_MONEY:
                raise PlatformRejected(
                    "Not enough free margin on the trading account.", retcode=code, code="no_money"
                )
            if code in AUTH_RANGE:
                self.cookie = None
                raise auth_refused(code, text, login=self.login)
            if code == RET_PERMISSIONS and status in (401, 403):
                raise PlatformAuthFailed(f"The trading server refused the session: {code} {text}.")
            if code == RET_PERMISSIONS:  # a live session, refused this one request
                raise PlatformRejected(
                    f"The trading server refused {path}: not enough permissions (the manager's "
                    f"rights, or a group that does not exist on the server): {code} {text}.",
                    retcode=code,
                    code="not_permitted",
                )
            if code == RET_NOT_FOUND:
                raise PlatformRejected(
                    f"Not found on the trading server: {text}.", retcode=code, code="not_found"
                )
            raise PlatformRejected(
                f"The trading server refused {path}: {code} {text}.", retcode=code
            )
        raise PlatformAuthFailed("The trading server kept refusing the session.")

    # --- conversions ---------------------------------------------------------------------------

    def to_utc(self, server_seconds) -> datetime:
        """Server-local epoch seconds (its wall clock written as if UTC) -> aware UTC."""
        local = datetime.fromtimestamp(int(server_seconds), UTC).replace(tzinfo=None)
        return local.replace(tzinfo=self.zone).astimezone(UTC)

    def to_server(self, at: datetime) -> int:
        local = at.astimezone(self.zone).replace(tzinfo=None)
        return int(local.replace(tzinfo=UTC).timestamp())

    def server_window(self, since: datetime, until: datetime) -> dict[str, str]:
        """`from`/`to` in server time covering [since, until]. When the window spans the autumn
        clock change the server's wall clock runs back, so `from` moves back by the difference
        (a wider window only re-reads deals, which are stored once)."""
        back = self.zone.utcoffset(since.astimezone(self.zone).replace(tzinfo=None)) or timedelta()
        ahead = self.zone.utcoffset(until.astimezone(self.zone).replace(tzinfo=None)) or timedelta()
        start = self.to_server(since) - max(0, int((back - ahead).total_seconds()))
        return {"from": str(start), "to": str(max(start, self.to_server(until)))}

    def _account(self, user: dict | None, acc: dict | None) -> AccountInfo:
        src = {**(user or {}), **(acc or {})}
        rights = _int_or_none(src.get("Rights"))
        return AccountInfo(
            login=int(src["Login"]),
            group=str(src.get("Group", "")),
            currency=str(src.get("Currency", "")),
            leverage=int(src.get("Leverage") or src.get("MarginLeverage") or 0),
            balance=Decimal(str(src.get("Balance", "0"))),
            credit=Decimal(str(src.get("Credit", "0"))),
            equity=Decimal(str(src.get("Equity", src.get("Balance", "0")))),
            margin=Decimal(str(src.get("Margin", "0"))),
            margin_free=Decimal(str(src.get("MarginFree", src.get("Balance", "0")))),
            rights=rights,
            trading_disabled=bool(rights is not None and rights & USER_RIGHT_TRADE_DISABLED),
        )

    def deal_from(self, raw) -> DealRecord | Rejected:
        if not isinstance(raw, dict):
            return Rejected(
                f"a deal that is not an object: {str(raw)[:80]!r}", {"raw": str(raw)[:500]}
            )
        ticket = _int_or_none(raw.get("Deal"))
        login = _int_or_none(raw.get("Login"))
        missing = [f for f in DEAL_FIELDS if raw.get(f) in (None, "") and f != "Symbol"]
        if all(raw.get(f) in (None, "") for f in VOLUME_FIELDS):
            missing.append("Volume")
        if missing:
            return Rejected(f"deal lacks {', '.join(missing)}", raw, ticket, login)
        try:
            action, entry = int(raw["Action"]), int(raw.get("Entry") or 0)
            symbol = ""
            if action in (0, 1):
                symbol = self.symbols.canonical(raw.get("Symbol", ""))
                if symbol is None:
                    return Rejected(f"unknown symbol {raw.get('Symbol')!r}", raw, ticket, login)
            return DealRecord(
                ticket=ticket,
                login=login,
                time=self._deal_time(raw),
                action=action,
                entry=entry,
                symbol=symbol,
                **_volumes(raw),
                price=Decimal(str(raw.get("Price") or "0")),
                profit=_money(raw.get("Profit")),
                swap=_money(raw.get("Storage")),
                commission=_money(raw.get("Commission")),
                position_id=int(raw.get("PositionID") or 0),
                comment=str(raw.get("Comment") or "")[:64],
            )
        except (ValueError, TypeError, InvalidOperation, OverflowError) as exc:
            return Rejected(f"deal has an unreadable value ({exc})", raw, ticket, login)

    def _deal_time(self, raw: dict) -> datetime:
        msc = raw.get("TimeMsc")
        if msc not in (None, ""):
            ms = int(msc)
            return self.to_utc(ms // 1000) + timedelta(milliseconds=ms % 1000)
        return self.to_utc(raw["Time"])

    def position_from(self, raw) -> PositionRecord | Rejected:
        if not isinstance(raw, dict):
            return Rejected(
                f"a position that is not an object: {str(raw)[:80]!r}", {"raw": str(raw)[:500]}
            )
        ticket, login = _int_or_none(raw.get("Position")), _int_or_none(raw.get("Login"))
        missing = [f for f in POSITION_FIELDS if raw.get(f) in (None, "")]
        if all(raw.get(f) in (None, "") for f in VOLUME_FIELDS):
            missing.append("Volume")
        if missing:
            return Rejected(f"position lacks {', '.join(missing)}", raw, ticket, login)
        symbol = self.symbols.canonical(raw["Symbol"])
        if symbol is None:
            return Rejected(f"unknown symbol {raw['Symbol']!r}", raw, ticket, login)
        try:
            return PositionRecord(
                position_id=ticket,
                login=login,
                symbol=symbol,
                action=int(raw["Action"]),
                **_volumes(raw),
                price_open=Decimal(str(raw["PriceOpen"])),
                price_current=Decimal(str(raw.get("PriceCurrent") or raw["PriceOpen"])),
                profit=_money(raw.get("Profit")),
                swap=_money(raw.get("Storage")),
                opened_at=self.to_utc(raw["TimeCreate"]),
            )
        except (ValueError, TypeError, InvalidOperation, OverflowError) as exc:
            return Rejected(f"position has an unreadable value ({exc})", raw, ticket, login)

    # --- the interface -------------------------------------------------------------------------

    def account_create(
        self, *, group, leverage, name, email, country, password, comment=""
    ) -> AccountInfo:
        added = self.call(
            "/api/user/add",
            {
                "group": group,
                "name": name[:128],
                "leverage": str(int(leverage)),
                "email": email,
                "country": country,
                "comment": comment,
            },
            body={"PassMain": password, "PassInvestor": strong_password()},
            idempotent=False,  # sent twice, it would open two accounts
            whole=True,  # MetaQuotes documents the new login beside the record, too
        )
        user = added.get("answer") if isinstance(added.get("answer"), dict) else {}
        if _int_or_none(user.get("Login")) is None and _int_or_none(added.get("login")):
            user = {**user, "Login": added["login"]}
        if _int_or_none(user.get("Login")) is None:
            # Done, but which account? Its comment tells.
            raise PlatformOutcomeUnknown("The trading server opened an account but sent no login.")
        return self._with_currency(self._account(user, None), group)

    def _with_currency(self, info: AccountInfo, group: str) -> AccountInfo:
        """The account with its group's currency; without it (the caller knows the account
        type's) when the server cannot say: the account exists either way."""
        try:
            currency = self.group_currency(group)
        except PlatformError as exc:
            log.warning("No currency for group %s: %s", group, exc)
            return info
        return AccountInfo(**{**info.__dict__, "currency": currency})

    def account_find(
        self, *, group: str, comment: str, thorough: bool = False
    ) -> AccountInfo | None:
        # A new account usually gets one of its group's highest logins, so the latest few are
        # read; `thorough` reads the whole group, newest first, a batch at a time.
        logins = self.call("/api/user/logins", {"group": group})
        if not isinstance(logins, list):
            raise PlatformMalformed("The trading server's login list is not a list.")
        known = sorted((n for n in map(_int_or_none, logins) if n is not None), reverse=True)
        chunks = _chunks(known, self.batch_size) if thorough else [known[:RECENT_LOGINS]]
        for chunk in chunks:
            if not chunk:
                continue
            users = self.call("/api/user/get_batch", {"login": ",".join(map(str, chunk))})
            for raw in users if isinstance(users, list) else []:
                if isinstance(raw, dict) and raw.get("Comment") == comment:
                    try:
                        info = self._account(raw, None)
                    except (KeyError, ValueError, TypeError, InvalidOperation) as exc:
                        message = f"The account found is unreadable ({exc})."
                        raise PlatformMalformed(message) from exc
                    return self._with_currency(info, group)
        return None

    def password_change(self, *, login: int, password: str) -> None:
        self.call(
            "/api/user/change_password",
            body={"Login": str(login), "Type": "main", "Password": password},
            idempotent=False,  # an answer lost may still have changed it: never assume either
        )

    def group_currency(self, group: str) -> str:
        answer = self.call("/api/group/get", {"group": group})
        if not isinstance(answer, dict) or not answer.get("Currency"):
            raise PlatformMalformed(f"The trading server sent no currency for group {group!r}.")
        return str(answer["Currency"])

    def account_get(self, login: int) -> AccountInfo:
        user = self.call("/api/user/get", {"login": str(login)})
        acc = self.call("/api/user/account/get", {"login": str(login)})
        return self._account(user, acc)

    def account_user(self, login: int) -> AccountInfo:
        return self._user_read(self.call("/api/user/get", {"login": str(login)}))

    def _user_read(self, user) -> AccountInfo:
        if not isinstance(user, dict):
            raise PlatformMalformed("The trading server's user record is not an object.")
        try:
            info = self._account(user, None)
        except (KeyError, ValueError, TypeError, InvalidOperation) as exc:
            raise PlatformMalformed(
                f"The trading server's user record is unreadable ({exc})."
            ) from exc
        if info.rights is None:
            raise PlatformMalformed("The trading server's user record has no Rights.")
        return info

    def account_update(
        self,
        *,
        login: int,
        leverage: int | None = None,
        trading_disabled: bool | None = None,
        group: str | None = None,
    ) -> AccountInfo:
        """`/api/user/update?login=&rights=&leverage=&group=` as MetaQuotes documents it: the
        rights are the record's own with USER_RIGHT_TRADE_DISABLED set or cleared (read first,
        so no other right changes), the group moves the account (MT5 has no close-only right
        per account: close-only is a symbol trade mode of a group), and the answer is the
        record as it now stands. A value the server did not take ("if a parameter value is
        incorrect, the parameter does not change") is a refusal."""
        params = {"login": str(login)}
        if trading_disabled is not None:
            rights = self.account_user(login).rights
            if trading_disabled:
                rights |= USER_RIGHT_TRADE_DISABLED
            else:
                rights &= ~USER_RIGHT_TRADE_DISABLED
            params["rights"] = str(rights)
        if leverage is not None:
            params["leverage"] = str(int(leverage))
        if group is not None:
            params["group"] = group
        # Absolute values: sent again after a lost answer, it does the same thing.
        info = self._user_read(self.call("/api/user/update", params))
        if (
            (leverage is not None and info.leverage != int(leverage))
            or (trading_disabled is not None and info.trading_disabled != trading_disabled)
            or (group is not None and info.group != group)
        ):
            raise PlatformRejected(
                f"The trading server kept account {login} as it was (leverage 1:{info.leverage}, "
                f"trading {'disabled' if info.trading_disabled else 'allowed'}, "
                f"group {info.group}).",
                code="not_changed",
            )
        return info

    def accounts_get(self, logins: list[int]) -> Batch:
        batch = Batch()
        for chunk in _chunks(logins, self.batch_size):
            answer = self.call("/api/user/account/get_batch", {"login": ",".join(map(str, chunk))})
            batch.calls += 1
            for raw in answer or []:
                try:
                    batch.records.append(self._account(None, raw))
                except (KeyError, ValueError, TypeError, InvalidOperation) as exc:
                    batch.rejected.append(
                        Rejected(
                            f"account record unreadable ({exc})",
                            raw if isinstance(raw, dict) else {},
                            login=_int_or_none(
                                (raw or {}).get("Login") if isinstance(raw, dict) else None
                            ),
                        )
                    )
        return batch

    def balance_operation(self, *, login: int, amount: Decimal, comment: str) -> int:
        if len(comment) > COMMENT_MAX:
            raise ValueError(f"MT5 comments are at most {COMMENT_MAX} characters.")
        answer = self.call(
            "/api/trade/balance",
            {
                "login": str(login),
                "type": "2",
                "balance": f"{Decimal(amount):.2f}",
                "comment": comment,
                "check_margin": "1",
            },
            idempotent=False,
        )
        try:  # MetaQuotes documents {"Ticket": "<deal>"}
            return int(answer["Ticket"])
        except (KeyError, TypeError, ValueError):
            raise PlatformOutcomeUnknown(
                "The trading server accepted the balance operation but sent no ticket."
            ) from None

    def balance_operation_find(self, *, login: int, comment: str, since: datetime) -> int | None:
        until = datetime.now(UTC) + timedelta(minutes=5)
        answer = self.call(
            "/api/deal/get_batch",
            {"login": str(login), **self.server_window(since, until)},
        )
        for raw in answer or []:
            if (
                isinstance(raw, dict)
                and str(raw.get("Action")) == "2"
                and raw.get("Comment") == comment
            ):
                return int(raw["Deal"])
        return None

    def deals(self, *, logins: list[int], since: datetime, until: datetime) -> Batch:
        batch = Batch()
        window = self.server_window(since, until)
        for chunk in _chunks(logins, self.batch_size):
            answer = self.call(
                "/api/deal/get_batch", {"login": ",".join(map(str, chunk)), **window}
            )
            batch.calls += 1
            if not isinstance(answer, list):
                raise PlatformMalformed("The trading server's deal list is not a list.")
            records = []
            for raw in answer:
                record = self.deal_from(raw)
                (batch.rejected if isinstance(record, Rejected) else records).append(record)
            batch.records.extend(self.repeated_hour_resolved(records, since=since, until=until))
        return batch

    def deal_get(self, ticket: int) -> DealRecord | Rejected | None:
        try:
            answer = self.call("/api/deal/get", {"ticket": str(ticket)})
        except PlatformRejected as exc:
            if exc.code == "not_found":
                return None
            raise
        return self.deal_from(answer)

    def repeated_hour_resolved(
        self,
        records: list[DealRecord],
        *,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[DealRecord]:
        """Deals stamped inside the hour the autumn clock change repeats are read as its first
        occurrence; one is moved to the second when only the second lies in the window asked
        for [since, until], or when a deal of the same account with a lower ticket (an
        account's tickets grow with time, even in imported history) is already later than the
        first. A deal with neither witness keeps the first."""
        latest: dict[int, datetime] = {}
        out = []
        for record in sorted(records, key=lambda r: r.ticket):
            seen = latest.get(record.login)
            early = (seen is not None and record.time < seen) or (
                since is not None and record.time < since
            )
            second = self.second_occurrence(record.time) if early else None
            if second is not None and (
                (seen is not None and record.time < seen <= second)
                or (since is not None and record.time < since <= second <= (until or second))
            ):
                record = dataclass_replace(record, time=second)
            latest[record.login] = record.time if seen is None else max(seen, record.time)
            out.append(record)
        return out

    def second_occurrence(self, at: datetime) -> datetime | None:
        """The later UTC instant the same server-local wall clock time names, when `at` falls
        in a repeated hour; else None."""
        local = at.astimezone(self.zone).replace(tzinfo=None)
        later = local.replace(tzinfo=self.zone, fold=1).astimezone(UTC)
        return later if later > at else None

    def positions(self, *, logins: list[int]) -> Batch:
        batch = Batch()
        for chunk in _chunks(logins, self.batch_size):
            answer = self.call("/api/position/get_batch", {"login": ",".join(map(str, chunk))})
            batch.calls += 1
            if not isinstance(answer, list):
                raise PlatformMalformed("The trading server's position list is not a list.")
            for raw in answer:
                record = self.position_from(raw)
                (batch.rejected if isinstance(record, Rejected) else batch.records).append(record)
        return batch


def _volumes(raw: dict) -> dict:
    """`volume` (1/10000 lot) and `volume_ext` (1/100000000 lot) of a deal or position record:
    VolumeExt, when the server sends it, is the exact one and `volume` follows from it."""
    ext = raw.get("VolumeExt")
    if ext not in (None, ""):
        volume_ext = int(ext)
        if volume_ext < 0:
            raise ValueError(f"VolumeExt {ext!r}")
        return {"volume": volume_ext // VOLUME_EXT_PER_VOLUME, "volume_ext": volume_ext}
    volume = int(raw.get("Volume") or 0)
    return {"volume": volume, "volume_ext": volume * VOLUME_EXT_PER_VOLUME}


def _chunks(items: list, size: int):
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _int_or_none(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _money(value) -> Decimal:
    if value in (None, ""):
        return Decimal("0.00")
    amount = Decimal(str(value))
    if not amount.is_finite():
        raise ValueError(f"amount {value!r}")
    return amount.quantize(Decimal("0.01"))
