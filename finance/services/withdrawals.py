"""Withdrawals: the request (funds held), the automatic checks, finance's review, and the
payout through the PSP exactly once.

Contract:
- `withdrawal_request` asks the client's standing (`clients.standing`, purpose withdraw) under
  the client's lock: a blocking reason (an open AML case) refuses it outright. Otherwise it
  holds the amount on the wallet, runs `withdrawal_checks` (the standing's review reasons, the
  closed loop and finance's money thresholds) and either approves automatically or sends the
  withdrawal to finance review; `withdrawal_approve` (four eyes at or over the `four_eyes_usd`
  threshold; never past a blocking reason) and `withdrawal_reject` decide from review;
  `withdrawal_cancel` (in `common`, since a chargeback cancels too) works until the payout
  starts. Every decision is audited in its transaction; the payout is queued after commit.
- `withdrawal_payout` is the outside operation (`brokerage.operations`): claim (approved ->
  processing, `payout_attempts`, `payout_started_at`), the PSP's payout with our reference as
  its idempotency key outside any transaction, a lost answer looked up, never resent.
- `withdrawal_finish` posts the PSP's answer once, whoever brings it (our call, the look-up,
  a webhook): paid settles the hold into the wallet's debit (`withdrawal:<id>`); failed
  releases it, first making good any chargeback loss (`losses`).
- `withdrawals_sweep` re-queues approved payouts never started and claims gone stale.
Thresholds are finance's audited settings (`thresholds`, read through `limits`). Imports
`common`, `limits`, `losses` and the ledger, never a sibling noun module.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from brokerage.errors import InvalidInput, NotAllowed
from brokerage.money import format_money, to_amount
from brokerage.operations import claim, sweep
from brokerage.services import Actor, audit_record
from clients.models import Client
from clients.standing import Purpose, client_standing
from finance import audit_events
from finance.moved import money_moved

from .. import psp as psp_registry
from ..bank_details import clean_bic, clean_iban
from ..ledger import hold_close, hold_place, wallet_for
from ..locks import lock_client_money, lock_withdrawal
from ..models import Deposit, Hold, LedgerTransaction, Withdrawal, new_reference
from ..models_wires import BANK_WIRE, WireInstruction
from ..notices import client_tell
from ..psp import OperationResult
from .common import (
    CHECKS_ACTOR,
    PAYOUT_ACTOR,
    WithdrawalNotAllowed,
    claim_stale_after,
    money_out_finish,
    need,
    psp_call,
)
from .common import withdrawal_cancel as withdrawal_cancel  # one of this noun's services
from .limits import closed_loop_capacity, threshold_values, usd_value
from .losses import unrecovered_losses


def _funding_deposit(client: Client, psp: str, currency: str) -> Deposit | None:
    return (
        Deposit.objects.filter(
            client=client, psp=psp, currency=currency, status=Deposit.Status.COMPLETED
        )
        .order_by("-completed_at")
        .first()
    )


def withdrawal_checks(withdrawal: Withdrawal, *, client: Client | None = None) -> list[dict]:
    """Every reason the withdrawal cannot be approved automatically (empty: approve): the
    client's standing, then the closed loop, the amount and the velocity against finance's
    thresholds. Each is `{"code", "severity", "message"}`; `client` is the locked row."""
    client = client or Client.objects.get(pk=withdrawal.client_id)
    reasons = [r.as_dict() for r in client_standing(client, Purpose.WITHDRAW).reasons]

    def add(code, message):
        reasons.append({"code": code, "severity": "review", "message": message})

    capacities = closed_loop_capacity(client)
    capacity = capacities.get((withdrawal.psp, withdrawal.currency))
    if withdrawal.psp == BANK_WIRE:
        # A wire takes what no card or e-wallet can take back: what one still can goes
        # back to it first.
        owed = {p: c for (p, cur), c in capacities.items() if cur == withdrawal.currency and c > 0}
        owed.pop(BANK_WIRE, None)
        if owed:
            add(
                "closed_loop",
                " and ".join(
                    f"{format_money(c, withdrawal.currency)} to {psp_registry.PSP_NAMES.get(p, p)}"
                    for p, c in sorted(owed.items())
                )
                + " can still go back to the method that funded it, before a bank wire.",
            )
    # The capacity above already counts this withdrawal as taken.
    elif capacity is None or capacity < 0:
        funded = (capacity or Decimal(0)) + withdrawal.amount
        add(
            "closed_loop",
            f"{psp_registry.PSP_NAMES.get(withdrawal.psp, withdrawal.psp)} funded "
            f"{format_money(max(funded, Decimal(0)), withdrawal.currency)} that can still go "
            "back to it; the rest must be paid by another method (bank wire).",
        )
    limits = threshold_values()
    value_usd = usd_value(withdrawal.amount, withdrawal.currency)
    limit = limits["withdrawal_auto_approve_max_usd"]
    if value_usd > limit:
        add(
            "amount_threshold",
            f"USD {value_usd:,.2f} is over the automatic approval limit of USD {limit:,.0f}.",
        )
    day_ago = timezone.now() - timedelta(hours=24)
    recent = (
        Withdrawal.objects.filter(client=client, requested_at__gte=day_ago)
        .exclude(pk=withdrawal.pk)
        .exclude(status__in=[Withdrawal.Status.CANCELLED, Withdrawal.Status.REJECTED])
    )
    count = recent.count() + 1
    if count > limits["velocity_count_24h"]:
        add(
            "velocity_count",
            f"{count} withdrawal requests within 24 hours (limit {limits['velocity_count_24h']}).",
        )
    total_usd = value_usd + sum(
        (usd_value(w.amount, w.currency) for w in recent.only("amount", "currency")), Decimal(0)
    )
    if total_usd > limits["velocity_usd_24h"]:
        add(
            "velocity_amount",
            f"USD {total_usd:,.2f} requested within 24 hours (limit "
            f"USD {limits['velocity_usd_24h']:,.0f}).",
        )
    return reasons


@transaction.atomic
def withdrawal_request(
    *,
    client: Client,
    amount,
    currency: str,
    psp: str,
    actor: Actor,
    request=None,
    iban: str = "",
    bic: str = "",
) -> Withdrawal:
    """Hold the funds, run the automatic checks, and approve or send to finance review.

    By bank wire (`psp` "bank_wire"): to `iban` (checksum, country; `bic` optional) in the
    client's own name; an approved wire waits for finance's next payment file (`wires`)."""
    amount = to_amount(amount, currency)
    wire = None
    if psp == BANK_WIRE:
        wire = _wire_details(client, iban, bic)
        funding = None
    elif psp not in psp_registry.PSP_CODES:
        raise InvalidInput("Choose how to be paid.", fields={"psp": ["Unknown method."]})
    else:
        funding = _funding_deposit(client, psp, currency)
    if funding is None and wire is None and client.holder == client.Holder.PARTNER:
        raise WithdrawalNotAllowed(
            "Commissions are paid by bank wire to an account in your name.",
            code="partner_pays_by_wire",
            fields={"psp": ["Choose bank wire."]},
        )
    if funding is None and wire is None:
        raise WithdrawalNotAllowed(
            f"You have not deposited in {currency} with {psp_registry.PSP_NAMES[psp]}; "
            "withdrawals go back to a method that funded your account.",
            code="no_funding_method",
            fields={"psp": ["Not a method you deposited with."]},
        )
    wallet = wallet_for(client, currency)
    # Under the client's lock: its standing cannot change before this commits, and two
    # requests' velocity counts see each other.
    client = lock_client_money(client, [wallet])
    refusal = client_standing(client, Purpose.WITHDRAW).refusal(reviewable=True)
    if refusal is not None:
        raise WithdrawalNotAllowed(refusal.client_message)
    withdrawal = Withdrawal(
        reference=new_reference("W"),
        client=client,
        amount=amount,
        currency=currency,
        psp=psp,
        funding_deposit=funding,
    )
    withdrawal.hold = hold_place(
        account=wallet, amount=amount, reference=f"withdrawal:{withdrawal.reference}"
    )
    withdrawal.save()
    evidence = {"amount": str(amount), "currency": currency, "psp": psp, "held": True}
    if wire is not None:
        WireInstruction.objects.create(
            withdrawal=withdrawal, end_to_end_id=withdrawal.reference, **wire
        )
        evidence.update(iban=wire["iban"], bic=wire["bic"])
    audit_record(
        actor=actor,
        action=audit_events.WITHDRAWAL_REQUESTED,
        target=withdrawal,
        evidence=evidence,
        request=request,
    )
    # The checks, then what the apps above add (AML monitoring's hold), in this transaction:
    # a held withdrawal waits for an officer in review like any flagged one.
    reasons = withdrawal_checks(withdrawal, client=client) + money_moved(
        "withdrawal", withdrawal.pk
    )
    withdrawal.check_reasons = reasons
    if reasons:
        withdrawal.send_to_review()
        withdrawal.decision_rule = "checks_flagged"
        withdrawal.save()
        audit_record(
            actor=CHECKS_ACTOR,
            action=audit_events.WITHDRAWAL_SENT_TO_REVIEW,
            target=withdrawal,
            reason="; ".join(r["message"] for r in reasons),
            evidence={"reasons": [r["code"] for r in reasons]},
        )
    else:
        withdrawal.auto_approve()
        withdrawal.decision_rule = "all_checks_passed"
        withdrawal.decided_at = timezone.now()
        withdrawal.save()
        audit_record(
            actor=CHECKS_ACTOR,
            action=audit_events.WITHDRAWAL_AUTO_APPROVED,
            target=withdrawal,
            reason="Every automatic check passed.",
            evidence={
                "checks": "kyc, restriction, aml, chargebacks, closed_loop, amount, velocity"
            },
        )
        _approved(withdrawal, CHECKS_ACTOR)
    return withdrawal


def _wire_details(client: Client, iban: str, bic: str) -> dict:
    """A wire goes to an account in the client's own name: the name is theirs, not typed (a
    partner's company name when it has one)."""
    name = (client.legal_name or client.user.get_full_name()).strip()
    if not name:
        raise WithdrawalNotAllowed(
            "A bank wire is paid to an account in your own name, and your profile has no "
            "name yet: contact support.",
            code="no_name",
        )
    errors: dict = {}
    details = {"beneficiary_name": name[:140]}
    for key, clean in (("iban", clean_iban), ("bic", clean_bic)):
        try:
            details[key] = clean(iban if key == "iban" else bic)
        except InvalidInput as exc:
            errors.update(exc.fields)
    if errors:
        raise InvalidInput("Check your bank details.", code="bad_bank_details", fields=errors)
    return details


