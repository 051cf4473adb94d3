"""Platform reach: each trading account kept in step, on its platform, with its client's
standing. While the client's standing for `Purpose.TRADE` carries a reason of block severity
(a confirmed sanctions match, an open AML case, a jurisdiction rule), the account is set to
close-only where its account type names a close-only group (MT5 has no close-only right per
account: close-only is a symbol trade mode in a group's symbol settings, so the account is
moved to that group), and its trading is disabled on the platform where it names none; while
a leverage cap applies (`leverage_cap_for`), a leverage above it is lowered to it. What was
imposed, and what the account had before, is kept on its `PlatformRestraint`, so a lift
restores exactly that and nothing else: trading is enabled again only if it was enabled
before, the account moves back to the group it was in only if it is still in the close-only
group, and a leverage goes back to what it was only if nobody changed it on the platform
meanwhile.

Contract:
- `platform_reach_request(clients=..., reason=...)` is what a change of standing calls, inside
  its own transaction: every active account of those clients is marked due (`due_since`) in
  that transaction, and a task reconciles them once it commits. The mark is the promise: a
  task lost, or a platform down, leaves the account due, and `platform_reach_sweep` (beat,
  every minute) reconciles it again. Compliance's confirmed match and its lift, a jurisdiction
  rule starting or ending, and a category change call it; it is set-based (many clients at
  once, one query per table).
- `trading_account_reconcile(account=...)` reads the account on the platform, works out what
  to change, calls the adapter's `account_update` outside any transaction (absolute values:
  sent again after a lost answer, it does the same), then records the outcome on the
  restraint and the account under the client's and the restraint's row locks, one audit
  event per change. A reconcile whose view went stale while it talked to the platform (the
  client's standing changed, or another reconcile of the account recorded meanwhile: two run
  at once when a change and its reversal follow each other) records what it did there, if
  anything, and leaves the account due; a reconcile from a fresh view brings it in step.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from django.db import connection, transaction
from django.utils import timezone

from brokerage.services import Actor, audit_record
from clients import audit_events

from ..locks import lock_client
from ..models import Client, PlatformRestraint, TradingAccount
from ..platforms import PlatformError, platform_for
from ..services import client_risk_factor_changed
from ..standing import TRADE_STOPPING, Purpose, client_standing

logger = logging.getLogger(__name__)

RULE = "rule:platform-reach"
SWEEP_AFTER = timedelta(seconds=30)  # the sweeper leaves a fresh request to its task
SWEEP_BATCH = 200
TASK_CHUNK = 100


@dataclass(frozen=True)
class Desired:
    trading_disabled: bool  # trading stopped: close-only in `close_only_group`, else disabled
    leverage_cap: int | None
    reasons: tuple[str, ...]
    leverage_limit: str = ""  # how the limit behind the cap is named ("leverage limit 9 (...)")
    close_only_group: str = ""  # the account type's close-only group, if it names one

    @property
    def close_only(self) -> bool:
        """Trading stopped by moving the account to its close-only group."""
        return self.trading_disabled and bool(self.close_only_group)

    @property
    def disabled(self) -> bool:
        """Trading stopped by disabling it on the account (no close-only group)."""
        return self.trading_disabled and not self.close_only_group


def leverage_cap_for(account: TradingAccount):
    """The cap on the account's leverage now (its client's category and country of residence,
    `clients.categories`), or None when nothing caps it."""
    from ..categories import leverage_cap_of

    return leverage_cap_of(account.client)


def desired_for(account: TradingAccount) -> Desired:
    standing = client_standing(account.client, Purpose.TRADE)
    stopping = tuple(r.code for r in standing.reasons if str(r.severity) in TRADE_STOPPING)
    cap = leverage_cap_for(account)
    return Desired(
        bool(stopping),
        cap.max_leverage if cap else None,
        stopping,
        cap.title if cap else "",
        account.account_type.close_only_group if account.account_type else "",
    )


def platform_reach_request(
    *, clients: Iterable[Client | int] = (), accounts: Iterable[int] = (), reason: str = ""
) -> list[int]:
    """Mark every active account of `clients`, and the `accounts` named, due for a reconcile,
    in the caller's transaction, and reconcile them once it commits. Returns the accounts
    marked."""
    client_ids = {getattr(c, "pk", c) for c in clients}
    accounts = sorted(
        {
            *accounts,
            *TradingAccount.objects.filter(
                client_id__in=client_ids, status=TradingAccount.Status.ACTIVE
            ).values_list("pk", flat=True),
        }
        if client_ids
        else set(accounts)
    )
    if not accounts:
        return []
    _mark_due(accounts)
    if reason:
        logger.info("Platform reach requested for %s accounts: %s", len(accounts), reason)

    def enqueue():
        from ..tasks import platform_reach_task

        for i in range(0, len(accounts), TASK_CHUNK):
            platform_reach_task.delay(accounts[i : i + TASK_CHUNK])

    transaction.on_commit(enqueue, robust=True)  # a broker down: the sweeper does it
    return accounts


def _mark_due(accounts: list[int]) -> None:
    """Each account's restraint due now (created where it has none; one already due keeps its
    time): one statement however many accounts."""
    table = PlatformRestraint._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {table} AS r (account_id, due_since, trading_disabled,
                was_trading_disabled, reasons, attempts, last_error)
            SELECT unnest(%s::bigint[]), %s, false, false, '[]'::jsonb, 0, ''
            ON CONFLICT (account_id) DO UPDATE SET due_since = COALESCE(r.due_since, %s)
            """,
            [accounts, timezone.now(), timezone.now()],
        )


