"""Stripe: `POST /v1/checkout/sessions`, `POST /v1/refunds`, `GET /v1/refunds?payment_intent=`;
Bearer secret key, `Idempotency-Key`; hosted page `/stripe/c/pay/<cs_…>`. Webhooks signed with
`Stripe-Signature: t=…,v1=HMAC-SHA256(secret, "t.body")`: payment_intent.succeeded (and
charge.succeeded, whose payment_method_details.card names the card) / payment_failed,
checkout.session.expired, refund.created / refund.failed,
charge.dispute.created / closed. A client payout is a refund of the funding charge (metadata
kind=payout), so statements call it "refund"."""

from __future__ import annotations

import base64
import hmac
import secrets
import string
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal

from .delivery import Delivery
from .money import exponent, is_currency, major_text, parse_minor, stripe_exponent, to_minor
from .provider import Provider, Route, payer_card
from .state import Dispute, Operation, Payment
from .web import Request, Resp, json_resp


def _new_id(prefix: str, length: int = 24) -> str:
    alphabet = string.ascii_letters + string.digits
    return prefix + "".join(secrets.choice(alphabet) for _ in range(length))


def stripe_event(type: str, obj: dict, *, event_id: str | None = None, created=None) -> dict:
    """A Stripe event envelope around `obj` (a payment intent, refund, dispute, session)."""
    return {
        "id": event_id or _new_id("evt_"),
        "object": "event",
        "api_version": "2024-06-20",
        "created": int(time.time()) if created is None else created,
        "type": type,
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
    }


def _prefixed(form: Mapping[str, str], prefix: str) -> dict[str, str]:
    """`prefix[key]` form fields as a dict (Stripe's nested parameters, one level)."""
    head = prefix + "["
    return {
        key[len(head) : -1]: value
        for key, value in form.items()
        if key.startswith(head) and key.endswith("]") and "[" not in key[len(head) : -1]
    }


def _show(amount: Decimal, currency: str) -> str:
    symbol = {"USD": "$", "EUR": "€", "GBP": "£"}.get(currency, "")
    return f"{symbol}{major_text(amount, currency)}" + ("" if symbol else f" {currency}")


