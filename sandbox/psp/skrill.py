"""Skrill: `POST /pay` (prepare_only=1 -> SID), `/app/?sid=` (hosted page), `/app/refund.pl`,
`/app/pay.pl` (prepare, then refund / transfer; logins with the MD5 of the API password),
`/app/query.pl` (status_trn). Status posts are forms with `md5sig` = UPPER(MD5(merchant_id +
transaction_id + UPPER(MD5(secret word)) + mb_amount + mb_currency + status)): 2 processed,
-1 cancelled, -2 failed, -3 chargeback; refunds and transfers say so in `operation`. As Skrill
documents status_url: `amount`/`currency` are the payment as posted, `mb_amount`/`mb_currency`
what reached the merchant wallet, in its currency (SANDBOX_SKRILL_WALLET_CURRENCY, default EUR,
converted at the sandbox's rates); `pay_from_email` is the payer's Skrill wallet.
status_trn answers for refunds and transfers too, as the product's adapter asks; nothing is
posted when a chargeback is decided."""

from __future__ import annotations

import hmac
import os
import random
import secrets
import urllib.parse
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from xml.sax.saxutils import escape as xml_escape

from .config import psp_config
from .delivery import Delivery
from .money import FIAT_USD, fiat_convert, is_currency, major_text, parse_major
from .provider import Provider, Route
from .signing import md5_hex, skrill_signature
from .state import Dispute, Operation, Payment
from .web import Request, Resp, json_resp

# The merchant wallet's currency (mb_currency); a payment in another currency is converted.
WALLET_CURRENCY = os.environ.get("SANDBOX_SKRILL_WALLET_CURRENCY", "EUR")


def skrill_status(
    *, transaction_id: str, mb_transaction_id: str, amount, currency: str, status, **extra
) -> dict:
    """A Skrill status post's fields, with a correct md5sig. `extra` adds or overrides fields
    (merchant_id, operation, …); `config=` (Skrill's settings entry) picks other secrets."""
    conf = psp_config("skrill", extra.pop("config", None))
    fields = {
        "pay_to_email": conf.get("pay_to_email", ""),
        "pay_from_email": "client@example.com",
        "merchant_id": conf.get("merchant_id", ""),
        "transaction_id": transaction_id,
        "mb_transaction_id": str(mb_transaction_id),
        "mb_amount": str(amount),
        "mb_currency": currency,
        "status": str(status),
        "amount": str(amount),
        "currency": currency,
    }
    fields.update({k: str(v) for k, v in extra.items()})
    fields["md5sig"] = skrill_signature(fields, conf["secret_word"])
    return fields


