"""Checkout.com (cards): Hosted Payments Page for deposits, refunds, card payouts.

API: JSON to `{api_url}/...` with `Authorization: <secret_key>` (sk_…) and a
`Cko-Idempotency-Key` (`payment-<ref>`, `refund-<ref>`, `payout-<ref>`); amounts in minor units.

- Deposit: `POST /hosted-payments` -> `{id: hpp_…, payment_id: pay_…, _links.redirect.href}`.
  The payment's provider reference is the pay_… id.
- Refund: `POST /payments/{pay_id}/refunds {amount, reference}` -> 202 `{action_id: act_…}`:
  the refund's provider reference is that action id; `payment_refunded` tells the end.
- Payout: `POST /payments` with a `destination` (the card of the funding payment, by id) ->
  202 `{id: pay_…, status: "Pending"}`: the payout's provider reference is its pay_… id;
  `payment_paid` / `payout_declined` tell the end.
- Lookup: `GET /payments?reference=<ref>`, then the payment's actions for a refund.

Webhooks: `Cko-Signature` = hex HMAC-SHA256(webhook_secret, raw body).

Provider references: payment pay_…, refund act_…, payout pay_…, dispute dsp_….
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal

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
    from_iso,
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

PAYMENT_EVENTS = {
    "payment_approved": EventKind.PAYMENT_PENDING,  # authorized; the capture follows
    "payment_pending": EventKind.PAYMENT_PENDING,
    "payment_captured": EventKind.PAYMENT_SUCCEEDED,
    "payment_declined": EventKind.PAYMENT_FAILED,
    "payment_capture_declined": EventKind.PAYMENT_FAILED,
    "payment_expired": EventKind.PAYMENT_EXPIRED,
}
ACTION_EVENTS = {
    "payment_refunded": EventKind.REFUND_SUCCEEDED,
    "payment_refund_declined": EventKind.REFUND_FAILED,
}
PAYOUT_EVENTS = {
    "payment_paid": EventKind.PAYOUT_PAID,
    "payout_declined": EventKind.PAYOUT_FAILED,
}
DISPUTE_EVENTS = {
    "dispute_received": EventKind.CHARGEBACK_OPENED,
    "dispute_won": EventKind.CHARGEBACK_WON,
    "dispute_lost": EventKind.CHARGEBACK_LOST,
}
PAYMENT_STATUSES = {
    "Paid": "succeeded",
    "Captured": "succeeded",
    "Declined": "failed",
    "Canceled": "failed",
    "Expired": "failed",
}


class CheckoutAdapter(PspAdapter):
    code = "checkout"
    display_name = "Checkout.com (cards)"

    # --- outbound ---------------------------------------------------------------------------

    def _url(self, path: str) -> str:
        return self.config["api_url"].rstrip("/") + path

    def _call(self, method: str, path: str, payload=None, key: str | None = None) -> HttpResponse:
        headers = {"Authorization": self.config["secret_key"]}
        body = None
        if payload is not None:
            headers["Content-Type"] = "application/json"
            body = json.dumps(payload).encode()
        if key:
            headers["Cko-Idempotency-Key"] = key
        return call("Checkout.com", method, self._url(path), body=body, headers=headers)

    @staticmethod
    def _error_message(response: HttpResponse) -> str:
        if not response.body:
            return f"HTTP {response.status}"
        try:
            error = response.json("Checkout.com")
        except PspError:
            return response.text()[:200]
        if not isinstance(error, dict):
            return response.text()[:200]
        codes = error.get("error_codes") or []
        kind = error.get("error_type") or f"HTTP {response.status}"
        return f"{kind}: {', '.join(map(str, codes))}" if codes else str(kind)

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
        payload = {
            "amount": to_minor(amount, require_currency(currency)),
            "currency": currency,
            "reference": reference,
            "description": f"Deposit {reference}",
            "customer": {"email": customer_email},
            "success_url": return_url,
            "cancel_url": cancel_url,
            "failure_url": cancel_url,
            "metadata": {"notify_url": notify_url},
        }
        if self.config.get("processing_channel_id"):
            payload["processing_channel_id"] = self.config["processing_channel_id"]
        response = self._call("POST", "/hosted-payments", payload, f"payment-{reference}")
        if not response.ok:
            message = self._error_message(response)
            raise_for_transport("Checkout.com", response, message)
            raise PspError(f"Checkout.com refused the payment: {message}", code="psp_refused")
        page = response.json("Checkout.com")
        href = (((page.get("_links") or {}).get("redirect")) or {}).get("href")
        if not href or not page.get("payment_id"):
            raise PspError(
                "Checkout.com's hosted payment has no redirect link or payment_id",
                code="psp_error",
            )
        return PaymentSession(provider_reference=page["payment_id"], redirect_url=href)

    def refund(
        self, *, reference: str, payment_reference: str, amount: Decimal, currency: str
    ) -> OperationResult:
        payload = {"amount": to_minor(amount, require_currency(currency)), "reference": reference}
        path = f"/payments/{urllib.parse.quote(payment_reference, safe='')}/refunds"
        response = self._call("POST", path, payload, f"refund-{reference}")
        if not response.ok:
            message = self._error_message(response)
            raise_for_transport("Checkout.com", response, message)
            return OperationResult(status="failed", provider_reference="", detail=message)
        action = response.json("Checkout.com")
        # 202 Accepted: the refund is processed asynchronously (payment_refunded follows).
        return OperationResult(
            status="pending", provider_reference=str(action.get("action_id", ""))
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
        """A card payout to the card that funded `payment_reference` (closed loop)."""
        payload = {
            "amount": to_minor(amount, require_currency(currency)),
            "currency": currency,
            "reference": reference,
            "destination": {"type": "id", "id": payment_reference},
            "previous_payment_id": payment_reference,
            "customer": {"email": customer_email},
            "metadata": {"kind": "payout"},
        }
        response = self._call("POST", "/payments", payload, f"payout-{reference}")
        if not response.ok:
            message = self._error_message(response)
            raise_for_transport("Checkout.com", response, message)
            return OperationResult(status="failed", provider_reference="", detail=message)
        payment = response.json("Checkout.com")
        return OperationResult(
            status=PAYMENT_STATUSES.get(payment.get("status"), "pending"),
            provider_reference=str(payment.get("id", "")),
            detail=str(payment.get("response_summary") or ""),
        )

    def lookup(self, *, reference: str, payment_reference: str = "") -> OperationResult | None:
        if payment_reference:  # a refund is an action on its payment
            found = self._action(payment_reference, reference)
            if found:
                return found
        query = urllib.parse.urlencode({"reference": reference})
        response = self._call("GET", f"/payments?{query}")
        if not response.ok:
            message = self._error_message(response)
            raise_for_transport("Checkout.com", response, message)
            raise PspError(
                f"Checkout.com refused the payment search: {message}", code="psp_refused"
            )
        for payment in response.json("Checkout.com").get("data") or []:
            if payment.get("reference") == reference:  # a payout is a payment of its own
                return OperationResult(
                    status=PAYMENT_STATUSES.get(payment.get("status"), "pending"),
                    provider_reference=str(payment.get("id", "")),
                )
            found = self._action(str(payment.get("id", "")), reference)
            if found:
                return found
        return None

    def _action(self, payment_id: str, reference: str) -> OperationResult | None:
        """A refund is an action on the payment it refunds."""
        path = f"/payments/{urllib.parse.quote(payment_id, safe='')}/actions"
        response = self._call("GET", path)
        if not response.ok:
            message = self._error_message(response)
            raise_for_transport("Checkout.com", response, message)
            raise PspError(f"Checkout.com refused the actions list: {message}", code="psp_refused")
        for action in response.json("Checkout.com") or []:
            if action.get("reference") == reference and action.get("type") == "Refund":
                approved = action.get("approved")
                status = "succeeded" if approved else "pending" if approved is None else "failed"
                return OperationResult(
                    status=status,
                    provider_reference=str(action.get("id", "")),
                    detail="" if approved else str(action.get("response_summary") or ""),
                )
        return None

    # --- webhooks ---------------------------------------------------------------------------

    def parse_webhook(
        self, *, headers: Mapping[str, str], body: bytes, now: datetime
    ) -> list[WebhookEvent]:
        secret = require_secret(self.config.get("webhook_secret"), "Checkout.com webhook secret")
        signature = header(headers, "Cko-Signature")
        if not signature:
            raise reject("bad_signature", "Cko-Signature header is missing")
        if not same_digest(hmac_hex(secret, body, "sha256"), signature):
            raise reject(
                "bad_signature",
                "Cko-Signature does not match the body (wrong secret or altered body)",
            )
        event = parse_json_object(body)
        event_id = text_field(event, "id") or need(event, "id")
        event_type = text_field(event, "type") or need(event, "type")
        created = event.get("created_on")
        occurred_at = from_iso(created, field="created_on") if created is not None else now
        data = need_dict(event, "data")
        common = {"event_id": event_id, "occurred_at": occurred_at, "raw": jsonable(event)}

        kind = (
            PAYMENT_EVENTS.get(event_type)
            or ACTION_EVENTS.get(event_type)
            or PAYOUT_EVENTS.get(event_type)
            or DISPUTE_EVENTS.get(event_type)
        )
        if kind is None:
            return [
                WebhookEvent(
                    kind=EventKind.IGNORED,
                    reference=text_field(data, "reference"),
                    provider_reference=text_field(data, "id"),
                    amount=None,
                    currency="",
                    **common,
                )
            ]
        currency = parse_currency(data.get("currency"), field="data.currency")
        amount = parse_minor(data.get("amount"), currency, field="data.amount")
        item_id = text_field(data, "id") or need(data, "id", "data.")
        fields = {"kind": kind, "amount": amount, "currency": currency, **common}
        if event_type in ACTION_EVENTS:
            fields.update(
                reference=text_field(data, "reference"),
                provider_reference=text_field(data, "action_id")
                or need(data, "action_id", "data."),
                payment_reference=item_id,
                detail=text_field(data, "response_summary"),
            )
        elif event_type in DISPUTE_EVENTS:
            fields.update(
                reference=text_field(data, "payment_reference"),
                provider_reference=item_id,
                payment_reference=text_field(data, "payment_id"),
                detail=text_field(data, "category") or text_field(data, "reason_code"),
            )
        else:  # the payment itself (a deposit, or a payout, which is a payment of its own)
            fields.update(
                reference=text_field(data, "reference"),
                provider_reference=item_id,
                detail=text_field(data, "response_summary"),
            )
            if kind == EventKind.PAYMENT_SUCCEEDED:
                fields["instrument"] = self.card_of(data)
        return [WebhookEvent(**fields)]

    @staticmethod
    def card_of(data: dict) -> InstrumentInfo | None:
        """The card of a payment event: `data.source` (type card: scheme, bin, last4,
        fingerprint, issuer_country, name), the holder's name also in `data.customer`."""
        source = data.get("source")
        if not isinstance(source, dict) or text_field(source, "type") not in ("", "card"):
            return None
        customer = data.get("customer") if isinstance(data.get("customer"), dict) else {}
        return card_instrument(
            brand=text_field(source, "scheme"),
            last4=text_field(source, "last4"),
            bin=text_field(source, "bin"),
            fingerprint=text_field(source, "fingerprint"),
            holder_name=text_field(source, "name") or text_field(customer, "name"),
            country=text_field(source, "issuer_country"),
        )