@dataclass
class Plan:
    trading_disabled: bool | None = None  # what to send (None: leave)
    leverage: int | None = None
    group: str | None = None

    @property
    def any(self) -> bool:
        return self.trading_disabled is not None or self.leverage is not None or bool(self.group)


def _plan(restraint: PlatformRestraint, current, desired: Desired) -> Plan:
    plan = Plan()
    if desired.disabled:
        if not current.trading_disabled:
            plan.trading_disabled = True  # imposed now, or re-imposed after a manual change
    elif (
        restraint.trading_disabled
        and current.trading_disabled
        and not restraint.was_trading_disabled
    ):
        plan.trading_disabled = False
    if desired.close_only:
        if current.group != desired.close_only_group:
            plan.group = desired.close_only_group  # moved now, or again after a manual move
    elif restraint.moved_to_group and current.group == restraint.moved_to_group:
        # Only an account still in the close-only group moves back: a manual move stands.
        plan.group = restraint.group_before
    cap = desired.leverage_cap
    if restraint.leverage_wanted is not None:  # set by staff: theirs, within the cap
        target = _wanted(restraint.leverage_wanted, cap)
        if current.leverage != target:
            plan.leverage = target
    elif cap is not None and current.leverage > cap:
        plan.leverage = cap
    elif restraint.leverage_cap is not None and restraint.leverage_before is not None:
        target = restraint.leverage_before if cap is None else min(restraint.leverage_before, cap)
        # Only the leverage the product set is restored: a manual change meanwhile stands.
        if current.leverage == restraint.leverage_cap and target != current.leverage:
            plan.leverage = target
    return plan


def _wanted(leverage: int, cap: int | None) -> int:
    return leverage if cap is None else min(leverage, cap)


def trading_account_reconcile(*, account: TradingAccount | int, actor: Actor = RULE) -> str:
    """Bring one account in step with its client's standing on the platform. Returns "done",
    "unchanged" or "failed" (left due for the sweeper)."""
    account = TradingAccount.objects.select_related("client", "server").get(
        pk=getattr(account, "pk", account)
    )
    restraint, _ = PlatformRestraint.objects.get_or_create(account=account)
    requested, seen = restraint.due_since, restraint.reconciled_at
    desired = desired_for(account)
    try:
        platform = platform_for(account.server)
    except PlatformError as exc:
        return _failed(restraint, exc)
    try:
        current = platform.account_user(account.login)
        plan = _plan(restraint, current, desired)
        after = current
        if plan.any:
            after = platform.account_update(
                login=account.login,
                leverage=plan.leverage,
                trading_disabled=plan.trading_disabled,
                group=plan.group or None,
            )
    except PlatformError as exc:
        return _failed(restraint, exc)
    finally:
        platform.close()
    changed = _record(account, restraint.pk, (requested, seen), current, after, desired, actor)
    return "done" if changed else "unchanged"


