"""The Web API's wire: retcodes, the server's groups, how parameters arrive and are parsed,
how passwords are hashed and sessions proven, and the records numbers are written into (every
number a string, money with 2 decimals)."""

import hashlib
import json
import re
import time
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

RET_OK = "0 Done"
RET_ERROR = "2 Common error"
RET_BAD_PARAMS = "3 Invalid parameters"
RET_NO_PERMISSIONS = "8 Not enough permissions"  # with HTTP 403: no session
RET_NO_PERMISSIONS_HERE = RET_NO_PERMISSIONS  # with HTTP 200: a live session, this request refused
RET_FREQUENT = "12 Too frequent requests"
RET_NOT_FOUND = "13 Not found"
# Authentication (MT_RET_AUTH_*): a wrong login or password is "invalid account" (1001); 1002
# is a disabled account, never a wrong password.
RET_AUTH_CLIENT_INVALID = "1000 Invalid terminal type"
RET_INVALID_ACCOUNT = "1001 Invalid account"
RET_ACCOUNT_DISABLED = "1002 Account disabled"
RET_CLIENT_OLD = "1010 Old client version"
AUTH_RETCODES = {
    1000: "Invalid terminal type",
    1001: "Invalid account",
    1002: "Account disabled",
    1003: "Advanced authorization necessary",
    1004: "Certificate required",
    1005: "Invalid certificate",
    1006: "Certificate is not confirmed",
    1007: "Attempt to connect to non-access server",
    1008: "Server is not authenticated",
    1009: "Only updates available",
    1010: "Old client version",
    1011: "Manager account does not have manager config",
    1012: "IP address unallowed for manager",
    1013: "Group is not initialized",
    1014: "Certificate generation disabled",
    1015: "Invalid or disabled server id",
    1016: "Unallowed address",
    1017: "Invalid server type",
    1018: "Server is busy",
    1019: "Invalid server certificate",
    1020: "Unknown account",
    1021: "Old server version",
    1022: "Server cannot be connected due to license limitation",
    1023: "Mobile connection aren't allowed in server license",
}
MIN_CLIENT_VERSION = 484
RET_USER_PASSWORD = "3006 Invalid account password"
RET_NO_MONEY = "10019 Not enough money"
RET_TRADE_DISABLED = "10017 Trade disabled"  # MT_RET_REQUEST_TRADE_DISABLED
RET_CLOSE_ONLY = "10044 Only position closing is allowed"  # MT_RET_REQUEST_CLOSE_ONLY

# IMTUser::EnUsersRights, the user record's `Rights` (a sum of flags), as MetaQuotes documents
# them; the ones the sandbox acts on. A new account gets USER_RIGHT_DEFAULT unless `rights`
# says otherwise.
USER_RIGHT_ENABLED = 0x1  # the user may connect
USER_RIGHT_PASSWORD = 0x2  # the user may change the password
USER_RIGHT_TRADE_DISABLED = 0x4  # trading is disabled for the user
USER_RIGHT_TRAILING = 0x20
USER_RIGHT_EXPERT = 0x40
USER_RIGHT_REPORTS = 0x100
USER_RIGHT_DEFAULT = (
    USER_RIGHT_ENABLED
    | USER_RIGHT_PASSWORD
    | USER_RIGHT_TRAILING
    | USER_RIGHT_EXPERT
    | USER_RIGHT_REPORTS
)  # 0x163
USER_RIGHT_ALL = 0x3FFFF  # every flag up to USER_RIGHT_EXCLUDE_REPORTS (0x20000)
MAX_UPDATE_LEVERAGE = 500  # user/update: "leverage from 1 to 500"

MAX_BATCH_LOGINS = 1000
# `Volume` counts 1/10000 lot, `VolumeExt` 1/100000000 lot (the finer volume of newer builds).
VOLUME_EXT_PER_VOLUME = 10000
MAX_COMMENT = 32
MAX_USER_COMMENT = 64

GROUPS = {
    "real\\standard-usd": "USD",
    "real\\standard-eur": "EUR",
    "real\\pro-usd": "USD",
    "demo\\forex-usd": "USD",
    "real\\close-only-usd": "USD",
    "real\\close-only-eur": "EUR",
}
# The trade mode of every symbol in a group's symbol settings (IMTConGroupSymbol::TradeMode, as
# MQL5's ENUM_SYMBOL_TRADE_MODE numbers it): full, unless the group says otherwise. A close-only
# group refuses an order opening a position ("10044 Only position closing is allowed") and
# closes positions as any other.
TRADE_MODE_CLOSEONLY = 3
TRADE_MODE_FULL = 4
GROUP_TRADE_MODES = {
    "real\\close-only-usd": TRADE_MODE_CLOSEONLY,
    "real\\close-only-eur": TRADE_MODE_CLOSEONLY,
}


class ApiError(Exception):
    """A Web API call refused with `retcode` (HTTP `status`)."""

    def __init__(self, retcode: str, status: int = 200):
        super().__init__(retcode)
        self.retcode = retcode
        self.status = status


@dataclass
class Reply:
    status: int
    payload: object
    cookie: str | None = None
    drop: bool = False
    slow: float = 0.0
    malformed: bool = False


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
    "Rights": "rights",
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


def _special(c: str) -> bool:
    return not c.isalnum() and c.isprintable() and not c.isspace()


def valid_password(password: str) -> bool:
    """MT5's rule for account passwords (user/add, change_password): 8 to 16 characters of the
    four kinds, lower case, upper case, digits and special characters (#, @, ! ...)."""
    kinds = (str.islower, str.isupper, str.isdigit, _special)
    return 8 <= len(password) <= 16 and all(any(test(c) for c in password) for test in kinds)


def password_hash(password: str) -> bytes:
    inner = hashlib.md5(password.encode("utf-16-le")).digest()  # noqa: S324 (MT5 protocol)
    return hashlib.md5(inner + b"WebAPI").digest()  # noqa: S324 (MT5 protocol)


def rand_answer(pw_hash: bytes, rand: bytes) -> str:
    return hashlib.md5(pw_hash + rand).hexdigest()  # noqa: S324 (protocol)


def money(cents: int) -> str:
    return f"{cents / 100:.2f}"


class ServerClock:
    """Server-local time: the wall clock in the server's zone written as if it were UTC epoch."""

    def __init__(self, timezone: str):
        self.timezone = timezone
        self.tz = ZoneInfo(timezone)

    def srv_time(self, utc: float | None = None) -> float:
        """Server-local epoch of `utc` (now by default)."""
        utc = time.time() if utc is None else utc
        return utc + datetime.fromtimestamp(utc, self.tz).utcoffset().total_seconds()


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


def parse_cents(text) -> int:
    """A signed decimal with at most 2 decimals, as cents; else "3 Invalid parameters"."""
    try:
        value = Decimal(str(text).strip())
    except (InvalidOperation, ValueError):
        value = None
    if value is None or not value.is_finite() or (value * 100) % 1:
        raise ApiError(RET_BAD_PARAMS)
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


def user_record(u: dict) -> dict:
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
        "Rights": str(u["rights"]),
    }


def account_record(u: dict, a: dict) -> dict:
    """An account record from the user row `u` and its figures `a` (Market.account)."""
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
