"""Writes on trading accounts: opening one exactly once, resolving openings whose answer was
lost, and a new main password (the platform side lives in `clients.platforms`).

Contract:
- `trading_account_open` asks the client's standing (`clients.standing`, purpose
  open_account) and records the opening under the client's lock (at most
  MAX_ACCOUNTS_PER_CLIENT, one being confirmed at a time), then calls the platform outside any
  transaction as an outside operation (`brokerage.operations.call_outside`): MT5's `user/add`
  has no idempotency key, so the opening's reference travels as the account's comment and a
  lost answer is looked up by it at once, never sent again. The row is claimed by being
  created: an opening is never resent, only looked up.
- `account_openings_resolve` (the sweeper) looks up openings still pending after
  OPENING_LOOK_AFTER: it links the account found (the client is emailed to set its
  password) or, after OPENING_GIVE_UP_AFTER and a look through the whole group, records that
  nothing was opened. `account_openings_look_again` is ops' manual look, which never fails one.
- `trading_account_password_reset` sets a new main password on the platform under the
  account's row lock, at most PASSWORD_RESETS_PER_HOUR.
Every outcome is audited; emails are sent after commit. Reads are in `.selectors`.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from brokerage.errors import DomainError, InvalidInput
from brokerage.models import AuditEvent
from brokerage.operations import call_outside, stale
from brokerage.permissions import actor_require
from brokerage.services import Actor, audit_record
from clients import audit_events

from ..categories import (
    LeverageNotAllowed,
    account_type_check,
    leverage_cap_of,
    leverage_check,
    leverage_who,
    leverages_allowed,
)
from ..locks import lock_client
from ..models import AccountOpening, AccountType, Client, PlatformRestraint, TradingAccount
from ..notify import client_notify
from ..platforms import (
    AccountInfo,
    PlatformAuthFailed,
    PlatformError,
    PlatformOutcomeUnknown,
    PlatformRejected,
    PlatformUnavailable,
    platform_for,
    strong_password,
)
from ..services import client_risk_factor_changed
from ..standing import Purpose, client_standing

logger = logging.getLogger(__name__)

MAX_ACCOUNTS_PER_CLIENT = 5
OPENING_LOOK_AFTER = timedelta(seconds=30)  # the sweeper leaves a request in flight alone
OPENING_GIVE_UP_AFTER = timedelta(minutes=15)  # no account by then: none was opened
SWEEPER = "rule:account-openings"
PASSWORD_RESETS_PER_HOUR = 5
NO_PASSWORD_NOW = (
    "The trading server could not set a new password right now. Please try again later."
)


class AccountNotAllowed(DomainError):
    """That trading account cannot be opened."""

    code = "account_not_allowed"


def trading_account_open(
    *, client: Client, account_type: AccountType, leverage: int, actor: Actor, request=None
) -> tuple[TradingAccount, str]:
    """Open an account on the platform and record it, exactly once. Returns the account and
    its main password, which is shown to the client once and never stored."""
    if not account_type.is_active or client.kyc_level < account_type.min_kyc_level:
        raise AccountNotAllowed(
            "Verify your identity to open this account type.",
            fields={"account_type": ["Needs verification."]},
        )
    try:
        platform = platform_for(account_type.server)
    except PlatformError as exc:
        raise AccountNotAllowed(
            "The trading server cannot open accounts right now. Please try again later.",
            code=exc.code,
        ) from exc
    with transaction.atomic():
        # Under the client's lock: its standing cannot change before this commits, two tabs
        # opening at once get one account each up to the limit, and while an opening is
        # being confirmed no other starts (it may yet appear).
        locked = lock_client(client)
        # The leverage its category and country allow as they stand now (`categories`).
        _leverage_offered(locked, account_type, leverage)
        refusal = client_standing(locked, Purpose.OPEN_ACCOUNT).refusal()
        if refusal is not None:
            raise AccountNotAllowed(refusal.client_message)
        if client.account_openings.filter(status=AccountOpening.Status.PENDING).exists():
            raise AccountNotAllowed(
                "An account you asked for is still being confirmed with the trading server. "
                "It appears under your trading accounts within a few minutes.",
                code="opening_pending",
            )
        active = client.trading_accounts.filter(status=TradingAccount.Status.ACTIVE).count()
        if active >= MAX_ACCOUNTS_PER_CLIENT:
            raise AccountNotAllowed(
                f"At most {MAX_ACCOUNTS_PER_CLIENT} trading accounts per client."
            )
        opening = AccountOpening.objects.create(
            client=client, account_type=account_type, leverage=leverage, reference=_reference()
        )
    user = client.user
    password = strong_password()
    try:
        outcome = call_outside(
            call=lambda: platform.account_create(
                group=account_type.group,
                leverage=leverage,
                name=user.get_full_name() or user.email,
                email=user.email,
                country=client.country,
                password=password,
                comment=opening.reference,
            ),
            lookup=lambda: _find(opening, platform),
            refused=NOT_DONE,  # refused, or never sent: nothing was opened
            lost=(PlatformError,),  # it may have been opened: look before anything else
            lookup_failed=(PlatformError,),  # the opening stays pending for the sweeper
            label=f"account opening {opening.reference}",
        )
    finally:
        platform.close()
    if outcome.refusal is not None:
        _opening_failed(opening, outcome.refusal.message)
        raise AccountNotAllowed(
            "The trading server cannot open accounts right now. Please try again later.",
            code=outcome.refusal.code,
        ) from outcome.refusal
    if outcome.unknown:
        audit_record(
            actor=actor,
            action=audit_events.TRADING_ACCOUNT_OPEN_UNKNOWN,
            target=client,
            reason=outcome.lost.message,
            evidence={"reference": opening.reference, "group": account_type.group},
        )
        raise AccountNotAllowed(
            "The trading server did not confirm the new account. We are checking with "
            "it: if it was opened, it appears under your trading accounts within a few "
            "minutes and you can set its password there.",
            code="platform_unavailable",
        ) from outcome.lost
    account, _ = _opening_link(opening, outcome.answer, actor=actor, request=request)
    return account, password


def _leverage_offered(client: Client, account_type: AccountType, leverage: int) -> None:
    """The account type offers `leverage` and the client's leverage limit allows it, and no
    limit keeps the client from a class the type trades."""
    account_type_check(client, account_type)
    allowed = leverages_allowed(client, account_type.leverages)
    if account_type.leverages and not allowed:
        # Each leverage it offers is above the client's limit: name the limit, not the choices.
        cap = leverage_cap_of(client)
        message = (
            f"{account_type.name} offers no leverage within the 1:{cap.max_leverage} "
            f"{leverage_who(client, cap)} may have, under {cap.title}. Choose another account "
            "type."
        )
        raise LeverageNotAllowed(message, fields={"account_type": [message]})
    if leverage not in account_type.leverages:
        raise InvalidInput(
            f"Choose a leverage of {', '.join(f'1:{x}' for x in allowed)}.",
            fields={"leverage": ["Not offered for this account type."]},
        )
    leverage_check(client, leverage)


def _leverage_changeable(account: TradingAccount, leverage: int) -> None:
    """A live account of a type whose leverages the product offers, and `leverage` one of them
    the client's limit allows."""
    if account.status != TradingAccount.Status.ACTIVE:
        raise AccountNotAllowed("This account is closed.")
    if account.account_type is None:
        raise AccountNotAllowed("This account's leverage is changed on the trading server.")
    _leverage_offered(account.client, account.account_type, leverage)


