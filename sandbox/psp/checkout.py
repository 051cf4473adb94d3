"""Checkout.com: `POST /hosted-payments`, `POST /payments/<pay_…>/refunds`, `POST /payments`
(card payout to the card of a funding payment), `GET /payments?reference=`,
`GET /payments/<id>/actions`; `Authorization: sk_…`, `Cko-Idempotency-Key`; hosted page
`/checkout/page/<hpp_…>`. Webhooks signed with `Cko-Signature: HMAC-SHA256(secret, body)`:
payment_approved + payment_captured, payment_declined, payment_expired, payment_refunded,
payment_paid / payout_declined, dispute_received / won / lost. The hosted-payment answer
carries the payment_id, as the product's adapter reads it."""

from __future__ import annotations

import hmac
import secrets
from datetime import UTC, datetime
from decimal import Decimal

from .delivery import Delivery
from .money import exponent, is_currency, to_minor
from .provider import Provider, Route, payer_card
from .state import Dispute, Operation, Payment, iso
from .web import Request, Resp, json_resp


def checkout_event(type: str, data: dict, *, event_id: str | None = None) -> dict:
    """A Checkout.com webhook event around `data`."""
    return {
        "id": event_id or "evt_" + secrets.token_hex(13),
        "type": type,
        "version": "1.0.33",
        "created_on": iso(datetime.now(UTC)),
        "data": data,
        "_links": {},
    }