def _failed(restraint: PlatformRestraint, exc: Exception) -> str:
    logger.warning("Platform reach for account %s failed: %s", restraint.account_id, exc)
    PlatformRestraint.objects.filter(pk=restraint.pk).update(
        attempts=restraint.attempts + 1,
        last_error=str(exc)[:255],
        due_since=restraint.due_since or timezone.now(),
    )
    return "failed"


@transaction.atomic
def _record(account, restraint_pk, view, before, after, desired: Desired, actor) -> bool:
    requested, seen = view  # the restraint's due_since and reconciled_at this reconcile read
    # The standing cannot change until this commits (the same lock order as its changes).
    account.client = lock_client(account.client_id)
    restraint = PlatformRestraint.objects.select_for_update().get(pk=restraint_pk)
    stale = restraint.reconciled_at != seen or desired_for(account) != desired
    if stale:
        logger.info("Platform reach for account %s: its view went stale", account.pk)
        if after == before:  # nothing done on the platform: nothing to record
            _due_again(restraint)
            restraint.save(update_fields=["due_since"])
            return False
    evidence = {
        "login": account.login,
        "server": account.server.name,
        "reasons": list(desired.reasons),
        "rights_before": before.rights,
        "rights_after": after.rights,
    }

    def audit(action, reason, **more):
        audit_record(
            actor=actor,
            action=action,
            target=account,
            subject=account.client,
            reason=reason,
            evidence={**evidence, **more},
        )

    changed = False
    if desired.close_only:
        if not restraint.moved_to_group:
            # The group it was in (its type's own, if it already was in the close-only one).
            restraint.group_before = (
                before.group
                if before.group != desired.close_only_group
                else account.account_type.group
            )
        restraint.moved_to_group = desired.close_only_group
        if before.group != after.group and after.group == desired.close_only_group:
            changed = True
            audit(
                audit_events.TRADING_ACCOUNT_CLOSE_ONLY,
                ", ".join(desired.reasons),
                group_before=before.group,
                group=after.group,
            )
    elif restraint.moved_to_group:
        if before.group == restraint.moved_to_group and after.group != before.group:
            changed = True
            audit(
                audit_events.TRADING_ACCOUNT_GROUP_RESTORED,
                "no reason of block severity stands",
                group_before=before.group,
                group=after.group,
            )
        restraint.moved_to_group = restraint.group_before = ""
    if desired.disabled:
        if not restraint.trading_disabled:
            restraint.trading_disabled = True
            restraint.was_trading_disabled = before.trading_disabled
            restraint.rights_before = before.rights
        if not before.trading_disabled and after.trading_disabled:  # imposed, or again
            changed = True
            audit(audit_events.TRADING_ACCOUNT_TRADING_DISABLED, ", ".join(desired.reasons))
    elif restraint.trading_disabled:
        if before.trading_disabled and not after.trading_disabled:
            changed = True
            audit(
                audit_events.TRADING_ACCOUNT_TRADING_RESTORED, "no reason of block severity stands"
            )
        restraint.trading_disabled = False
        restraint.was_trading_disabled = False
    wanted = restraint.leverage_wanted
    if wanted is not None and after.leverage == _wanted(wanted, desired.leverage_cap):
        # Staff's leverage is on the platform: the client's own again, nothing to restore.
        restraint.leverage_wanted = None
        restraint.leverage_cap = restraint.leverage_before = None
        if after.leverage != before.leverage:
            changed = True
            audit(
                audit_events.TRADING_ACCOUNT_LEVERAGE_CHANGED,
                "set by staff",
                leverage_before=before.leverage,
                leverage=after.leverage,
            )
            _leverage_told(account, before.leverage, after.leverage, desired, actor, set_=True)
            client_risk_factor_changed(client_id=account.client_id, cause="leverage changed")
    elif after.leverage != before.leverage:
        changed = True
        lowered = after.leverage < before.leverage
        if lowered and restraint.leverage_cap is None:
            restraint.leverage_before = before.leverage
        restraint.leverage_cap = after.leverage
        if restraint.leverage_before is not None and after.leverage >= restraint.leverage_before:
            restraint.leverage_cap = restraint.leverage_before = None
        audit(
            audit_events.TRADING_ACCOUNT_LEVERAGE_LOWERED
            if lowered
            else audit_events.TRADING_ACCOUNT_LEVERAGE_RESTORED,
            f"cap 1:{desired.leverage_cap}" if desired.leverage_cap else "no cap applies",
            leverage_before=before.leverage,
            leverage=after.leverage,
            limit=desired.leverage_limit,
        )
        _leverage_told(account, before.leverage, after.leverage, desired, actor)
    elif restraint.leverage_cap is not None and after.leverage != restraint.leverage_cap:
        # Changed on the platform by someone else since: theirs stands, nothing to restore.
        restraint.leverage_cap = restraint.leverage_before = None
    # The account's record says what the platform now has: its leverage, and its group (the
    # close-only group while it is held there, the one it came from once moved back).
    held = {"leverage": after.leverage, "group": after.group or account.group}
    if any(getattr(account, field) != value for field, value in held.items()):
        TradingAccount.objects.filter(pk=account.pk).update(**held)
    restraint.reasons = list(desired.reasons)
    restraint.attempts = 0
    restraint.last_error = ""
    restraint.reconciled_at = timezone.now()
    if stale:
        _due_again(restraint)
    elif restraint.due_since == requested:  # no new request while we talked to the platform
        restraint.due_since = None
    restraint.save()
    return changed


