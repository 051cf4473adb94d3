"""Skrill (e-wallet): Quick Checkout for deposits, the refund and transfer APIs for money out.

- Deposit: `POST {api_url}/pay` (Quick Checkout, prepare_only=1) -> a session id (SID); the client
  goes to `{api_url}/app/?sid=<SID>`. Until Skrill's status post arrives the payment is known by
  that SID; the status post carries `mb_transaction_id` (Skrill's id of the payment) and
  `transaction_id` (our reference), which is what our service matches on.
- Refund: `{api_url}/app/refund.pl`, action=prepare (merchant email, password = lower-hex
  MD5(api_password), mb_transaction_id of the payment, amount, refund_note = our reference) ->
  SID, then action=refund&sid=… -> XML with the refund's own mb_transaction_id and status.
- Payout: the Automated Payments Interface `{api_url}/app/pay.pl`, action=prepare (amount,
  currency, bnf_email = the client's Skrill wallet, subject, note, frn_trn_id = our reference)
  -> SID, then action=transfer&sid=… -> XML `<transaction><id>…</id><status>2</status>`.
- Lookup: `{api_url}/app/query.pl` action=status_trn, trn_id = our reference.

Status posts (webhooks) are forms; md5sig = UPPER(MD5(merchant_id + transaction_id +
UPPER(MD5(secret_word)) + mb_amount + mb_currency + status)). Statuses: 2 processed, 0 pending,
-1 cancelled, -2 failed, -3 chargeback. As Skrill documents the status_url parameters,
`amount` / `currency` are the payment as we posted it (what the client is credited) and
`mb_amount` / `mb_currency` what reached our merchant wallet, in the wallet's currency (kept on
the deposit for reconciliation; the signature covers them). `pay_from_email` is the client's
Skrill wallet: the deposit's payment instrument. Posts about a refund or a transfer carry
`operation` = refund / transfer, with transaction_id = our reference for that operation.

Provider references: payment, refund and payout each their own mb_transaction_id; a chargeback
is a status of the payment, so it carries the payment's mb_transaction_id.
"""

from __future__ import annotations

import hashlib
import urllib.parse
import xml.etree.ElementTree as ET  # noqa: S405 (the provider's answers; expat refuses entities)
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal

from .base import (
    EventKind,
    OperationResult,
    PaymentSession,
    PspAdapter,
    PspError,
    WebhookAck,
    WebhookEvent,
    wallet_instrument,
)
from .http import (
    HttpResponse,
    call,
    form_encode,
    parse_currency,
    parse_form,
    parse_major,
    raise_for_transport,
    reject,
    require_currency,
    require_secret,
    same_digest,
    to_major_string,
)

PAYMENT_STATUSES = {
    "2": EventKind.PAYMENT_SUCCEEDED,
    "0": EventKind.PAYMENT_PENDING,
    "-1": EventKind.PAYMENT_EXPIRED,
    "-2": EventKind.PAYMENT_FAILED,
    "-3": EventKind.CHARGEBACK_OPENED,
}
OPERATION_EVENTS = {
    ("refund", "2"): EventKind.REFUND_SUCCEEDED,
    ("refund", "-2"): EventKind.REFUND_FAILED,
    ("transfer", "2"): EventKind.PAYOUT_PAID,
    ("transfer", "-2"): EventKind.PAYOUT_FAILED,
}
# Operation statuses in API answers: 2 processed, 1 scheduled / 0 pending, -1 / -2 failed.
RESULT_STATUSES = {"2": "succeeded", "1": "pending", "0": "pending", "-1": "failed", "-2": "failed"}
LOGIN_ERRORS = {"CANNOT_LOGIN", "LOGIN_INVALID", "INVALID_MERCHANT", "AUTHENTICATION_FAILED"}


def md5_hex(value: str) -> str:
    return hashlib.md5(value.encode()).hexdigest()  # noqa: S324 (Skrill's protocol)


def status_signature(fields: Mapping[str, str], secret_word: str) -> str:
    """The md5sig Skrill puts on a status post."""
    return md5_hex(
        fields.get("merchant_id", "")
        + fields.get("transaction_id", "")
        + md5_hex(secret_word).upper()
        + fields.get("mb_amount", "")
        + fields.get("mb_currency", "")
        + fields.get("status", "")
    ).upper()


