"""Writes of finance: deposits, PSP webhooks, withdrawals, refunds and chargebacks.

Every movement of money goes through `finance.ledger.ledger_post` under an idempotency key
derived from the business object (`deposit:<id>`, `withdrawal:<id>`, …), so a retried task, a
repeated webhook or a double click posts once. Calls to a PSP never run inside a database
transaction: the intent is committed first (with a hold on the wallet), the call is made with
our reference as the provider's idempotency key, and the outcome is committed after; a crash in
between is recovered by looking the operation up by that reference.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q, Sum
from django.utils import timezone

from brokerage.errors import DomainError, InvalidInput, NotAllowed
from brokerage.money import exponent, format_money, to_amount
from brokerage.services import Actor, audit_record
from brokerage.uploads import check_upload
from clients.models import Client
from clients.selectors import client_deposit_allowed
from clients.services import client_first_deposit_record, client_flag_add

from . import psp as psp_registry
from .ledger import (
    Leg,
    clearing_for,
    hold_close,
    hold_place,
    ledger_post,
    lock_accounts,
    system_account,
    wallet_for,
)
from .models import (
    Chargeback,
    ChargebackEvidence,
    Deposit,
    FxRate,
    Hold,
    LedgerAccount,
    LedgerTransaction,
    PaymentMethod,
    PspEvent,
    Refund,
    WebhookRejection,
    Withdrawal,
    new_reference,
)
from .psp import EventKind, OperationResult, PspError, WebhookEvent, WebhookRejected

log = logging.getLogger(__name__)

WEBHOOK_ACTOR = "psp:{psp}"
PAYOUT_ACTOR = "rule:finance_payout"
CHECKS_ACTOR = "rule:withdrawal_checks"
# A run's claim on a PSP call (payout, refund) goes stale after this: longer than such a task
# may run (time limit 120 s), so a live run is never overtaken by a copy of itself.
CLAIM_STALE_AFTER = timedelta(minutes=3)


class DepositNotAllowed(DomainError):
    code = "deposit_not_allowed"


class WithdrawalNotAllowed(DomainError):
    code = "withdrawal_not_allowed"


# --- FX and limits ---------------------------------------------------------------------------


def usd_value(amount: Decimal, currency: str) -> Decimal:
    """What `amount` of `currency` is worth in USD, from the rates ops keep in admin."""
    if currency == "USD":
        return amount
    rate = FxRate.objects.filter(currency=currency).values_list("usd_rate", flat=True).first()
    if rate is None:
        raise InvalidInput(
            f"No USD rate is set for {currency}; ops can add one in admin.", code="no_fx_rate"
        )
    return (amount * rate).quantize(Decimal("0.01"))


def _unverified_total_usd(client: Client) -> Decimal:
    """USD value of what the client has deposited (or has pending) so far."""
    total = Decimal(0)
    rows = (
        Deposit.objects.filter(
            client=client,
            status__in=[
                Deposit.Status.CREATED,
                Deposit.Status.PENDING,
                Deposit.Status.COMPLETED,
            ],
        )
        .values("currency")
        .annotate(total=Sum("amount"))
    )
    for row in rows:
        total += usd_value(row["total"], row["currency"])
    return total


def method_available(method: PaymentMethod, client: Client) -> bool:
    country = client.country
    return (
        method.is_active
        and (not method.countries or country in method.countries)
        and country not in method.excluded_countries
        and client.kyc_level >= method.min_kyc_level
    )


# --- Deposits --------------------------------------------------------------------------------


@transaction.atomic
def deposit_create(
    *, client: Client, method: PaymentMethod, amount, actor: Actor, request=None
) -> Deposit:
    """Check the method's limits and the client's standing, and record the deposit intent."""
    if exponent(method.currency) > 2:  # the ledger keeps 2 decimal places
        raise DepositNotAllowed(f"{method.currency} is not a currency we hold.")
    amount = to_amount(amount, method.currency)
    client = Client.objects.select_for_update().get(pk=client.pk)  # one intent at a time
    if not method_available(method, client):
        raise DepositNotAllowed(
            f"{method.name} is not offered to you.", fields={"method": ["Not available."]}
        )
    if amount < method.min_amount or amount > method.max_amount:
        raise DepositNotAllowed(
            f"{method.name} takes {format_money(method.min_amount, method.currency)} to "
            f"{format_money(method.max_amount, method.currency)} per deposit.",
            code="amount_out_of_range",
            fields={"amount": ["Outside the method's limits."]},
        )
    total_usd = usd_value(amount, method.currency)
    if client.kyc_level < 1:
        total_usd += _unverified_total_usd(client)
    allowed, why = client_deposit_allowed(client=client, amount_usd=total_usd)
    if not allowed:
        raise DepositNotAllowed(why, fields={"amount": [why]})
    deposit = Deposit.objects.create(
        reference=new_reference("D"),
        client=client,
        method=method,
        psp=method.psp,
        amount=amount,
        currency=method.currency,
    )
    audit_record(
        actor=actor,
        action="deposit.created",
        target=deposit,
        evidence={"amount": str(amount), "currency": method.currency, "psp": method.psp},
        request=request,
    )
    return deposit


def deposit_open_session(
    *, deposit: Deposit, return_url: str, cancel_url: str, notify_url: str
) -> Deposit:
    """Open the PSP's hosted payment page for the deposit (a network call, no transaction)."""
    adapter = psp_registry.adapter_for(deposit.psp)
    try:
        session = adapter.create_payment(
            reference=deposit.reference,
            amount=deposit.amount,
            currency=deposit.currency,
            customer_email=deposit.client.user.email,
            return_url=return_url,
            cancel_url=cancel_url,
            notify_url=notify_url,
        )
    except PspError as exc:
        _deposit_fail(deposit.pk, reason=f"The PSP could not open the payment: {exc.message}")
        raise
    with transaction.atomic(durable=True):
        deposit = Deposit.objects.select_for_update().get(pk=deposit.pk)
        if deposit.status == Deposit.Status.CREATED:
            deposit.open()
            deposit.provider_reference = session.provider_reference[:100]
            deposit.redirect_url = session.redirect_url[:500]
            deposit.save()
            audit_record(
                actor=f"psp:{deposit.psp}",
                action="deposit.opened",
                target=deposit,
                evidence={"provider_reference": deposit.provider_reference},
            )
    return deposit


