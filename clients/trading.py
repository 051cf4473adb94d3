"""Writes and reads on trading accounts (the platform side lives in clients.platforms)."""

from __future__ import annotations

import secrets
import string

from django.db import transaction
from django.db.models import QuerySet

from brokerage.errors import DomainError, InvalidInput
from brokerage.services import Actor, audit_record

from .models import AccountType, Client, Deal, Position, TradingAccount
from .platforms import PlatformError, PlatformOutcomeUnknown, platform_for

MAX_ACCOUNTS_PER_CLIENT = 5


class AccountNotAllowed(DomainError):
    """That trading account cannot be opened."""

    code = "account_not_allowed"


def _password() -> str:
    """An MT5 main password: letters, digits and a symbol (MT5 requires mixed classes)."""
    alphabet = string.ascii_letters + string.digits
    core = "".join(secrets.choice(alphabet) for _ in range(10))
    return core + secrets.choice("ABCDEFGH") + secrets.choice("23456789") + "#"


def account_types_for(client: Client) -> QuerySet[AccountType]:
    return AccountType.objects.filter(
        is_active=True, server__is_active=True, min_kyc_level__lte=client.kyc_level
    ).select_related("server")


def trading_account_open(
    *, client: Client, account_type: AccountType, leverage: int, actor: Actor, request=None
) -> tuple[TradingAccount, str]:
    """Open an account on the platform and record it. Returns the account and its main
    password, which is shown to the client once and never stored."""
    if client.restricted:
        raise AccountNotAllowed(client.restriction_reason or "The account is restricted.")
    if not account_type.is_active or client.kyc_level < account_type.min_kyc_level:
        raise AccountNotAllowed(
            "Verify your identity to open this account type.",
            fields={"account_type": ["Needs verification."]},
        )
    if leverage not in account_type.leverages:
        raise InvalidInput(
            f"Choose a leverage of {', '.join(f'1:{x}' for x in account_type.leverages)}.",
            fields={"leverage": ["Not offered for this account type."]},
        )
    if client.trading_accounts.filter(status=TradingAccount.Status.ACTIVE).count() >= (
        MAX_ACCOUNTS_PER_CLIENT
    ):
        raise AccountNotAllowed(f"At most {MAX_ACCOUNTS_PER_CLIENT} trading accounts per client.")
    user = client.user
    password = _password()
    platform = platform_for(account_type.server)
    try:
        info = platform.account_create(
            group=account_type.group,
            leverage=leverage,
            name=user.get_full_name() or user.email,
            email=user.email,
            country=client.country,
            password=password,
        )
    except PlatformOutcomeUnknown as exc:
        audit_record(
            actor=actor,
            action="trading_account.open_unknown",
            target=client,
            reason=exc.message,
            evidence={"group": account_type.group},
        )
        raise AccountNotAllowed(
            "The trading server did not answer. Please try again in a minute.",
            code="platform_unavailable",
        ) from exc
    except PlatformError as exc:
        raise AccountNotAllowed(
            "The trading server cannot open accounts right now. Please try again later.",
            code=exc.code,
        ) from exc
    finally:
        platform.close()
    with transaction.atomic():
        # The limit again, under the client's lock: two tabs opening at once get one account
        # each up to the limit (a platform account made beyond it is left unused and audited).
        Client.objects.select_for_update().get(pk=client.pk)
        active = client.trading_accounts.filter(status=TradingAccount.Status.ACTIVE).count()
        if active >= MAX_ACCOUNTS_PER_CLIENT:
            audit_record(
                actor=actor,
                action="trading_account.over_limit",
                target=client,
                reason="opened on the platform beyond the limit; not linked",
                evidence={"login": info.login, "server": account_type.server.name},
            )
            raise AccountNotAllowed(
                f"At most {MAX_ACCOUNTS_PER_CLIENT} trading accounts per client."
            )
        account = TradingAccount.objects.create(
            client=client,
            server=account_type.server,
            account_type=account_type,
            login=info.login,
            group=account_type.group,
            currency=info.currency or account_type.currency,
            leverage=leverage,
            balance_amount=info.balance,
            equity_amount=info.equity,
            margin_free_amount=info.margin_free,
        )
        audit_record(
            actor=actor,
            action="trading_account.opened",
            target=account,
            evidence={
                "login": info.login,
                "server": account_type.server.name,
                "group": account_type.group,
                "leverage": leverage,
                "currency": account.currency,
            },
            request=request,
        )
    return account, password


# --- reads for the portal --------------------------------------------------------------------


def trading_accounts_of(client: Client) -> QuerySet[TradingAccount]:
    return client.trading_accounts.select_related("server", "account_type").order_by("opened_at")


def positions_of(client: Client, account: TradingAccount | None = None) -> QuerySet[Position]:
    qs = Position.objects.filter(client=client).select_related("account")
    return qs.filter(account=account) if account else qs


def deals_of(client: Client, account: TradingAccount | None = None) -> QuerySet[Deal]:
    qs = Deal.objects.filter(client=client).select_related("account").order_by("-time", "-ticket")
    return qs.filter(account=account) if account else qs