def _due_again(restraint: PlatformRestraint) -> None:
    """Left due, and reconciled again from a fresh view once this commits."""
    restraint.due_since = restraint.due_since or timezone.now()
    account_id = restraint.account_id

    def enqueue():
        from ..tasks import platform_reach_task

        platform_reach_task.delay([account_id])

    transaction.on_commit(enqueue, robust=True)  # a broker down: the sweeper does it


def _leverage_told(
    account, before: int, after: int, desired: Desired, actor, *, set_: bool = False
) -> None:
    """The client is told, in their language and in their communication history, that a limit
    lowered their account's leverage, that the leverage it had lowered is back, or that staff
    set it. (Trading disabled by a sanctions match is not told: tipping-off.)"""
    from ..notify import client_notify

    what = "set" if set_ else "lowered" if after < before else "restored"
    client_notify(
        account.client,
        email=f"trading_account_leverage_{what}",
        key=f"trading_account:{account.pk}:leverage:{before}:{after}:{timezone.now().isoformat()}",
        actor=actor,
        url_name="portal:account",
        args=[account.pk],
        context={
            "login": str(account.login),
            "before": f"1:{before}",
            "leverage": f"1:{after}",
            "limit": desired.leverage_limit,
        },
        data={"trading_account": account.login, "from": before, "to": after},
    )


def platform_reach_sweep(*, after: timedelta = SWEEP_AFTER, limit: int = SWEEP_BATCH) -> dict:
    """Reconcile the accounts left due (a task lost, a platform that was down), oldest first."""
    due = list(
        PlatformRestraint.objects.filter(due_since__lte=timezone.now() - after)
        .order_by("due_since")
        .values_list("account_id", flat=True)[:limit]
    )
    counts = {"done": 0, "unchanged": 0, "failed": 0}
    for account_id in due:
        try:
            counts[trading_account_reconcile(account=account_id)] += 1
        except Exception:  # one account's surprise must not stall the others
            logger.exception("Platform reach for account %s failed", account_id)
            counts["failed"] += 1
    return counts