def _deposit_fail(deposit_id: int, *, reason: str, actor: Actor = "rule:deposit") -> None:
    with transaction.atomic():
        deposit = Deposit.objects.select_for_update().get(pk=deposit_id)
        if deposit.status in (Deposit.Status.CREATED, Deposit.Status.PENDING):
            deposit.fail()
            deposit.failure_reason = reason[:255]
            deposit.save()
            audit_record(actor=actor, action="deposit.failed", target=deposit, reason=reason)


def _deposit_complete(deposit: Deposit, event: WebhookEvent, actor: str) -> str:
    """Credit the wallet exactly once; the first completed deposit of a client is the FTD."""
    if deposit.status == Deposit.Status.COMPLETED:
        return "already credited"
    if event.amount is not None and event.amount != deposit.amount:
        raise WebhookRejected(
            f"{event.kind} for {deposit.reference} is for {event.amount} {event.currency}, "
            f"but the deposit is {deposit.amount} {deposit.currency}.",
            code="amount_mismatch",
        )
    deposit = _lock_deposit_accounts(deposit)
    if deposit.status == Deposit.Status.COMPLETED:
        return "already credited"
    wallet = wallet_for(deposit.client, deposit.currency)
    clearing = clearing_for(deposit.psp, deposit.currency)
    txn, _ = ledger_post(
        kind=LedgerTransaction.Kind.DEPOSIT,
        idempotency_key=f"deposit:{deposit.pk}",
        legs=[Leg(wallet, deposit.amount), Leg(clearing, -deposit.amount)],
        actor=actor,
        client=deposit.client,
        psp=deposit.psp,
        external_reference=event.provider_reference or deposit.provider_reference,
        description=f"Deposit {deposit.reference}",
    )
    deposit.complete()
    deposit.ledger_transaction = txn
    deposit.completed_at = timezone.now()
    deposit.provider_reference = (event.provider_reference or deposit.provider_reference)[:100]
    deposit.failure_reason = ""
    deposit.is_ftd = client_first_deposit_record(
        client=deposit.client,
        at=deposit.completed_at,
        actor=actor,
        evidence={"deposit": deposit.reference, "amount": str(deposit.amount)},
    )
    deposit.save()
    audit_record(
        actor=actor,
        action="deposit.completed",
        target=deposit,
        evidence={
            "amount": str(deposit.amount),
            "currency": deposit.currency,
            "provider_reference": deposit.provider_reference,
            "event_id": event.event_id,
            "ftd": deposit.is_ftd,
            "ledger_transaction": txn.pk,
        },
    )
    return "credited" + (" (FTD)" if deposit.is_ftd else "")


def _deposit_for_event(psp: str, event: WebhookEvent, *, payment: bool) -> Deposit:
    qs = Deposit.objects.select_related("client__user").filter(psp=psp)
    ref = event.payment_reference if not payment else ""
    match = None
    if payment and event.reference:
        match = qs.filter(reference=event.reference).first()
    for candidate in (ref, event.provider_reference if payment else "", event.reference):
        if match is None and candidate:
            match = qs.filter(Q(provider_reference=candidate) | Q(reference=candidate)).first()
    if match is None:
        raise WebhookRejected(
            f"No {psp} deposit matches reference {event.reference or '-'} / "
            f"{event.payment_reference or event.provider_reference or '-'}.",
            code="unknown_transaction",
            status=404,
        )
    if event.currency and event.currency != match.currency:
        raise WebhookRejected(
            f"The event is in {event.currency} but deposit {match.reference} is in "
            f"{match.currency}.",
            code="currency_mismatch",
        )
    return match