def trading_account_leverage_change(
    *, account: TradingAccount, leverage: int, actor: Actor, request=None
) -> TradingAccount:
    """Change the account's leverage (the client in the portal, or staff): one the account type
    offers and the client's leverage limit allows, set on the platform, then recorded and
    audited. A leverage the product had lowered (`reach`) is the client's own choice again."""
    account = TradingAccount.objects.select_related("client", "server", "account_type").get(
        pk=account.pk
    )
    client = account.client
    _leverage_changeable(account, leverage)
    refusal = client_standing(client, Purpose.TRADE).refusal()
    if refusal is not None:
        raise AccountNotAllowed(refusal.client_message)
    if leverage == account.leverage:
        return account
    try:
        platform = platform_for(account.server)
    except PlatformError as exc:
        raise AccountNotAllowed(NO_LEVERAGE_NOW, code=exc.code) from exc
    try:
        info = platform.account_update(login=account.login, leverage=leverage)
    except PlatformOutcomeUnknown as exc:  # it may have been changed: what the platform has
        info = _leverage_read_back(platform, account, leverage, exc)
    except PlatformError as exc:
        raise AccountNotAllowed(NO_LEVERAGE_NOW, code=exc.code) from exc
    finally:
        platform.close()
    with transaction.atomic():
        before = account.leverage
        TradingAccount.objects.filter(pk=account.pk).update(leverage=info.leverage)
        PlatformRestraint.objects.filter(account=account).update(
            leverage_cap=None, leverage_before=None
        )
        audit_record(
            actor=actor,
            action=audit_events.TRADING_ACCOUNT_LEVERAGE_CHANGED,
            target=account,
            subject=client,
            evidence={"login": account.login, "from": before, "to": info.leverage},
            request=request,
        )
        # Leverage is a factor of the client's risk rating: rated again now, not overnight.
        client_risk_factor_changed(client_id=client.pk, cause="leverage changed")
    account.leverage = info.leverage
    return account


