"""What finance's services share: domain errors, the rules' actor names, permission checks,
cancelling a withdrawal not yet sent, the PSP call made exactly once and the ledger side of its
answer (money out, or the hold released).

Contract: this module sits below the noun modules (deposits, withdrawals, refunds, chargebacks)
and above `losses` and `finance.ledger`; it imports none of the noun modules. Something two noun
modules need goes here (or in `limits` / `losses`) rather than one importing the other.

Locks are taken through `finance.locks`, which states the one lock order.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import transaction

from brokerage.errors import DomainError, InvalidInput, NotAllowed
from brokerage.operations import call_outside
from brokerage.services import Actor, audit_record
from finance import audit_events

from ..ledger import Leg, clearing_for, hold_close, ledger_post, wallet_for
from ..locks import lock_withdrawal
from ..models import Hold, LedgerTransaction, Withdrawal
from ..psp import OperationResult, PspError
from .losses import recover_losses

WEBHOOK_ACTOR = "psp:{psp}"
PAYOUT_ACTOR = "rule:finance_payout"
CHECKS_ACTOR = "rule:withdrawal_checks"


def claim_stale_after() -> timedelta:
    """When a run's claim on a PSP call (payout, refund) goes stale: longer than such a task may
    run (time limit 120 s), so a live run is never overtaken by a copy of itself
    (`FINANCE_PAYOUT_CLAIM_STALE_SECONDS`, 3 minutes unless set)."""
    return timedelta(seconds=settings.FINANCE_PAYOUT_CLAIM_STALE_SECONDS)


class DepositNotAllowed(DomainError):
    code = "deposit_not_allowed"


class WithdrawalNotAllowed(DomainError):
    code = "withdrawal_not_allowed"


def need(actor, perm: str, message: str) -> None:
    """Staff with `perm`, or NotAllowed."""
    if not (getattr(actor, "is_staff", False) and actor.has_perm(perm)):
        raise NotAllowed(message)


# --- Withdrawals not yet sent ----------------------------------------------------------------


@transaction.atomic
def withdrawal_cancel(*, withdrawal: Withdrawal, actor: Actor, reason: str) -> Withdrawal:
    """The client (or a rule, e.g. after a chargeback) cancels before the payout starts.

    Here, below the noun modules, because a chargeback cancels the client's unsent withdrawals
    and `chargebacks` does not import `withdrawals`."""
    w = lock_withdrawal(withdrawal.pk)
    if w.status not in (
        Withdrawal.Status.REQUESTED,
        Withdrawal.Status.IN_REVIEW,
        Withdrawal.Status.APPROVED,
    ):
        raise InvalidInput("The payout has started; it can no longer be cancelled.")
    w.cancel()
    w.decision_reason = reason
    hold_close(hold=w.hold, status=Hold.Status.RELEASED)
    w.save()
    audit_record(actor=actor, action=audit_events.WITHDRAWAL_CANCELLED, target=w, reason=reason)
    return w


# --- Money out through a PSP -----------------------------------------------------------------


def psp_call(
    call: Callable[[], OperationResult],
    lookup: Callable[[], OperationResult | None],
    *,
    resumed: bool,
    label: str,
) -> OperationResult | None:
    """Make a payout or refund call exactly once at the PSP (`brokerage.operations`): a resumed
    operation is looked up first; a call that fails in flight is looked up, never repeated.
    None: the PSP's answer is unknown for now (the sweeper or a webhook will finish it)."""
    outcome = call_outside(
        call=call,
        lookup=lookup,
        resumed=resumed,
        lost=(PspError,),
        lookup_failed=(PspError,),
        label=label,
    )
    return outcome.answer


def money_out_finish(
    result: OperationResult,
    *,
    hold: Hold,
    client,
    psp: str,
    kind: str,
    key: str,
    actor,
    recover: bool,
    **details,
) -> LedgerTransaction | None:
    """Post the PSP's answer on money held for a payout or a refund. Succeeded: the hold
    becomes the wallet's debit against the PSP's clearing account, posted once under `key`
    (the transaction is returned). Failed: the hold is released and, when `recover`, first
    makes good the client's chargeback losses (the caller holds the losses account's lock)."""
    if result.status != "succeeded":
        hold_close(hold=hold, status=Hold.Status.RELEASED)
        if recover:
            recover_losses(client, hold.currency, key=key, actor=actor)
        return None
    hold_close(hold=hold, status=Hold.Status.SETTLED)
    txn, _ = ledger_post(
        kind=kind,
        idempotency_key=key,
        legs=[
            Leg(wallet_for(client, hold.currency), -hold.amount),
            Leg(clearing_for(psp, hold.currency), hold.amount),
        ],
        actor=actor,
        client=client,
        psp=psp,
        **details,
    )
    return txn
