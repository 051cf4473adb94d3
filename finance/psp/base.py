"""The payment-provider adapter interface: product code talks to PSPs only through this.

Each PSP (Stripe, Checkout.com, Skrill, CoinPayments) has one adapter module in this package.
An adapter turns our requests into the provider's API calls (hosted payment page, refund,
payout, lookup) and the provider's webhooks, verified over the raw body, into `WebhookEvent`s.
It never touches the database: the finance services decide what an event means for the ledger.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from brokerage.errors import DomainError


class EventKind:
    """What a provider's webhook says happened, in our words."""

    PAYMENT_PENDING = "payment_pending"
    PAYMENT_SUCCEEDED = "payment_succeeded"
    PAYMENT_FAILED = "payment_failed"
    PAYMENT_EXPIRED = "payment_expired"
    REFUND_SUCCEEDED = "refund_succeeded"
    REFUND_FAILED = "refund_failed"
    PAYOUT_PAID = "payout_paid"
    PAYOUT_FAILED = "payout_failed"
    CHARGEBACK_OPENED = "chargeback_opened"
    CHARGEBACK_WON = "chargeback_won"
    CHARGEBACK_LOST = "chargeback_lost"
    IGNORED = "ignored"  # a verified event type we do not act on (recorded, nothing posted)

    ALL = (
        PAYMENT_PENDING,
        PAYMENT_SUCCEEDED,
        PAYMENT_FAILED,
        PAYMENT_EXPIRED,
        REFUND_SUCCEEDED,
        REFUND_FAILED,
        PAYOUT_PAID,
        PAYOUT_FAILED,
        CHARGEBACK_OPENED,
        CHARGEBACK_WON,
        CHARGEBACK_LOST,
        IGNORED,
    )


class WebhookRejected(DomainError):
    """The webhook was refused: nothing is posted. Codes: bad_signature, stale_timestamp,
    malformed, bad_amount, bad_currency, unknown_event."""

    code = "webhook_rejected"
    status = 400


class PspError(DomainError):
    """The provider could not be reached or refused the call (the operation may be retried)."""

    code = "psp_error"
    status = 502


@dataclass(frozen=True)
class PaymentSession:
    provider_reference: str  # the PSP's id of the payment (pi_…, pay_…, Skrill/CoinPayments id)
    redirect_url: str  # the hosted payment page the client is sent to


BRANDS = {
    "visa": "Visa",
    "mastercard": "Mastercard",
    "amex": "American Express",
    "american express": "American Express",
    "discover": "Discover",
    "diners": "Diners Club",
    "jcb": "JCB",
    "unionpay": "UnionPay",
    "maestro": "Maestro",
}


@dataclass(frozen=True)
class InstrumentInfo:
    """Who paid, as a PSP reports it, in one shape for every PSP (finance.PaymentInstrument).
    `key` is what identifies the instrument across payments: the card's fingerprint (else its
    BIN and last four digits), the wallet's email, coin:address for crypto."""

    kind: str  # card, wallet, crypto, bank
    key: str
    label: str
    brand: str = ""
    bin: str = ""
    last4: str = ""
    email: str = ""
    address: str = ""
    holder_name: str = ""
    country: str = ""


def card_instrument(
    *, brand="", last4="", bin="", fingerprint="", holder_name="", country=""
) -> InstrumentInfo | None:
    """A card from what the PSP sent (any part may be missing); None when nothing identifies it."""
    last4 = "".join(ch for ch in str(last4 or "") if ch.isdigit())[-4:]
    bin = "".join(ch for ch in str(bin or "") if ch.isdigit())[:8]
    fingerprint = str(fingerprint or "").strip()
    if fingerprint:
        key = f"fp:{fingerprint}"
    elif bin and last4:
        key = f"pan:{bin}:{last4}"
    else:
        return None
    name = BRANDS.get(str(brand or "").strip().lower(), str(brand or "").strip().title() or "Card")
    label = f"{name} •••• {last4}" if last4 else f"{name} {bin}…"
    return InstrumentInfo(
        kind="card",
        key=key[:200],
        label=label[:120],
        brand=name[:30],
        bin=bin,
        last4=last4,
        holder_name=str(holder_name or "").strip()[:140],
        country=str(country or "").strip().upper()[:2],
    )


def wallet_instrument(*, provider: str, email: str, holder_name: str = "") -> InstrumentInfo | None:
    email = str(email or "").strip().lower()
    if not email or "@" not in email:
        return None
    return InstrumentInfo(
        kind="wallet",
        key=f"{provider}:{email}"[:200],
        label=f"{provider.title()} {email}"[:120],
        email=email[:254],
        holder_name=str(holder_name or "").strip()[:140],
    )