NO_LEVERAGE_NOW = "The trading server could not change the leverage right now. Please try again."
LEVERAGE_UNCONFIRMED = (
    "The trading server did not confirm the new leverage. Your account shows the leverage the "
    "server has within a few minutes: please check it then."
)


def _leverage_read_back(platform, account: TradingAccount, leverage: int, lost) -> AccountInfo:
    """The answer to a leverage change was lost, so the platform may have made it: the account
    is read back, and the change stands if the platform has it. When it cannot be read either,
    the platform reach is asked to bring the account's record in step with the platform."""
    from .reach import platform_reach_request

    try:
        info = platform.account_user(account.login)
    except PlatformError as exc:
        with transaction.atomic():
            platform_reach_request(accounts=[account.pk], reason="leverage change not confirmed")
        raise AccountNotAllowed(LEVERAGE_UNCONFIRMED, code=lost.code) from exc
    if info.leverage != leverage:
        raise AccountNotAllowed(NO_LEVERAGE_NOW, code=lost.code) from lost
    return info


LEVERAGE_PERM = "clients.change_account_leverage"


@transaction.atomic
def trading_account_leverage_set(
    *, account: TradingAccount, leverage: int, actor: Actor, reason: str
) -> TradingAccount:
    """Staff set an account's leverage (compliance officers and ops admins, for a reason): one
    the account type offers and the client's limit allows, refused naming the limit otherwise.
    It reaches the platform through the platform reach (marked due now, reconciled after
    commit, retried by the sweeper while the platform is down), which audits the change and
    emails the client once the platform has it, and rates the client's risk again. Audited
    now."""
    from .reach import platform_reach_request

    actor_require(actor, LEVERAGE_PERM, "Your role does not change trading accounts' leverage.")
    reason = " ".join((reason or "").split())
    if not reason:
        raise InvalidInput("Say why.", fields={"reason": ["A reason is required."]})
    account = (
        TradingAccount.objects.select_for_update(of=("self",))
        .select_related("client", "account_type")
        .get(pk=account.pk)
    )
    client = account.client
    _leverage_changeable(account, leverage)
    restraint, _ = PlatformRestraint.objects.get_or_create(account=account)
    if leverage == account.leverage and restraint.leverage_wanted is None:
        return account
    PlatformRestraint.objects.filter(pk=restraint.pk).update(leverage_wanted=leverage)
    audit_record(
        actor=actor,
        action=audit_events.TRADING_ACCOUNT_LEVERAGE_REQUESTED,
        target=account,
        subject=client,
        reason=reason[:300],
        evidence={"login": account.login, "from": account.leverage, "to": leverage},
    )
    platform_reach_request(accounts=[account.pk], reason="leverage set by staff")
    return account


# Errors after which the platform certainly did not act (the others leave it unknown).
NOT_DONE = (PlatformRejected, PlatformAuthFailed, PlatformUnavailable)


def _reference() -> str:
    return f"BO-AO-{uuid.uuid4().hex[:16].upper()}"  # 22 characters; MT5 allows 64


def _find(opening: AccountOpening, platform, *, thorough: bool = False) -> AccountInfo | None:
    AccountOpening.objects.filter(pk=opening.pk).update(lookups=F("lookups") + 1)
    return platform.account_find(
        group=opening.account_type.group, comment=opening.reference, thorough=thorough
    )