def _by_references(model, psp: str, event: WebhookEvent):
    """The refund whose reference (ours, or the PSP's) the event names; None if none does."""
    refs = Q()
    if event.reference:
        refs |= Q(reference=event.reference)
    if event.provider_reference:
        refs |= Q(provider_reference=event.provider_reference)
    if not refs:
        return None
    return model.objects.filter(refs, deposit__psp=psp).first()


def psp_webhook_receive(*, psp: str, headers, body: bytes, ip: str | None = None) -> list[str]:
    """Verify a PSP's webhook over its raw body and apply each event exactly once.

    Raises WebhookRejected (logged with its reason, nothing posted) for a bad signature, a
    stale timestamp, malformed content, an unknown transaction or a mismatch.
    """
    try:
        adapter = psp_registry.adapter_for(psp)
    except LookupError as exc:
        raise WebhookRejected(f"Unknown PSP {psp!r}.", code="unknown_psp", status=404) from exc
    try:
        events = adapter.parse_webhook(headers=headers, body=body, now=timezone.now())
        return [psp_event_apply(psp=psp, event=event) for event in events]
    except DomainError as exc:  # every refusal is on record, with its reason
        WebhookRejection.objects.create(
            psp=psp[:20],
            code=exc.code[:40],
            detail=exc.message[:500],
            ip_address=(ip or "")[:45],
            body_excerpt=body[:2000].decode("utf-8", "replace").replace("\x00", ""),
        )
        log.warning("%s webhook rejected (%s): %s", psp, exc.code, exc.message)
        raise


def psp_event_apply(*, psp: str, event: WebhookEvent) -> str:
    """Apply one verified event. A repeated event id changes nothing and says so."""
    actor = WEBHOOK_ACTOR.format(psp=psp)
    with transaction.atomic():
        stored = PspEvent(
            psp=psp,
            event_id=event.event_id[:150],
            kind=event.kind,
            reference=event.reference[:100],
            provider_reference=event.provider_reference[:100],
            amount=event.amount,
            currency=event.currency,
            occurred_at=event.occurred_at,
            outcome=PspEvent.Outcome.APPLIED,
            payload=event.raw,
        )
        try:
            with transaction.atomic():
                stored.save(force_insert=True)
        except IntegrityError:
            return "duplicate"
        outcome = _dispatch(psp, event, actor)
        stored.outcome_detail = outcome[:255]
        if outcome.startswith(("ignored", "already")):
            stored.outcome = PspEvent.Outcome.IGNORED
        PspEvent.objects.filter(pk=stored.pk).update(
            outcome=stored.outcome, outcome_detail=stored.outcome_detail
        )
    return outcome


def _dispatch(psp: str, event: WebhookEvent, actor: str) -> str:
    kind = event.kind
    if kind == EventKind.IGNORED:
        return "ignored: not an event we act on"
    if kind in (
        EventKind.PAYMENT_SUCCEEDED,
        EventKind.PAYMENT_FAILED,
        EventKind.PAYMENT_EXPIRED,
        EventKind.PAYMENT_PENDING,
    ):
        deposit = _deposit_for_event(psp, event, payment=True)
        if kind == EventKind.PAYMENT_SUCCEEDED:
            return _deposit_complete(deposit, event, actor)
        deposit = Deposit.objects.select_for_update().get(pk=deposit.pk)
        if deposit.status not in (Deposit.Status.CREATED, Deposit.Status.PENDING):
            return f"ignored: the deposit is already {deposit.status}"
        if kind == EventKind.PAYMENT_PENDING:
            if deposit.status == Deposit.Status.CREATED:
                deposit.open()
                deposit.save()
            return "ignored: still pending"
        deposit.fail() if kind == EventKind.PAYMENT_FAILED else deposit.expire()
        deposit.failure_reason = (event.detail or kind.replace("_", " "))[:255]
        deposit.save()
        audit_record(
            actor=actor,
            action=f"deposit.{deposit.status}",
            target=deposit,
            reason=deposit.failure_reason,
            evidence={"event_id": event.event_id},
        )
        return deposit.status
    if kind in (EventKind.REFUND_SUCCEEDED, EventKind.REFUND_FAILED):
        refund = _by_references(Refund, psp, event)
        if refund is None:
            raise WebhookRejected(
                f"No refund matches {event.reference or event.provider_reference or '-'}.",
                code="unknown_transaction",
                status=404,
            )
        result = OperationResult(
            "succeeded" if kind == EventKind.REFUND_SUCCEEDED else "failed",
            event.provider_reference,
            event.detail,
        )
        return _refund_finish(refund.pk, result, actor)
    if kind in (EventKind.PAYOUT_PAID, EventKind.PAYOUT_FAILED):
        withdrawal = Withdrawal.objects.filter(reference=event.reference, psp=psp).first()
        if withdrawal is None or not event.reference:
            raise WebhookRejected(
                f"No withdrawal matches {event.reference or '-'}.",
                code="unknown_transaction",
                status=404,
            )
        result = OperationResult(
            "succeeded" if kind == EventKind.PAYOUT_PAID else "failed",
            event.provider_reference,
            event.detail,
        )
        return _withdrawal_finish(withdrawal.pk, result, actor)
    if kind == EventKind.CHARGEBACK_OPENED:
        deposit = _deposit_for_event(psp, event, payment=False)
        if deposit.status != Deposit.Status.COMPLETED:
            raise WebhookRejected(
                f"Deposit {deposit.reference} is not credited yet; send the dispute again later.",
                code="out_of_order",
                status=409,
            )
        chargeback = chargeback_open(
            deposit=deposit,
            amount=event.amount if event.amount is not None else deposit.remaining_amount,
            provider_reference=event.provider_reference,
            reason=event.detail,
            actor=actor,
        )
        return f"chargeback {chargeback.pk} opened"
    if kind in (EventKind.CHARGEBACK_WON, EventKind.CHARGEBACK_LOST):
        chargeback = Chargeback.objects.filter(
            provider_reference=event.provider_reference, deposit__psp=psp
        ).first()
        if chargeback is None:
            raise WebhookRejected(
                f"No open dispute {event.provider_reference or '-'}; send it again later.",
                code="out_of_order",
                status=409,
            )
        chargeback_resolve(
            chargeback=chargeback,
            outcome="won" if kind == EventKind.CHARGEBACK_WON else "lost",
            reason=event.detail or "Dispute closed by the card scheme.",
            actor=actor,
        )
        return f"chargeback {chargeback.pk} {chargeback.status}"
    raise WebhookRejected(f"Unknown event kind {kind!r}.", code="unknown_event")


