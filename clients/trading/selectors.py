"""Reads on trading accounts for the portal and the back-office: account types a client may
open, their accounts, openings still being confirmed, positions and deals.

Contract: reads only (no writes, no locks); querysets scoped to the client passed in.
Writes are in `.services`.
"""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Q, QuerySet
from django.utils import timezone

from ..models import AccountOpening, AccountType, Client, Deal, Position, TradingAccount


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