def crypto_instrument(
    *, coin: str, address: str = "", email: str = "", holder_name: str = ""
) -> InstrumentInfo | None:
    """A crypto payer: by the address the coins came from when the PSP tells it, else (the
    checkout knows only who paid) by the coin and the payer's email."""
    coin, address = str(coin or "").strip().upper(), str(address or "").strip()
    email = str(email or "").strip().lower()
    if not coin or not (address or email):
        return None
    short = f"{address[:6]}…{address[-4:]}" if len(address) > 12 else address
    return InstrumentInfo(
        kind="crypto",
        key=(f"{coin}:{address}" if address else f"{coin}:payer:{email}")[:200],
        label=(f"{coin} {short}" if address else f"{coin} paid by {email}")[:120],
        email=email[:254],
        address=address[:200],
        holder_name=str(holder_name or "").strip()[:140],
    )


def bank_instrument(*, iban: str, holder_name: str = "") -> InstrumentInfo | None:
    """The bank account a wire came from (its IBAN, as the statement names it)."""
    iban = "".join(str(iban or "").split()).upper()
    if not iban:
        return None
    holder = str(holder_name or "").strip()[:140]
    return InstrumentInfo(
        kind="bank",
        key=f"iban:{iban}"[:200],
        label=(f"Bank account •••• {iban[-4:]}" + (f" ({holder})" if holder else ""))[:120],
        last4=iban[-4:],
        holder_name=holder,
        country=iban[:2] if iban[:2].isalpha() else "",
    )


@dataclass(frozen=True)
class WebhookEvent:
    event_id: str  # the provider's unique id of this notification: the dedupe key
    kind: str  # one of EventKind
    reference: str  # our reference (deposit, refund or withdrawal), when the PSP echoes it
    provider_reference: str  # the PSP's id of the payment / refund / payout / dispute
    amount: Decimal | None  # major units, never negative
    currency: str  # ISO 4217, upper case
    occurred_at: datetime  # aware UTC
    raw: dict = field(default_factory=dict)  # the verified payload, kept as evidence
    detail: str = ""  # decline reason, dispute reason code, …
    payment_reference: str = ""  # for refunds and disputes: the PSP's id of the original payment
    instrument: InstrumentInfo | None = None  # for payments: who paid, when the PSP says
    # What the PSP's merchant account received, when it differs from `amount` (Skrill).
    wallet_amount: Decimal | None = None
    wallet_currency: str = ""


@dataclass(frozen=True)
class OperationResult:
    """The outcome of a refund or payout call, or of looking one up after a crash."""

    status: str  # "succeeded", "failed" or "pending" (a webhook will tell the end)
    provider_reference: str
    detail: str = ""


@dataclass(frozen=True)
class WebhookAck:
    """What the provider expects back once an event is accepted."""

    body: bytes = b""
    content_type: str = "text/plain"
    status: int = 200


class PspAdapter(ABC):
    code: str  # "stripe", "checkout", "skrill", "coinpayments"
    display_name: str

    def __init__(self, config: Mapping[str, str]):
        self.config = config

    @abstractmethod
    def create_payment(
        self,
        *,
        reference: str,
        amount: Decimal,
        currency: str,
        customer_email: str,
        return_url: str,
        cancel_url: str,
        notify_url: str,
    ) -> PaymentSession:
        """Open a hosted payment for `amount` `currency`; the client is redirected there."""

    @abstractmethod
    def parse_webhook(
        self, *, headers: Mapping[str, str], body: bytes, now: datetime
    ) -> list[WebhookEvent]:
        """Verify the signature over the raw body and read the event(s). Raises WebhookRejected."""

    @abstractmethod
    def refund(
        self,
        *,
        reference: str,
        payment_reference: str,
        amount: Decimal,
        currency: str,
    ) -> OperationResult:
        """Refund part or all of a payment. `reference` is our idempotency key."""

    @abstractmethod
    def payout(
        self,
        *,
        reference: str,
        amount: Decimal,
        currency: str,
        payment_reference: str,
        customer_email: str,
    ) -> OperationResult:
        """Pay a client back through the method that funded them (`payment_reference`: the
        funding payment). `reference` is our idempotency key: sending it twice pays once."""

    @abstractmethod
    def lookup(self, *, reference: str, payment_reference: str = "") -> OperationResult | None:
        """The refund or payout we sent under `reference`, or None if the PSP never got it.

        `payment_reference` (the PSP's id of the refunded or funding payment) helps providers
        that file refunds under their payment (Checkout.com)."""

    def webhook_ack(self) -> WebhookAck:
        return WebhookAck()