# --- Withdrawals -----------------------------------------------------------------------------


def closed_loop_capacity(client: Client) -> dict[tuple[str, str], Decimal]:
    """What each (PSP, currency) funded and can take back: completed deposits less refunds,
    chargebacks and withdrawals already sent (or on their way) through it."""
    funded = (
        Deposit.objects.filter(client=client, status=Deposit.Status.COMPLETED)
        .values("psp", "currency")
        .annotate(total=Sum(F("amount") - F("refunded_amount") - F("charged_back_amount")))
    )
    out = {(r["psp"], r["currency"]): r["total"] for r in funded}
    taken = (
        Withdrawal.objects.filter(client=client)
        .exclude(
            status__in=[
                Withdrawal.Status.REJECTED,
                Withdrawal.Status.CANCELLED,
                Withdrawal.Status.FAILED,
            ]
        )
        .values("psp", "currency")
        .annotate(total=Sum("amount"))
    )
    for row in taken:
        key = (row["psp"], row["currency"])
        out[key] = out.get(key, Decimal(0)) - row["total"]
    return out


def _funding_deposit(client: Client, psp: str, currency: str) -> Deposit | None:
    return (
        Deposit.objects.filter(
            client=client, psp=psp, currency=currency, status=Deposit.Status.COMPLETED
        )
        .order_by("-completed_at")
        .first()
    )


def withdrawal_checks(withdrawal: Withdrawal) -> list[dict]:
    """Every reason the withdrawal cannot be approved automatically (empty: approve)."""
    client = Client.objects.get(pk=withdrawal.client_id)
    reasons = []

    def add(code, message):
        reasons.append({"code": code, "message": message})

    today = timezone.now().date()
    if client.kyc_level < 1:
        add("kyc_not_verified", "The client's identity is not verified (KYC level 0).")
    elif client.id_document_expires_on and client.id_document_expires_on < today:
        add(
            "kyc_expired",
            f"The client's identity document expired on {client.id_document_expires_on}.",
        )
    if client.restricted:
        add("restricted", f"The client is restricted: {client.restriction_reason or 'no reason'}.")
    if client.aml_case_open:
        add("aml_case_open", "An AML case is open on the client.")
    if "chargeback" in client.risk_flags:
        add("chargeback_history", "The client has had a chargeback.")
    capacity = closed_loop_capacity(client).get((withdrawal.psp, withdrawal.currency))
    # The capacity above already counts this withdrawal as taken.
    if capacity is None or capacity < 0:
        funded = (capacity or Decimal(0)) + withdrawal.amount
        add(
            "closed_loop",
            f"{psp_registry.PSP_NAMES.get(withdrawal.psp, withdrawal.psp)} funded "
            f"{format_money(max(funded, Decimal(0)), withdrawal.currency)} that can still go "
            "back to it; the rest must be paid by another method (bank wire).",
        )
    value_usd = usd_value(withdrawal.amount, withdrawal.currency)
    limit = Decimal(settings.FINANCE_WITHDRAWAL_AUTO_APPROVE_MAX_USD)
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
    if count > settings.FINANCE_VELOCITY_COUNT_24H:
        add(
            "velocity_count",
            f"{count} withdrawal requests within 24 hours (limit "
            f"{settings.FINANCE_VELOCITY_COUNT_24H}).",
        )
    total_usd = value_usd + sum(
        (usd_value(w.amount, w.currency) for w in recent.only("amount", "currency")), Decimal(0)
    )
    if total_usd > settings.FINANCE_VELOCITY_USD_24H:
        add(
            "velocity_amount",
            f"USD {total_usd:,.2f} requested within 24 hours (limit "
            f"USD {settings.FINANCE_VELOCITY_USD_24H:,}).",
        )
    return reasons


