"""Reads on trading accounts for the portal and the back-office: account types a client may
open, their accounts, openings still being confirmed, positions and deals; and the instrument
a server's symbol is, and an account type's markup on it (for commissions and exposure).

Contract: reads only (no writes, no locks); querysets scoped to the client passed in. The
instrument reads are configuration, the same for every reader. Writes are in `.services`.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.db.models import Q, QuerySet
from django.utils import timezone

from ..models import (
    AccountOpening,
    AccountType,
    AccountTypeMarkup,
    Client,
    Deal,
    Instrument,
    Position,
    TradingAccount,
    TradingServer,
)
from ..platforms import symbol_map_for


def account_types_for(client: Client) -> QuerySet[AccountType]:
    return AccountType.objects.filter(
        is_active=True, server__is_active=True, min_kyc_level__lte=client.kyc_level
    ).select_related("server")


def openings_to_show(client: Client) -> list[AccountOpening]:
    """Openings still being confirmed, and those that did not open in the last day."""
    since = timezone.now() - timedelta(days=1)
    return list(
        client.account_openings.filter(
            Q(status=AccountOpening.Status.PENDING)
            | Q(status=AccountOpening.Status.FAILED, resolved_at__gte=since, lookups__gt=0)
        ).select_related("account_type")[:10]
    )


def trading_accounts_of(client: Client) -> QuerySet[TradingAccount]:
    return client.trading_accounts.select_related("server", "account_type").order_by("opened_at")


def positions_of(client: Client, account: TradingAccount | None = None) -> QuerySet[Position]:
    qs = Position.objects.filter(client=client).select_related("account")
    return qs.filter(account=account) if account else qs


def deals_of(client: Client, account: TradingAccount | None = None) -> QuerySet[Deal]:
    qs = Deal.objects.filter(client=client).select_related("account").order_by("-time", "-ticket")
    return qs.filter(account=account) if account else qs


# --- Instruments ------------------------------------------------------------------------------


class InstrumentResolver:
    """Server symbols -> Instruments, with the map the sync reads deals by (`SymbolMap`: the
    server's suffixes, common decorations such as `.m`, `.pro`, `-ECN`, `.raw`, `_i`, and each
    instrument's aliases), loaded once for a reader that resolves many symbols. A symbol that
    is no instrument gives None and is kept in `unmatched`, for the reader to report; nothing
    raises on a bad symbol."""

    def __init__(self, server: TradingServer | None = None):
        self.instruments = {i.symbol: i for i in Instrument.objects.all()}
        self.symbols = symbol_map_for(server, instruments=self.instruments.values())
        self.unmatched: set[str] = set()

    def __call__(self, symbol) -> Instrument | None:
        canonical = self.symbols.canonical(symbol) if isinstance(symbol, str) else None
        if canonical is None:
            self.unmatched.add(str(symbol))
            return None
        return self.instruments[canonical]


def instrument_resolve(symbol, *, server: TradingServer | None = None) -> Instrument | None:
    """The instrument a server's symbol is (XAUUSD.m, GOLD -> XAUUSD), or None when none
    matches. Without a server, every server's suffixes are tried."""
    return InstrumentResolver(server)(symbol)


def markup_for(account_type: AccountType, symbol) -> Decimal | None:
    """The markup in points `account_type` adds on `symbol` (an Instrument, or a server's symbol
    resolved on the account type's server), or None when none is configured or the symbol is
    no instrument."""
    if isinstance(symbol, Instrument):
        instrument = symbol
    else:
        instrument = instrument_resolve(symbol, server=account_type.server)
    if instrument is None:
        return None
    return (
        AccountTypeMarkup.objects.filter(account_type=account_type, instrument=instrument)
        .values_list("markup_points", flat=True)
        .first()
    )


def has_traded(client_ref: str = "pk"):
    """An expression, true when the client at `client_ref` (an `OuterRef` path) has made a
    trade (a buy or a sell deal, not a balance operation): the funnels' "first trade". One
    probe of the (client, time) index per client."""
    from django.db.models import Exists, OuterRef

    return Exists(
        Deal.objects.filter(
            client=OuterRef(client_ref), action__in=[Deal.Action.BUY, Deal.Action.SELL]
        )
    )


def live_accounts_of(client: Client) -> list[TradingAccount]:
    """The client's live trading accounts with their type, server and what the product imposed
    on them (the staff leverage page)."""
    return list(
        TradingAccount.objects.filter(client=client, status=TradingAccount.Status.ACTIVE)
        .select_related("client", "account_type", "server", "restraint")
        .order_by("login")
    )