class Checkout(Provider):
    name = "checkout"

    def routes(self) -> list[Route]:
        return [
            ("POST", r"/checkout/hosted-payments", self.hosted_payment),
            ("POST", r"/checkout/payments/(?P<pay>[\w-]+)/refunds", self.refund),
            ("POST", r"/checkout/payments", self.payout),
            ("GET", r"/checkout/payments", self.payment_search),
            ("GET", r"/checkout/payments/(?P<pay>[\w-]+)/actions", self.actions),
            ("GET", r"/checkout/page/(?P<key>[\w-]+)", self.page_get),
            ("POST", r"/checkout/page/(?P<key>[\w-]+)", self.page_post),
        ]

    def page_target(self, payment: Payment) -> str:
        target = super().page_target(payment)
        if payment.status == "failed":
            target = payment.ids.get("failure_url") or target
        return target

    @staticmethod
    def error(status: int, *codes: str, error_type: str = "request_invalid") -> Resp:
        return json_resp(
            {
                "request_id": "req_" + secrets.token_hex(8),
                "error_type": error_type,
                "error_codes": list(codes),
            },
            status,
        )

    def auth(self, req: Request) -> Resp | None:
        given = req.header("Authorization").strip()
        if given.startswith("Bearer "):
            given = given[len("Bearer ") :].strip()
        if not given or not hmac.compare_digest(given.encode(), self.conf["secret_key"].encode()):
            return Resp(401, b"", headers={"Cko-Request-Id": secrets.token_hex(8)})
        return None

    def _body(self, req: Request) -> dict | Resp:
        body = req.json()
        if not isinstance(body, dict):
            return self.error(422, "request_body_malformed")
        return body

    def hosted_payment(self, req: Request) -> Resp:
        refused = self.auth(req)
        if refused:
            return refused
        key = req.header("Cko-Idempotency-Key")
        return self.idempotent(key, lambda: self._hpp(req))

    def _money(self, body: dict) -> tuple[Decimal, str] | Resp:
        currency = body.get("currency")
        if not is_currency(currency):
            return self.error(422, "currency_invalid")
        minor = body.get("amount")
        if isinstance(minor, bool) or not isinstance(minor, int) or minor <= 0:
            return self.error(422, "amount_invalid")
        return Decimal(minor).scaleb(-exponent(currency)), currency

    def _hpp(self, req: Request) -> Resp:
        body = self._body(req)
        if isinstance(body, Resp):
            return body
        money = self._money(body)
        if isinstance(money, Resp):
            return money
        missing = [
            f"{name}_required" for name in ("success_url", "cancel_url") if not body.get(name)
        ]
        if missing:
            return self.error(422, *missing)
        amount, currency = money
        hpp_id, pay_id = "hpp_" + secrets.token_hex(12), "pay_" + secrets.token_hex(13)
        metadata = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
        customer = body.get("customer") if isinstance(body.get("customer"), dict) else {}
        payment = Payment(
            psp="checkout",
            provider_reference=pay_id,
            reference=str(body.get("reference") or ""),
            amount=amount,
            currency=currency,
            notify_url=str(metadata.get("notify_url") or ""),
            success_url=str(body["success_url"]),
            cancel_url=str(body["cancel_url"]),
            customer_email=str(customer.get("email") or ""),
            created_at=datetime.now(UTC),
            ids={
                "hpp_id": hpp_id,
                "failure_url": str(body.get("failure_url") or ""),
                "metadata": metadata,
                "minor": body["amount"],
                "actions": [],
            },
        )
        self.sb.add_payment(payment, hpp_id)
        return json_resp(
            {
                "id": hpp_id,
                "reference": payment.reference,
                "payment_id": pay_id,
                "_links": {
                    "self": {"href": f"{req.base}/checkout/hosted-payments/{hpp_id}"},
                    "redirect": {"href": f"{req.base}/checkout/page/{hpp_id}"},
                },
            },
            201,
        )

    def _payment_data(self, p: Payment, action_id: str, approved: bool) -> dict:
        return {
            "id": p.provider_reference,
            "action_id": action_id,
            "reference": p.reference,
            "amount": p.ids["minor"],
            "currency": p.currency,
            "processed_on": iso(datetime.now(UTC)),
            "response_code": "10000" if approved else "20005",
            "response_summary": "Approved" if approved else "Declined - Do Not Honour",
            "metadata": p.ids["metadata"],
            "customer": {"email": p.customer_email},
            "source": self._source(p),
        }

    @staticmethod
    def _source(p: Payment) -> dict:
        """The card, as Checkout.com's payment events describe their `source`."""
        card = payer_card(p)
        return {
            "id": "src_" + card["fingerprint"],
            "type": "card",
            "expiry_month": card["exp_month"],
            "expiry_year": card["exp_year"],
            "name": card["holder"],
            "scheme": card["brand"].title() if card["brand"] != "amex" else "Amex",
            "last4": card["last4"],
            "fingerprint": card["fingerprint"].upper(),
            "bin": card["bin"],
            "card_type": "CREDIT",
            "issuer_country": card["country"],
        }

    def _action(
        self, p: Payment, kind: str, amount_minor: int, reference: str, approved: bool | None
    ) -> str:
        action_id = "act_" + secrets.token_hex(13)
        p.ids["actions"].append(
            {
                "id": action_id,
                "type": kind,
                "processed_on": iso(datetime.now(UTC)),
                "amount": amount_minor,
                "approved": approved,
                "response_code": "10000" if approved else "20005",
                "response_summary": "Approved" if approved else "Declined - Do Not Honour",
                "reference": reference,
            }
        )
        return action_id

    def payment_webhooks(self, p: Payment, outcome: str) -> list[Delivery]:
        events = []
        if outcome == "pay":
            auth = self._action(p, "Authorization", p.ids["minor"], p.reference, True)
            capture = self._action(p, "Capture", p.ids["minor"], p.reference, True)
            events.append(checkout_event("payment_approved", self._payment_data(p, auth, True)))
            events.append(checkout_event("payment_captured", self._payment_data(p, capture, True)))
        elif outcome == "decline":
            auth = self._action(p, "Authorization", p.ids["minor"], p.reference, False)
            events.append(checkout_event("payment_declined", self._payment_data(p, auth, False)))
        else:
            data = self._payment_data(p, "", False)
            del data["action_id"]
            data["response_summary"] = "Expired"
            events.append(checkout_event("payment_expired", data))
        return [self.webhook(p.notify_url, e, e["type"]) for e in events]

    def refund(self, req: Request, pay: str) -> Resp:
        refused = self.auth(req)
        if refused:
            return refused
        key = req.header("Cko-Idempotency-Key")
        resp = self.idempotent(key, lambda: self._refund(req, pay))
        resp.operation = True
        return resp

    def _refund(self, req: Request, pay: str) -> Resp:
        sb = self.sb
        payment = sb.payments.get(("checkout", pay))
        if payment is None or payment.provider_reference != pay:
            return Resp(404, b"")
        body = self._body(req)
        if isinstance(body, Resp):
            return body
        if payment.status != "succeeded":
            return self.error(403, "refund_not_allowed", error_type="action_not_allowed")
        places = exponent(payment.currency)
        if body.get("amount") is None:
            amount = payment.unrefunded
        else:
            minor = body.get("amount")
            if isinstance(minor, bool) or not isinstance(minor, int) or minor <= 0:
                return self.error(422, "amount_invalid")
            amount = Decimal(minor).scaleb(-places)
        if amount > payment.unrefunded or payment.unrefunded <= 0:
            return self.error(422, "refund_amount_exceeds_balance")
        reference = str(body.get("reference") or "")
        minor = to_minor(amount, places)
        action_id = self._action(payment, "Refund", minor, reference, True)
        op = Operation(
            psp="checkout",
            kind="refund",
            provider_reference=action_id,
            reference=reference,
            payment=payment,
            amount=amount,
            currency=payment.currency,
            status="pending",
            outcome="succeeded",
            created_at=datetime.now(UTC),
            notify_url=payment.notify_url,
            ids={"minor": minor},
        )
        sb.operations.append(op)
        payment.refunded += amount
        sb.book(
            "checkout",
            "refund",
            action_id,
            reference,
            -amount,
            payment.currency,
            f"Refund {reference}",
            payment.provider_reference,
        )
        data = {
            "id": payment.provider_reference,
            "action_id": action_id,
            "reference": reference,
            "amount": minor,
            "currency": payment.currency,
            "processed_on": iso(op.created_at),
            "response_code": "10000",
            "response_summary": "Approved",
        }
        event = checkout_event("payment_refunded", data)
        return json_resp(
            {
                "action_id": action_id,
                "reference": reference,
                "_links": {"payment": {"href": f"{req.base}/checkout/payments/{pay}"}},
            },
            202,
            deliveries=[self.webhook(payment.notify_url, event, event["type"])],
        )

    def payout(self, req: Request) -> Resp:
        refused = self.auth(req)
        if refused:
            return refused
        key = req.header("Cko-Idempotency-Key")
        resp = self.idempotent(key, lambda: self._payout(req))
        resp.operation = True
        return resp

    def _payout(self, req: Request) -> Resp:
        sb = self.sb
        body = self._body(req)
        if isinstance(body, Resp):
            return body
        destination = body.get("destination")
        if not isinstance(destination, dict):
            return self.error(422, "destination_required")
        funding_id = str(destination.get("id") or "")
        funding = sb.payments.get(("checkout", funding_id))
        if (
            destination.get("type") != "id"
            or funding is None
            or funding.provider_reference != funding_id
            or funding.status != "succeeded"
        ):
            return self.error(422, "destination_invalid")
        money = self._money(body)
        if isinstance(money, Resp):
            return money
        amount, currency = money
        reference = str(body.get("reference") or "")
        fails = bool(sb.fault("fail_payouts"))
        payout_id = "pay_" + secrets.token_hex(13)
        op = Operation(
            psp="checkout",
            kind="payout",
            provider_reference=payout_id,
            reference=reference,
            payment=funding,
            amount=amount,
            currency=currency,
            status="pending",
            outcome="failed" if fails else "succeeded",
            created_at=datetime.now(UTC),
            notify_url=funding.notify_url,
            ids={"minor": body["amount"]},
            detail="Declined - Do Not Honour" if fails else "",
        )
        sb.operations.append(op)
        if not fails:
            sb.book(
                "checkout",
                "payout",
                payout_id,
                reference,
                -amount,
                currency,
                f"Withdrawal {reference}",
                funding.provider_reference,
            )
        data = {
            "id": payout_id,
            "reference": reference,
            "amount": body["amount"],
            "currency": currency,
            "processed_on": iso(op.created_at),
            "response_code": "20005" if fails else "10000",
            "response_summary": op.detail or "Approved",
            "destination": {"type": "id", "id": funding.provider_reference},
        }
        event = checkout_event("payout_declined" if fails else "payment_paid", data)
        return json_resp(
            {
                "id": payout_id,
                "status": "Pending",
                "reference": reference,
                "_links": {"self": {"href": f"{req.base}/checkout/payments/{payout_id}"}},
            },
            202,
            deliveries=[self.webhook(op.notify_url, event, event["type"])],
        )

    def _payment_json(self, p: Payment) -> dict:
        status = {
            "open": "Pending",
            "succeeded": "Captured",
            "failed": "Declined",
            "expired": "Expired",
        }[p.status]
        if p.status == "succeeded" and p.refunded:
            status = "Refunded" if p.refunded >= p.amount else "Partially Refunded"
        return {
            "id": p.provider_reference,
            "requested_on": iso(p.created_at),
            "amount": p.ids["minor"],
            "currency": p.currency,
            "reference": p.reference,
            "status": status,
            "approved": p.status == "succeeded",
        }

    def _payout_json(self, op: Operation) -> dict:
        return {
            "id": op.provider_reference,
            "requested_on": iso(op.created_at),
            "amount": op.ids["minor"],
            "currency": op.currency,
            "reference": op.reference,
            "status": {"succeeded": "Paid", "failed": "Declined"}[op.outcome],
            "approved": op.outcome == "succeeded",
            "response_summary": op.detail,
        }

    def payment_search(self, req: Request) -> Resp:
        refused = self.auth(req)
        if refused:
            return refused
        reference = req.query.get("reference", "")
        if not reference:
            return self.error(422, "reference_required")
        with self.sb.lock:
            data = [
                self._payment_json(p)
                for p in self.sb.payment_list
                if p.psp == "checkout" and p.reference == reference
            ] + [
                self._payout_json(op)
                for op in self.sb.operations
                if op.psp == "checkout" and op.kind == "payout" and op.reference == reference
            ]
        return json_resp({"limit": 10, "skip": 0, "total_count": len(data), "data": data})

    def actions(self, req: Request, pay: str) -> Resp:
        refused = self.auth(req)
        if refused:
            return refused
        with self.sb.lock:
            payment = self.sb.payments.get(("checkout", pay))
            if payment is None or payment.provider_reference != pay:
                return Resp(404, b"")
            return json_resp(list(reversed(payment.ids["actions"])))

    # --- disputes ---------------------------------------------------------------------------

    def dispute_ids(self, payment: Payment) -> tuple[str, str]:
        dispute_id = "dsp_" + secrets.token_hex(13)
        return dispute_id, dispute_id

    def dispute_webhook(self, d: Dispute, stage: str) -> Delivery | None:
        p = d.payment
        data = {
            "id": d.id,
            "category": d.reason,
            "status": "evidence_required" if stage == "open" else stage,
            "amount": to_minor(d.amount, exponent(d.currency)),
            "currency": d.currency,
            "reason_code": "10.4",
            "payment_id": p.provider_reference,
            "payment_reference": p.reference,
            "payment_method": "VISA",
            "received_on": iso(d.created_at),
        }
        kind = {"open": "dispute_received", "won": "dispute_won", "lost": "dispute_lost"}[stage]
        return self.webhook(p.notify_url, checkout_event(kind, data), kind)