@transaction.atomic
def withdrawal_request(
    *, client: Client, amount, currency: str, psp: str, actor: Actor, request=None
) -> Withdrawal:
    """Hold the funds, run the automatic checks, and approve or send to finance review."""
    amount = to_amount(amount, currency)
    if psp not in psp_registry.PSP_CODES:
        raise InvalidInput("Choose how to be paid.", fields={"psp": ["Unknown method."]})
    funding = _funding_deposit(client, psp, currency)
    if funding is None:
        raise WithdrawalNotAllowed(
            f"You have not deposited in {currency} with {psp_registry.PSP_NAMES[psp]}; "
            "withdrawals go back to a method that funded your account.",
            code="no_funding_method",
            fields={"psp": ["Not a method you deposited with."]},
        )
    wallet = wallet_for(client, currency)
    # Ledger accounts first, then the client row (velocity counts see each other): the order
    # every finance service keeps (a chargeback flags the client after locking its accounts).
    lock_accounts([wallet])
    Client.objects.select_for_update().get(pk=client.pk)
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
    audit_record(
        actor=actor,
        action="withdrawal.requested",
        target=withdrawal,
        evidence={"amount": str(amount), "currency": currency, "psp": psp, "held": True},
        request=request,
    )
    reasons = withdrawal_checks(withdrawal)
    withdrawal.check_reasons = reasons
    if reasons:
        withdrawal.send_to_review()
        withdrawal.decision_rule = "checks_flagged"
        withdrawal.save()
        audit_record(
            actor=CHECKS_ACTOR,
            action="withdrawal.sent_to_review",
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
            action="withdrawal.auto_approved",
            target=withdrawal,
            reason="Every automatic check passed.",
            evidence={
                "checks": "kyc, restriction, aml, chargebacks, closed_loop, amount, velocity"
            },
        )
        _queue_payout(withdrawal)
    return withdrawal


def _queue_payout(withdrawal: Withdrawal) -> None:
    from .tasks import withdrawal_payout_task

    withdrawal_payout_task.delay_on_commit(withdrawal.pk)


def _lock_withdrawal(withdrawal_id: int, *, with_losses: bool = False) -> Withdrawal:
    """Lock the wallet and clearing accounts (and chargeback losses, when a loss may be
    recovered) in key order, then the withdrawal."""
    w = Withdrawal.objects.get(pk=withdrawal_id)
    accounts = [wallet_for(w.client, w.currency), clearing_for(w.psp, w.currency)]
    if with_losses:
        accounts.append(system_account(LedgerAccount.Kind.CHARGEBACK_LOSSES, w.currency))
    lock_accounts(accounts)
    return (
        Withdrawal.objects.select_for_update(of=("self",))
        .select_related("hold", "funding_deposit")
        .get(pk=withdrawal_id)
    )


def _need(actor, perm: str, message: str) -> None:
    if not (getattr(actor, "is_staff", False) and actor.has_perm(perm)):
        raise NotAllowed(message)


@transaction.atomic
def withdrawal_approve(*, withdrawal: Withdrawal, actor, reason: str = "") -> Withdrawal:
    """Approve from review. At or over the four-eyes amount, two different officers."""
    _need(actor, "finance.manage_withdrawals", "Only finance officers approve withdrawals.")
    w = _lock_withdrawal(withdrawal.pk)
    if w.status != Withdrawal.Status.IN_REVIEW:
        raise InvalidInput(f"This withdrawal is {w.get_status_display().lower()}.")
    four_eyes = usd_value(w.amount, w.currency) >= Decimal(settings.FINANCE_FOUR_EYES_USD)
    if four_eyes and w.first_approval_by_id is None:
        w.first_approval_by = actor
        w.save(update_fields=["first_approval_by"])
        audit_record(
            actor=actor,
            action="withdrawal.first_approval",
            target=w,
            reason=reason,
            evidence={"four_eyes_usd": settings.FINANCE_FOUR_EYES_USD},
        )
        return w
    if four_eyes and w.first_approval_by_id == actor.pk:
        raise NotAllowed("Four eyes: a second finance officer must approve this withdrawal.")
    w.approve()
    w.decided_by, w.decided_at, w.decision_reason = actor, timezone.now(), reason
    w.save()
    audit_record(
        actor=actor,
        action="withdrawal.approved",
        target=w,
        reason=reason,
        evidence={
            "four_eyes": four_eyes,
            "first_approval_by": w.first_approval_by_id,
            "overrode": [r["code"] for r in w.check_reasons],
        },
    )
    _queue_payout(w)
    return w


@transaction.atomic
def withdrawal_reject(*, withdrawal: Withdrawal, actor, reason: str) -> Withdrawal:
    _need(actor, "finance.manage_withdrawals", "Only finance officers reject withdrawals.")
    reason = " ".join((reason or "").split())
    if not reason:
        raise InvalidInput("Say why.", fields={"reason": ["A reason is needed."]})
    w = _lock_withdrawal(withdrawal.pk)
    if w.status != Withdrawal.Status.IN_REVIEW:
        raise InvalidInput(f"This withdrawal is {w.get_status_display().lower()}.")
    w.reject()
    w.decided_by, w.decided_at, w.decision_reason = actor, timezone.now(), reason
    hold_close(hold=w.hold, status=Hold.Status.RELEASED)
    w.save()
    audit_record(actor=actor, action="withdrawal.rejected", target=w, reason=reason)
    return w