@transaction.atomic
def _opening_link(
    opening: AccountOpening, info: AccountInfo, *, actor: Actor, request=None
) -> tuple[TradingAccount, bool]:
    """The opening's account, recorded once: (account, whether this call recorded it)."""
    opening = AccountOpening.objects.select_for_update().get(pk=opening.pk)
    if opening.status == AccountOpening.Status.OPENED:  # linked meanwhile
        return opening.account, False
    account_type = opening.account_type
    account = TradingAccount.objects.create(
        client=opening.client,
        server=account_type.server,
        account_type=account_type,
        login=info.login,
        group=account_type.group,
        currency=info.currency or account_type.currency,
        leverage=opening.leverage,
        balance_amount=info.balance,
        equity_amount=info.equity,
        margin_free_amount=info.margin_free,
    )
    late = opening.lookups > 0  # its answer was lost; found by its reference
    opening.status = AccountOpening.Status.OPENED
    opening.account = account
    opening.resolved_at = timezone.now()
    opening.save(update_fields=["status", "account", "resolved_at"])
    audit_record(
        actor=actor,
        action=audit_events.TRADING_ACCOUNT_OPENED,
        target=account,
        reason="found on the trading server after a lost answer" if late else "",
        evidence={
            "login": info.login,
            "server": account_type.server.name,
            "group": account_type.group,
            "leverage": opening.leverage,
            "currency": account.currency,
            "reference": opening.reference,
        },
        request=request,
    )
    if late:
        # The client's standing may have changed while the answer was lost (an AML case opened
        # meanwhile reached only the accounts recorded then): bring this one in step now.
        from .reach import platform_reach_request

        platform_reach_request(accounts=[account.pk], reason="account found after a lost answer")
    return account, True


def _opening_failed(opening: AccountOpening, reason: str) -> bool:
    return bool(
        AccountOpening.objects.filter(pk=opening.pk, status=AccountOpening.Status.PENDING).update(
            status=AccountOpening.Status.FAILED,
            failure_reason=reason[:255],
            resolved_at=timezone.now(),
        )
    )


def account_openings_resolve(
    *,
    look_after: timedelta = OPENING_LOOK_AFTER,
    give_up_after: timedelta = OPENING_GIVE_UP_AFTER,
) -> dict[str, int]:
    """Openings whose answer was lost: link the account the platform has under the opening's
    reference (the client is emailed to set its password), or, once the platform has had
    ample time and a look through the whole group finds nothing, record that nothing was
    opened. A server that cannot be reached leaves its openings for the next run."""
    now = timezone.now()
    left = stale(
        AccountOpening.objects.filter(status=AccountOpening.Status.PENDING),
        due_field="requested_at",
        stale_after=look_after,
        now=now,
    )
    pending = list(
        left.select_related("account_type__server", "client__user").order_by("requested_at")[:200]
    )
    counts = {"opened": 0, "failed": 0, "pending": 0}
    by_server: dict[int, list[AccountOpening]] = {}
    for opening in pending:
        by_server.setdefault(opening.account_type.server_id, []).append(opening)
    for openings in by_server.values():
        try:
            platform = platform_for(openings[0].account_type.server)
        except PlatformError as exc:
            logger.warning("No platform for %s: %s", openings[0].account_type.server, exc)
            counts["pending"] += len(openings)
            continue
        try:
            for opening in openings:
                try:
                    outcome = _opening_resolve(
                        opening, platform, now=now, give_up_after=give_up_after
                    )
                except Exception:  # one opening's surprise must not stall the others
                    logger.exception("Resolving account opening %s failed", opening.reference)
                    outcome = "pending"
                counts[outcome] += 1
        finally:
            platform.close()
    return counts


def _opening_resolve(opening, platform, *, now, give_up_after) -> str:
    giving_up = opening.requested_at <= now - give_up_after
    try:
        info = _find(opening, platform, thorough=giving_up)
    except PlatformError as exc:  # not known either way: the next run looks again
        logger.warning("Looking up account opening %s failed: %s", opening.reference, exc)
        return "pending"
    if info is not None:
        account, linked = _opening_link(opening, info, actor=SWEEPER)
        if linked:  # the client never saw this account's password
            transaction.on_commit(lambda: _account_ready_email(account))
        return "opened"
    if not giving_up:
        return "pending"
    with transaction.atomic():
        if _opening_failed(opening, "The trading server has no account carrying this reference."):
            audit_record(
                actor=SWEEPER,
                action=audit_events.TRADING_ACCOUNT_OPEN_FAILED,
                target=opening.client,
                reason="no account on the trading server after a lost answer",
                evidence={"reference": opening.reference},
            )
            return "failed"
    return "pending"


