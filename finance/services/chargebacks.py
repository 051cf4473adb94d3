"""Chargebacks: the PSP took a payment back; the dispute's file and its outcome.

Contract:
- `chargeback_open` (a PSP's event, or a finance officer) debits the wallet what it can, books
  any shortfall to chargeback losses (recovered later from funds released back to the wallet,
  see `losses`), flags the client and cancels the client's withdrawals not yet sent, all in one
  transaction under the ledger key `chargeback:<id>`. A repeated dispute reference changes
  nothing.
- `chargeback_resolve` posts the outcome once: won returns the funds as they were taken
  (`chargeback:<id>:won`); lost closes the dispute.
- `chargeback_evidence_add` attaches a checked, privately stored document to the dispute.
Imports `common` and the ledger, never a sibling noun module.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from brokerage.errors import InvalidInput
from brokerage.money import to_amount
from brokerage.services import Actor, audit_record
from brokerage.uploads import check_upload
from clients.services import client_flag_add
from finance import audit_events
from finance.moved import money_moved

from ..ledger import Leg, clearing_for, ledger_post, system_account, wallet_for
from ..locks import lock_deposit_accounts, lock_in_order
from ..models import (
    Chargeback,
    ChargebackEvidence,
    Deposit,
    LedgerAccount,
    LedgerTransaction,
    Withdrawal,
)
from .common import need, withdrawal_cancel


@transaction.atomic
def chargeback_open(
    *, deposit: Deposit, amount, provider_reference: str, reason: str, actor: Actor
) -> Chargeback:
    """The PSP took a payment back: debit the wallet, book any shortfall as a loss, flag the
    client and cancel withdrawals not yet sent. A repeated dispute id changes nothing."""
    if not isinstance(actor, str):
        need(actor, "finance.manage_chargebacks", "Only finance officers record chargebacks.")
    provider_reference = (provider_reference or "").strip()[:100]
    if not provider_reference:
        raise InvalidInput(
            "Give the PSP's dispute reference.", fields={"provider_reference": ["Required."]}
        )
    existing = Chargeback.objects.filter(
        deposit=deposit, provider_reference=provider_reference
    ).first()
    if existing:
        return existing
    cancellable = [
        Withdrawal.Status.REQUESTED,
        Withdrawal.Status.IN_REVIEW,
        Withdrawal.Status.APPROVED,
    ]
    guess = list(Withdrawal.objects.filter(client_id=deposit.client_id, status__in=cancellable))
    losses = system_account(LedgerAccount.Kind.CHARGEBACK_LOSSES, deposit.currency)
    # Every row this touches, in the one order (finance.locks): the ledger accounts, the
    # deposit, the withdrawals it cancels, the client it flags.
    accounts = [wallet_for(deposit.client, w.currency) for w in guess]
    accounts += [clearing_for(w.psp, w.currency) for w in guess]
    accounts += [
        wallet_for(deposit.client, deposit.currency),
        clearing_for(deposit.psp, deposit.currency),
        losses,
    ]
    locked = lock_in_order(
        accounts=accounts,
        rows=[
            Deposit.objects.filter(pk=deposit.pk).select_related("client__user"),
            Withdrawal.objects.filter(client_id=deposit.client_id, status__in=cancellable),
        ],
        client=deposit.client_id,
    )
    (deposit,), pending = locked.rows
    amount = to_amount(amount, deposit.currency)
    if deposit.status != Deposit.Status.COMPLETED:
        raise InvalidInput("Only a completed deposit can be charged back.")
    for w in pending:
        withdrawal_cancel(withdrawal=w, actor=actor, reason="A chargeback was received.")
    # The PSP has already taken the money: the chargeback is booked whatever remained of the
    # deposit (a refund and a chargeback of the same payment: the excess is a loss).
    counted = min(amount, max(deposit.remaining_amount, Decimal(0)))
    wallet = wallet_for(deposit.client, deposit.currency)
    wallet.refresh_from_db()
    covered = max(Decimal(0), min(amount, wallet.available_amount))
    shortfall = amount - covered
    chargeback = Chargeback.objects.create(
        deposit=deposit,
        provider_reference=provider_reference,
        amount=amount,
        counted_amount=counted,
        currency=deposit.currency,
        reason=(reason or "")[:255],
        wallet_debited_amount=covered,
        loss_amount=shortfall,
        opened_by_label=actor if isinstance(actor, str) else actor.email,
    )
    legs = [Leg(clearing_for(deposit.psp, deposit.currency), amount)]
    if covered:
        legs.append(Leg(wallet, -covered))
    if shortfall:
        legs.append(Leg(losses, -shortfall))
    txn, _ = ledger_post(
        kind=LedgerTransaction.Kind.CHARGEBACK,
        idempotency_key=f"chargeback:{chargeback.pk}",
        legs=legs,
        actor=actor,
        client=deposit.client,
        psp=deposit.psp,
        external_reference=provider_reference,
        description=f"Chargeback of deposit {deposit.reference}",
    )
    Chargeback.objects.filter(pk=chargeback.pk).update(ledger_transaction=txn)
    Deposit.objects.filter(pk=deposit.pk).update(
        charged_back_amount=F("charged_back_amount") + counted
    )
    client_flag_add(
        client=deposit.client,
        flag="chargeback",
        actor=actor,
        reason=f"Chargeback {provider_reference} on deposit {deposit.reference}.",
        evidence={"amount": str(amount), "currency": deposit.currency},
    )
    audit_record(
        actor=actor,
        action=audit_events.CHARGEBACK_OPENED,
        target=chargeback,
        reason=reason or "",
        evidence={
            "deposit": deposit.reference,
            "amount": str(amount),
            "wallet_debited": str(covered),
            "loss": str(shortfall),
            "beyond_the_deposit": str(amount - counted),
            "ledger_transaction": txn.pk,
        },
    )
    money_moved("chargeback", chargeback.pk)
    return chargeback


@transaction.atomic
def chargeback_resolve(*, chargeback: Chargeback, outcome: str, reason: str, actor: Actor):
    """Post the dispute's outcome: won returns the funds as they were taken; lost closes it."""
    if not isinstance(actor, str):
        need(actor, "finance.manage_chargebacks", "Only finance officers resolve chargebacks.")
    if outcome not in ("won", "lost"):
        raise InvalidInput("The outcome is won or lost.", fields={"outcome": ["won or lost"]})
    deposit = chargeback.deposit
    losses = system_account(LedgerAccount.Kind.CHARGEBACK_LOSSES, deposit.currency)
    lock_deposit_accounts(deposit, losses)
    cb = Chargeback.objects.select_for_update().get(pk=chargeback.pk)
    if cb.status != Chargeback.Status.OPEN:
        if cb.status == outcome:
            return cb
        raise InvalidInput(f"This chargeback was already {cb.status}.")
    evidence = {"outcome": outcome}
    if outcome == "won":
        legs = [Leg(clearing_for(deposit.psp, deposit.currency), -cb.amount)]
        # What the client paid (at once, or recovered later) goes back to the wallet; the
        # rest of the loss is written back.
        back_to_client = cb.wallet_debited_amount + cb.recovered_amount
        if back_to_client:
            legs.append(Leg(wallet_for(deposit.client, deposit.currency), back_to_client))
        if cb.loss_amount - cb.recovered_amount:
            legs.append(Leg(losses, cb.loss_amount - cb.recovered_amount))
        txn, _ = ledger_post(
            kind=LedgerTransaction.Kind.CHARGEBACK_REVERSAL,
            idempotency_key=f"chargeback:{cb.pk}:won",
            legs=legs,
            actor=actor,
            client=deposit.client,
            psp=deposit.psp,
            external_reference=cb.provider_reference,
            description=f"Dispute won on deposit {deposit.reference}",
        )
        Deposit.objects.filter(pk=deposit.pk).update(
            charged_back_amount=F("charged_back_amount") - cb.counted_amount
        )
        evidence["ledger_transaction"] = txn.pk
        cb.win()
    else:
        cb.lose()
    cb.closed_at = timezone.now()
    cb.outcome_reason = (reason or "")[:255]
    cb.save()
    audit_record(
        actor=actor,
        action=audit_events.CHARGEBACK_WON if outcome == "won" else audit_events.CHARGEBACK_LOST,
        target=cb,
        reason=reason,
        evidence=evidence,
    )
    return cb


@transaction.atomic
def chargeback_evidence_add(*, chargeback: Chargeback, uploaded_file, note: str, actor):
    """Attach a document to the dispute file (checked like every upload, stored privately)."""
    need(actor, "finance.manage_chargebacks", "Only finance officers add dispute evidence.")
    from django.core.files.base import ContentFile

    checked = check_upload(uploaded_file)
    evidence = ChargebackEvidence(
        chargeback=chargeback,
        original_name=checked.original_name,
        content_type=checked.content_type,
        size=len(checked.data),
        sha256=checked.sha256,
        note=(note or "")[:255],
        uploaded_by=actor,
    )
    evidence.file.save(f"evidence.{checked.extension}", ContentFile(checked.data), save=False)
    evidence.save()
    audit_record(
        actor=actor,
        action=audit_events.CHARGEBACK_EVIDENCE_ADDED,
        target=chargeback,
        evidence={"sha256": checked.sha256, "name": checked.original_name, "note": note},
    )
    return evidence
