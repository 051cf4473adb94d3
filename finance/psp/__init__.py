"""Payment providers (PSPs): one adapter per provider behind the `PspAdapter` interface.

adapter = adapter_for("stripe")  # configured from settings.PSP_CONFIG["stripe"]
session = adapter.create_payment(reference=..., amount=Decimal("100.00"), currency="USD", ...)
events = adapter.parse_webhook(headers=request.headers, body=request.body, now=timezone.now())
"""

from __future__ import annotations

from django.conf import settings

from .base import (
    EventKind,
    InstrumentInfo,
    OperationResult,
    PaymentSession,
    PspAdapter,
    PspError,
    WebhookAck,
    WebhookEvent,
    WebhookRejected,
)
from .checkout import CheckoutAdapter
from .coinpayments import CoinPaymentsAdapter
from .skrill import SkrillAdapter
from .stripe import StripeAdapter

ADAPTERS: dict[str, type[PspAdapter]] = {
    "stripe": StripeAdapter,
    "checkout": CheckoutAdapter,
    "skrill": SkrillAdapter,
    "coinpayments": CoinPaymentsAdapter,
}
PSP_CODES = ("stripe", "checkout", "skrill", "coinpayments")
# The names staff and clients read: each PSP's, and the bank's for wires (no adapter: wires are
# paid by a pain.001 file and seen on the bank statement, `finance.services.wires`).
PSP_NAMES = {code: ADAPTERS[code].display_name for code in PSP_CODES} | {"bank_wire": "Bank wire"}
PSP_CHOICES = [(code, PSP_NAMES[code]) for code in PSP_CODES]
# Every way money comes in or goes out, for filters and charts: the PSPs and bank wires.
METHOD_CODES = (*PSP_CODES, "bank_wire")
METHOD_CHOICES = [(code, PSP_NAMES[code]) for code in METHOD_CODES]


def adapter_for(code: str) -> PspAdapter:
    """The adapter for PSP `code`, configured from `settings.PSP_CONFIG[code]`.

    Raises LookupError for a code that is not a known PSP or has no configuration.
    """
    if code not in ADAPTERS:
        raise LookupError(f"unknown PSP {code!r} (known: {', '.join(PSP_CODES)})")
    config = settings.PSP_CONFIG.get(code)
    if config is None:
        raise LookupError(f"PSP {code!r} has no entry in settings.PSP_CONFIG")
    return ADAPTERS[code](config)


__all__ = [
    "ADAPTERS",
    "METHOD_CHOICES",
    "METHOD_CODES",
    "PSP_CHOICES",
    "PSP_CODES",
    "PSP_NAMES",
    "CheckoutAdapter",
    "CoinPaymentsAdapter",
    "EventKind",
    "InstrumentInfo",
    "OperationResult",
    "PaymentSession",
    "PspAdapter",
    "PspError",
    "SkrillAdapter",
    "StripeAdapter",
    "WebhookAck",
    "WebhookEvent",
    "WebhookRejected",
    "adapter_for",
]