def account_openings_look_again(*, openings: list[AccountOpening], actor: Actor) -> dict[str, int]:
    """Ops' "look again": each opening (pending, or marked not opened because its account came
    too late) is looked for through its whole group and linked when found. Nothing is failed."""
    counts = {"opened": 0, "not_found": 0, "error": 0}
    for opening in openings:
        if opening.status == AccountOpening.Status.OPENED:
            continue
        try:
            platform = platform_for(opening.account_type.server)
        except PlatformError:
            counts["error"] += 1
            continue
        try:
            info = _find(opening, platform, thorough=True)
        except PlatformError as exc:
            logger.warning("Looking up account opening %s failed: %s", opening.reference, exc)
            counts["error"] += 1
            continue
        finally:
            platform.close()
        if info is None:
            counts["not_found"] += 1
            continue
        account, linked = _opening_link(opening, info, actor=actor)
        if linked:
            transaction.on_commit(lambda a=account: _account_ready_email(a))
        counts["opened"] += 1
    return counts


def _account_email(account: TradingAccount, what: str, key: str, url_name: str) -> None:
    client_notify(
        account.client,
        email=f"trading_account_{what}",
        key=key,
        actor="rule:trading_accounts",
        url_name=url_name,
        args=[account.pk],
        context={"login": str(account.login), "server": account.server.name},
        data={"trading_account": account.login},
    )


def _account_ready_email(account: TradingAccount) -> None:
    _account_email(account, "ready", f"trading_account:{account.pk}:ready", "portal:account")


def trading_account_password_reset(*, account: TradingAccount, actor: Actor, request=None) -> str:
    """A new main password for the account, set on the platform; shown to the client once and
    never stored. One change at a time per account (its row lock), five an hour."""
    with transaction.atomic():
        account = (
            TradingAccount.objects.select_for_update()
            .select_related("client__user", "server")
            .get(pk=account.pk)
        )
        client = account.client
        if account.status != TradingAccount.Status.ACTIVE:
            raise AccountNotAllowed("This account is closed.")
        if client.restricted:
            raise AccountNotAllowed(client.restriction_reason or "The account is restricted.")
        recent = AuditEvent.objects.filter(
            target_type=account._meta.label_lower,
            target_id=str(account.pk),
            action=audit_events.TRADING_ACCOUNT_PASSWORD_RESET,
            occurred_at__gte=timezone.now() - timedelta(hours=1),
        ).count()
        if recent >= PASSWORD_RESETS_PER_HOUR:
            raise AccountNotAllowed(
                f"This account's password was changed {recent} times in the last hour. "
                "Please try again later.",
                code="too_many_requests",
            )
        password = strong_password()
        try:
            platform = platform_for(account.server)
        except PlatformError as exc:
            raise AccountNotAllowed(NO_PASSWORD_NOW, code=exc.code) from exc
        try:
            platform.password_change(login=account.login, password=password)
        except NOT_DONE as exc:
            raise AccountNotAllowed(NO_PASSWORD_NOW, code=exc.code) from exc
        except PlatformError as exc:
            raise AccountNotAllowed(
                "The trading server did not confirm the new password, so your previous one may "
                "no longer work. Please set a new one again in a minute.",
                code="platform_unavailable",
            ) from exc
        finally:
            platform.close()
        audit_record(
            actor=actor,
            action=audit_events.TRADING_ACCOUNT_PASSWORD_RESET,
            target=account,
            evidence={"login": account.login, "server": account.server.name},
            request=request,
        )
        transaction.on_commit(lambda: _password_changed_email(account))
    return password


def _password_changed_email(account: TradingAccount) -> None:
    changed = timezone.now().isoformat()
    key = f"trading_account:{account.pk}:password:{changed}"
    _account_email(account, "password_changed", key, "portal:account_password")
