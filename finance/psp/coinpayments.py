"""CoinPayments (crypto): a hosted checkout for deposits, withdrawals for money out.

API: `POST {api_url}/api.php`, form-encoded `version=1&key=<public_key>&cmd=…&format=json&…`,
header `HMAC` = hex HMAC-SHA512(private_key, raw post body). Answers are JSON
`{"error": "ok", "result": {…}}`, or `{"error": "<message>"}` (with HTTP 200).

- Deposit: cmd=create_transaction (amount and currency1 = the fiat amount, currency2 = the coin
  the client pays in, invoice and custom = our reference, ipn_url = notify_url) ->
  `{txn_id, checkout_url, status_url}`: the payment's provider reference is the txn_id.
- Payout: cmd=create_withdrawal of the fiat amount (currency2) in the coin the client paid with
  (currency), to the address the coins came from (both read with cmd=get_tx_info on the funding
  transaction), note = our reference, auto_confirm=1. No ipn_url: CoinPayments then notifies the
  account's IPN URL. The withdrawal id is the payout's provider reference.
- Refund: CoinPayments has no refunds. refund() sends the coins back the same way, as a
  withdrawal with note = "refund:<our reference>", so its IPN reads as a refund, not a payout.
- Lookup: cmd=get_withdrawal_info by note (our reference, then "refund:<reference>").

IPNs are forms with header `HMAC` = hex HMAC-SHA512(ipn_secret, raw body), ipn_mode=hmac and
`merchant` = our merchant id. Payment status: >= 100 or 2 complete, 0..99 pending, -1 cancelled
or timed out (expired), other negatives failed. Payment amounts are major units (amount1 in
currency1). A withdrawal IPN (ipn_type=withdrawal) carries what CoinPayments documents: `id` (the
create_withdrawal id), `status` (0 awaiting email confirmation, 1 pending, 2 sent, negative
failed), `status_text`, `address`, `txn_id` (once sent), `currency` and `amount`/`amounti` in the
coin. It names no reference of ours and no fiat figure: the withdrawal (or the refund, sent as a
withdrawal) is found by its id, and its amount is the one we asked for. Crypto payments cannot be
charged back.

Provider references: payment txn_id (CP…), refund and payout the withdrawal id (CW…).
"""

from __future__ import annotations