def _method(w: Withdrawal) -> str:
    return psp_registry.PSP_NAMES.get(w.psp, w.psp)


def _approved(withdrawal: Withdrawal, actor: Actor) -> None:
    """Tell the client, and queue the payout after commit."""
    from ..tasks import withdrawal_payout_task

    client_tell(withdrawal, "approved", actor=actor, method=_method(withdrawal))
    if withdrawal.psp == BANK_WIRE:
        return  # paid by finance's next payment file (`wires.wire_batch_create`)
    withdrawal_payout_task.delay_on_commit(withdrawal.pk)


@transaction.atomic
def withdrawal_approve(*, withdrawal: Withdrawal, actor, reason: str = "") -> Withdrawal:
    """Approve from review, past the checks' review reasons but never past a blocking one
    (an open AML case). At or over the four-eyes amount, two different officers."""
    need(actor, "finance.manage_withdrawals", "Only finance officers approve withdrawals.")
    w = lock_withdrawal(withdrawal.pk, with_client=True)
    if w.status != Withdrawal.Status.IN_REVIEW:
        raise InvalidInput(f"This withdrawal is {w.get_status_display().lower()}.")
    blocked = client_standing(w.client, Purpose.WITHDRAW).refusal(reviewable=True)
    if blocked is not None:
        raise WithdrawalNotAllowed(blocked.message, code=blocked.code)
    four_eyes_usd = threshold_values()["four_eyes_usd"]
    four_eyes = usd_value(w.amount, w.currency) >= four_eyes_usd
    if four_eyes and w.first_approval_by_id is None:
        w.first_approval_by = actor
        w.save(update_fields=["first_approval_by"])
        audit_record(
            actor=actor,
            action=audit_events.WITHDRAWAL_FIRST_APPROVAL,
            target=w,
            reason=reason,
            evidence={"four_eyes_usd": str(four_eyes_usd)},
        )
        return w
    if four_eyes and w.first_approval_by_id == actor.pk:
        raise NotAllowed("Four eyes: a second finance officer must approve this withdrawal.")
    w.approve()
    w.decided_by, w.decided_at, w.decision_reason = actor, timezone.now(), reason
    w.save()
    audit_record(
        actor=actor,
        action=audit_events.WITHDRAWAL_APPROVED,
        target=w,
        reason=reason,
        evidence={
            "four_eyes": four_eyes,
            "first_approval_by": w.first_approval_by_id,
            "overrode": [r["code"] for r in w.check_reasons],
        },
    )
    _approved(w, actor)
    return w


