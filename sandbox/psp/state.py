"""What the providers know, in memory under one lock: payments, refunds and payouts
(operations), disputes, the money movements statements are written from, idempotency keys,
the webhook delivery log and the armed faults. `reset()` forgets it all."""

from __future__ import annotations

import random
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal

from .config import DEFAULT_FAULTS, sandbox_config
from .money import major_text


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Payment:
    psp: str
    provider_reference: str  # what create_payment answered (pi_…, pay_…, SID, CP…)
    reference: str  # ours
    amount: Decimal
    currency: str
    notify_url: str
    success_url: str
    cancel_url: str
    customer_email: str
    created_at: datetime
    ids: dict = field(default_factory=dict)  # provider-specific ids and details
    status: str = "open"  # open, succeeded, failed, expired
    refunded: Decimal = Decimal(0)  # refunded, or being refunded (pending)
    disputed: Decimal = Decimal(0)
    paid_at: datetime | None = None

    @property
    def reported_reference(self) -> str:
        """The id the provider's webhooks and statements use for this payment."""
        return self.ids.get("mb_transaction_id") or self.provider_reference

    @property
    def unrefunded(self) -> Decimal:
        return self.amount - self.refunded - self.disputed

    def as_json(self) -> dict:
        return {
            "psp": self.psp,
            "provider_reference": self.provider_reference,
            "reported_reference": self.reported_reference,
            "reference": self.reference,
            "amount": major_text(self.amount, self.currency),
            "currency": self.currency,
            "status": self.status,
            "refunded": major_text(self.refunded, self.currency),
            "disputed": major_text(self.disputed, self.currency),
            "notify_url": self.notify_url,
        }


@dataclass
class Operation:
    """A refund or a payout."""

    psp: str
    kind: str  # refund, payout
    provider_reference: str
    reference: str  # ours
    payment: Payment | None
    amount: Decimal
    currency: str
    status: str  # succeeded, pending, failed (the final outcome is already decided)
    outcome: str  # succeeded or failed: what the webhook will say
    created_at: datetime
    notify_url: str
    ids: dict = field(default_factory=dict)
    detail: str = ""


@dataclass
class Dispute:
    psp: str
    id: str
    provider_reference: str  # what the chargeback webhook reports
    payment: Payment
    amount: Decimal
    currency: str
    reason: str
    created_at: datetime
    status: str = "open"

    def as_json(self) -> dict:
        return {
            "id": self.id,
            "provider_reference": self.provider_reference,
            "payment_reference": self.payment.reported_reference,
            "amount": major_text(self.amount, self.currency),
            "currency": self.currency,
            "reason": self.reason,
            "status": self.status,
        }


@dataclass
class Movement:
    psp: str
    kind: str  # payment, refund, payout, dispute, dispute_reversal
    provider_reference: str
    reference: str
    payment_reference: str
    amount: Decimal  # signed: + money in to the merchant, - out
    currency: str
    booked_at: datetime
    description: str

    def as_json(self) -> dict:
        return {
            "kind": self.kind,
            "provider_reference": self.provider_reference,
            "reference": self.reference,
            "payment_reference": self.payment_reference,
            "amount": str(self.amount),
            "currency": self.currency,
            "booked_at": iso(self.booked_at),
            "description": self.description,
        }


@dataclass
class StatementLine:
    """One statement row, with the attributes the statement writers read."""

    line_no: int
    reference: str
    amount: Decimal
    currency: str
    booked_on: date
    description: str
    category: str
    payment_reference: str


class Sandbox:
    """The providers' state, in memory, under one lock."""

    def __init__(self, config: Mapping[str, Mapping[str, str]] | None = None):
        self.config = {psp: dict(conf) for psp, conf in (config or sandbox_config()).items()}
        self.lock = threading.RLock()
        self.generation = 0
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.generation += 1
            self.payments: dict[tuple[str, str], Payment] = {}  # every id -> payment
            self.payment_list: list[Payment] = []
            self.operations: list[Operation] = []
            self.disputes: dict[tuple[str, str], Dispute] = {}
            self.activity: list[Movement] = []
            self.idempotency: dict = {}  # (psp, key) -> the first answer (web.Resp)
            self.skrill_prepared: dict[str, tuple[str, dict]] = {}  # SID -> (action, fields)
            self.last_ipn_url = ""  # CoinPayments: where a withdrawal's IPN goes by default
            self.deliveries: list[dict] = []
            self.faults = dict(DEFAULT_FAULTS)
            self.skrill_next = 400000000 + random.randrange(10**7)  # Skrill's transaction ids

    def add_payment(self, payment: Payment, *keys: str) -> None:
        self.payment_list.append(payment)
        for key in (payment.provider_reference, *keys):
            if key:
                self.payments[(payment.psp, key)] = payment

    def find_payment(self, psp: str, key: str) -> Payment | None:
        found = self.payments.get((psp, key))
        if found is None and key:
            for payment in self.payment_list:
                if payment.psp == psp and payment.reference == key:
                    return payment
        return found

    def find_operation(self, psp: str, **match) -> Operation | None:
        for op in self.operations:
            if op.psp == psp and all(getattr(op, k) == v for k, v in match.items()):
                return op
        return None

    def book(
        self,
        psp: str,
        kind: str,
        provider_reference: str,
        reference: str,
        amount: Decimal,
        currency: str,
        description: str,
        payment_reference: str = "",
    ) -> None:
        self.activity.append(
            Movement(
                psp,
                kind,
                provider_reference,
                reference,
                payment_reference,
                amount,
                currency,
                datetime.now(UTC),
                description,
            )
        )

    def fault(self, name: str):
        return self.faults.get(name, DEFAULT_FAULTS[name])
