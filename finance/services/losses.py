"""Chargeback losses made good from funds released back to a wallet.

When a chargeback took more than the wallet held, the shortfall is booked to the chargeback
losses account. Funds that later come back to that wallet (a payout or a refund that failed)
first make good what is still unrecovered, oldest chargeback first.

Contract: the caller holds the wallet's and the losses account's locks (ledger accounts first,
in key order); every recovery posts once, under `chargeback-recovery:<key>`. Below the noun
modules: withdrawals and refunds use it; it imports none of them.
"""

from __future__ import annotations

from decimal import Decimal

from django.db.models import F

from brokerage.services import audit_record
from clients.models import Client
from finance import audit_events

from ..ledger import Leg, ledger_post, system_account, wallet_for
from ..models import Chargeback, LedgerAccount, LedgerTransaction


def unrecovered_losses(client_id: int, currency: str):
    """The client's chargebacks in `currency` whose booked loss is not yet made good."""
    return Chargeback.objects.filter(
        deposit__client_id=client_id,
        currency=currency,
        status__in=[Chargeback.Status.OPEN, Chargeback.Status.LOST],
        loss_amount__gt=F("recovered_amount"),
    ).order_by("pk")


def recover_losses(client: Client, currency: str, *, key: str, actor) -> Decimal:
    """Funds released back to a wallet (a payout or refund failed) first make good what the
    client's chargebacks booked as a loss. The caller holds the wallet and losses locks."""
    cbs = list(unrecovered_losses(client.pk, currency).select_for_update(of=("self",)))
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
        action=audit_events.CHARGEBACK_LOSS_RECOVERED,
        target=client,
        evidence={"amount": str(amount), "currency": currency, "from": key},
    )
    return amount
