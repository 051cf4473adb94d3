"""Stripe (cards): Checkout Sessions for deposits, Refunds for refunds and card payouts.

API: form-encoded POSTs to `{api_url}/v1/...` with `Authorization: Bearer <secret_key>` and an
`Idempotency-Key` (`payment-<ref>`, `refund-<ref>`, `payout-<ref>`), amounts in Stripe's minor
units, currencies in lower case.

- Deposit: `POST /v1/checkout/sessions` (mode=payment, one line item). The session's `url` is the
  hosted page; its `payment_intent` (pi_…) is the payment's provider reference.
- Refund: `POST /v1/refunds` against the payment intent, metadata[reference] = our reference.
- Payout: a card withdrawal is paid back to the card that funded it (closed loop), so it is also
  a refund of the funding payment intent, with metadata[kind] = "payout". Stripe refuses to refund
  more than the payment's unrefunded amount: that is a failed payout, to be paid another way.
- Lookup: the payment's refunds listed (`GET /v1/refunds?payment_intent=`), ours found by
  metadata[reference].

Webhooks: `Stripe-Signature: t=<unix>,v1=<hex>[,v1=…]`, v1 = HMAC-SHA256(webhook_secret,
"<t>.<raw body>"), refused when `t` is more than 300 s in the past. As in Stripe's own library
(stripe-python `WebhookSignature.verify_header`), the tolerance guards against replays of old
deliveries only: a timestamp ahead of our clock (the sender's clock runs fast) is accepted.

Who paid: `charge.succeeded` carries the card (`payment_method_details.card`: brand, last4,
fingerprint, country, and `iin` where Stripe shares the BIN); it is read as the payment's
success too (the deposit is credited once, by whichever of it and payment_intent.succeeded
comes first) and the card is recorded on the deposit.

Provider references: payment pi_…, refund and payout re_…, dispute dp_….
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal

from brokerage.money import exponent

from .base import (
    EventKind,
    InstrumentInfo,
    OperationResult,
    PaymentSession,
    PspAdapter,
    PspError,
    WebhookEvent,
    card_instrument,
)
from .http import (
    HttpResponse,
    call,
    form_encode,
    from_timestamp,
    header,
    hmac_hex,
    jsonable,
    need,
    need_dict,
    parse_currency,
    parse_json_object,
    parse_minor,
    raise_for_transport,
    reject,
    require_currency,
    require_secret,
    same_digest,
    text_field,
    to_minor,
)

TOLERANCE_SECONDS = 300
# Where Stripe's minor units differ from ISO 4217: MGA is zero-decimal at Stripe, and ISK is
# sent as a two-decimal amount whose decimals are always 00.
STRIPE_EXPONENTS = {"ISK": 2, "MGA": 0}
REFUND_STATUSES = {
    "succeeded": "succeeded",
    "failed": "failed",
    "canceled": "failed",
    "pending": "pending",
    "requires_action": "pending",
}


def stripe_exponent(currency: str) -> int:
    return STRIPE_EXPONENTS.get(currency, exponent(currency))


class StripeAdapter(PspAdapter):
    code = "stripe"
    display_name = "Stripe (cards)"

    # --- outbound ---------------------------------------------------------------------------

    def _url(self, path: str) -> str:
        return self.config["api_url"].rstrip("/") + path

    def _headers(self, idempotency_key: str | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.config['secret_key']}"}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        return headers

    def _post(self, path: str, fields: list[tuple[str, object]], key: str) -> HttpResponse:
        return call(
            "Stripe", "POST", self._url(path), body=form_encode(fields), headers=self._headers(key)
        )

    @staticmethod
    def _error_message(response: HttpResponse) -> str:
        try:
            error = response.json("Stripe").get("error") or {}
        except (PspError, AttributeError):
            return response.text()[:200]
        message = error.get("message") or error.get("type") or "no message"
        return f"{message} ({error['code']})" if error.get("code") else message

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
        require_currency(currency)
        minor = to_minor(amount, currency, places=stripe_exponent(currency))
        fields = [
            ("mode", "payment"),
            ("line_items[0][price_data][currency]", currency.lower()),
            ("line_items[0][price_data][unit_amount]", minor),
            ("line_items[0][price_data][product_data][name]", f"Deposit {reference}"),
            ("line_items[0][quantity]", 1),
            ("client_reference_id", reference),
            ("customer_email", customer_email),
            ("success_url", return_url),
            ("cancel_url", cancel_url),
            ("metadata[reference]", reference),
            ("metadata[notify_url]", notify_url),
            ("payment_intent_data[metadata][reference]", reference),
            # the payment's balance transaction keeps it: the ledger's description of the
            # deposit, by which reconciliation matches a report that lacks the pi_ ids
            ("payment_intent_data[description]", f"Deposit {reference}"),
        ]
        response = self._post("/v1/checkout/sessions", fields, f"payment-{reference}")
        if not response.ok:
            message = self._error_message(response)
            raise_for_transport("Stripe", response, message)
            raise PspError(f"Stripe refused the payment: {message}", code="psp_refused")
        session = response.json("Stripe")
        if not session.get("url") or not session.get("payment_intent"):
            raise PspError(
                "Stripe's checkout session has no url or payment_intent", code="psp_error"
            )
        return PaymentSession(
            provider_reference=session["payment_intent"], redirect_url=session["url"]
        )

    def _refund(
        self, kind: str, *, reference: str, payment_reference: str, amount: Decimal, currency: str
    ) -> OperationResult:
        require_currency(currency)
        fields = [
            ("payment_intent", payment_reference),
            ("amount", to_minor(amount, currency, places=stripe_exponent(currency))),
            ("metadata[reference]", reference),
            ("metadata[kind]", kind),
        ]
        response = self._post("/v1/refunds", fields, f"{kind}-{reference}")
        if not response.ok:
            message = self._error_message(response)
            raise_for_transport("Stripe", response, message)
            return OperationResult(status="failed", provider_reference="", detail=message)
        return self._result(response.json("Stripe"))

    @staticmethod
    def _result(refund: dict) -> OperationResult:
        status = REFUND_STATUSES.get(refund.get("status"), "pending")
        return OperationResult(
            status=status,
            provider_reference=str(refund.get("id", "")),
            detail=str(refund.get("failure_reason") or "") if status == "failed" else "",
        )

    def refund(
        self, *, reference: str, payment_reference: str, amount: Decimal, currency: str
    ) -> OperationResult:
        return self._refund(
            "refund",
            reference=reference,
            payment_reference=payment_reference,
            amount=amount,
            currency=currency,
        )

    def payout(
        self,
        *,
        reference: str,
        amount: Decimal,
        currency: str,
        payment_reference: str,
        customer_email: str,
    ) -> OperationResult:
        """Card payouts go back to the funding card: a refund of the funding payment intent."""
        return self._refund(
            "payout",
            reference=reference,
            payment_reference=payment_reference,
            amount=amount,
            currency=currency,
        )

    def lookup(self, *, reference: str, payment_reference: str = "") -> OperationResult | None:
        """Refunds and card payouts are refunds of `payment_reference`: list them
        (`GET /v1/refunds?payment_intent=`) and find ours by metadata[reference]."""
        if not payment_reference:
            return None
        query = urllib.parse.urlencode({"payment_intent": payment_reference, "limit": 100})
        response = call("Stripe", "GET", self._url(f"/v1/refunds?{query}"), headers=self._headers())
        if not response.ok:
            message = self._error_message(response)
            raise_for_transport("Stripe", response, message)
            raise PspError(f"Stripe refused the refund list: {message}", code="psp_refused")
        for refund in response.json("Stripe").get("data") or []:
            if (refund.get("metadata") or {}).get("reference") == reference:
                return self._result(refund)
        return None

    # --- webhooks ---------------------------------------------------------------------------

    def _verify(self, headers: Mapping[str, str], body: bytes, now: datetime) -> None:
        secret = require_secret(self.config.get("webhook_secret"), "Stripe webhook secret")
        signature = header(headers, "Stripe-Signature")
        if not signature:
            raise reject("bad_signature", "Stripe-Signature header is missing")
        timestamp, candidates = None, []
        for item in signature.split(","):
            key, _, value = item.strip().partition("=")
            if key == "t" and timestamp is None:
                timestamp = value
            elif key == "v1":
                candidates.append(value)
        if not timestamp or not timestamp.isdigit():
            raise reject("bad_signature", "Stripe-Signature header has no valid timestamp (t=)")
        if not candidates:
            raise reject("bad_signature", "Stripe-Signature header has no v1 signature")
        expected = hmac_hex(secret, timestamp.encode() + b"." + body, "sha256")
        matches = [same_digest(expected, candidate) for candidate in candidates]
        if not any(matches):
            raise reject(
                "bad_signature",
                "Stripe-Signature does not match the body (wrong secret or altered body)",
            )
        age = int(now.timestamp()) - int(timestamp)
        if age > TOLERANCE_SECONDS:
            raise reject(
                "stale_timestamp",
                f"Stripe-Signature timestamp is {age} s old (more than {TOLERANCE_SECONDS} s)",
            )

    def parse_webhook(
        self, *, headers: Mapping[str, str], body: bytes, now: datetime
    ) -> list[WebhookEvent]:
        self._verify(headers, body, now)
        event = parse_json_object(body)
        event_id = text_field(event, "id") or need(event, "id")
        event_type = text_field(event, "type") or need(event, "type")
        created = event.get("created")
        occurred_at = from_timestamp(created, field="created") if created is not None else now
        obj = need_dict(need_dict(event, "data"), "object", "data.")
        common = {"event_id": event_id, "occurred_at": occurred_at, "raw": jsonable(event)}
        return [self._event(event_type, obj, common)]

    def _money(self, obj: dict, field: str) -> tuple[Decimal, str]:
        currency = parse_currency(obj.get("currency"), lower_case=True)
        amount = parse_minor(
            obj.get(field), currency, field=field, places=stripe_exponent(currency)
        )
        places = exponent(currency)
        if amount != amount.quantize(Decimal(1).scaleb(-places)):
            raise reject("bad_amount", f"{field} {obj.get(field)} is not a whole {currency} amount")
        return amount.quantize(Decimal(1).scaleb(-places)), currency

    def _event(self, event_type: str, obj: dict, common: dict) -> WebhookEvent:
        metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
        reference = text_field(metadata, "reference")

        if event_type in ("payment_intent.succeeded", "payment_intent.payment_failed"):
            succeeded = event_type == "payment_intent.succeeded"
            field = "amount_received" if succeeded and obj.get("amount_received") else "amount"
            amount, currency = self._money(obj, field)
            error = obj.get("last_payment_error")
            detail = text_field(error, "message") if isinstance(error, dict) else ""
            return WebhookEvent(
                kind=EventKind.PAYMENT_SUCCEEDED if succeeded else EventKind.PAYMENT_FAILED,
                reference=reference,
                provider_reference=text_field(obj, "id") or need(obj, "id", "data.object."),
                amount=amount,
                currency=currency,
                detail=detail,
                instrument=self._intent_card(obj) if succeeded else None,
                **common,
            )

        if event_type == "charge.succeeded":
            # The charge names the card (payment_method_details.card); the payment intent's
            # own event does not. Either one tells the payment succeeded: the deposit is
            # credited once, by whichever comes first, and the card recorded on it.
            field = "amount_captured" if obj.get("amount_captured") else "amount"
            amount, currency = self._money(obj, field)
            return WebhookEvent(
                kind=EventKind.PAYMENT_SUCCEEDED,
                reference=reference,
                provider_reference=text_field(obj, "payment_intent")
                or need(obj, "payment_intent", "data.object."),
                amount=amount,
                currency=currency,
                instrument=self.card_of(obj),
                **common,
            )

        if event_type == "checkout.session.expired":
            amount, currency = self._money(obj, "amount_total")
            return WebhookEvent(
                kind=EventKind.PAYMENT_EXPIRED,
                reference=reference or text_field(obj, "client_reference_id"),
                provider_reference=text_field(obj, "payment_intent"),
                amount=amount,
                currency=currency,
                **common,
            )

        if event_type in ("refund.created", "refund.updated", "refund.failed"):
            status = text_field(obj, "status")
            payout = text_field(metadata, "kind") == "payout"
            if status == "succeeded":
                kind = EventKind.PAYOUT_PAID if payout else EventKind.REFUND_SUCCEEDED
            elif status in ("failed", "canceled"):
                kind = EventKind.PAYOUT_FAILED if payout else EventKind.REFUND_FAILED
            else:
                return self._ignored(obj, common)
            amount, currency = self._money(obj, "amount")
            return WebhookEvent(
                kind=kind,
                reference=reference,
                provider_reference=text_field(obj, "id") or need(obj, "id", "data.object."),
                payment_reference=text_field(obj, "payment_intent"),
                amount=amount,
                currency=currency,
                detail=text_field(obj, "failure_reason"),
                **common,
            )

        if event_type in ("charge.dispute.created", "charge.dispute.closed"):
            if event_type == "charge.dispute.created":
                kind = EventKind.CHARGEBACK_OPENED
            else:
                kind = {"won": EventKind.CHARGEBACK_WON, "lost": EventKind.CHARGEBACK_LOST}.get(
                    text_field(obj, "status")
                )
                if kind is None:
                    return self._ignored(obj, common)
            amount, currency = self._money(obj, "amount")
            return WebhookEvent(
                kind=kind,
                reference=reference,
                provider_reference=text_field(obj, "id") or need(obj, "id", "data.object."),
                payment_reference=text_field(obj, "payment_intent"),
                amount=amount,
                currency=currency,
                detail=text_field(obj, "reason"),
                **common,
            )

        return self._ignored(obj, common)

    @staticmethod
    def card_of(charge: dict) -> InstrumentInfo | None:
        """The card of a charge: `payment_method_details.card` (brand, last4, fingerprint,
        country; `iin`, the BIN, only where Stripe shares it) and `billing_details.name`."""
        details = charge.get("payment_method_details")
        card = details.get("card") if isinstance(details, dict) else None
        if not isinstance(card, dict):
            return None
        billing = charge.get("billing_details")
        billing = billing if isinstance(billing, dict) else {}
        return card_instrument(
            brand=text_field(card, "brand"),
            last4=text_field(card, "last4"),
            bin=text_field(card, "iin"),
            fingerprint=text_field(card, "fingerprint"),
            holder_name=text_field(billing, "name"),
            country=text_field(card, "country"),
        )

    def _intent_card(self, intent: dict) -> InstrumentInfo | None:
        """A payment intent names its card only when its charge is expanded (`latest_charge`
        as an object) or, before API version 2022-11-15, in `charges.data`."""
        latest = intent.get("latest_charge")
        if isinstance(latest, dict):
            return self.card_of(latest)
        charges = intent.get("charges")
        data = charges.get("data") if isinstance(charges, dict) else None
        if isinstance(data, list) and data and isinstance(data[0], dict):
            return self.card_of(data[0])
        return None

    @staticmethod
    def _ignored(obj: dict, common: dict) -> WebhookEvent:
        return WebhookEvent(
            kind=EventKind.IGNORED,
            reference="",
            provider_reference=obj.get("id") if isinstance(obj.get("id"), str) else "",
            amount=None,
            currency="",
            **common,
        )
