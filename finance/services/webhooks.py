"""PSP webhooks: verified over the raw body, each event applied exactly once.

Contract:
- `psp_webhook_receive` verifies a delivery with the PSP's adapter and applies its events;
  every refusal (bad signature, stale timestamp, malformed content, unknown transaction, a
  mismatch) is recorded as a `WebhookRejection` with its reason and nothing is posted.
- `psp_event_apply` stores the event under the PSP's event id (unique: a repeat changes
  nothing and says "duplicate") and applies it in the same transaction through `HANDLERS`,
  one handler per `EventKind`, each finding its object and calling the noun module's service.
This is the top of finance's services: it imports deposits, withdrawals, refunds and
chargebacks; nothing below imports it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from brokerage.errors import DomainError

from .. import psp as psp_registry
from ..models import Chargeback, Deposit, PspEvent, Refund, WebhookRejection, Withdrawal
from ..psp import EventKind, OperationResult, WebhookEvent, WebhookRejected
from .chargebacks import chargeback_open, chargeback_resolve
from .common import WEBHOOK_ACTOR
from .deposits import deposit_complete, deposit_payment_update
from .refunds import refund_finish
from .withdrawals import withdrawal_finish

log = logging.getLogger(__name__)

# (psp, event, actor) -> what was done, for the event's record ("ignored…"/"already…": ignored)
Handler = Callable[[str, WebhookEvent, str], str]


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
        handler = HANDLERS.get(event.kind)
        if handler is None:
            raise WebhookRejected(f"Unknown event kind {event.kind!r}.", code="unknown_event")
        outcome = handler(psp, event, actor)
        stored.outcome_detail = outcome[:255]
        if outcome.startswith(("ignored", "already")):
            stored.outcome = PspEvent.Outcome.IGNORED
        PspEvent.objects.filter(pk=stored.pk).update(
            outcome=stored.outcome, outcome_detail=stored.outcome_detail
        )
    return outcome


# --- Finding the object an event is about -----------------------------------------------------


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


def _refund_for_event(psp: str, event: WebhookEvent) -> Refund | None:
    """The refund whose reference (ours, or the PSP's) the event names; None if none does."""
    refs = Q()
    if event.reference:
        refs |= Q(reference=event.reference)
    if event.provider_reference:
        refs |= Q(provider_reference=event.provider_reference)
    if not refs:
        return None
    return Refund.objects.filter(refs, deposit__psp=psp).first()


def _no_match(what: str, reference: str) -> WebhookRejected:
    return WebhookRejected(
        f"No {what} matches {reference or '-'}.", code="unknown_transaction", status=404
    )


def _result(event: WebhookEvent, succeeded: bool) -> OperationResult:
    return OperationResult(
        "succeeded" if succeeded else "failed", event.provider_reference, event.detail
    )


# --- One handler per event kind ----------------------------------------------------------------


def _ignored(psp: str, event: WebhookEvent, actor: str) -> str:
    return "ignored: not an event we act on"


def _payment_succeeded(psp: str, event: WebhookEvent, actor: str) -> str:
    deposit = _deposit_for_event(psp, event, payment=True)
    return deposit_complete(deposit=deposit, event=event, actor=actor)


def _payment_not_succeeded(psp: str, event: WebhookEvent, actor: str) -> str:
    deposit = _deposit_for_event(psp, event, payment=True)
    return deposit_payment_update(deposit=deposit, event=event, actor=actor)


def _refund_outcome(psp: str, event: WebhookEvent, actor: str) -> str:
    refund = _refund_for_event(psp, event)
    if refund is None:
        raise _no_match("refund", event.reference or event.provider_reference)
    succeeded = event.kind == EventKind.REFUND_SUCCEEDED
    return refund_finish(refund.pk, _result(event, succeeded), actor)


def _payout_outcome(psp: str, event: WebhookEvent, actor: str) -> str:
    """A payout's outcome, named by our reference or, for PSPs whose notice carries only their
    own id (CoinPayments' withdrawal IPN), by that id. Money a PSP sends out may also be one of
    our refunds (CoinPayments refunds are withdrawals): the refund with that id is finished."""
    succeeded = event.kind == EventKind.PAYOUT_PAID
    refs = Q(reference=event.reference) if event.reference else Q()
    if event.provider_reference:
        refs |= Q(provider_reference=event.provider_reference)
    withdrawal = Withdrawal.objects.filter(refs, psp=psp).first() if refs else None
    if withdrawal is not None:
        return withdrawal_finish(withdrawal.pk, _result(event, succeeded), actor)
    refund = _refund_for_event(psp, event) if not event.reference else None
    if refund is not None:
        return refund_finish(refund.pk, _result(event, succeeded), actor)
    raise _no_match("withdrawal", event.reference or event.provider_reference)


def _chargeback_opened(psp: str, event: WebhookEvent, actor: str) -> str:
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


def _chargeback_closed(psp: str, event: WebhookEvent, actor: str) -> str:
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
        outcome="won" if event.kind == EventKind.CHARGEBACK_WON else "lost",
        reason=event.detail or "Dispute closed by the card scheme.",
        actor=actor,
    )
    return f"chargeback {chargeback.pk} {chargeback.status}"


HANDLERS: dict[str, Handler] = {
    EventKind.IGNORED: _ignored,
    EventKind.PAYMENT_SUCCEEDED: _payment_succeeded,
    EventKind.PAYMENT_PENDING: _payment_not_succeeded,
    EventKind.PAYMENT_FAILED: _payment_not_succeeded,
    EventKind.PAYMENT_EXPIRED: _payment_not_succeeded,
    EventKind.REFUND_SUCCEEDED: _refund_outcome,
    EventKind.REFUND_FAILED: _refund_outcome,
    EventKind.PAYOUT_PAID: _payout_outcome,
    EventKind.PAYOUT_FAILED: _payout_outcome,
    EventKind.CHARGEBACK_OPENED: _chargeback_opened,
    EventKind.CHARGEBACK_WON: _chargeback_closed,
    EventKind.CHARGEBACK_LOST: _chargeback_closed,
}
assert set(HANDLERS) == set(EventKind.ALL), "every event kind has its handler"