class SkrillAdapter(PspAdapter):
    code = "skrill"
    display_name = "Skrill"

    # --- outbound ---------------------------------------------------------------------------

    def _url(self, path: str) -> str:
        return self.config["api_url"].rstrip("/") + path

    def _post(self, path: str, fields: list[tuple[str, object]]) -> HttpResponse:
        return call(
            "Skrill",
            "POST",
            self._url(path),
            body=form_encode(fields),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )

    def _credentials(self) -> list[tuple[str, object]]:
        return [
            ("email", self.config["pay_to_email"]),
            ("password", md5_hex(self.config["api_password"])),
        ]

    def _xml(self, response: HttpResponse, what: str) -> ET.Element | str:
        """The XML answer, or the error code Skrill put in it (a business refusal)."""
        raise_for_transport("Skrill", response, response.text()[:200])
        try:
            root = ET.fromstring(response.body)  # noqa: S314 (see the import)
        except ET.ParseError as exc:
            raise PspError(
                f"Skrill answered {what} with something that is not XML: {response.text()[:200]!r}",
                code="psp_error",
            ) from exc
        error = root.findtext("error/error_msg") or root.findtext("error")
        if error:
            if error.strip() in LOGIN_ERRORS:
                raise PspError(f"Skrill refused our API login: {error}", code="psp_auth_failed")
            return error.strip()
        if not response.ok:
            return f"HTTP {response.status}"
        return root

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
        fields = [
            ("pay_to_email", self.config["pay_to_email"]),
            ("transaction_id", reference),
            ("return_url", return_url),
            ("cancel_url", cancel_url),
            ("status_url", notify_url),
            ("language", "EN"),
            ("pay_from_email", customer_email),
            ("amount", to_major_string(amount, require_currency(currency))),
            ("currency", currency),
            ("detail1_description", "Deposit"),
            ("detail1_text", reference),
            ("prepare_only", "1"),
        ]
        response = self._post("/pay", fields)
        sid = response.text().strip()
        if not response.ok:
            raise_for_transport("Skrill", response, sid[:200])
            try:
                message = response.json("Skrill").get("message") or sid[:200]
            except (PspError, AttributeError):
                message = sid[:200]
            raise PspError(f"Skrill refused the payment: {message}", code="psp_refused")
        if not sid or not sid.isalnum():
            raise PspError(
                f"Skrill did not answer with a session id: {sid[:200]!r}", code="psp_error"
            )
        redirect = self._url("/app/?" + urllib.parse.urlencode({"sid": sid}))
        return PaymentSession(provider_reference=sid, redirect_url=redirect)

    def _two_step(
        self, path: str, prepare: list[tuple[str, object]], execute: str, what: str
    ) -> ET.Element | str:
        """Skrill's prepare-then-execute calls: the first returns a SID for the second."""
        answer = self._xml(
            self._post(path, [("action", "prepare"), *self._credentials(), *prepare]), what
        )
        if isinstance(answer, str):
            return answer
        sid = (answer.findtext("sid") or "").strip()
        if not sid:
            raise PspError(f"Skrill's {what} prepare answer has no sid", code="psp_error")
        return self._xml(self._post(path, [("action", execute), ("sid", sid)]), what)

    def refund(
        self, *, reference: str, payment_reference: str, amount: Decimal, currency: str
    ) -> OperationResult:
        answer = self._two_step(
            "/app/refund.pl",
            [
                ("mb_transaction_id", payment_reference),
                ("amount", to_major_string(amount, require_currency(currency))),
                ("refund_note", reference),
            ],
            "refund",
            "the refund",
        )
        if isinstance(answer, str):
            return OperationResult(status="failed", provider_reference="", detail=answer)
        return OperationResult(
            status=RESULT_STATUSES.get((answer.findtext("status") or "").strip(), "pending"),
            provider_reference=(answer.findtext("mb_transaction_id") or "").strip(),
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
        """A transfer to the client's Skrill wallet (`customer_email`), the one that funded them."""
        answer = self._two_step(
            "/app/pay.pl",
            [
                ("amount", to_major_string(amount, require_currency(currency))),
                ("currency", currency),
                ("bnf_email", customer_email),
                ("subject", "Withdrawal"),
                ("note", f"Withdrawal {reference}"),
                ("frn_trn_id", reference),
            ],
            "transfer",
            "the transfer",
        )
        if isinstance(answer, str):
            return OperationResult(status="failed", provider_reference="", detail=answer)
        transaction = answer.find("transaction")
        if transaction is None:
            raise PspError("Skrill's transfer answer has no transaction", code="psp_error")
        status = (transaction.findtext("status") or "").strip()
        return OperationResult(
            status=RESULT_STATUSES.get(status, "pending"),
            provider_reference=(transaction.findtext("id") or "").strip(),
            detail=(transaction.findtext("status_msg") or "").strip() if status != "2" else "",
        )

    def lookup(self, *, reference: str, payment_reference: str = "") -> OperationResult | None:
        fields = [("action", "status_trn"), *self._credentials(), ("trn_id", reference)]
        response = self._post("/app/query.pl", fields)
        raise_for_transport("Skrill", response, response.text()[:200])
        first, _, rest = response.text().partition("\n")
        code, _, message = first.partition("\t")
        message = message.strip()
        if code.strip() == "200":
            found = dict(urllib.parse.parse_qsl(rest.strip(), keep_blank_values=True))
            status = found.get("status", "")
            return OperationResult(
                status=RESULT_STATUSES.get(status, "pending"),
                provider_reference=found.get("mb_transaction_id", ""),
            )
        if "not found" in message.lower():
            return None
        if "login" in message.lower():
            raise PspError(f"Skrill refused our API login: {message}", code="psp_auth_failed")
        raise PspError(f"Skrill could not look up {reference}: {first.strip()}", code="psp_error")

    # --- status posts (webhooks) ------------------------------------------------------------

    def webhook_ack(self) -> WebhookAck:
        return WebhookAck(body=b"OK")

    def parse_webhook(
        self, *, headers: Mapping[str, str], body: bytes, now: datetime
    ) -> list[WebhookEvent]:
        secret = require_secret(self.config.get("secret_word"), "Skrill secret word")
        fields = parse_form(body)
        given = fields.get("md5sig")
        if not given:
            raise reject("bad_signature", "md5sig field is missing")
        if not same_digest(status_signature(fields, secret), given):
            raise reject(
                "bad_signature",
                "md5sig does not match the fields (wrong secret word or altered post)",
            )
        if fields.get("merchant_id") != self.config.get("merchant_id"):
            raise reject(
                "bad_signature",
                f"merchant_id {fields.get('merchant_id')!r} is not our merchant account",
            )
        for name in ("transaction_id", "mb_transaction_id", "status"):
            if not fields.get(name):
                raise reject("malformed", f"field {name!r} is missing")
        status = fields["status"]
        operation = fields.get("operation", "")
        if operation:
            kind = OPERATION_EVENTS.get((operation, status), EventKind.IGNORED)
        else:
            kind = PAYMENT_STATUSES.get(status, EventKind.IGNORED)
        common = {
            # Only signed fields (md5sig covers transaction_id and status, not
            # mb_transaction_id) may name the event: a replay with a new Skrill id is a repeat.
            "event_id": f"{fields['transaction_id']}:{status}",
            "reference": fields["transaction_id"],
            "provider_reference": fields["mb_transaction_id"],
            "occurred_at": now,
            "raw": dict(fields),
        }
        if kind == EventKind.IGNORED:
            return [WebhookEvent(kind=kind, amount=None, currency="", **common)]
        wallet_currency = parse_currency(fields.get("mb_currency"), field="mb_currency")
        wallet_amount = parse_major(fields.get("mb_amount"), wallet_currency, field="mb_amount")
        if fields.get("currency") or fields.get("amount"):  # the payment as posted
            currency = parse_currency(fields.get("currency"), field="currency")
            amount = parse_major(fields.get("amount"), currency, field="amount")
        else:
            currency, amount = wallet_currency, wallet_amount
        instrument = None
        if kind == EventKind.PAYMENT_SUCCEEDED:
            instrument = wallet_instrument(provider="skrill", email=fields.get("pay_from_email"))
        detail = ""
        if fields.get("failed_reason_code"):
            detail = f"failed_reason_code {fields['failed_reason_code']}"
        payment_reference = ""
        if kind == EventKind.CHARGEBACK_OPENED:
            payment_reference, detail = fields["mb_transaction_id"], detail or "chargeback"
        elif operation == "refund":
            payment_reference = fields.get("orig_mb_transaction_id", "")
        return [
            WebhookEvent(
                kind=kind,
                amount=amount,
                currency=currency,
                detail=detail,
                payment_reference=payment_reference,
                instrument=instrument,
                wallet_amount=wallet_amount,
                wallet_currency=wallet_currency,
                **common,
            )
        ]
