"""CoinPayments: `POST /api.php` (create_transaction, get_tx_info, create_withdrawal,
get_withdrawal_info), `HMAC` header = HMAC-SHA512(private key, body); hosted page
`/coinpayments/index.php?cmd=checkout&id=<txn>`. IPNs are forms with `HMAC` =
HMAC-SHA512(IPN secret, body): a paid transaction posts status 0 then 100, a cancelled one -1;
withdrawals post 2 (complete) or -1 with the fields CoinPayments documents for ipn_type=withdrawal
(id, status, status_text, address, txn_id once sent, currency and amount/amounti in the coin;
no note and no fiat figure). A withdrawal whose note starts "refund:" to the address a
payment came from is that payment's refund. get_tx_info reports the sender_address and
get_withdrawal_info finds a withdrawal by note, as the product's adapter asks; crypto payments
cannot be charged back."""

from __future__ import annotations

import hmac
import html
import secrets
import string
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from .config import psp_config
from .delivery import Delivery
from .money import COIN_PLACES, COIN_USD, coin_amount, is_currency, major_text, parse_major
from .provider import Provider, Route
from .signing import hmac_hex
from .state import Operation, Payment
from .web import Request, Resp, json_resp


def coinpayments_ipn(fields: Mapping[str, object], *, config: Mapping | None = None) -> dict:
    """An IPN's fields: `fields` over the envelope CoinPayments always sends (ipn_version,
    ipn_id, ipn_mode=hmac, merchant)."""
    conf = psp_config("coinpayments", config)
    ipn = {
        "ipn_version": "1.0",
        "ipn_id": secrets.token_hex(16),
        "ipn_mode": "hmac",
        "merchant": conf.get("merchant_id", ""),
    }
    ipn.update({k: str(v) for k, v in fields.items()})
    return ipn


def _cp_id(prefix: str) -> str:
    """A CoinPayments id: CP… for a transaction, CW… for a withdrawal."""
    return prefix + "".join(
        secrets.choice(string.ascii_uppercase + string.digits) for _ in range(22)
    )


def _btc_address() -> str:
    alphabet = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
    return "bc1q" + "".join(secrets.choice(alphabet) for _ in range(38))


