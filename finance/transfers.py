"""Transfers between a client's wallet and their trading accounts, exactly once.

The trading platform's balance operation has no idempotency key, so each transfer is an
outside operation (`brokerage.operations`):
1. the transfer is written (and, to trading, the wallet amount held) and committed first;
2. a worker claims it (`started_at`, `attempts`) under the row lock;
3. a transfer claimed before is looked up on the platform by its comment before anything is
   sent; a balance operation whose answer was lost is looked up at once;
4. only an operation the platform refused (or a lookup that proves nothing happened and a
   resend the platform refuses) fails the transfer; a platform that cannot be reached (or a
   look-up that cannot answer) frees the claim and the task retries;
5. the ledger moves wallet <-> platform omnibus under the key `transfer:<id>` when the
   platform's ticket is known. A sweeper resumes any claim older than `claim_stale_after()`
   (`FINANCE_TRANSFER_CLAIM_STALE_SECONDS`).
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from brokerage.errors import DomainError, InvalidInput, NotAllowed
from brokerage.money import to_amount
from brokerage.operations import call_outside, claim, sweep
from brokerage.services import Actor, audit_record
from clients.models import TradingAccount
from clients.platforms import (
    PlatformError,
    PlatformOutcomeUnknown,
    PlatformRejected,
    platform_for,
)
from clients.standing import Purpose, client_standing
from finance import audit_events

from .ledger import (
    Leg,
    hold_close,
    hold_place,
    ledger_post,
    system_account,
    wallet_for,
)
from .locks import lock_client_money, lock_transfer
from .models import Hold, LedgerAccount, LedgerTransaction, Transfer
from .moved import money_moved
from .notices import client_tell

log = logging.getLogger(__name__)

LOOKUP_MARGIN = timedelta(minutes=10)


def claim_stale_after() -> timedelta:
    """When a transfer's claim belongs to an attempt that died: after
    `FINANCE_TRANSFER_CLAIM_STALE_SECONDS` (2 minutes unless set; above the task's time limit, so
    a live attempt is never overtaken)."""
    return timedelta(seconds=settings.FINANCE_TRANSFER_CLAIM_STALE_SECONDS)


MAX_TRANSFER = Decimal("1000000")


class TransferNotAllowed(DomainError):
    """That transfer cannot be made."""

    code = "transfer_not_allowed"


def _comment() -> str:
    return f"BO-TR-{uuid.uuid4().hex[:16].upper()}"  # 22 characters; MT5 allows 32


def _accounts(client, currency: str) -> tuple[LedgerAccount, LedgerAccount]:
    return wallet_for(client, currency), system_account(
        LedgerAccount.Kind.PLATFORM_OMNIBUS, currency
    )


def transfer_request(
    *, client, trading_account: TradingAccount, direction: str, amount, actor: Actor, request=None
) -> Transfer:
    """Record a transfer and queue it. To trading, the wallet amount is held at once (so it
    cannot be spent twice); from trading, the platform checks the free margin."""
    if direction not in Transfer.Direction.values:
        raise InvalidInput("Choose a direction.", fields={"direction": ["Unknown direction."]})
    if trading_account.client_id != client.pk:
        raise NotAllowed("That trading account is not yours.")
    if trading_account.status != TradingAccount.Status.ACTIVE:
        raise TransferNotAllowed(
            "That trading account is closed.", fields={"trading_account": ["Closed."]}
        )
    currency = trading_account.currency
    amount = to_amount(amount, currency)
    if amount > MAX_TRANSFER:
        raise InvalidInput(
            f"At most {currency} {MAX_TRANSFER:,.0f} per transfer.",
            fields={"amount": ["Too large."]},
        )
    if amount != amount.quantize(Decimal("0.01")):
        raise InvalidInput(
            "Trading accounts take amounts to the cent.", fields={"amount": ["Two decimals."]}
        )
    with transaction.atomic(durable=True):
        wallet, omnibus = _accounts(client, currency)
        hold = None
        comment = _comment()
        # The client's standing, read under its lock: it cannot change before this commits.
        locked = lock_client_money(client, [wallet, omnibus])
        refusal = client_standing(locked, Purpose.TRANSFER).refusal()
        if refusal is not None:
            raise TransferNotAllowed(refusal.client_message)
        if direction == Transfer.Direction.TO_TRADING:
            hold = hold_place(account=wallet, amount=amount, reference=comment)
        transfer = Transfer.objects.create(
            client=client,
            trading_account=trading_account,
            direction=direction,
            amount=amount,
            currency=currency,
            hold=hold,
            comment=comment,
            actor_label=str(getattr(actor, "email", actor)),
        )
        audit_record(
            actor=actor,
            action=audit_events.TRANSFER_REQUESTED,
            target=transfer,
            evidence={
                "direction": direction,
                "amount": str(amount),
                "currency": currency,
                "login": trading_account.login,
                "comment": comment,
            },
            request=request,
        )
        from .tasks import transfer_execute_task

        transfer_execute_task.delay_on_commit(transfer.pk)
    return transfer


def transfer_execute(*, transfer_id: int) -> str:
    """Carry out a pending transfer on the platform, exactly once. Returns its status, or
    "unknown" when the platform's answer was lost and the lookup found nothing yet (the sweeper
    looks again once the claim is stale, before ever sending it again)."""
    claimed = claim(
        Transfer.objects.select_related("trading_account__server"),
        transfer_id,
        stale_after=claim_stale_after(),
        is_open=lambda t: t.status == Transfer.Status.PENDING,
    )
    t = claimed.row
    if t is None:
        return claimed.why
    account = t.trading_account
    amount = t.amount if t.direction == Transfer.Direction.TO_TRADING else -t.amount
    since = t.requested_at - LOOKUP_MARGIN
    platform = platform_for(account.server)
    try:
        outcome = call_outside(
            call=lambda: platform.balance_operation(
                login=account.login, amount=amount, comment=t.comment
            ),
            lookup=lambda: platform.balance_operation_find(
                login=account.login, comment=t.comment, since=since
            ),
            resumed=claimed.resumed,  # an earlier attempt may have reached the platform
            refused=(PlatformRejected,),  # only the platform refusing it fails the transfer
            lost=(PlatformOutcomeUnknown,),
            label=f"transfer {t.comment}",
        )
    except PlatformError as exc:
        # Nothing known to be done (or a lookup that could not answer): free the claim; the
        # retry (or the sweeper) looks the operation up before it ever sends it again.
        Transfer.objects.filter(pk=t.pk, status=Transfer.Status.PENDING).update(started_at=None)
        raise TransferRetry(exc.message) from exc
    finally:
        platform.close()
    if outcome.refusal is not None:
        reason = _client_reason(outcome.refusal)
        return _finish(t.pk, ticket=None, failure=reason, detail=outcome.refusal.message)
    if outcome.unknown:
        log.warning("transfer %s: answer lost and not found yet", t.comment)
        return "unknown"
    return _finish(t.pk, ticket=outcome.answer, failure="")


def _client_reason(exc: PlatformRejected) -> str:
    """What the client is told: the platform's own words stay in the audit trail."""
    if exc.code == "no_money":
        return "There is not enough free margin on the trading account."
    if exc.code == "not_found":
        return "The trading platform does not know this account."
    return "The trading platform refused the transfer."