import re
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
    crypto_instrument,
)
from .http import (
    call,
    form_encode,
    header,
    hmac_hex,
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

PAYMENT_IPN_TYPES = {"api", "simple", "button", "cart", "donation"}
REFUND_NOTE_PREFIX = "refund:"
AUTH_ERRORS = ("hmac", "api key", "public key", "private key", "invalid key")
NOT_FOUND = ("not found", "no withdrawal", "no transaction")
_STATUS = re.compile(r"-?\d+")


def withdrawal_status(status: int) -> str:
    """A withdrawal's status (0 awaiting email confirmation, 1 pending, 2 complete, <0 failed)."""
    return "succeeded" if status == 2 else "failed" if status < 0 else "pending"


class CoinPaymentsAdapter(PspAdapter):
    code = "coinpayments"
    display_name = "CoinPayments (crypto)"

    # --- outbound ---------------------------------------------------------------------------

    def _api(self, cmd: str, fields: list[tuple[str, object]]) -> tuple[str, dict]:
        """One API command: (error, result); error is "ok" on success."""
        body = form_encode(
            [
                ("version", "1"),
                ("key", self.config["public_key"]),
                ("cmd", cmd),
                ("format", "json"),
                *fields,
            ]
        )
        response = call(
            "CoinPayments",
            "POST",
            self.config["api_url"].rstrip("/") + "/api.php",
            body=body,
            headers={
                "HMAC": hmac_hex(self.config["private_key"], body, "sha512"),
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )
        raise_for_transport("CoinPayments", response, response.text()[:200])
        answer = response.json("CoinPayments")
        if not isinstance(answer, dict) or "error" not in answer:
            raise PspError(f"CoinPayments answered {cmd} without an error field", code="psp_error")
        error = str(answer["error"])
        if error != "ok" and any(word in error.lower() for word in AUTH_ERRORS):
            raise PspError(f"CoinPayments refused our API key: {error}", code="psp_auth_failed")
        if error == "ok" and not response.ok:
            raise PspError(f"CoinPayments answered HTTP {response.status}", code="psp_error")
        result = answer.get("result")
        return error, result if isinstance(result, dict) else {}

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
        error, result = self._api(
            "create_transaction",
            [
                ("amount", to_major_string(amount, require_currency(currency))),
                ("currency1", currency),
                ("currency2", self.config.get("coin") or "BTC"),
                ("buyer_email", customer_email),
                ("item_name", f"Deposit {reference}"),
                ("invoice", reference),
                ("custom", reference),
                ("ipn_url", notify_url),
                ("success_url", return_url),
                ("cancel_url", cancel_url),
            ],
        )
        if error != "ok":
            raise PspError(f"CoinPayments refused the payment: {error}", code="psp_refused")
        if not result.get("txn_id") or not result.get("checkout_url"):
            raise PspError(
                "CoinPayments' transaction has no txn_id or checkout_url", code="psp_error"
            )
        return PaymentSession(
            provider_reference=str(result["txn_id"]), redirect_url=str(result["checkout_url"])
        )

    def _send_back(
        self, note: str, *, payment_reference: str, amount: Decimal, currency: str
    ) -> OperationResult:
        """Send `amount` `currency` worth of the funding coin back where it came from."""
        fiat = to_major_string(amount, require_currency(currency))
        error, funding = self._api("get_tx_info", [("txid", payment_reference)])
        if error != "ok":
            return OperationResult("failed", "", f"funding payment {payment_reference}: {error}")
        coin, address = funding.get("coin"), funding.get("sender_address")
        if not coin or not address:
            return OperationResult(
                "failed", "", f"CoinPayments does not know where {payment_reference} came from"
            )
        error, result = self._api(
            "create_withdrawal",
            [
                ("amount", fiat),
                ("currency", coin),
                ("currency2", currency),
                ("address", address),
                ("auto_confirm", "1"),
                ("note", note),
            ],
        )
        if error != "ok":
            return OperationResult(status="failed", provider_reference="", detail=error)
        try:
            status = int(result.get("status", 1))
        except (TypeError, ValueError):
            status = 1
        return OperationResult(
            status=withdrawal_status(status), provider_reference=str(result.get("id", ""))
        )

    def refund(
        self, *, reference: str, payment_reference: str, amount: Decimal, currency: str
    ) -> OperationResult:
        """No refunds at CoinPayments: the coins go back as a withdrawal (see the module doc)."""
        return self._send_back(
            REFUND_NOTE_PREFIX + reference,
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
        return self._send_back(
            reference, payment_reference=payment_reference, amount=amount, currency=currency
        )

    def lookup(self, *, reference: str, payment_reference: str = "") -> OperationResult | None:
        for note in (reference, REFUND_NOTE_PREFIX + reference):
            error, result = self._api("get_withdrawal_info", [("note", note)])
            if error == "ok" and result:
                try:
                    status = int(result.get("status", 1))
                except (TypeError, ValueError):
                    status = 1
                return OperationResult(
                    status=withdrawal_status(status),
                    provider_reference=str(result.get("id", "")),
                    detail=str(result.get("status_text", "")) if status < 0 else "",
                )
            if error != "ok" and not any(word in error.lower() for word in NOT_FOUND):
                raise PspError(f"CoinPayments could not look up {note}: {error}", code="psp_error")
        return None

    # --- IPNs (webhooks) --------------------------------------------------------------------

    def webhook_ack(self) -> WebhookAck:
        return WebhookAck(body=b"IPN OK")

    def parse_webhook(
        self, *, headers: Mapping[str, str], body: bytes, now: datetime
    ) -> list[WebhookEvent]:
        secret = require_secret(self.config.get("ipn_secret"), "CoinPayments IPN secret")
        given = header(headers, "HMAC")
        if not given:
            raise reject("bad_signature", "HMAC header is missing")
        if not same_digest(hmac_hex(secret, body, "sha512"), given):
            raise reject(
                "bad_signature", "HMAC does not match the body (wrong IPN secret or altered body)"
            )
        fields = parse_form(body)
        if fields.get("ipn_mode") != "hmac":
            raise reject("bad_signature", f"ipn_mode {fields.get('ipn_mode')!r} is not 'hmac'")
        if fields.get("merchant") != self.config.get("merchant_id"):
            raise reject(
                "bad_signature", f"merchant {fields.get('merchant')!r} is not our merchant id"
            )
        for name in ("ipn_id", "ipn_type", "status"):
            if not fields.get(name):
                raise reject("malformed", f"field {name!r} is missing")
        if not _STATUS.fullmatch(fields["status"]):
            raise reject("malformed", f"status {fields['status']!r} is not a number")
        status = int(fields["status"])
        ipn_type = fields["ipn_type"]
        common = {
            "event_id": fields["ipn_id"],
            "occurred_at": now,
            "raw": dict(fields),
            "detail": fields.get("status_text", ""),
        }
        if ipn_type in PAYMENT_IPN_TYPES:
            return [self._payment(fields, status, common)]
        if ipn_type == "withdrawal":
            return [self._withdrawal(fields, status, common)]
        return [
            WebhookEvent(
                kind=EventKind.IGNORED,
                reference="",
                provider_reference=fields.get("txn_id", ""),
                amount=None,
                currency="",
                **common,
            )
        ]

    @staticmethod
    def _payment(fields: dict, status: int, common: dict) -> WebhookEvent:
        if status >= 100 or status == 2:
            kind = EventKind.PAYMENT_SUCCEEDED
        elif status == -1:
            kind = EventKind.PAYMENT_EXPIRED
        elif status < 0:
            kind = EventKind.PAYMENT_FAILED
        else:
            kind = EventKind.PAYMENT_PENDING
        if not fields.get("txn_id"):
            raise reject("malformed", "field 'txn_id' is missing")
        currency = parse_currency(fields.get("currency1"), field="currency1")
        instrument = None
        if kind == EventKind.PAYMENT_SUCCEEDED:
            # The IPN names the coin (currency2) and the buyer (buyer_name, email), not the
            # address the coins came from (get_tx_info tells that, when a payout needs it).
            instrument = crypto_instrument(
                coin=fields.get("currency2", ""),
                email=fields.get("email", "") or fields.get("buyer_email", ""),
                holder_name=fields.get("buyer_name", ""),
            )
        return WebhookEvent(
            kind=kind,
            reference=fields.get("invoice") or fields.get("custom", ""),
            provider_reference=fields["txn_id"],
            amount=parse_major(fields.get("amount1"), currency, field="amount1"),
            currency=currency,
            instrument=instrument,
            **common,
        )

    @staticmethod
    def _withdrawal(fields: dict, status: int, common: dict) -> WebhookEvent:
        """Money sent out (a payout, or a refund sent as a withdrawal): which of ours it is
        follows from its id. Its amount is in the coin, not the fiat figure we asked for."""
        for name in ("id", "currency", "address"):
            if not fields.get(name):
                raise reject("malformed", f"field {name!r} is missing")
        if status == 2:
            kind = EventKind.PAYOUT_PAID
        elif status < 0:
            kind = EventKind.PAYOUT_FAILED
        else:
            kind = EventKind.IGNORED  # awaiting confirmation or pending: nothing to post yet
        return WebhookEvent(
            kind=kind,
            reference="",
            provider_reference=fields["id"],
            amount=None,
            currency="",
            **common,
        )