@transaction.atomic
def withdrawal_cancel(*, withdrawal: Withdrawal, actor: Actor, reason: str) -> Withdrawal:
    """The client (or a rule, e.g. after a chargeback) cancels before the payout starts."""
    w = _lock_withdrawal(withdrawal.pk)
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
    audit_record(actor=actor, action="withdrawal.cancelled", target=w, reason=reason)
    return w


def _psp_call(call, lookup, *, resume: bool) -> OperationResult | None:
    """Make the call, exactly once at the PSP: a resumed operation (a worker died, an answer
    was lost) is looked up first; a call that fails in flight is looked up, never repeated.
    None: the PSP's answer is unknown for now (the sweeper or a webhook will finish it)."""
    try:
        found = lookup() if resume else None
        if found is not None:
            return found
        return call()
    except PspError as exc:
        log.warning("PSP call failed in flight (%s); looking it up", exc.message)
        try:
            return lookup()
        except PspError:
            return None


def _money_out(
    *, hold: Hold, client, psp: str, kind: str, idempotency_key: str, actor, **details
) -> LedgerTransaction:
    """Money left the wallet through the PSP: the hold becomes the wallet's debit."""
    hold_close(hold=hold, status=Hold.Status.SETTLED)
    txn, _ = ledger_post(
        kind=kind,
        idempotency_key=idempotency_key,
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


def withdrawal_payout(*, withdrawal_id: int) -> str:
    """Pay an approved withdrawal out through its PSP, exactly once.

    The withdrawal is marked processing (committed) before the call; a resumed payout (a
    worker died, the answer was lost) first asks the PSP for our reference.
    """
    now = timezone.now()
    with transaction.atomic(durable=True):
        w = _lock_withdrawal(withdrawal_id)
        if w.status == Withdrawal.Status.APPROVED:
            w.start_payout()
            resume = False
        elif w.status == Withdrawal.Status.PROCESSING:
            # Another run holds the call until its claim goes stale (longer than a task may
            # run): a second copy of the task, queued by the sweeper, must not call the PSP.
            if w.payout_started_at and w.payout_started_at > now - CLAIM_STALE_AFTER:
                return "in progress"
            resume = True
        else:
            return f"nothing to do: {w.status}"
        w.payout_started_at = now
        w.payout_attempts += 1
        w.save()
        audit_record(
            actor=PAYOUT_ACTOR,
            action="withdrawal.payout_resumed" if resume else "withdrawal.payout_started",
            target=w,
            evidence={"attempt": w.payout_attempts},
        )
    email = Client.objects.filter(pk=w.client_id).values_list("user__email", flat=True).get()
    adapter = psp_registry.adapter_for(w.psp)

    def call():
        return adapter.payout(
            reference=w.reference,
            amount=w.amount,
            currency=w.currency,
            payment_reference=w.funding_deposit.provider_reference,
            customer_email=email,
        )

    def lookup():
        return adapter.lookup(
            reference=w.reference, payment_reference=w.funding_deposit.provider_reference
        )

    result = _psp_call(call, lookup, resume=resume)
    if result is None or result.status == "pending":
        return "pending"  # the webhook, or the sweeper's next look, will finish it
    return _withdrawal_finish(w.pk, result, PAYOUT_ACTOR)


def _withdrawal_finish(withdrawal_id: int, result: OperationResult, actor: str) -> str:
    client_id, currency = Withdrawal.objects.values_list("client_id", "currency").get(
        pk=withdrawal_id
    )
    recover = result.status != "succeeded" and _unrecovered_losses(client_id, currency).exists()
    with transaction.atomic():
        w = _lock_withdrawal(withdrawal_id, with_losses=recover)
        if w.status in (Withdrawal.Status.PAID, Withdrawal.Status.FAILED):
            return f"already {w.status}"
        if w.status == Withdrawal.Status.APPROVED:  # a webhook overtook our own call's answer
            w.start_payout()
        if w.status != Withdrawal.Status.PROCESSING:
            return f"ignored: the withdrawal is {w.status}"
        w.provider_reference = (result.provider_reference or w.provider_reference)[:100]
        w.completed_at = timezone.now()
        if result.status == "succeeded":
            txn = _money_out(
                hold=w.hold,
                client=w.client,
                psp=w.psp,
                kind=LedgerTransaction.Kind.WITHDRAWAL,
                idempotency_key=f"withdrawal:{w.pk}",
                actor=actor,
                external_reference=w.provider_reference,
                description=f"Withdrawal {w.reference}",
            )
            w.mark_paid()
            w.ledger_transaction = txn
            action = "withdrawal.paid"
        else:
            hold_close(hold=w.hold, status=Hold.Status.RELEASED)
            w.mark_failed()
            w.failure_reason = (result.detail or "The PSP refused the payout.")[:255]
            action = "withdrawal.payout_failed"
            if recover:
                _recover_losses(w.client, w.currency, key=f"withdrawal:{w.pk}", actor=actor)
        w.save()
        audit_record(
            actor=actor,
            action=action,
            target=w,
            reason=w.failure_reason,
            evidence={"provider_reference": w.provider_reference},
        )
        return w.status


def payouts_sweep(*, stale_after: timedelta = CLAIM_STALE_AFTER) -> int:
    """Re-queue approved withdrawals and refunds whose payout never started or never finished."""
    from .tasks import refund_execute_task, withdrawal_payout_task

    cutoff = timezone.now() - stale_after
    ids = list(
        Withdrawal.objects.filter(
            Q(status=Withdrawal.Status.APPROVED, decided_at__lt=cutoff)
            | Q(status=Withdrawal.Status.PROCESSING, payout_started_at__lt=cutoff)
        ).values_list("pk", flat=True)[:500]
    )
    for pk in ids:
        withdrawal_payout_task.delay(pk)
    refunds = list(
        Refund.objects.filter(status=Refund.Status.PENDING, created_at__lt=cutoff)
        .filter(Q(attempted_at__isnull=True) | Q(attempted_at__lt=cutoff))
        .values_list("pk", flat=True)[:500]
    )
    for pk in refunds:
        refund_execute_task.delay(pk)
    return len(ids) + len(refunds)


# --- Refunds ---------------------------------------------------------------------------------


def _lock_deposit_accounts(deposit: Deposit, *extra: LedgerAccount) -> Deposit:
    lock_accounts(
        [wallet_for(deposit.client, deposit.currency), clearing_for(deposit.psp, deposit.currency)]
        + list(extra)
    )
    return (
        Deposit.objects.select_for_update(of=("self",))
        .select_related("client__user")
        .get(pk=deposit.pk)
    )


@transaction.atomic
def refund_request(*, deposit: Deposit, amount, reason: str, actor, request=None) -> Refund:
    """Refund part or all of a completed deposit: never more than remains of it."""
    _need(actor, "finance.manage_refunds", "Only finance officers refund deposits.")
    reason = " ".join((reason or "").split())
    if not reason:
        raise InvalidInput("Say why.", fields={"reason": ["A reason is needed."]})
    deposit = _lock_deposit_accounts(deposit)
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
        action="refund.requested",
        target=deposit,
        reason=reason,
        evidence={"refund": refund.reference, "amount": str(amount)},
        request=request,
    )
    from .tasks import refund_execute_task

    refund_execute_task.delay_on_commit(refund.pk)
    return refund