@transaction.atomic
def withdrawal_reject(*, withdrawal: Withdrawal, actor, reason: str) -> Withdrawal:
    need(actor, "finance.manage_withdrawals", "Only finance officers reject withdrawals.")
    reason = " ".join((reason or "").split())
    if not reason:
        raise InvalidInput("Say why.", fields={"reason": ["A reason is needed."]})
    w = lock_withdrawal(withdrawal.pk)
    if w.status != Withdrawal.Status.IN_REVIEW:
        raise InvalidInput(f"This withdrawal is {w.get_status_display().lower()}.")
    w.reject()
    w.decided_by, w.decided_at, w.decision_reason = actor, timezone.now(), reason
    hold_close(hold=w.hold, status=Hold.Status.RELEASED)
    w.save()
    audit_record(actor=actor, action=audit_events.WITHDRAWAL_REJECTED, target=w, reason=reason)
    client_tell(w, "rejected", actor=actor, reason=reason)
    return w


# --- The payout: an outside operation ---------------------------------------------------------


def withdrawal_payout(*, withdrawal_id: int) -> str:
    """Pay an approved withdrawal out through its PSP, exactly once.

    The withdrawal is marked processing (committed) before the call; a resumed payout (a
    worker died, the answer was lost) first asks the PSP for our reference. Another run holds
    the call until its claim goes stale (longer than a task may run): a second copy of the
    task, queued by the sweeper, does not call the PSP.
    """
    claimed = claim(
        lock_withdrawal,
        withdrawal_id,
        stale_after=claim_stale_after(),
        is_open=lambda w: (
            w.status in (Withdrawal.Status.APPROVED, Withdrawal.Status.PROCESSING)
            and w.psp != BANK_WIRE
        ),
        started_field="payout_started_at",
        attempts_field="payout_attempts",
        on_claim=_payout_claimed,
    )
    w = claimed.row
    if w is None:
        return claimed.why
    if w.psp == BANK_WIRE:  # never claimed: see is_open
        return "paid by a payment file"
    email = Client.objects.filter(pk=w.client_id).values_list("user__email", flat=True).get()
    adapter = psp_registry.adapter_for(w.psp)
    payment_reference = w.funding_deposit.provider_reference
    result = psp_call(
        lambda: adapter.payout(
            reference=w.reference,
            amount=w.amount,
            currency=w.currency,
            payment_reference=payment_reference,
            customer_email=email,
        ),
        lambda: adapter.lookup(reference=w.reference, payment_reference=payment_reference),
        resumed=claimed.resumed,
        label=f"payout of withdrawal {w.reference}",
    )
    if result is None or result.status == "pending":
        if result is not None and result.provider_reference:
            # Some PSPs' notices name the payout only by their id (CoinPayments).
            Withdrawal.objects.filter(pk=w.pk, provider_reference="").update(
                provider_reference=result.provider_reference[:100]
            )
        return "pending"  # the webhook, or the sweeper's next look, will finish it
    return withdrawal_finish(w.pk, result, PAYOUT_ACTOR)


