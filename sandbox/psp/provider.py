"""What every provider has in common: its settings, signed webhooks, idempotent answers, the
hosted payment page, and a payment's lifecycle (open, then paid, declined or expired, each
booked and announced by the provider's webhooks). A provider module subclasses `Provider`,
lists its routes and says what differs: its webhooks, its page's details and redirect, its
dispute ids."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from datetime import UTC, datetime

from .config import PSP_NAMES
from .delivery import Delivery, deliverable
from .pages import render_page
from .signing import signed_webhook
from .state import Dispute, Payment, Sandbox
from .web import Request, Resp

Route = tuple[str, str, Callable]  # method, path pattern, handler(req, **groups)
OUTCOMES = {"pay": "succeeded", "decline": "failed", "expire": "expired"}
DEFAULT_CARD = "4242424242424242"
BRANDS = {"4": "visa", "5": "mastercard", "2": "mastercard", "3": "amex", "6": "discover"}


def payer_card(payment: Payment) -> dict:
    """The card a hosted page was paid with (its form's `card_number`, Stripe's test Visa by
    default): what card PSPs report of it. The same number always has the same fingerprint,
    whoever pays with it, as at a real PSP."""
    number = payment.ids.get("card_number") or DEFAULT_CARD
    digest = hmac.new(b"sandbox-card-fingerprint", number.encode(), hashlib.sha256).hexdigest()
    return {
        "number": number,
        "brand": BRANDS.get(number[:1], "visa"),
        "bin": number[:6],
        "last4": number[-4:],
        "fingerprint": digest[:16],
        "exp_month": 12,
        "exp_year": 2030,
        "country": "GB",
        "holder": payment.ids.get("cardholder") or payment.customer_email.split("@")[0].title(),
    }


class Provider:
    name = ""
    payout_category = "withdrawal"  # a client payout's statement category
    chargebacks = True

    def __init__(self, sandbox: Sandbox):
        self.sb = sandbox

    @property
    def conf(self) -> dict:
        return self.sb.config[self.name]

    def routes(self) -> list[Route]:
        raise NotImplementedError

    def unavailable(self, status: int) -> Resp:
        """The provider's API failing on its side (the `api_error_status` fault): a bare 5xx,
        as a gateway in front of it answers; providers that document an error body for it
        say so (Stripe)."""
        return Resp(status, b"Service Unavailable", "text/plain")

    def webhook(self, url: str, payload, label: str) -> Delivery | None:
        """`payload` signed as this provider signs it, for `url` (None if it takes no post)."""
        if not deliverable(url):
            return None
        headers, body = signed_webhook(self.name, payload, config=self.conf)
        return Delivery(self.name, url, headers, body, label)

    def idempotent(self, key: str, make: Callable[[], Resp]) -> Resp:
        """The first answer to `key`, replayed; `make` runs (under the lock) only once."""
        sb = self.sb
        with sb.lock:
            if key and (self.name, key) in sb.idempotency:
                replay = sb.idempotency[(self.name, key)].replay()
                replay.headers["Idempotent-Replayed"] = "true"
                return replay
            resp = make()
            if key and resp.status < 500:
                sb.idempotency[(self.name, key)] = resp
            return resp

    # --- a payment's lifecycle ----------------------------------------------------------------

    def complete(self, payment: Payment, outcome: str) -> list[Delivery]:
        """Record a hosted payment's outcome (pay, decline, expire); the webhooks to send."""
        sb = self.sb
        with sb.lock:
            if payment.status != "open":
                return []
            now = datetime.now(UTC)
            payment.status = OUTCOMES[outcome]
            if outcome == "pay":
                payment.paid_at = now
                self.on_paid(payment)
                sb.book(
                    payment.psp,
                    "payment",
                    payment.reported_reference,
                    payment.reference,
                    payment.amount,
                    payment.currency,
                    f"Deposit {payment.reference}".strip(),
                )
            return self.payment_webhooks(payment, outcome)

    def on_paid(self, payment: Payment) -> None:
        """What the provider learns of a payment as it is paid."""

    def payment_webhooks(self, payment: Payment, outcome: str) -> list[Delivery | None]:
        raise NotImplementedError

    # --- the hosted page ------------------------------------------------------------------------

    def page_payment(self, req: Request, key: str | None) -> Payment | None:
        """The payment a hosted page's URL names."""
        return self.sb.find_payment(self.name, key or "")

    def page_details(self, payment: Payment) -> str:
        """More rows for the page (<dt>/<dd>, escaped)."""
        return ""

    def page_target(self, payment: Payment) -> str:
        """Where the page sends the client once the payment is decided ("" for nowhere)."""
        return payment.success_url if payment.status == "succeeded" else payment.cancel_url

    def render(self, payment: Payment, action_url: str) -> bytes:
        return render_page(payment, action_url, PSP_NAMES[self.name], self.page_details(payment))

    def page_get(self, req: Request, key: str | None = None) -> Resp:
        payment = self.page_payment(req, key)
        if payment is None:
            return Resp(
                404,
                b"<!doctype html><title>Not found</title><p>No such payment page.",
                "text/html; charset=utf-8",
            )
        action = req.path + ("?" + req.raw_query if req.raw_query else "")
        return Resp(200, self.render(payment, action), "text/html; charset=utf-8")

    def page_post(self, req: Request, key: str | None = None) -> Resp:
        payment = self.page_payment(req, key)
        if payment is None:
            return Resp(404, b"No such payment page.", "text/plain")
        outcome = req.form.get("outcome", "")
        if outcome not in OUTCOMES:
            return Resp(400, b"outcome must be pay, decline or expire", "text/plain")
        card = "".join(ch for ch in req.form.get("card_number", "") if ch.isdigit())
        if card and payment.status == "open":
            if not 12 <= len(card) <= 19:
                return Resp(400, b"card_number must have 12 to 19 digits", "text/plain")
            payment.ids["card_number"] = card
        if req.form.get("cardholder") and payment.status == "open":
            payment.ids["cardholder"] = req.form["cardholder"][:100]
        deliveries = self.complete(payment, outcome)
        target = self.page_target(payment)
        if not target:
            return Resp(
                200,
                self.render(payment, ""),
                "text/html; charset=utf-8",
                deliveries=deliveries,
                sync=req.flag("sync_delivery"),
            )
        return Resp(
            303,
            b"",
            "text/plain",
            {"Location": target},
            deliveries=deliveries,
            sync=req.flag("sync_delivery"),
        )

    # --- disputes (opened and decided through the control endpoints) --------------------------

    def dispute_ids(self, payment: Payment) -> tuple[str, str]:
        """(id, provider reference: what the chargeback webhook reports) of a new dispute."""
        raise NotImplementedError

    def dispute_webhook(self, dispute: Dispute, stage: str) -> Delivery | None:
        """The webhook for a dispute opened ("open") or decided ("won", "lost")."""
        raise NotImplementedError
