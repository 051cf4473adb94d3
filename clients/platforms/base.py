"""The trading platform interface the product speaks; `mt5.py` implements it for MT5's Web API.

Everything crossing this boundary is already in the product's terms: times are aware UTC, money
and prices are `Decimal`, volumes are in 1/10000 lot, symbols are canonical (XAUUSD, not the
server's XAUUSD.m). A record the adapter cannot read is returned as a `Rejected` with the reason,
never raised, so one bad deal does not stop the rest of a sync.
"""

from __future__ import annotations

import secrets
import string
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from brokerage.errors import DomainError


def strong_password() -> str:
    """An MT5 account password: 13 characters of the four kinds MetaQuotes requires (lower and
    upper case, digits, special characters); the server answers 3006 to anything weaker."""
    alphabet = string.ascii_letters + string.digits
    core = [secrets.choice(alphabet) for _ in range(9)]
    core += [secrets.choice("abcdefghjkmnpqrstuvwxyz"), secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZ")]
    core += [secrets.choice("23456789"), secrets.choice("#@!$%*+=?")]
    secrets.SystemRandom().shuffle(core)
    return "".join(core)


VOLUME_PER_LOT = 10000  # `volume`: 1/10000 lot
VOLUME_EXT_PER_LOT = 100_000_000  # `volume_ext`: 1/100000000 lot


def lots_of(volume: int, volume_ext: int = 0) -> Decimal:
    """Lots from the finer `volume_ext` when there is one, else from `volume`."""
    if volume_ext:
        return Decimal(volume_ext) / VOLUME_EXT_PER_LOT
    return Decimal(volume) / VOLUME_PER_LOT


class PlatformError(DomainError):
    """The trading platform could not do that."""

    code = "platform_error"
    status = 502


class PlatformUnavailable(PlatformError):
    """The request never reached the platform (connection refused, DNS, TLS): safe to retry."""

    code = "platform_unavailable"


class PlatformOutcomeUnknown(PlatformError):
    """The request was sent but no answer came back (timeout, connection dropped): it may have
    been executed. Look the operation up before sending it again."""

    code = "platform_outcome_unknown"


class PlatformAuthFailed(PlatformError):
    """The platform refused the manager credentials."""

    code = "platform_auth_failed"
    reason = "auth_refused"  # what the platform said, by meaning (mt5_retcodes)
    retcode = 0


class PlatformRejected(PlatformError):
    """The platform answered with an error retcode."""

    code = "platform_rejected"
    status = 400

    def __init__(self, message: str = "", *, retcode: int = 0, code: str | None = None, **kw):
        super().__init__(message, code=code, **kw)
        self.retcode = retcode


class PlatformMalformed(PlatformError):
    """The platform's answer could not be read."""

    code = "platform_malformed"


@dataclass(frozen=True)
class AccountInfo:
    login: int
    group: str = ""
    currency: str = ""
    leverage: int = 0
    balance: Decimal = Decimal(0)
    credit: Decimal = Decimal(0)
    equity: Decimal = Decimal(0)
    margin: Decimal = Decimal(0)
    margin_free: Decimal = Decimal(0)
    trading_disabled: bool = False  # the platform refuses the account's orders
    rights: int | None = None  # the platform's own permission flags, as evidence (MT5: Rights)


@dataclass(frozen=True)
class DealRecord:
    ticket: int
    login: int
    time: datetime
    action: int
    entry: int
    symbol: str
    volume: int
    price: Decimal
    profit: Decimal
    swap: Decimal
    commission: Decimal
    position_id: int
    comment: str = ""
    volume_ext: int = 0  # 1/100000000 lot, when the platform reports it (finer than `volume`)

    @property
    def lots(self) -> Decimal:
        return lots_of(self.volume, self.volume_ext)

    @property
    def is_trade(self) -> bool:
        return self.action in (0, 1)


@dataclass(frozen=True)
class PositionRecord:
    position_id: int
    login: int
    symbol: str
    action: int
    volume: int
    price_open: Decimal
    price_current: Decimal
    profit: Decimal
    swap: Decimal
    opened_at: datetime
    volume_ext: int = 0  # 1/100000000 lot, when the platform reports it

    @property
    def lots(self) -> Decimal:
        return lots_of(self.volume, self.volume_ext)


@dataclass(frozen=True)
class Rejected:
    """A record the adapter could not take, with the reason in words."""

    reason: str
    payload: dict = field(default_factory=dict)
    ticket: int | None = None
    login: int | None = None


@dataclass
class Batch:
    """What a batched read returned: the good records, the rejected ones, and the calls made."""

    records: list = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    calls: int = 0


class SymbolMap:
    """Server symbol -> canonical symbol: broker suffixes stripped (XAUUSD.m -> XAUUSD), known
    aliases resolved (GOLD -> XAUUSD). Unknown symbols map to None."""

    def __init__(self, canonical: Mapping[str, Iterable[str]], suffixes: Iterable[str] = ()):
        self.known: dict[str, str] = {}
        for symbol, aliases in canonical.items():
            self.known[symbol.upper()] = symbol
            for alias in aliases or ():
                self.known[alias.upper()] = symbol
        self.suffixes = sorted((s.upper() for s in suffixes if s), key=len, reverse=True)

    def canonical(self, raw: str) -> str | None:
        name = (raw or "").strip().upper()
        if name in self.known:
            return self.known[name]
        for suffix in self.suffixes:
            if name.endswith(suffix) and name[: -len(suffix)] in self.known:
                return self.known[name[: -len(suffix)]]
        # Common broker decorations: a trailing ".x", "_x", "-x" or "#".
        for sep in (".", "_", "-", "#"):
            head = name.split(sep, 1)[0]
            if head != name and head in self.known:
                return self.known[head]
        return None


class TradingPlatform(ABC):
    """One trading server, as the product uses it."""

    @abstractmethod
    def account_create(
        self,
        *,
        group: str,
        leverage: int,
        name: str,
        email: str,
        country: str,
        password: str,
        comment: str = "",
    ) -> AccountInfo:
        """Open an account. Raises PlatformOutcomeUnknown when it may have been opened: look
        it up by `comment` (account_find) before opening another."""

    @abstractmethod
    def account_find(
        self, *, group: str, comment: str, thorough: bool = False
    ) -> AccountInfo | None:
        """A recently opened account of `group` carrying `comment`, if any (`thorough`: look
        through the whole group, not only its newest accounts)."""

    @abstractmethod
    def password_change(self, *, login: int, password: str) -> None:
        """Set the account's main (trading) password. Raises PlatformOutcomeUnknown when it
        may or may not have been changed."""

    @abstractmethod
    def account_get(self, login: int) -> AccountInfo: ...

    @abstractmethod
    def accounts_get(self, logins: list[int]) -> Batch:
        """AccountInfo for each login (batched; unknown logins are absent)."""

    @abstractmethod
    def balance_operation(self, *, login: int, amount: Decimal, comment: str) -> int:
        """Credit (positive) or debit (negative) the account's balance; the deal ticket.
        Raises PlatformOutcomeUnknown when the request may have been executed."""

    @abstractmethod
    def balance_operation_find(self, *, login: int, comment: str, since: datetime) -> int | None:
        """The ticket of the balance operation carrying `comment` since `since`, if any."""

    @abstractmethod
    def deals(self, *, logins: list[int], since: datetime, until: datetime) -> Batch:
        """DealRecords of these accounts with since <= time <= until (UTC), batched."""

    def deal_get(self, ticket: int) -> DealRecord | Rejected | None:
        """The deal as the platform now reports it, or None when the platform answers that it
        does not exist (deleted). Raises PlatformError when it cannot tell."""
        raise NotImplementedError

    def account_update(
        self,
        *,
        login: int,
        leverage: int | None = None,
        trading_disabled: bool | None = None,
        group: str | None = None,
    ) -> AccountInfo:
        """Set the account's leverage, whether its trading is disabled and/or its group (None:
        leave it); the account as the platform now has it. Setting absolute values, it may be
        sent again after a lost answer (PlatformOutcomeUnknown)."""
        raise NotImplementedError

    def account_user(self, login: int) -> AccountInfo:
        """The account's record as the platform keeps it (leverage, whether trading is
        disabled), without its balances."""
        raise NotImplementedError

    @abstractmethod
    def positions(self, *, logins: list[int]) -> Batch:
        """PositionRecords open on these accounts, batched."""

    def close(self) -> None:  # noqa: B027 (optional hook)
        pass