class Stripe(Provider):
    name = "stripe"
    payout_category = "refund"  # a card is paid back by refunding it

    def routes(self) -> list[Route]:
        return [
            ("POST", r"/stripe/v1/checkout/sessions", self.create_session),
            ("POST", r"/stripe/v1/refunds", self.refund),
            ("GET", r"/stripe/v1/refunds", self.refund_list),
            ("GET", r"/stripe/c/pay/(?P<key>[\w-]+)", self.page_get),
            ("POST", r"/stripe/c/pay/(?P<key>[\w-]+)", self.page_post),
        ]

    def page_target(self, payment: Payment) -> str:
        target = super().page_target(payment)
        return target.replace("{CHECKOUT_SESSION_ID}", payment.ids["session_id"])

    @staticmethod
    def error(status: int, message: str, *, code: str = "", param: str = "") -> Resp:
        error = {"message": message, "type": "invalid_request_error"}
        if code:
            error["code"] = code
        if param:
            error["param"] = param
        return json_resp({"error": error}, status)

    def unavailable(self, status: int) -> Resp:
        """Stripe's answer when it fails on its side: `api_error`, "An unknown error occurred"
        (docs.stripe.com/api/errors: 500, 502, 503, 504 are server errors)."""
        error = {"type": "api_error", "message": "An unknown error occurred"}
        return json_resp({"error": error}, status)

    def auth(self, req: Request) -> Resp | None:
        given = req.header("Authorization")
        key = ""
        if given.startswith("Bearer "):
            key = given[len("Bearer ") :].strip()
        elif given.startswith("Basic "):  # curl -u sk_…: sends the key as the user name
            try:
                key = base64.b64decode(given[len("Basic ") :]).decode().partition(":")[0]
            except (ValueError, UnicodeDecodeError):
                key = ""
        if not key:
            return self.error(
                401,
                "You did not provide an API key. Provide it in the Authorization header "
                "(Authorization: Bearer YOUR_SECRET_KEY).",
            )
        if not hmac.compare_digest(key.encode(), self.conf["secret_key"].encode()):
            return self.error(401, f"Invalid API Key provided: {key[:8]}****{key[-4:]}")
        return None

    def create_session(self, req: Request) -> Resp:
        refused = self.auth(req)
        if refused:
            return refused
        return self.idempotent(req.header("Idempotency-Key"), lambda: self._session(req))

    def _session(self, req: Request) -> Resp:
        f = req.form
        if f.get("mode") != "payment":
            return self.error(400, "Invalid mode: must be payment", param="mode")
        currency = f.get("line_items[0][price_data][currency]", "")
        if not currency.islower() or not is_currency(currency.upper()):
            return self.error(
                400,
                f"Invalid currency: {currency}",
                code="parameter_invalid_string",
                param="line_items[0][price_data][currency]",
            )
        currency = currency.upper()
        unit = parse_minor(f.get("line_items[0][price_data][unit_amount]"))
        quantity = parse_minor(f.get("line_items[0][quantity]", "1"))
        if unit is None or quantity is None:
            return self.error(
                400,
                "Invalid integer: unit_amount must be a positive integer",
                code="parameter_invalid_integer",
                param="line_items[0][price_data][unit_amount]",
            )
        total = unit * quantity
        if total > 99999999:
            return self.error(
                400,
                "Amount must be no more than 999,999.99",
                code="amount_too_large",
                param="line_items[0][price_data][unit_amount]",
            )
        places = stripe_exponent(currency)
        amount = Decimal(total).scaleb(-places)
        if amount != amount.quantize(Decimal(1).scaleb(-exponent(currency))):
            return self.error(
                400, f"{currency} amounts must be whole {currency}", code="invalid_amount"
            )
        if not f.get("success_url"):
            return self.error(
                400,
                "Missing required param: success_url.",
                code="parameter_missing",
                param="success_url",
            )
        sb = self.sb
        pi, session_id = _new_id("pi_"), _new_id("cs_test_a1", 56)
        reference = (
            f.get("payment_intent_data[metadata][reference]")
            or f.get("metadata[reference]")
            or f.get("client_reference_id", "")
        )
        payment = Payment(
            psp="stripe",
            provider_reference=pi,
            reference=reference,
            amount=amount.quantize(Decimal(1).scaleb(-exponent(currency))),
            currency=currency,
            notify_url=f.get("metadata[notify_url]", ""),
            success_url=f["success_url"],
            cancel_url=f.get("cancel_url", ""),
            customer_email=f.get("customer_email", ""),
            created_at=datetime.now(UTC),
            ids={
                "session_id": session_id,
                "charge_id": "ch_" + pi[3:],
                "client_reference_id": f.get("client_reference_id", ""),
                "session_metadata": _prefixed(f, "metadata"),
                "pi_metadata": _prefixed(f, "payment_intent_data[metadata]"),
                "minor": total,
            },
        )
        sb.add_payment(payment, session_id, payment.ids["charge_id"])
        return json_resp(self._session_json(payment, req.base))

    def _session_json(self, p: Payment, base: str) -> dict:
        return {
            "id": p.ids["session_id"],
            "object": "checkout.session",
            "amount_total": p.ids["minor"],
            "currency": p.currency.lower(),
            "client_reference_id": p.ids["client_reference_id"] or None,
            "customer_email": p.customer_email or None,
            "created": int(p.created_at.timestamp()),
            "expires_at": int(p.created_at.timestamp()) + 86400,
            "livemode": False,
            "metadata": p.ids["session_metadata"],
            "mode": "payment",
            "payment_intent": p.provider_reference,
            "payment_status": "paid" if p.status == "succeeded" else "unpaid",
            "status": {"open": "open", "succeeded": "complete"}.get(p.status, "expired"),
            "success_url": p.success_url,
            "cancel_url": p.cancel_url,
            "url": f"{base}/stripe/c/pay/{p.ids['session_id']}",
        }

    def _intent_json(self, p: Payment, outcome: str) -> dict:
        succeeded = outcome == "pay"
        intent = {
            "id": p.provider_reference,
            "object": "payment_intent",
            "amount": p.ids["minor"],
            "amount_received": p.ids["minor"] if succeeded else 0,
            "currency": p.currency.lower(),
            "created": int(p.created_at.timestamp()),
            "latest_charge": p.ids["charge_id"],
            "livemode": False,
            "metadata": p.ids["pi_metadata"],
            "receipt_email": p.customer_email or None,
            "status": "succeeded" if succeeded else "requires_payment_method",
            "last_payment_error": None,
        }
        if not succeeded:
            intent["last_payment_error"] = {
                "code": "card_declined",
                "decline_code": "generic_decline",
                "message": "Your card was declined.",
                "type": "card_error",
            }
        return intent

    def _charge_json(self, p: Payment) -> dict:
        """The succeeded charge, as Stripe sends it with charge.succeeded: the card is in
        payment_method_details.card (no `iin`: Stripe shares the BIN with few accounts)."""
        card = payer_card(p)
        return {
            "id": p.ids["charge_id"],
            "object": "charge",
            "amount": p.ids["minor"],
            "amount_captured": p.ids["minor"],
            "amount_refunded": 0,
            "billing_details": {
                "address": {"country": card["country"]},
                "email": p.customer_email or None,
                "name": card["holder"],
                "phone": None,
            },
            "captured": True,
            "created": int((p.paid_at or p.created_at).timestamp()),
            "currency": p.currency.lower(),
            "livemode": False,
            "metadata": p.ids["pi_metadata"],
            "paid": True,
            "payment_intent": p.provider_reference,
            "payment_method": "pm_" + p.provider_reference[3:],
            "payment_method_details": {
                "card": {
                    "brand": card["brand"],
                    "country": card["country"],
                    "exp_month": card["exp_month"],
                    "exp_year": card["exp_year"],
                    "fingerprint": card["fingerprint"],
                    "funding": "credit",
                    "last4": card["last4"],
                    "network": card["brand"],
                },
                "type": "card",
            },
            "status": "succeeded",
        }

    def payment_webhooks(self, p: Payment, outcome: str) -> list[Delivery]:
        if outcome == "expire":
            event = stripe_event("checkout.session.expired", self._session_json(p, ""))
            del event["data"]["object"]["url"]
        else:
            kind = (
                "payment_intent.succeeded" if outcome == "pay" else "payment_intent.payment_failed"
            )
            event = stripe_event(kind, self._intent_json(p, outcome))
        deliveries = [self.webhook(p.notify_url, event, event["type"])]
        if outcome == "pay":  # Stripe announces the charge too; it names the card
            charge = stripe_event("charge.succeeded", self._charge_json(p))
            deliveries.append(self.webhook(p.notify_url, charge, charge["type"]))
        return deliveries

    def refund(self, req: Request) -> Resp:
        refused = self.auth(req)
        if refused:
            return refused
        resp = self.idempotent(req.header("Idempotency-Key"), lambda: self._refund(req))
        resp.operation = True
        return resp

    def _refund(self, req: Request) -> Resp:
        f, sb = req.form, self.sb
        key = f.get("payment_intent") or f.get("charge") or ""
        payment = sb.payments.get(("stripe", key))
        if payment is None or key not in (payment.provider_reference, payment.ids["charge_id"]):
            param = "charge" if f.get("charge") else "payment_intent"
            return self.error(
                404, f"No such {param}: '{key}'", code="resource_missing", param=param
            )
        if payment.status != "succeeded":
            return self.error(
                400,
                f"This PaymentIntent ({payment.provider_reference}) does not have a "
                "successful charge to refund.",
                code="charge_not_refundable",
            )
        places = stripe_exponent(payment.currency)
        if "amount" in f:
            minor = parse_minor(f["amount"])
            if minor is None:
                return self.error(
                    400,
                    "Invalid positive integer",
                    code="parameter_invalid_integer",
                    param="amount",
                )
            amount = Decimal(minor).scaleb(-places)
            if amount != amount.quantize(Decimal(1).scaleb(-exponent(payment.currency))):
                return self.error(400, "Invalid amount", code="invalid_amount", param="amount")
        else:
            amount = payment.unrefunded
        if payment.unrefunded <= 0:
            return self.error(
                400,
                f"Charge {payment.ids['charge_id']} has already been refunded.",
                code="charge_already_refunded",
            )
        if amount > payment.unrefunded:
            return self.error(
                400,
                f"Refund amount ({_show(amount, payment.currency)}) is greater than "
                f"unrefunded amount on charge ({_show(payment.unrefunded, payment.currency)})",
                code="amount_too_large",
                param="amount",
            )
        metadata = _prefixed(f, "metadata")
        kind = "payout" if metadata.get("kind") == "payout" else "refund"
        fails = kind == "payout" and sb.fault("fail_payouts")
        op = Operation(
            psp="stripe",
            kind=kind,
            provider_reference=_new_id("re_"),
            reference=metadata.get("reference", ""),
            payment=payment,
            amount=amount,
            currency=payment.currency,
            status="pending" if fails else "succeeded",
            outcome="failed" if fails else "succeeded",
            created_at=datetime.now(UTC),
            notify_url=payment.notify_url,
            ids={"metadata": metadata, "minor": to_minor(amount, places)},
            detail="expired_or_canceled_card" if fails else "",
        )
        sb.operations.append(op)
        if not fails:
            payment.refunded += amount
            sb.book(
                "stripe",
                kind,
                op.provider_reference,
                op.reference,
                -amount,
                op.currency,
                f"{kind.title()} {op.reference}",
                payment.provider_reference,
            )
        refund = self._refund_json(op, final=False)
        final = self._refund_json(op, final=True)
        event_type = "refund.failed" if fails else "refund.created"
        event = stripe_event(event_type, final)
        return json_resp(refund, deliveries=[self.webhook(op.notify_url, event, event_type)])

    def _refund_json(self, op: Operation, *, final: bool) -> dict:
        status = op.outcome if final else op.status
        return {
            "id": op.provider_reference,
            "object": "refund",
            "amount": op.ids["minor"],
            "balance_transaction": "txn_" + op.provider_reference[3:],
            "charge": op.payment.ids["charge_id"],
            "created": int(op.created_at.timestamp()),
            "currency": op.currency.lower(),
            "metadata": op.ids["metadata"],
            "payment_intent": op.payment.provider_reference,
            "reason": None,
            "status": status,
            "failure_reason": op.detail if status == "failed" else None,
        }

    def refund_list(self, req: Request) -> Resp:
        """`GET /v1/refunds?payment_intent=pi_…`: the payment's refunds, newest first."""
        refused = self.auth(req)
        if refused:
            return refused
        intent = req.query.get("payment_intent", "")
        with self.sb.lock:
            found = [
                self._refund_json(op, final=True)
                for op in reversed(self.sb.operations)
                if op.psp == "stripe" and (not intent or op.payment.provider_reference == intent)
            ]
        limit = max(1, min(100, int(req.query.get("limit") or 10)))
        return json_resp(
            {
                "object": "list",
                "data": found[:limit],
                "has_more": len(found) > limit,
                "url": "/v1/refunds",
            }
        )

    # --- disputes ---------------------------------------------------------------------------

    def dispute_ids(self, payment: Payment) -> tuple[str, str]:
        dispute_id = _new_id("dp_")
        return dispute_id, dispute_id

    def dispute_webhook(self, d: Dispute, stage: str) -> Delivery | None:
        p = d.payment
        obj = {
            "id": d.id,
            "object": "dispute",
            "amount": to_minor(d.amount, stripe_exponent(d.currency)),
            "charge": p.ids["charge_id"],
            "created": int(d.created_at.timestamp()),
            "currency": d.currency.lower(),
            "livemode": False,
            "metadata": {},
            "payment_intent": p.provider_reference,
            "reason": d.reason,
            "status": "needs_response" if stage == "open" else stage,
        }
        kind = "charge.dispute.created" if stage == "open" else "charge.dispute.closed"
        return self.webhook(p.notify_url, stripe_event(kind, obj), kind)