class CoinPayments(Provider):
    name = "coinpayments"
    chargebacks = False

    def routes(self) -> list[Route]:
        return [
            ("POST", r"/coinpayments/api\.php", self.api),
            ("GET", r"/coinpayments/index\.php", self.page_get),
            ("POST", r"/coinpayments/index\.php", self.page_post),
        ]

    def page_payment(self, req: Request, key: str | None) -> Payment | None:
        if req.query.get("cmd") != "checkout":
            return None
        return self.sb.find_payment("coinpayments", req.query.get("id", ""))

    def page_details(self, payment: Payment) -> str:
        return (
            f"<dt>Pay in</dt><dd>{html.escape(payment.ids['coin_amount'])} "
            f"{html.escape(payment.ids['coin'])}</dd>"
            f"<dt>To address</dt><dd>{html.escape(payment.ids['payment_address'])}</dd>"
        )

    def on_paid(self, payment: Payment) -> None:
        payment.ids["sender_address"] = _btc_address()

    def api(self, req: Request) -> Resp:
        conf, f = self.conf, req.form

        def answer(error: str, result=None) -> Resp:
            body = {"error": error, "result": result if result is not None else []}
            return json_resp(body)

        given = req.header("HMAC")
        if not given:
            return answer("No HMAC signature sent.")
        if f.get("key") != conf["public_key"]:
            return answer("Invalid API public key passed!")
        expected = hmac_hex(conf["private_key"], req.body, "sha512")
        if not hmac.compare_digest(expected, given.strip().lower()):
            return answer("HMAC signature does not match")
        if f.get("version") != "1":
            return answer("Invalid API version - no version specified")
        command = {
            "create_transaction": self._create_transaction,
            "get_tx_info": self._tx_info,
            "create_withdrawal": self._create_withdrawal,
            "get_withdrawal_info": self._withdrawal_info,
        }.get(f.get("cmd", ""))
        if command is None:
            return answer(f"Unknown command: {f.get('cmd', '')}")
        deliveries: list[Delivery] = []
        with self.sb.lock:
            error, result = command(f, req, deliveries)
        resp = answer(error, result)
        resp.deliveries = deliveries
        resp.operation = f.get("cmd") == "create_withdrawal"
        return resp

    def _create_transaction(self, f: dict, req: Request, deliveries: list):
        currency1, coin = f.get("currency1", ""), f.get("currency2", "")
        if not is_currency(currency1):
            return f"Invalid currency1: {currency1}", None
        if coin not in COIN_USD:
            return f"Invalid currency2 (unsupported coin): {coin}", None
        amount = parse_major(f.get("amount"), currency1)
        if amount is None:
            return "Invalid amount", None
        if not f.get("buyer_email"):
            return "buyer_email is required", None
        sb = self.sb
        txn_id = _cp_id("CP")
        coins = coin_amount(amount, currency1, coin)
        reference = f.get("invoice") or f.get("custom", "")
        if f.get("ipn_url"):
            sb.last_ipn_url = f["ipn_url"]
        key = secrets.token_hex(10)
        payment = Payment(
            psp="coinpayments",
            provider_reference=txn_id,
            reference=reference,
            amount=amount,
            currency=currency1,
            notify_url=f.get("ipn_url", ""),
            success_url=f.get("success_url", ""),
            cancel_url=f.get("cancel_url", ""),
            customer_email=f.get("buyer_email", ""),
            created_at=datetime.now(UTC),
            ids={
                "coin": coin,
                "coin_amount": str(coins),
                "payment_address": _btc_address(),
                "invoice": f.get("invoice", ""),
                "custom": f.get("custom", ""),
                "item_name": f.get("item_name", ""),
                "key": key,
            },
        )
        sb.add_payment(payment)
        checkout = f"{req.base}/coinpayments/index.php?cmd=checkout&id={txn_id}&key={key}"
        return "ok", {
            "amount": str(coins),
            "txn_id": txn_id,
            "address": payment.ids["payment_address"],
            "confirms_needed": "2",
            "timeout": 9000,
            "checkout_url": checkout,
            "status_url": f"{req.base}/coinpayments/index.php?cmd=status&id={txn_id}&key={key}",
            "qrcode_url": f"{req.base}/coinpayments/qrgen.png?id={txn_id}",
        }

    def _tx_info(self, f: dict, req: Request, deliveries: list):
        payment = self.sb.payments.get(("coinpayments", f.get("txid", "")))
        if payment is None:
            return "Transaction not found", None
        status, status_text = {
            "open": (0, "Waiting for buyer funds..."),
            "succeeded": (100, "Complete"),
            "failed": (-1, "Cancelled / Timed Out"),
            "expired": (-1, "Cancelled / Timed Out"),
        }[payment.status]
        coins = Decimal(payment.ids["coin_amount"])
        received = coins if payment.status == "succeeded" else Decimal(0)
        return "ok", {
            "time_created": int(payment.created_at.timestamp()),
            "time_expires": int(payment.created_at.timestamp()) + 9000,
            "status": status,
            "status_text": status_text,
            "type": "coins",
            "coin": payment.ids["coin"],
            "amount": int(coins.scaleb(8)),
            "amountf": str(coins),
            "received": int(received.scaleb(8)),
            "receivedf": str(received.quantize(COIN_PLACES)),
            "recv_confirms": 3 if payment.status == "succeeded" else 0,
            "payment_address": payment.ids["payment_address"],
            "sender_address": payment.ids.get("sender_address", ""),
        }

    def payment_webhooks(self, p: Payment, outcome: str) -> list[Delivery]:
        steps = (
            [(0, "Waiting for buyer funds..."), (100, "Complete")]
            if outcome == "pay"
            else [(-1, "Cancelled / Timed Out")]
        )
        deliveries = []
        for status, status_text in steps:
            received = p.ids["coin_amount"] if status == 100 else "0.00000000"
            ipn = coinpayments_ipn(
                {
                    "ipn_type": "api",
                    "status": status,
                    "status_text": status_text,
                    "txn_id": p.provider_reference,
                    "currency1": p.currency,
                    "currency2": p.ids["coin"],
                    "amount1": major_text(p.amount, p.currency),
                    "amount2": p.ids["coin_amount"],
                    "fee": "0.00000000",
                    "buyer_name": p.customer_email.split("@")[0],
                    "email": p.customer_email,
                    "item_name": p.ids["item_name"],
                    "invoice": p.ids["invoice"],
                    "custom": p.ids["custom"],
                    "received_amount": received,
                    "received_confirms": 3 if status == 100 else 0,
                },
                config=self.conf,
            )
            deliveries.append(self.webhook(p.notify_url, ipn, f"status {status}"))
        return deliveries

    def _create_withdrawal(self, f: dict, req: Request, deliveries: list):
        sb = self.sb
        note = f.get("note", "")
        existing = note and next(
            (op for op in sb.operations if op.psp == "coinpayments" and op.ids["note"] == note),
            None,
        )
        if existing:
            return "ok", self._withdrawal_result(existing)
        coin = f.get("currency", "")
        if coin not in COIN_USD:
            return f"Invalid currency (unsupported coin): {coin}", None
        fiat = f.get("currency2", "")
        if fiat and not is_currency(fiat):
            return f"Invalid currency2: {fiat}", None
        if fiat:
            amount = parse_major(f.get("amount"), fiat)
            coins = coin_amount(amount, fiat, coin) if amount is not None else None
        else:
            try:
                coins = Decimal(f.get("amount", "")).quantize(COIN_PLACES)
            except InvalidOperation:
                coins = None
            coins = coins if coins is not None and coins.is_finite() and coins > 0 else None
            amount = None
        if coins is None:
            return "Invalid amount", None
        address = f.get("address", "")
        if not address:
            return "address is required", None
        funding = next(
            (
                p
                for p in sb.payment_list
                if p.psp == "coinpayments" and p.ids.get("sender_address") == address
            ),
            None,
        )
        refund = note.startswith("refund:")
        if refund and funding is not None and amount is not None:
            if fiat != funding.currency:
                return f"currency2 {fiat} is not the payment's currency {funding.currency}", None
            if amount > funding.unrefunded:
                left = major_text(max(funding.unrefunded, Decimal(0)), funding.currency)
                return (
                    f"Refund amount exceeds what is left of payment "
                    f"{funding.provider_reference} ({left} {funding.currency})",
                    None,
                )
        kind = "refund" if refund else "payout"
        fails = kind == "payout" and bool(sb.fault("fail_payouts"))
        currency = fiat or coin
        op = Operation(
            psp="coinpayments",
            kind=kind,
            provider_reference=_cp_id("CW"),
            reference=note[len("refund:") :] if refund else note,
            payment=funding,
            amount=amount if amount is not None else coins,
            currency=currency,
            status="pending",
            outcome="failed" if fails else "succeeded",
            created_at=datetime.now(UTC),
            notify_url=f.get("ipn_url") or sb.last_ipn_url,
            ids={
                "note": note,
                "coin": coin,
                "coins": str(coins),
                "address": address,
                "fiat": fiat,
                "send_txid": secrets.token_hex(32),
            },
            detail="Withdrawal failed: insufficient hot wallet balance" if fails else "",
        )
        sb.operations.append(op)
        if not fails:
            if refund and funding is not None:
                funding.refunded += op.amount
            if fiat:
                sb.book(
                    "coinpayments",
                    kind,
                    op.provider_reference,
                    op.reference,
                    -op.amount,
                    fiat,
                    f"{'Refund' if refund else 'Withdrawal'} {op.reference}",
                    funding.provider_reference if funding else "",
                )
        # The withdrawal IPN carries exactly the documented fields: no note, no fiat figure.
        fields = {
            "ipn_type": "withdrawal",
            "id": op.provider_reference,
            "status": -1 if fails else 2,
            "status_text": op.detail or "Complete",
            "address": address,
            "currency": coin,
            "amount": str(coins),
            "amounti": int(coins.scaleb(8)),
        }
        if not fails:
            fields["txn_id"] = op.ids["send_txid"]
        ipn = coinpayments_ipn(fields, config=self.conf)
        deliveries.append(self.webhook(op.notify_url, ipn, f"withdrawal {fields['status']}"))
        return "ok", self._withdrawal_result(op)

    @staticmethod
    def _withdrawal_result(op: Operation) -> dict:
        return {"id": op.provider_reference, "status": 1, "amount": op.ids["coins"]}

    def _withdrawal_info(self, f: dict, req: Request, deliveries: list):
        wanted_id, note = f.get("id", ""), f.get("note", "")
        if not wanted_id and not note:
            return "id or note is required", None
        for op in self.sb.operations:
            if op.psp != "coinpayments":
                continue
            if (wanted_id and op.provider_reference == wanted_id) or (
                note and op.ids.get("note") == note
            ):
                status = {"succeeded": 2, "failed": -1}[op.outcome]
                return "ok", {
                    "id": op.provider_reference,
                    "time_created": int(op.created_at.timestamp()),
                    "status": status,
                    "status_text": op.detail or "Complete",
                    "coin": op.ids["coin"],
                    "amount": int(Decimal(op.ids["coins"]).scaleb(8)),
                    "amountf": op.ids["coins"],
                    "send_address": op.ids["address"],
                    "send_txid": op.ids["send_txid"] if status == 2 else "",
                    "note": op.ids["note"],
                }
        return "Withdrawal not found", None