def refund_execute(*, refund_id: int) -> str:
    """Send a pending refund to the PSP, exactly once (claimed like a payout)."""
    now = timezone.now()
    with transaction.atomic(durable=True):
        refund = (
            Refund.objects.select_for_update(of=("self",))
            .select_related("deposit")
            .get(pk=refund_id)
        )
        if refund.status != Refund.Status.PENDING:
            return f"nothing to do: {refund.status}"
        if refund.attempted_at and refund.attempted_at > now - CLAIM_STALE_AFTER:
            return "in progress"
        resume = refund.attempts > 0
        refund.attempts += 1
        refund.attempted_at = now
        refund.save(update_fields=["attempts", "attempted_at"])
    adapter = psp_registry.adapter_for(refund.deposit.psp)

    def call():
        return adapter.refund(
            reference=refund.reference,
            payment_reference=refund.deposit.provider_reference,
            amount=refund.amount,
            currency=refund.currency,
        )

    def lookup():
        return adapter.lookup(
            reference=refund.reference, payment_reference=refund.deposit.provider_reference
        )

    result = _psp_call(call, lookup, resume=resume)
    if result is None or result.status == "pending":
        return "pending"
    return _refund_finish(refund.pk, result, PAYOUT_ACTOR)


def _refund_finish(refund_id: int, result: OperationResult, actor: str) -> str:
    with transaction.atomic():
        refund = Refund.objects.select_related("deposit").get(pk=refund_id)
        recover = result.status != "succeeded" and (
            _unrecovered_losses(refund.deposit.client_id, refund.currency).exists()
        )
        losses = system_account(LedgerAccount.Kind.CHARGEBACK_LOSSES, refund.currency)
        deposit = _lock_deposit_accounts(refund.deposit, *([losses] if recover else []))
        refund = Refund.objects.select_for_update().select_related("hold").get(pk=refund_id)
        if refund.status != Refund.Status.PENDING:
            return f"already {refund.status}"
        refund.provider_reference = (result.provider_reference or "")[:100]
        refund.completed_at = timezone.now()
        if result.status == "succeeded":
            txn = _money_out(
                hold=refund.hold,
                client=deposit.client,
                psp=deposit.psp,
                kind=LedgerTransaction.Kind.REFUND,
                idempotency_key=f"refund:{refund.pk}",
                actor=actor,
                external_reference=refund.provider_reference,
                description=f"Refund {refund.reference} of deposit {deposit.reference}",
            )
            refund.succeed()
            refund.ledger_transaction = txn
        else:
            hold_close(hold=refund.hold, status=Hold.Status.RELEASED)
            Deposit.objects.filter(pk=deposit.pk).update(
                refunded_amount=F("refunded_amount") - refund.amount
            )
            refund.fail()
            refund.failure_reason = (result.detail or "The PSP refused the refund.")[:255]
            if recover:
                key = f"refund:{refund.pk}"
                _recover_losses(deposit.client, refund.currency, key=key, actor=actor)
        refund.save()
        audit_record(
            actor=actor,
            action=f"refund.{refund.status}",
            target=deposit,
            reason=refund.failure_reason,
            evidence={"refund": refund.reference, "provider_reference": refund.provider_reference},
        )
        return refund.status