class Skrill(Provider):
    name = "skrill"

    def routes(self) -> list[Route]:
        return [
            ("POST", r"/skrill/pay", self.pay),
            ("GET", r"/skrill/app/", self.page_get),
            ("POST", r"/skrill/app/", self.page_post),
            ("POST", r"/skrill/app/refund\.pl", self.refund),
            ("POST", r"/skrill/app/pay\.pl", self.transfer),
            ("POST", r"/skrill/app/query\.pl", self.query),
        ]

    def page_payment(self, req: Request, key: str | None) -> Payment | None:
        return self.sb.find_payment("skrill", req.query.get("sid", ""))

    def next_id(self) -> str:
        """A new Skrill transaction id (increasing, not consecutive)."""
        self.sb.skrill_next += random.randint(1, 97)
        return str(self.sb.skrill_next)

    @staticmethod
    def xml(inner: str, status: int = 200) -> Resp:
        body = f'<?xml version="1.0" encoding="UTF-8"?>\n<response>{inner}</response>\n'
        return Resp(status, body.encode(), "text/xml; charset=UTF-8")

    def xml_error(self, message: str) -> Resp:
        return self.xml(f"<error><error_msg>{xml_escape(message)}</error_msg></error>")

    def login_ok(self, f: dict) -> bool:
        conf = self.conf
        expected = md5_hex(conf["api_password"])  # lower-case hex, as Skrill requires
        return f.get("email") == conf["pay_to_email"] and hmac.compare_digest(
            f.get("password", "").encode(), expected.encode()
        )

    def pay(self, req: Request) -> Resp:
        f, sb = req.form, self.sb

        def refuse(message: str) -> Resp:
            return json_resp({"code": "BAD_REQUEST", "message": message}, 400)

        if f.get("pay_to_email") != self.conf["pay_to_email"]:
            return refuse("pay_to_email is not a merchant account")
        currency = f.get("currency", "")
        if not is_currency(currency):
            return refuse(f"Invalid currency: {currency}")
        amount = parse_major(f.get("amount"), currency)
        if amount is None:
            return refuse(f"Invalid amount: {f.get('amount')}")
        reference = f.get("transaction_id", "")
        with sb.lock:
            if reference:
                for p in sb.payment_list:
                    if p.psp == "skrill" and p.reference == reference:
                        if p.status == "open" and p.amount == amount and p.currency == currency:
                            return Resp(200, p.provider_reference.encode(), "text/plain")
                        return refuse(f"transaction_id {reference} was already used")
            sid = secrets.token_hex(16)
            payment = Payment(
                psp="skrill",
                provider_reference=sid,
                reference=reference,
                amount=amount,
                currency=currency,
                notify_url=f.get("status_url", ""),
                success_url=f.get("return_url", ""),
                cancel_url=f.get("cancel_url", ""),
                customer_email=f.get("pay_from_email", ""),
                created_at=datetime.now(UTC),
                ids={"mb_transaction_id": self.next_id()},
            )
            sb.add_payment(payment, payment.ids["mb_transaction_id"])
        return Resp(200, sid.encode(), "text/plain; charset=UTF-8")

    def _fields(
        self,
        *,
        reference: str,
        mb_id: str,
        amount: Decimal,
        currency: str,
        status: str,
        email: str = "",
        **extra,
    ) -> dict:
        conf = self.conf
        # mb_amount / mb_currency: what reached the merchant wallet, in the wallet's currency;
        # amount / currency: the payment as the merchant posted it (Skrill's status_url).
        wallet = WALLET_CURRENCY if WALLET_CURRENCY in FIAT_USD else currency
        fields = {
            "pay_to_email": conf["pay_to_email"],
            "pay_from_email": email,
            "merchant_id": conf["merchant_id"],
            "transaction_id": reference,
            "mb_transaction_id": mb_id,
            "mb_amount": major_text(fiat_convert(amount, currency, wallet), wallet),
            "mb_currency": wallet,
            "status": status,
            "amount": major_text(amount, currency),
            "currency": currency,
        }
        fields.update(extra)
        fields["md5sig"] = skrill_signature(fields, conf["secret_word"])
        return fields

    def payment_webhooks(self, p: Payment, outcome: str) -> list[Delivery]:
        status = {"pay": "2", "decline": "-2", "expire": "-1"}[outcome]
        extra = {"payment_type": "WLT", "customer_id": str(10**8 + len(p.reference) * 7919)}
        if outcome == "decline":
            extra["failed_reason_code"] = "05"
        fields = self._fields(
            reference=p.reference,
            mb_id=p.ids["mb_transaction_id"],
            amount=p.amount,
            currency=p.currency,
            status=status,
            email=p.customer_email,
            **extra,
        )
        return [self.webhook(p.notify_url, fields, f"status {status}")]

    def _two_step(self, req: Request, execute: str, prepare: Callable, run: Callable):
        f, sb = req.form, self.sb
        action = f.get("action", "")
        if action == "prepare":
            if not self.login_ok(f):
                return self.xml_error("CANNOT_LOGIN")
            with sb.lock:
                refused = prepare(f)
                if refused:
                    return self.xml_error(refused)
                sid = secrets.token_hex(16)
                sb.skrill_prepared[sid] = (execute, dict(f))
            return self.xml(f"<sid>{sid}</sid>")
        if action == execute:
            with sb.lock:
                prepared = sb.skrill_prepared.pop(f.get("sid", ""), None)
                if prepared is None or prepared[0] != execute:
                    return self.xml_error("SESSION_EXPIRED")
                resp = run(prepared[1])
            resp.operation = True
            return resp
        return self.xml_error("INVALID_OR_MISSING_ACTION")

    def refund(self, req: Request) -> Resp:
        sb = self.sb

        def payment_of(f: dict) -> Payment | None:
            key = f.get("mb_transaction_id") or ""
            payment = sb.payments.get(("skrill", key)) if key else None
            if payment is None and f.get("transaction_id"):
                payment = sb.find_payment("skrill", f["transaction_id"])
            return payment if payment is not None and payment.status == "succeeded" else None

        def amount_of(f: dict, payment: Payment) -> Decimal | str:
            if not f.get("amount"):
                return payment.unrefunded
            amount = parse_major(f.get("amount"), payment.currency)
            if amount is None:
                return "INVALID_AMOUNT"
            return amount

        def prepare(f: dict) -> str | None:
            payment = payment_of(f)
            if payment is None:
                return "TRANSACTION_NOT_FOUND"
            existing = self._existing_refund(f)
            if existing is None:
                amount = amount_of(f, payment)
                if isinstance(amount, str):
                    return amount
                if amount > payment.unrefunded or payment.unrefunded <= 0:
                    return "REFUND_AMOUNT_EXCEEDS_PAYMENT"
            return None

        def run(f: dict) -> Resp:
            existing = self._existing_refund(f)
            if existing is not None:
                return self._refund_answer(existing)
            payment = payment_of(f)
            if payment is None:
                return self.xml_error("TRANSACTION_NOT_FOUND")
            amount = amount_of(f, payment)
            if isinstance(amount, str):
                return self.xml_error(amount)
            if amount > payment.unrefunded or payment.unrefunded <= 0:
                return self.xml_error("REFUND_AMOUNT_EXCEEDS_PAYMENT")
            reference = f.get("refund_note", "")
            op = Operation(
                psp="skrill",
                kind="refund",
                provider_reference=self.next_id(),
                reference=reference,
                payment=payment,
                amount=amount,
                currency=payment.currency,
                status="succeeded",
                outcome="succeeded",
                created_at=datetime.now(UTC),
                notify_url=f.get("refund_status_url") or payment.notify_url,
            )
            sb.operations.append(op)
            payment.refunded += amount
            sb.book(
                "skrill",
                "refund",
                op.provider_reference,
                reference,
                -amount,
                op.currency,
                f"Refund {reference}",
                payment.reported_reference,
            )
            fields = self._fields(
                reference=reference,
                mb_id=op.provider_reference,
                amount=amount,
                currency=op.currency,
                status="2",
                email=payment.customer_email,
                operation="refund",
                orig_mb_transaction_id=payment.reported_reference,
            )
            resp = self._refund_answer(op)
            resp.deliveries = [self.webhook(op.notify_url, fields, "refund 2")]
            return resp

        return self._two_step(req, "refund", prepare, run)

    def _existing_refund(self, f: dict) -> Operation | None:
        note = f.get("refund_note", "")
        if not note:
            return None
        return self.sb.find_operation("skrill", kind="refund", reference=note)

    def _refund_answer(self, op: Operation) -> Resp:
        return self.xml(
            f"<mb_amount>{major_text(op.amount, op.currency)}</mb_amount>"
            f"<mb_currency>{op.currency}</mb_currency>"
            f"<mb_transaction_id>{op.provider_reference}</mb_transaction_id>"
            f"<status>{'2' if op.outcome == 'succeeded' else '-2'}</status>"
            f"<transaction_id>{xml_escape(op.reference)}</transaction_id>"
        )

    def transfer(self, req: Request) -> Resp:
        sb = self.sb

        def check(f: dict) -> str | None:
            if f.get("frn_trn_id") and sb.find_operation(
                "skrill", kind="payout", reference=f["frn_trn_id"]
            ):
                return None
            currency = f.get("currency", "")
            if not is_currency(currency):
                return "INVALID_CURRENCY"
            if parse_major(f.get("amount"), currency) is None:
                return "INVALID_AMOUNT"
            if "@" not in f.get("bnf_email", ""):
                return "INVALID_BNF_EMAIL"
            return None

        def run(f: dict) -> Resp:
            reference = f.get("frn_trn_id", "")
            existing = reference and sb.find_operation("skrill", kind="payout", reference=reference)
            if existing:
                return self._transfer_answer(existing)
            refused = check(f)
            if refused:
                return self.xml_error(refused)
            currency = f["currency"]
            amount = parse_major(f["amount"], currency)
            funding = None
            for p in reversed(sb.payment_list):
                if p.psp == "skrill" and p.status == "succeeded":
                    if p.customer_email == f["bnf_email"]:
                        funding = p
                        break
                    funding = funding or p
            fails = bool(sb.fault("fail_payouts"))
            op = Operation(
                psp="skrill",
                kind="payout",
                provider_reference=self.next_id(),
                reference=reference,
                payment=funding,
                amount=amount,
                currency=currency,
                status="pending" if fails else "succeeded",
                outcome="failed" if fails else "succeeded",
                created_at=datetime.now(UTC),
                notify_url=funding.notify_url if funding else "",
                ids={"bnf_email": f["bnf_email"]},
                detail="BALANCE_NOT_ENOUGH" if fails else "",
            )
            sb.operations.append(op)
            if not fails:
                sb.book(
                    "skrill",
                    "payout",
                    op.provider_reference,
                    reference,
                    -amount,
                    currency,
                    f"Withdrawal {reference}",
                    funding.reported_reference if funding else "",
                )
            fields = self._fields(
                reference=reference,
                mb_id=op.provider_reference,
                amount=amount,
                currency=currency,
                status="-2" if fails else "2",
                email=f["bnf_email"],
                operation="transfer",
            )
            resp = self._transfer_answer(op)
            resp.deliveries = [self.webhook(op.notify_url, fields, f"transfer {fields['status']}")]
            return resp

        return self._two_step(req, "transfer", check, run)

    def _transfer_answer(self, op: Operation) -> Resp:
        status, message = ("2", "processed") if op.status == "succeeded" else ("1", "scheduled")
        return self.xml(
            "<transaction>"
            f"<amount>{major_text(op.amount, op.currency)}</amount>"
            f"<currency>{op.currency}</currency><id>{op.provider_reference}</id>"
            f"<status>{status}</status><status_msg>{message}</status_msg>"
            "</transaction>"
        )

    def query(self, req: Request) -> Resp:
        f, sb = req.form, self.sb

        def text(line: str) -> Resp:
            return Resp(200, line.encode(), "text/plain; charset=UTF-8")

        if not self.login_ok(f):
            return text("401\tCannot login\n")
        if f.get("action") != "status_trn":
            return text("400\tInvalid or missing action\n")
        trn_id = f.get("trn_id", "")
        if not trn_id:
            return text("400\tMissing trn_id\n")
        with sb.lock:
            op = sb.find_operation("skrill", reference=trn_id)
            if op is not None:
                status = {"succeeded": "2", "failed": "-2"}[op.outcome]
                found = {
                    "mb_amount": major_text(op.amount, op.currency),
                    "mb_currency": op.currency,
                    "mb_transaction_id": op.provider_reference,
                    "status": status,
                    "transaction_id": op.reference,
                }
            else:
                payment = next(
                    (p for p in sb.payment_list if p.psp == "skrill" and p.reference == trn_id),
                    None,
                )
                if payment is None:
                    return text(f"403\tTransaction not found: {trn_id}\n")
                status = {"open": "0", "succeeded": "2", "failed": "-2", "expired": "-1"}[
                    payment.status
                ]
                found = {
                    "mb_amount": major_text(payment.amount, payment.currency),
                    "mb_currency": payment.currency,
                    "mb_transaction_id": payment.reported_reference,
                    "status": status,
                    "transaction_id": payment.reference,
                }
        return text("200\t\tOK\n" + urllib.parse.urlencode(found) + "\n")

    # --- disputes ---------------------------------------------------------------------------

    def dispute_ids(self, payment: Payment) -> tuple[str, str]:
        return "CB" + self.next_id(), payment.reported_reference

    def dispute_webhook(self, d: Dispute, stage: str) -> Delivery | None:
        if stage != "open":
            return None  # Skrill posts no status when a chargeback is decided
        p = d.payment
        fields = self._fields(
            reference=p.reference,
            mb_id=p.reported_reference,
            amount=d.amount,
            currency=d.currency,
            status="-3",
            email=p.customer_email,
        )
        return self.webhook(p.notify_url, fields, "status -3")
