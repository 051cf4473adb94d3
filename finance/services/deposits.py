"""Deposits: the intent, the PSP's hosted payment page, and the credit exactly once.

Contract:
- `deposit_create` checks the method's limits and asks the client's standing
  (`clients.standing`, purpose deposit) under the client's lock, and records the intent
  (created); `deposit_open_session` then opens the PSP's hosted
  page, a network call made outside any transaction (pending).
- `deposit_complete` checks the PSP's word against the deposit and `deposit_credit` credits
  the wallet from the PSP's (or the bank's) clearing account once, under the ledger key
  `deposit:<id>`; the client's first completed deposit is the FTD. Bank wires
  (`finance.services.wires`) credit through it too. A PSP's word also records who paid (the
  event's payment instrument, `instruments`) and what the PSP's merchant wallet received when
  that differs (Skrill), also when the deposit was credited already.
- `deposit_payment_update` applies the PSP's word that a payment is still pending, failed or
  expired; a deposit already settled is left as it is.
Both are driven by verified PSP events (`webhooks`). Imports `common`, `limits`,
`instruments` and the ledger, never a sibling noun module.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from brokerage.money import exponent, format_money, to_amount
from brokerage.services import Actor, audit_record
from clients.models import Client
from clients.services import client_first_deposit_record, client_risk_factor_changed
from clients.standing import Purpose, client_standing
from finance import audit_events
from finance.moved import money_moved

from .. import psp as psp_registry
from ..ledger import Leg, clearing_for, ledger_post, wallet_for
from ..locks import lock_deposit_accounts, lock_in_order
from ..models import Deposit, LedgerTransaction, PaymentMethod, new_reference
from ..notices import client_tell
from ..psp import EventKind, InstrumentInfo, PspError, WebhookEvent, WebhookRejected
from .common import DepositNotAllowed
from .instruments import deposit_instrument_record
from .limits import deposited_total_usd, method_available, usd_value


@transaction.atomic
def deposit_create(
    *, client: Client, method: PaymentMethod, amount, actor: Actor, request=None
) -> Deposit:
    """Check the method's limits and the client's standing, and record the deposit intent."""
    if exponent(method.currency) > 2:  # the ledger keeps 2 decimal places
        raise DepositNotAllowed(f"{method.currency} is not a currency we hold.")
    amount = to_amount(amount, method.currency)
    client = lock_in_order(client=client).client  # one intent at a time
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
    total_usd = usd_value(amount, method.currency) + deposited_total_usd(client)
    refusal = client_standing(client, Purpose.DEPOSIT, amount_usd=total_usd).refusal()
    if refusal is not None:
        why = refusal.client_message
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
        action=audit_events.DEPOSIT_CREATED,
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
                action=audit_events.DEPOSIT_OPENED,
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
            audit_record(
                actor=actor, action=audit_events.DEPOSIT_FAILED, target=deposit, reason=reason
            )


def _payer_record(deposit: Deposit, event: WebhookEvent, actor: str) -> None:
    """Who paid and what the merchant wallet got, from the event (the deposit is locked)."""
    deposit_instrument_record(
        deposit=deposit, info=event.instrument, at=event.occurred_at, actor=actor
    )
    if event.wallet_amount is not None and deposit.wallet_amount is None:
        deposit.wallet_amount, deposit.wallet_currency = event.wallet_amount, event.wallet_currency
        Deposit.objects.filter(pk=deposit.pk).update(
            wallet_amount=event.wallet_amount, wallet_currency=event.wallet_currency
        )


def deposit_complete(*, deposit: Deposit, event: WebhookEvent, actor: str) -> str:
    """Credit the wallet exactly once; the first completed deposit of a client is the FTD.
    Who paid is recorded either way (a PSP may name the card in a later notice)."""
    if deposit.status == Deposit.Status.COMPLETED:
        if event.instrument is not None or event.wallet_amount is not None:
            _payer_record(Deposit.objects.select_for_update().get(pk=deposit.pk), event, actor)
        return "already credited"
    if event.amount is not None and event.amount != deposit.amount:
        raise WebhookRejected(
            f"{event.kind} for {deposit.reference} is for {event.amount} {event.currency}, "
            f"but the deposit is {deposit.amount} {deposit.currency}.",
            code="amount_mismatch",
        )
    return deposit_credit(
        deposit=deposit,
        actor=actor,
        provider_reference=event.provider_reference,
        evidence={"event_id": event.event_id},
        payer=event,
    )


def deposit_credit(
    *,
    deposit: Deposit,
    actor: Actor,
    provider_reference: str = "",
    evidence=None,
    payer: WebhookEvent | None = None,
    instrument: InstrumentInfo | None = None,
) -> str:
    """Credit the wallet from the deposit's clearing account once (ledger key
    `deposit:<id>`), whoever confirms the money arrived (a PSP's event, the bank statement);
    the client's first completed deposit is the FTD. Who paid is recorded from `payer` (the
    PSP's event) or `instrument` (a bank wire's sender). Called in the caller's transaction."""
    deposit = lock_deposit_accounts(deposit)
    if payer is not None:
        _payer_record(deposit, payer, actor)
    elif instrument is not None:
        deposit_instrument_record(deposit=deposit, info=instrument, at=timezone.now(), actor=actor)
    if deposit.status == Deposit.Status.COMPLETED:
        return "already credited"
    reference = (provider_reference or deposit.provider_reference)[:100]
    wallet = wallet_for(deposit.client, deposit.currency)
    clearing = clearing_for(deposit.psp, deposit.currency)
    txn, _ = ledger_post(
        kind=LedgerTransaction.Kind.DEPOSIT,
        idempotency_key=f"deposit:{deposit.pk}",
        legs=[Leg(wallet, deposit.amount), Leg(clearing, -deposit.amount)],
        actor=actor,
        client=deposit.client,
        psp=deposit.psp,
        external_reference=reference,
        description=f"Deposit {deposit.reference}",
    )
    deposit.complete()
    deposit.ledger_transaction = txn
    deposit.completed_at = timezone.now()
    deposit.provider_reference = reference
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
        action=audit_events.DEPOSIT_COMPLETED,
        target=deposit,
        evidence={
            "amount": str(deposit.amount),
            "currency": deposit.currency,
            "provider_reference": deposit.provider_reference,
            **(evidence or {}),
            "ftd": deposit.is_ftd,
            "ledger_transaction": txn.pk,
            "instrument": deposit.instrument.label if deposit.instrument else "",
        },
    )
    client_tell(deposit, "credited", actor=actor, method=_method_name(deposit))
    client_risk_factor_changed(client_id=deposit.client_id, cause="deposit credited")
    money_moved("deposit", deposit.pk)
    return "credited" + (" (FTD)" if deposit.is_ftd else "")


def _method_name(deposit: Deposit) -> str:
    return PaymentMethod.objects.filter(pk=deposit.method_id).values_list("name", flat=True).get()


def deposit_payment_update(*, deposit: Deposit, event: WebhookEvent, actor: str) -> str:
    """The PSP says the payment is still pending, failed or expired (`event.kind`). Called in
    the event's transaction; a deposit no longer open is left as it is."""
    kind = event.kind
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
        action=(
            audit_events.DEPOSIT_FAILED
            if kind == EventKind.PAYMENT_FAILED
            else audit_events.DEPOSIT_EXPIRED
        ),
        target=deposit,
        reason=deposit.failure_reason,
        evidence={"event_id": event.event_id},
    )
    client_tell(
        deposit,
        "failed",
        actor=actor,
        method=_method_name(deposit),
        reason=deposit.failure_reason,
    )
    return deposit.status