def _unrecovered_losses(client_id: int, currency: str):
    return Chargeback.objects.filter(
        deposit__client_id=client_id,
        currency=currency,
        status__in=[Chargeback.Status.OPEN, Chargeback.Status.LOST],
        loss_amount__gt=F("recovered_amount"),
    ).order_by("pk")


def _recover_losses(client: Client, currency: str, *, key: str, actor) -> Decimal:
    """Funds released back to a wallet (a payout or refund failed) first make good what the
    client's chargebacks booked as a loss. The caller holds the wallet and losses locks."""
    cbs = list(_unrecovered_losses(client.pk, currency).select_for_update(of=("self",)))
    wallet = wallet_for(client, currency)
    wallet.refresh_from_db()
    outstanding = sum((cb.loss_amount - cb.recovered_amount for cb in cbs), Decimal(0))
    amount = min(outstanding, max(wallet.available_amount, Decimal(0)))
    if amount <= 0:
        return Decimal(0)
    losses = system_account(LedgerAccount.Kind.CHARGEBACK_LOSSES, currency)
    ledger_post(
        kind=LedgerTransaction.Kind.CHARGEBACK,
        idempotency_key=f"chargeback-recovery:{key}",
        legs=[Leg(wallet, -amount), Leg(losses, amount)],
        actor=actor,
        client=client,
        description="Chargeback loss recovered from released funds",
    )
    left = amount
    for cb in cbs:
        share = min(left, cb.loss_amount - cb.recovered_amount)
        if share > 0:
            recovered = F("recovered_amount") + share
            Chargeback.objects.filter(pk=cb.pk).update(recovered_amount=recovered)
            left -= share
    audit_record(
        actor=actor,
        action="chargeback.loss_recovered",
        target=client,
        evidence={"amount": str(amount), "currency": currency, "from": key},
    )
    return amount


# --- Chargebacks -----------------------------------------------------------------------------


@transaction.atomic
def chargeback_open(
    *, deposit: Deposit, amount, provider_reference: str, reason: str, actor: Actor
) -> Chargeback:
    """The PSP took a payment back: debit the wallet, book any shortfall as a loss, flag the
    client and cancel withdrawals not yet sent. A repeated dispute id changes nothing."""
    if not isinstance(actor, str):
        _need(actor, "finance.manage_chargebacks", "Only finance officers record chargebacks.")
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
    # Every row this touches is locked before the first audit event (which takes the audit
    # chain's lock): the ledger accounts in key order, the deposit, the client, the withdrawals.
    others = [wallet_for(deposit.client, w.currency) for w in guess]
    others += [clearing_for(w.psp, w.currency) for w in guess]
    deposit = _lock_deposit_accounts(deposit, losses, *others)
    Client.objects.select_for_update().get(pk=deposit.client_id)
    pending = list(
        Withdrawal.objects.select_for_update(of=("self",))
        .filter(client_id=deposit.client_id, status__in=cancellable)
        .order_by("pk")
    )
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
        action="chargeback.opened",
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
    return chargeback


@transaction.atomic
def chargeback_resolve(*, chargeback: Chargeback, outcome: str, reason: str, actor: Actor):
    """Post the dispute's outcome: won returns the funds as they were taken; lost closes it."""
    if not isinstance(actor, str):
        _need(actor, "finance.manage_chargebacks", "Only finance officers resolve chargebacks.")
    if outcome not in ("won", "lost"):
        raise InvalidInput("The outcome is won or lost.", fields={"outcome": ["won or lost"]})
    deposit = chargeback.deposit
    losses = system_account(LedgerAccount.Kind.CHARGEBACK_LOSSES, deposit.currency)
    _lock_deposit_accounts(deposit, losses)
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
        actor=actor, action=f"chargeback.{outcome}", target=cb, reason=reason, evidence=evidence
    )
    return cb


@transaction.atomic
def chargeback_evidence_add(*, chargeback: Chargeback, uploaded_file, note: str, actor):
    """Attach a document to the dispute file (checked like every upload, stored privately)."""
    _need(actor, "finance.manage_chargebacks", "Only finance officers add dispute evidence.")
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
        action="chargeback.evidence_added",
        target=chargeback,
        evidence={"sha256": checked.sha256, "name": checked.original_name, "note": note},
    )
    return evidence