class TransferRetry(Exception):
    """The platform could not be reached; the task retries (the transfer is still pending)."""


def _finish(
    transfer_id: int, *, ticket: int | None, failure: str, detail: str = "", actor="rule:transfer"
) -> str:
    head = Transfer.objects.select_related("client").get(pk=transfer_id)
    wallet, omnibus = _accounts(head.client, head.currency)
    with transaction.atomic():
        t = lock_transfer(transfer_id, [wallet, omnibus])
        if t.status != Transfer.Status.PENDING:
            return f"already {t.status}"
        t.completed_at = timezone.now()
        if failure:
            if t.hold_id:
                hold_close(hold=t.hold, status=Hold.Status.RELEASED)
            t.fail()
            t.failure_reason = failure[:255]
            action = audit_events.TRANSFER_FAILED
        else:
            to_trading = t.direction == Transfer.Direction.TO_TRADING
            if t.hold_id:
                hold_close(hold=t.hold, status=Hold.Status.SETTLED)
            sign = Decimal(-1) if to_trading else Decimal(1)
            txn, _ = ledger_post(
                kind=LedgerTransaction.Kind.TRANSFER,
                idempotency_key=f"transfer:{t.pk}",
                legs=[Leg(wallet, sign * t.amount), Leg(omnibus, -sign * t.amount)],
                actor=actor,
                client=t.client,
                external_reference=str(ticket),
                description=(
                    f"{'To' if to_trading else 'From'} trading account "
                    f"{t.trading_account.login} ({t.comment})"
                ),
            )
            t.platform_ticket = ticket
            t.ledger_transaction = txn
            t.complete()
            action = audit_events.TRANSFER_COMPLETED
            money_moved("transfer", t.pk)
        t.save()
        audit_record(
            actor=actor,
            action=action,
            target=t,
            reason=t.failure_reason,
            evidence={
                "ticket": ticket,
                "comment": t.comment,
                "attempts": t.attempts,
                **({"platform": detail} if detail else {}),
            },
        )
        client_tell(
            t,
            t.status,  # completed or failed
            actor=actor,
            to_trading=t.direction == Transfer.Direction.TO_TRADING,
            login=str(t.trading_account.login),
            reason=t.failure_reason,
        )
        return t.status


def transfers_sweep(*, stale_after: timedelta | None = None) -> int:
    """Re-queue pending transfers never started, or whose attempt went quiet."""
    from .tasks import transfer_execute_task

    return sweep(
        Transfer.objects.filter(status=Transfer.Status.PENDING),
        task=transfer_execute_task,
        due_field="requested_at",
        started_field="started_at",
        stale_after=stale_after or claim_stale_after(),
    )