def _payout_claimed(w: Withdrawal, resumed: bool) -> None:
    if w.status == Withdrawal.Status.APPROVED:
        w.start_payout()
        w.save(update_fields=["status"])
    audit_record(
        actor=PAYOUT_ACTOR,
        action=audit_events.WITHDRAWAL_PAYOUT_RESUMED
        if resumed
        else audit_events.WITHDRAWAL_PAYOUT_STARTED,
        target=w,
        evidence={"attempt": w.payout_attempts},
    )


def withdrawal_finish(withdrawal_id: int, result: OperationResult, actor: str) -> str:
    """Post the PSP's answer on a payout once, whoever brings it (our call, a look-up, a
    webhook that overtook our own call's answer)."""
    client_id, currency = Withdrawal.objects.values_list("client_id", "currency").get(
        pk=withdrawal_id
    )
    recover = result.status != "succeeded" and unrecovered_losses(client_id, currency).exists()
    with transaction.atomic():
        w = lock_withdrawal(withdrawal_id, with_losses=recover)
        if w.status in (Withdrawal.Status.PAID, Withdrawal.Status.FAILED):
            return f"already {w.status}"
        if w.status == Withdrawal.Status.APPROVED:  # a webhook overtook our own call's answer
            w.start_payout()
        if w.status != Withdrawal.Status.PROCESSING:
            return f"ignored: the withdrawal is {w.status}"
        w.provider_reference = (result.provider_reference or w.provider_reference)[:100]
        w.completed_at = timezone.now()
        txn = money_out_finish(
            result,
            hold=w.hold,
            client=w.client,
            psp=w.psp,
            kind=LedgerTransaction.Kind.WITHDRAWAL,
            key=f"withdrawal:{w.pk}",
            actor=actor,
            recover=recover,
            external_reference=w.provider_reference,
            description=f"Withdrawal {w.reference}",
        )
        if txn is not None:
            w.mark_paid()
            w.ledger_transaction = txn
            action = audit_events.WITHDRAWAL_PAID
        else:
            w.mark_failed()
            w.failure_reason = (result.detail or "The PSP refused the payout.")[:255]
            action = audit_events.WITHDRAWAL_PAYOUT_FAILED
        w.save()
        audit_record(
            actor=actor,
            action=action,
            target=w,
            reason=w.failure_reason,
            evidence={"provider_reference": w.provider_reference},
        )
        if txn is not None:
            wire = WireInstruction.objects.filter(withdrawal=w).only("iban").first()
            end = wire.iban[-4:] if wire else ""
            client_tell(w, "paid", actor=actor, method=_method(w), account_end=end)
        elif w.psp != BANK_WIRE:  # a wire that fails came back: `wires.wire_return` tells it
            client_tell(w, "failed", actor=actor, reason=w.failure_reason)
        return w.status


def withdrawals_sweep(*, stale_after: timedelta | None = None, now=None) -> int:
    """Re-queue approved withdrawals whose payout never started or whose claim went stale."""
    from ..tasks import withdrawal_payout_task

    return sweep(
        Withdrawal.objects.filter(
            status__in=[Withdrawal.Status.APPROVED, Withdrawal.Status.PROCESSING]
        ).exclude(psp=BANK_WIRE),
        task=withdrawal_payout_task,
        due_field="decided_at",
        started_field="payout_started_at",
        stale_after=stale_after or claim_stale_after(),
        now=now,
    )
