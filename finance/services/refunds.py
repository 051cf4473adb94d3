"""Refunds of completed deposits, sent to the PSP exactly once.

Contract:
- `refund_request` (finance officers) holds the amount on the wallet and counts it against
  the deposit (never more than remains of it), audited in its transaction; the refund is
  queued after commit.
- `refund_execute` is the outside operation (`brokerage.operations`): claim (`attempts`,
  `attempted_at`), the PSP's refund with our reference as its idempotency key outside any
  transaction, a lost answer looked up, never resent.
- `refund_finish` posts the PSP's answer once, whoever brings it (our call, a look-up, a
  webhook): succeeded settles the hold into the wallet's debit (`refund:<id>`); failed releases
  it and gives the amount back to the deposit, first making good any chargeback loss.
- `refunds_sweep` re-queues pending refunds never claimed or whose claim went stale.
Imports `common`, `losses` and the ledger, never a sibling noun module.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from brokerage.errors import InvalidInput
from brokerage.money import format_money, to_amount
from brokerage.operations import claim, sweep
from brokerage.services import audit_record
from finance import audit_events
from finance.moved import money_moved

from .. import psp as psp_registry
from ..ledger import hold_place, system_account, wallet_for
from ..locks import lock_deposit_accounts
from ..models import Deposit, LedgerAccount, LedgerTransaction, Refund, new_reference
from ..models_wires import BANK_WIRE
from ..notices import client_tell
from ..psp import OperationResult
from .common import (
    PAYOUT_ACTOR,
    claim_stale_after,
    money_out_finish,
    need,
    psp_call,
)
from .losses import unrecovered_losses


@transaction.atomic
def refund_request(*, deposit: Deposit, amount, reason: str, actor, request=None) -> Refund:
    """Refund part or all of a completed deposit: never more than remains of it."""
    need(actor, "finance.manage_refunds", "Only finance officers refund deposits.")
    reason = " ".join((reason or "").split())
    if not reason:
        raise InvalidInput("Say why.", fields={"reason": ["A reason is needed."]})
    if deposit.psp == BANK_WIRE:
        raise InvalidInput(
            "A bank wire is not refunded through a PSP: pay it back by a withdrawal by wire.",
            code="not_refundable",
        )
    deposit = lock_deposit_accounts(deposit)
    amount = to_amount(amount, deposit.currency)
    if deposit.status != Deposit.Status.COMPLETED:
        raise InvalidInput("Only a completed deposit can be refunded.", code="not_refundable")
    if amount > deposit.remaining_amount:
        raise InvalidInput(
            f"Only {format_money(deposit.remaining_amount, deposit.currency)} of this deposit "
            "remains to refund.",
            code="over_refund",
            fields={"amount": ["More than remains of the deposit."]},
        )
    refund = Refund(
        reference=new_reference("R"),
        deposit=deposit,
        amount=amount,
        currency=deposit.currency,
        reason=reason[:255],
        requested_by=actor,
    )
    refund.hold = hold_place(
        account=wallet_for(deposit.client, deposit.currency),
        amount=amount,
        reference=f"refund:{refund.reference}",
    )
    refund.save()
    Deposit.objects.filter(pk=deposit.pk).update(refunded_amount=F("refunded_amount") + amount)
    audit_record(
        actor=actor,
        action=audit_events.REFUND_REQUESTED,
        target=deposit,
        reason=reason,
        evidence={"refund": refund.reference, "amount": str(amount)},
        request=request,
    )
    money_moved("refund", refund.pk)
    from ..tasks import refund_execute_task

    refund_execute_task.delay_on_commit(refund.pk)
    return refund


def refund_execute(*, refund_id: int) -> str:
    """Send a pending refund to the PSP, exactly once (claimed like a payout)."""
    claimed = claim(
        Refund.objects.select_related("deposit"),
        refund_id,
        stale_after=claim_stale_after(),
        is_open=lambda r: r.status == Refund.Status.PENDING,
        started_field="attempted_at",
    )
    refund = claimed.row
    if refund is None:
        return claimed.why
    adapter = psp_registry.adapter_for(refund.deposit.psp)
    payment_reference = refund.deposit.provider_reference
    result = psp_call(
        lambda: adapter.refund(
            reference=refund.reference,
            payment_reference=payment_reference,
            amount=refund.amount,
            currency=refund.currency,
        ),
        lambda: adapter.lookup(reference=refund.reference, payment_reference=payment_reference),
        resumed=claimed.resumed,
        label=f"refund {refund.reference}",
    )
    if result is None or result.status == "pending":
        if result is not None and result.provider_reference:
            # Some PSPs' notices name the refund only by their id (CoinPayments).
            Refund.objects.filter(pk=refund.pk, provider_reference="").update(
                provider_reference=result.provider_reference[:100]
            )
        return "pending"
    return refund_finish(refund.pk, result, PAYOUT_ACTOR)


def refund_finish(refund_id: int, result: OperationResult, actor: str) -> str:
    """Post the PSP's answer on a refund once, whoever brings it."""
    with transaction.atomic():
        refund = Refund.objects.select_related("deposit").get(pk=refund_id)
        recover = result.status != "succeeded" and (
            unrecovered_losses(refund.deposit.client_id, refund.currency).exists()
        )
        losses = system_account(LedgerAccount.Kind.CHARGEBACK_LOSSES, refund.currency)
        deposit = lock_deposit_accounts(refund.deposit, *([losses] if recover else []))
        refund = Refund.objects.select_for_update().select_related("hold").get(pk=refund_id)
        if refund.status != Refund.Status.PENDING:
            return f"already {refund.status}"
        refund.provider_reference = (result.provider_reference or "")[:100]
        refund.completed_at = timezone.now()
        txn = money_out_finish(
            result,
            hold=refund.hold,
            client=deposit.client,
            psp=deposit.psp,
            kind=LedgerTransaction.Kind.REFUND,
            key=f"refund:{refund.pk}",
            actor=actor,
            recover=recover,
            external_reference=refund.provider_reference,
            description=f"Refund {refund.reference} of deposit {deposit.reference}",
        )
        if txn is not None:
            refund.succeed()
            refund.ledger_transaction = txn
        else:  # the amount can be refunded again
            Deposit.objects.filter(pk=deposit.pk).update(
                refunded_amount=F("refunded_amount") - refund.amount
            )
            refund.fail()
            refund.failure_reason = (result.detail or "The PSP refused the refund.")[:255]
        refund.save()
        audit_record(
            actor=actor,
            action=(
                audit_events.REFUND_SUCCEEDED
                if refund.status == Refund.Status.SUCCEEDED
                else audit_events.REFUND_FAILED
            ),
            target=deposit,
            reason=refund.failure_reason,
            evidence={"refund": refund.reference, "provider_reference": refund.provider_reference},
        )
        if refund.status == Refund.Status.SUCCEEDED:
            client_tell(
                refund,
                "succeeded",
                actor=actor,
                deposit=deposit.reference,
                method=psp_registry.PSP_NAMES.get(deposit.psp, deposit.psp),
            )
        return refund.status


def refunds_sweep(*, stale_after: timedelta | None = None, now=None) -> int:
    """Re-queue pending refunds never claimed, or whose claim went stale."""
    from ..tasks import refund_execute_task

    return sweep(
        Refund.objects.filter(status=Refund.Status.PENDING),
        task=refund_execute_task,
        due_field="created_at",
        started_field="attempted_at",
        stale_after=stale_after or claim_stale_after(),
        now=now,
    )
