"""Payment providers in one server: Stripe, Checkout.com, Skrill and CoinPayments, the subset the
product's adapters call, with hosted payment pages and signed webhooks.

Each provider lives under its own prefix (`/stripe`, `/checkout`, `/skrill`, `/coinpayments`), so
`{SANDBOX_PSP_URL}/stripe` is Stripe's API base URL, and so on. Credentials and webhook secrets
are read from the same environment variables as the product's settings, with the same sandbox
defaults (see `sandbox_config`).

Provider APIs (what the adapters in the product call):

- Stripe: `POST /v1/checkout/sessions`, `POST /v1/refunds`, `GET /v1/refunds?payment_intent=`;
  Bearer secret key, `Idempotency-Key`; hosted page `/stripe/c/pay/<cs_…>`. Webhooks signed with
  `Stripe-Signature: t=…,v1=HMAC-SHA256(secret, "t.body")`.
- Checkout.com: `POST /hosted-payments`, `POST /payments/<pay_…>/refunds`, `POST /payments`
  (card payout), `GET /payments?reference=`, `GET /payments/<id>/actions`; `Authorization: sk_…`,
  `Cko-Idempotency-Key`; hosted page `/checkout/page/<hpp_…>`. Webhooks signed with
  `Cko-Signature: HMAC-SHA256(secret, body)`.
- Skrill: `POST /pay` (prepare_only=1 -> SID), `/app/?sid=` (hosted page), `/app/refund.pl`,
  `/app/pay.pl` (prepare, then refund / transfer), `/app/query.pl` (status_trn). Status posts are
  forms with `md5sig`.
- CoinPayments: `POST /api.php` (create_transaction, get_tx_info, create_withdrawal,
  get_withdrawal_info), `HMAC` header = HMAC-SHA512(private key, body); hosted page
  `/coinpayments/index.php?cmd=checkout&id=<txn>`. IPNs are forms with `HMAC` =
  HMAC-SHA512(IPN secret, body).

Hosted pages show the merchant, amount and currency with three buttons (Pay, Decline, Let it
expire). The outcome is delivered as the provider's webhook(s) to the payment's notify URL in a
background thread, with retries on anything but a 2xx answer; `sync_delivery` (query flag or
fault) delivers before answering. Refunds and payouts also deliver their webhook.

Control endpoints (JSON) under `/_sandbox/`:

    POST   /_sandbox/<psp>/payments/<ref>/pay | /decline | /expire   complete a hosted payment
    POST   /_sandbox/<psp>/disputes            {payment_reference, amount?, reason?}
    POST   /_sandbox/<psp>/disputes/<id>       {outcome: "won" | "lost"}
    GET    /_sandbox/<psp>/activity            every money movement, signed (+ in, - out)
    GET    /_sandbox/<psp>/statement?from=&to=&format=stripe_csv|camt053|mt940|csv[&currency=]
    GET    /_sandbox/deliveries                the webhook delivery log
    GET    /_sandbox/faults, POST /_sandbox/faults {...}, DELETE /_sandbox/faults
    POST   /_sandbox/reset

Faults: duplicate_deliveries (n), shuffle, payout_delay_seconds, drop_after_request,
fail_payouts, sync_delivery, and the delivery retry policy (delivery_attempts,
delivery_backoff_seconds).

Statements: each row's reference is the id the provider's API and webhooks gave that operation
(pi_/re_/dp_ at Stripe, pay_/act_/dsp_ at Checkout.com, mb_transaction_id at Skrill, CP…/CW… at
CoinPayments). Categories: charge, refund, dispute, dispute_reversal; a client payout is
"refund" at Stripe (a card is paid back by refunding it) and "withdrawal" elsewhere, because
"payout" names the provider settling to the merchant's bank, which reconciliation skips.

Where the sandbox is simpler than the real providers: every operation's outcome is decided at
once (a "pending" answer is followed by its webhook);
Checkout.com's payment_id in the hosted-payment answer, Skrill's status_trn for refunds and
transfers, and CoinPayments' sender_address and get_withdrawal_info by note are served as the
product's adapters call them; Skrill posts nothing when a chargeback is decided; card payouts
at Checkout.com and wallet/crypto payouts are not limited by the funding payment or a balance.

This module imports nothing from the product: the signing schemes are written out here again.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import logging
import os
import random
import re
import secrets
import string
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape as xml_escape

import pycountry

from . import statements as writers

log = logging.getLogger(__name__)

PSPS = ("stripe", "checkout", "skrill", "coinpayments")
PSP_NAMES = {
    "stripe": "Stripe",
    "checkout": "Checkout.com",
    "skrill": "Skrill",
    "coinpayments": "CoinPayments",
}
MERCHANT_NAME = os.environ.get("SANDBOX_MERCHANT_NAME", "Brokerage (sandbox)")

# Account identifiers printed on bank-format statements (example IBANs with valid check digits).
STATEMENT_ACCOUNTS = {
    "stripe": "GB82WEST12345698765432",
    "checkout": "GB33BUKB20201555555555",
    "skrill": "GB94BARC10201530093459",
    "coinpayments": "DE89370400440532013000",
}

DEFAULT_FAULTS = {
    "duplicate_deliveries": 1,
    "shuffle": False,
    "payout_delay_seconds": 0.0,
    "drop_after_request": False,
    "fail_payouts": False,
    "sync_delivery": False,
    "delivery_attempts": 5,
    "delivery_backoff_seconds": 0.5,
}
DELIVERY_TIMEOUT_SECONDS = 10.0


def sandbox_config() -> dict[str, dict[str, str]]:
    """Each provider's credentials: the product's environment variables, with the sandbox
    defaults that `brokerage.settings.dev` gives them."""
    env = os.environ.get
    return {
        "stripe": {
            "secret_key": env("STRIPE_SECRET_KEY", "sk_test_sandbox"),
            "webhook_secret": env("STRIPE_WEBHOOK_SECRET", "whsec_sandbox"),
        },
        "checkout": {
            "secret_key": env("CHECKOUT_SECRET_KEY", "sk_sbox_sandbox"),
            "webhook_secret": env("CHECKOUT_WEBHOOK_SECRET", "cko_whsec_sandbox"),
        },
        "skrill": {
            "merchant_id": env("SKRILL_MERCHANT_ID", "5000001"),
            "pay_to_email": env("SKRILL_PAY_TO_EMAIL", "payments@brokerage.example"),
            "secret_word": env("SKRILL_SECRET_WORD", "skrill-sandbox-secret"),
            "api_password": env("SKRILL_API_PASSWORD", "skrill-sandbox-api"),
        },
        "coinpayments": {
            "merchant_id": env("COINPAYMENTS_MERCHANT_ID", "cp-sandbox-merchant"),
            "ipn_secret": env("COINPAYMENTS_IPN_SECRET", "cp-ipn-sandbox"),
            "public_key": env("COINPAYMENTS_PUBLIC_KEY", "cp-public-sandbox"),
            "private_key": env("COINPAYMENTS_PRIVATE_KEY", "cp-private-sandbox"),
        },
    }


# --- money ---------------------------------------------------------------------------------------

_ZERO_DECIMAL = frozenset(
    ["BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI"]
    + ["VND", "VUV", "XAF", "XOF", "XPF"]
)
_THREE_DECIMAL = frozenset(["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"])
_NON_MONEY = frozenset(
    {"XAG", "XAU", "XPD", "XPT", "XBA", "XBB", "XBC", "XBD", "XDR", "XSU", "XUA", "XTS", "XXX"}
)
# Stripe's minor units where they differ from ISO 4217.
_STRIPE_EXPONENTS = {"ISK": 2, "MGA": 0}
_MAJOR = re.compile(r"\d{1,13}(\.\d{1,8})?")
_MINOR = re.compile(r"\d{1,15}")
MAX_AMOUNT = Decimal("1000000000000")

# What one coin is worth in USD, and one unit of a fiat currency (CoinPayments' rates).
COIN_USD = {
    "BTC": Decimal("60000"),
    "ETH": Decimal("3000"),
    "LTC": Decimal("80"),
    "LTCT": Decimal("80"),
    "USDT": Decimal("1"),
}
FIAT_USD = {"USD": Decimal("1"), "EUR": Decimal("1.08"), "GBP": Decimal("1.27")}
COIN_PLACES = Decimal("0.00000001")


def is_currency(code: object) -> bool:
    return (
        isinstance(code, str)
        and len(code) == 3
        and code.isascii()
        and code.isupper()
        and code not in _NON_MONEY
        and pycountry.currencies.get(alpha_3=code) is not None
    )


def exponent(currency: str) -> int:
    return 0 if currency in _ZERO_DECIMAL else 3 if currency in _THREE_DECIMAL else 2


def stripe_exponent(currency: str) -> int:
    return _STRIPE_EXPONENTS.get(currency, exponent(currency))


def to_minor(amount: Decimal, places: int) -> int:
    return int(amount.scaleb(places))


def major_text(amount: Decimal, currency: str) -> str:
    return str(amount.quantize(Decimal(1).scaleb(-exponent(currency))))


def parse_major(text: object, currency: str) -> Decimal | None:
    """A positive decimal string with at most the currency's decimals, else None."""
    if not isinstance(text, str) or not _MAJOR.fullmatch(text.strip()):
        return None
    amount = Decimal(text.strip())
    places = exponent(currency)
    if amount <= 0 or amount > MAX_AMOUNT or amount != amount.quantize(Decimal(1).scaleb(-places)):
        return None
    return amount.quantize(Decimal(1).scaleb(-places))


def parse_minor(value: object) -> int | None:
    """A positive whole number of minor units (a JSON int or a digit string), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 < value <= 10**15 else None
    if isinstance(value, str) and _MINOR.fullmatch(value):
        number = int(value)
        return number if number > 0 else None
    return None


def coin_amount(fiat: Decimal, currency: str, coin: str) -> Decimal:
    usd = fiat * FIAT_USD.get(currency, Decimal(1))
    return (usd / COIN_USD[coin]).quantize(COIN_PLACES)


# --- signing: pure helpers for tests ----------------------------------------------------------


def _hmac_hex(secret: str, message: bytes, digest: str) -> str:
    return hmac.new(secret.encode(), message, digest).hexdigest()


def _md5_hex(value: str) -> str:
    return hashlib.md5(value.encode()).hexdigest()  # noqa: S324 (Skrill's protocol)


def skrill_signature(fields: Mapping[str, str], secret_word: str) -> str:
    """md5sig = UPPER(MD5(merchant_id + transaction_id + UPPER(MD5(secret)) + mb_amount +
    mb_currency + status))."""
    return _md5_hex(
        str(fields.get("merchant_id", ""))
        + str(fields.get("transaction_id", ""))
        + _md5_hex(secret_word).upper()
        + str(fields.get("mb_amount", ""))
        + str(fields.get("mb_currency", ""))
        + str(fields.get("status", ""))
    ).upper()


def _psp_config(psp: str, config: Mapping[str, str] | None) -> Mapping[str, str]:
    if psp not in PSPS:
        raise ValueError(f"unknown PSP {psp!r} (known: {', '.join(PSPS)})")
    return config if config is not None else sandbox_config()[psp]


def _as_body(payload, *, form: bool) -> bytes:
    if isinstance(payload, bytes):
        return payload
    if isinstance(payload, str):
        return payload.encode()
    if form:
        return urllib.parse.urlencode([(k, str(v)) for k, v in payload.items()]).encode()
    return json.dumps(payload, default=str).encode()


def signed_webhook(
    psp: str, payload, *, config: Mapping[str, str] | None = None, timestamp: int | None = None
) -> tuple[dict[str, str], bytes]:
    """(headers, body) of a webhook as `psp` sends it, signed with `config`'s secret (the PSP's
    settings entry; the sandbox's by default).

    `payload` is a dict (JSON for Stripe and Checkout.com, form fields for Skrill and
    CoinPayments) or the raw body as bytes/str. Skrill fields without `md5sig` get one.
    `timestamp` is Stripe's signed time (now by default).
    """
    conf = _psp_config(psp, config)
    if psp == "stripe":
        body = _as_body(payload, form=False)
        t = int(time.time()) if timestamp is None else int(timestamp)
        signature = _hmac_hex(conf["webhook_secret"], f"{t}.".encode() + body, "sha256")
        return {
            "Content-Type": "application/json",
            "Stripe-Signature": f"t={t},v1={signature}",
        }, body
    if psp == "checkout":
        body = _as_body(payload, form=False)
        signature = _hmac_hex(conf["webhook_secret"], body, "sha256")
        return {"Content-Type": "application/json", "Cko-Signature": signature}, body
    form_headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if psp == "skrill":
        if isinstance(payload, Mapping) and "md5sig" not in payload:
            payload = {**payload, "md5sig": skrill_signature(payload, conf["secret_word"])}
        return form_headers, _as_body(payload, form=True)
    body = _as_body(payload, form=True)
    return {**form_headers, "HMAC": _hmac_hex(conf["ipn_secret"], body, "sha512")}, body


def _new_id(prefix: str, length: int = 24) -> str:
    alphabet = string.ascii_letters + string.digits
    return prefix + "".join(secrets.choice(alphabet) for _ in range(length))


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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


def checkout_event(type: str, data: dict, *, event_id: str | None = None) -> dict:
    """A Checkout.com webhook event around `data`."""
    return {
        "id": event_id or "evt_" + secrets.token_hex(13),
        "type": type,
        "version": "1.0.33",
        "created_on": _iso(datetime.now(UTC)),
        "data": data,
        "_links": {},
    }


def skrill_status(
    *, transaction_id: str, mb_transaction_id: str, amount, currency: str, status, **extra
) -> dict:
    """A Skrill status post's fields, with a correct md5sig. `extra` adds or overrides fields
    (merchant_id, operation, …); `config=` (Skrill's settings entry) picks other secrets."""
    conf = _psp_config("skrill", extra.pop("config", None))
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


def coinpayments_ipn(fields: Mapping[str, object], *, config: Mapping | None = None) -> dict:
    """An IPN's fields: `fields` over the envelope CoinPayments always sends (ipn_version,
    ipn_id, ipn_mode=hmac, merchant)."""
    conf = _psp_config("coinpayments", config)
    ipn = {
        "ipn_version": "1.0",
        "ipn_id": secrets.token_hex(16),
        "ipn_mode": "hmac",
        "merchant": conf.get("merchant_id", ""),
    }
    ipn.update({k: str(v) for k, v in fields.items()})
    return ipn


# --- state -----------------------------------------------------------------------------------


@dataclass
class Payment:
    psp: str
    provider_reference: str  # what create_payment answered (pi_…, pay_…, SID, CP…)
    reference: str  # ours
    amount: Decimal
    currency: str
    notify_url: str
    success_url: str
    cancel_url: str
    customer_email: str
    created_at: datetime
    ids: dict = field(default_factory=dict)  # provider-specific ids and details
    status: str = "open"  # open, succeeded, failed, expired
    refunded: Decimal = Decimal(0)  # refunded, or being refunded (pending)
    disputed: Decimal = Decimal(0)
    paid_at: datetime | None = None

    @property
    def reported_reference(self) -> str:
        """The id the provider's webhooks and statements use for this payment."""
        return self.ids.get("mb_transaction_id") or self.provider_reference

    @property
    def unrefunded(self) -> Decimal:
        return self.amount - self.refunded - self.disputed

    def as_json(self) -> dict:
        return {
            "psp": self.psp,
            "provider_reference": self.provider_reference,
            "reported_reference": self.reported_reference,
            "reference": self.reference,
            "amount": major_text(self.amount, self.currency),
            "currency": self.currency,
            "status": self.status,
            "refunded": major_text(self.refunded, self.currency),
            "disputed": major_text(self.disputed, self.currency),
            "notify_url": self.notify_url,
        }


@dataclass
class Operation:
    """A refund or a payout."""

    psp: str
    kind: str  # refund, payout
    provider_reference: str
    reference: str  # ours
    payment: Payment | None
    amount: Decimal
    currency: str
    status: str  # succeeded, pending, failed (the final outcome is already decided)
    outcome: str  # succeeded or failed: what the webhook will say
    created_at: datetime
    notify_url: str
    ids: dict = field(default_factory=dict)
    detail: str = ""


@dataclass
class Dispute:
    psp: str
    id: str
    provider_reference: str  # what the chargeback webhook reports
    payment: Payment
    amount: Decimal
    currency: str
    reason: str
    created_at: datetime
    status: str = "open"


@dataclass
class Movement:
    psp: str
    kind: str  # payment, refund, payout, dispute, dispute_reversal
    provider_reference: str
    reference: str
    payment_reference: str
    amount: Decimal  # signed: + money in to the merchant, - out
    currency: str
    booked_at: datetime
    description: str

    def as_json(self) -> dict:
        return {
            "kind": self.kind,
            "provider_reference": self.provider_reference,
            "reference": self.reference,
            "payment_reference": self.payment_reference,
            "amount": str(self.amount),
            "currency": self.currency,
            "booked_at": _iso(self.booked_at),
            "description": self.description,
        }


@dataclass
class Delivery:
    psp: str
    url: str
    headers: dict
    body: bytes
    label: str  # event type / status, for the log


@dataclass
class StatementLine:
    """One statement row, with the attributes the statement writers read."""

    line_no: int
    reference: str
    amount: Decimal
    currency: str
    booked_on: date
    description: str
    category: str
    payment_reference: str


@dataclass
class Resp:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict = field(default_factory=dict)
    deliveries: list = field(default_factory=list)  # webhooks to send for this answer
    operation: bool = False  # a refund/payout endpoint: delay and drop faults apply
    sync: bool = False

    def replay(self) -> Resp:
        return Resp(self.status, self.body, self.content_type, dict(self.headers))


def json_resp(payload, status: int = 200, **kwargs) -> Resp:
    return Resp(status, json.dumps(payload, default=str).encode(), **kwargs)


def control_error(status: int, code: str, detail: str) -> Resp:
    return json_resp({"error": code, "detail": detail}, status)


class Request:
    def __init__(self, method: str, path: str, headers, body: bytes, host: str):
        self.method = method
        url = urllib.parse.urlsplit(path)
        self.path = url.path
        self.raw_query = url.query
        self.query = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        self.headers = headers
        self.body = body
        self.base = f"http://{host}"
        self._form: dict | None = None

    def header(self, name: str) -> str:
        return self.headers.get(name) or ""

    @property
    def form(self) -> dict[str, str]:
        if self._form is None:
            try:
                pairs = urllib.parse.parse_qsl(self.body.decode(), keep_blank_values=True)
            except UnicodeDecodeError:
                pairs = []
            self._form = dict(pairs)
        return self._form

    def json(self):
        try:
            return json.loads(self.body or b"{}")
        except (ValueError, UnicodeDecodeError):
            return None

    def flag(self, name: str) -> bool:
        return self.query.get(name, "").lower() in ("1", "true", "yes")


class Sandbox:
    """The providers' state, in memory, under one lock."""

    def __init__(self, config: Mapping[str, Mapping[str, str]] | None = None):
        self.config = {psp: dict(conf) for psp, conf in (config or sandbox_config()).items()}
        self.lock = threading.RLock()
        self.generation = 0
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.generation += 1
            self.payments: dict[tuple[str, str], Payment] = {}  # every id -> payment
            self.payment_list: list[Payment] = []
            self.operations: list[Operation] = []
            self.disputes: dict[tuple[str, str], Dispute] = {}
            self.activity: list[Movement] = []
            self.idempotency: dict[tuple[str, str], Resp] = {}
            self.skrill_prepared: dict[str, tuple[str, dict]] = {}  # SID -> (action, fields)
            self.last_ipn_url = ""
            self.deliveries: list[dict] = []
            self.faults = dict(DEFAULT_FAULTS)
            self.skrill_next = 400000000 + random.randrange(10**7)

    # --- records ---------------------------------------------------------------------------

    def add_payment(self, payment: Payment, *keys: str) -> None:
        self.payment_list.append(payment)
        for key in (payment.provider_reference, *keys):
            if key:
                self.payments[(payment.psp, key)] = payment

    def find_payment(self, psp: str, key: str) -> Payment | None:
        found = self.payments.get((psp, key))
        if found is None and key:
            for payment in self.payment_list:
                if payment.psp == psp and payment.reference == key:
                    return payment
        return found

    def find_operation(self, psp: str, **match) -> Operation | None:
        for op in self.operations:
            if op.psp == psp and all(getattr(op, k) == v for k, v in match.items()):
                return op
        return None

    def book(
        self,
        psp: str,
        kind: str,
        provider_reference: str,
        reference: str,
        amount: Decimal,
        currency: str,
        description: str,
        payment_reference: str = "",
    ) -> None:
        self.activity.append(
            Movement(
                psp,
                kind,
                provider_reference,
                reference,
                payment_reference,
                amount,
                currency,
                datetime.now(UTC),
                description,
            )
        )

    def skrill_id(self) -> str:
        self.skrill_next += random.randint(1, 97)
        return str(self.skrill_next)

    def fault(self, name: str):
        return self.faults.get(name, DEFAULT_FAULTS[name])

    # --- webhooks --------------------------------------------------------------------------

    def webhook(self, psp: str, url: str, payload, label: str) -> Delivery | None:
        if not url or urllib.parse.urlsplit(url).scheme not in ("http", "https"):
            return None
        headers, body = signed_webhook(psp, payload, config=self.config[psp])
        return Delivery(psp, url, headers, body, label)

    def run_deliveries(self, batch: list[Delivery], *, sync: bool) -> None:
        batch = [d for d in batch if d is not None]
        if not batch:
            return
        with self.lock:
            copies = max(1, int(self.fault("duplicate_deliveries")))
            shuffle = bool(self.fault("shuffle"))
            attempts = max(1, int(self.fault("delivery_attempts")))
            backoff = float(self.fault("delivery_backoff_seconds"))
            generation = self.generation
            sync = sync or bool(self.fault("sync_delivery"))
            items = []
            for delivery in batch:
                for _ in range(copies):
                    record = {
                        "psp": delivery.psp,
                        "url": delivery.url,
                        "event": delivery.label,
                        "status": "pending",
                        "attempts": 0,
                        "last_status": None,
                    }
                    self.deliveries.append(record)
                    items.append((delivery, record))
        if shuffle:
            random.shuffle(items)

        def send_all():
            for delivery, record in items:
                self._send(delivery, record, attempts, backoff, generation)

        if sync:
            send_all()
        else:
            threading.Thread(target=send_all, name="psp-webhooks", daemon=True).start()

    def _send(self, delivery: Delivery, record: dict, attempts: int, backoff: float, generation):
        for attempt in range(attempts):
            if generation != self.generation:
                return
            request = urllib.request.Request(  # noqa: S310 (http(s) checked in webhook())
                delivery.url, data=delivery.body, method="POST", headers=delivery.headers
            )
            try:
                with urllib.request.urlopen(request, timeout=DELIVERY_TIMEOUT_SECONDS) as resp:  # noqa: S310
                    status = resp.status
            except urllib.error.HTTPError as err:
                status = err.code
            except (urllib.error.URLError, OSError) as err:
                status = f"unreachable: {getattr(err, 'reason', err)}"
            with self.lock:
                record["attempts"] = attempt + 1
                record["last_status"] = status
                ok = isinstance(status, int) and 200 <= status < 300
                record["status"] = "delivered" if ok else "retrying"
            if ok:
                return
            if attempt + 1 < attempts:
                time.sleep(backoff * 2**attempt)
        with self.lock:
            record["status"] = "failed"
        log.info("webhook %s to %s given up: %s", delivery.label, delivery.url, record)


# --- hosted payment pages ----------------------------------------------------------------------

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body{{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f3f4f6;
margin:0;color:#111827}}
main{{max-width:420px;margin:64px auto;background:#fff;border-radius:12px;padding:32px;
box-shadow:0 4px 24px rgba(0,0,0,.08)}}
h1{{font-size:1.1rem;margin:0 0 4px}} .psp{{color:#6b7280;font-size:.85rem;margin-bottom:24px}}
.amount{{font-size:2rem;font-weight:700;margin:8px 0 4px}} .muted{{color:#6b7280}}
dl{{display:grid;grid-template-columns:auto 1fr;gap:6px 12px;font-size:.9rem}}
dt{{color:#6b7280}} dd{{margin:0;word-break:break-all}}
form{{display:grid;gap:10px;margin-top:24px}}
button{{font:inherit;padding:12px;border-radius:8px;border:1px solid #d1d5db;
background:#fff;cursor:pointer}}
button.pay{{background:#2563eb;border-color:#2563eb;color:#fff;font-weight:600}}
.done{{padding:12px;border-radius:8px;background:#f3f4f6}}
</style></head>
<body><main>
<h1>{merchant}</h1>
<div class="psp">{psp} &middot; sandbox checkout</div>
<div class="muted">Amount due</div>
<div class="amount">{amount} {currency}</div>
<dl><dt>Reference</dt><dd>{reference}</dd><dt>Payment</dt><dd>{provider_reference}</dd>
{extra}</dl>
{action}
</main></body></html>
"""


def render_page(payment: Payment, action_url: str) -> bytes:
    if payment.status == "open":
        action = (
            f'<form method="post" action="{html.escape(action_url)}">'
            '<button class="pay" type="submit" name="outcome" value="pay">Pay</button>'
            '<button type="submit" name="outcome" value="decline">Decline</button>'
            '<button type="submit" name="outcome" value="expire">Let it expire</button>'
            "</form>"
        )
    else:
        action = f'<p class="done">This payment is {html.escape(payment.status)}.</p>'
    extra = ""
    if payment.psp == "coinpayments":
        extra = (
            f"<dt>Pay in</dt><dd>{html.escape(payment.ids['coin_amount'])} "
            f"{html.escape(payment.ids['coin'])}</dd>"
            f"<dt>To address</dt><dd>{html.escape(payment.ids['payment_address'])}</dd>"
        )
    if payment.customer_email:
        extra += f"<dt>Customer</dt><dd>{html.escape(payment.customer_email)}</dd>"
    return _PAGE.format(
        title=html.escape(f"Pay {MERCHANT_NAME}"),
        merchant=html.escape(MERCHANT_NAME),
        psp=html.escape(PSP_NAMES[payment.psp]),
        amount=html.escape(major_text(payment.amount, payment.currency)),
        currency=html.escape(payment.currency),
        reference=html.escape(payment.reference or "-"),
        provider_reference=html.escape(payment.reported_reference),
        extra=extra,
        action=action,
    ).encode()


# --- the application -----------------------------------------------------------------------

Route = tuple[str, re.Pattern, Callable]


class PspApp:
    def __init__(self, sandbox: Sandbox):
        self.sb = sandbox
        self.routes: list[Route] = []
        add = self._route
        # Stripe
        add("POST", r"/stripe/v1/checkout/sessions", self.stripe_create_session)
        add("POST", r"/stripe/v1/refunds", self.stripe_refund)
        add("GET", r"/stripe/v1/refunds", self.stripe_refund_list)
        add("GET", r"/stripe/c/pay/(?P<key>[\w-]+)", self.page_get)
        add("POST", r"/stripe/c/pay/(?P<key>[\w-]+)", self.page_post)
        # Checkout.com
        add("POST", r"/checkout/hosted-payments", self.checkout_hosted_payment)
        add("POST", r"/checkout/payments/(?P<pay>[\w-]+)/refunds", self.checkout_refund)
        add("POST", r"/checkout/payments", self.checkout_payout)
        add("GET", r"/checkout/payments", self.checkout_payment_search)
        add("GET", r"/checkout/payments/(?P<pay>[\w-]+)/actions", self.checkout_actions)
        add("GET", r"/checkout/page/(?P<key>[\w-]+)", self.page_get)
        add("POST", r"/checkout/page/(?P<key>[\w-]+)", self.page_post)
        # Skrill
        add("POST", r"/skrill/pay", self.skrill_pay)
        add("GET", r"/skrill/app/", self.page_get)
        add("POST", r"/skrill/app/", self.page_post)
        add("POST", r"/skrill/app/refund\.pl", self.skrill_refund)
        add("POST", r"/skrill/app/pay\.pl", self.skrill_transfer)
        add("POST", r"/skrill/app/query\.pl", self.skrill_query)
        # CoinPayments
        add("POST", r"/coinpayments/api\.php", self.coinpayments_api)
        add("GET", r"/coinpayments/index\.php", self.page_get)
        add("POST", r"/coinpayments/index\.php", self.page_post)
        # control
        psp = r"(?P<psp>stripe|checkout|skrill|coinpayments)"
        add(
            "POST",
            rf"/_sandbox/{psp}/payments/(?P<ref>[^/]+)/(?P<outcome>pay|decline|expire)",
            self.control_complete,
        )
        add("GET", rf"/_sandbox/{psp}/payments/(?P<ref>[^/]+)", self.control_payment)
        add("POST", rf"/_sandbox/{psp}/disputes", self.control_dispute_open)
        add("POST", rf"/_sandbox/{psp}/disputes/(?P<id>[^/]+)", self.control_dispute_close)
        add("GET", rf"/_sandbox/{psp}/activity", self.control_activity)
        add("GET", rf"/_sandbox/{psp}/statement", self.control_statement)
        add("GET", r"/_sandbox/deliveries", self.control_deliveries)
        add("GET", r"/_sandbox/faults", self.control_faults)
        add("POST", r"/_sandbox/faults", self.control_faults)
        add("DELETE", r"/_sandbox/faults", self.control_faults)
        add("POST", r"/_sandbox/reset", self.control_reset)

    def _route(self, method: str, pattern: str, handler: Callable) -> None:
        self.routes.append((method, re.compile(pattern + r"/?\Z"), handler))

    def dispatch(self, req: Request) -> Resp:
        allowed = False
        for method, pattern, handler in self.routes:
            match = pattern.match(req.path)
            if match:
                if method == req.method:
                    return handler(req, **match.groupdict())
                allowed = True
        if allowed:
            return control_error(405, "method_not_allowed", f"{req.method} {req.path}")
        return control_error(404, "not_found", f"no sandbox endpoint at {req.path}")

    def idempotent(self, psp: str, key: str, make: Callable[[], Resp]) -> Resp:
        """The first answer to `key`, replayed; `make` runs (under the lock) only once."""
        with self.sb.lock:
            if key and (psp, key) in self.sb.idempotency:
                replay = self.sb.idempotency[(psp, key)].replay()
                replay.headers["Idempotent-Replayed"] = "true"
                return replay
            resp = make()
            if key and resp.status < 500:
                self.sb.idempotency[(psp, key)] = resp
            return resp

    def conf(self, psp: str) -> dict:
        return self.sb.config[psp]

    # --- outcomes of payments ---------------------------------------------------------------

    def complete(self, payment: Payment, outcome: str) -> list[Delivery]:
        """Record a hosted payment's outcome (pay, decline, expire); the webhooks to send."""
        sb = self.sb
        with sb.lock:
            if payment.status != "open":
                return []
            now = datetime.now(UTC)
            payment.status = {"pay": "succeeded", "decline": "failed", "expire": "expired"}[outcome]
            if outcome == "pay":
                payment.paid_at = now
                if payment.psp == "coinpayments":
                    payment.ids["sender_address"] = _btc_address()
                sb.book(
                    payment.psp,
                    "payment",
                    payment.reported_reference,
                    payment.reference,
                    payment.amount,
                    payment.currency,
                    f"Deposit {payment.reference}".strip(),
                )
            return getattr(self, f"{payment.psp}_payment_webhooks")(payment, outcome)

    def page_lookup(self, req: Request, key: str | None) -> Payment | None:
        if req.path.startswith("/skrill/"):
            return self.sb.find_payment("skrill", req.query.get("sid", ""))
        if req.path.startswith("/coinpayments/"):
            if req.query.get("cmd") != "checkout":
                return None
            return self.sb.find_payment("coinpayments", req.query.get("id", ""))
        psp = "stripe" if req.path.startswith("/stripe/") else "checkout"
        return self.sb.find_payment(psp, key or "")

    def page_get(self, req: Request, key: str | None = None) -> Resp:
        payment = self.page_lookup(req, key)
        if payment is None:
            return Resp(
                404,
                b"<!doctype html><title>Not found</title><p>No such payment page.",
                "text/html; charset=utf-8",
            )
        action = req.path + ("?" + req.raw_query if req.raw_query else "")
        return Resp(200, render_page(payment, action), "text/html; charset=utf-8")

    def page_post(self, req: Request, key: str | None = None) -> Resp:
        payment = self.page_lookup(req, key)
        if payment is None:
            return Resp(404, b"No such payment page.", "text/plain")
        outcome = req.form.get("outcome", "")
        if outcome not in ("pay", "decline", "expire"):
            return Resp(400, b"outcome must be pay, decline or expire", "text/plain")
        deliveries = self.complete(payment, outcome)
        paid = payment.status == "succeeded"
        target = payment.success_url if paid else payment.cancel_url
        if payment.psp == "stripe":
            target = target.replace("{CHECKOUT_SESSION_ID}", payment.ids["session_id"])
        if payment.psp == "checkout" and payment.status == "failed":
            target = payment.ids.get("failure_url") or target
        if not target:
            return Resp(
                200,
                render_page(payment, ""),
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

    # --- Stripe -------------------------------------------------------------------------------

    @staticmethod
    def stripe_error(status: int, message: str, *, code: str = "", param: str = "") -> Resp:
        error = {"message": message, "type": "invalid_request_error"}
        if code:
            error["code"] = code
        if param:
            error["param"] = param
        return json_resp({"error": error}, status)

    def stripe_auth(self, req: Request) -> Resp | None:
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
            return self.stripe_error(
                401,
                "You did not provide an API key. Provide it in the Authorization header "
                "(Authorization: Bearer YOUR_SECRET_KEY).",
            )
        if not hmac.compare_digest(key.encode(), self.conf("stripe")["secret_key"].encode()):
            return self.stripe_error(401, f"Invalid API Key provided: {key[:8]}****{key[-4:]}")
        return None

    def stripe_create_session(self, req: Request) -> Resp:
        refused = self.stripe_auth(req)
        if refused:
            return refused
        return self.idempotent(
            "stripe", req.header("Idempotency-Key"), lambda: self._stripe_session(req)
        )

    def _stripe_session(self, req: Request) -> Resp:
        f = req.form
        if f.get("mode") != "payment":
            return self.stripe_error(400, "Invalid mode: must be payment", param="mode")
        currency = f.get("line_items[0][price_data][currency]", "")
        if not currency.islower() or not is_currency(currency.upper()):
            return self.stripe_error(
                400,
                f"Invalid currency: {currency}",
                code="parameter_invalid_string",
                param="line_items[0][price_data][currency]",
            )
        currency = currency.upper()
        unit = parse_minor(f.get("line_items[0][price_data][unit_amount]"))
        quantity = parse_minor(f.get("line_items[0][quantity]", "1"))
        if unit is None or quantity is None:
            return self.stripe_error(
                400,
                "Invalid integer: unit_amount must be a positive integer",
                code="parameter_invalid_integer",
                param="line_items[0][price_data][unit_amount]",
            )
        total = unit * quantity
        if total > 99999999:
            return self.stripe_error(
                400,
                "Amount must be no more than 999,999.99",
                code="amount_too_large",
                param="line_items[0][price_data][unit_amount]",
            )
        places = stripe_exponent(currency)
        amount = Decimal(total).scaleb(-places)
        if amount != amount.quantize(Decimal(1).scaleb(-exponent(currency))):
            return self.stripe_error(
                400, f"{currency} amounts must be whole {currency}", code="invalid_amount"
            )
        if not f.get("success_url"):
            return self.stripe_error(
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
        return json_resp(self._stripe_session_json(payment, req.base))

    def _stripe_session_json(self, p: Payment, base: str) -> dict:
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

    def _stripe_intent_json(self, p: Payment, outcome: str) -> dict:
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

    def stripe_payment_webhooks(self, p: Payment, outcome: str) -> list[Delivery]:
        if outcome == "expire":
            event = stripe_event("checkout.session.expired", self._stripe_session_json(p, ""))
            del event["data"]["object"]["url"]
        else:
            kind = (
                "payment_intent.succeeded" if outcome == "pay" else "payment_intent.payment_failed"
            )
            event = stripe_event(kind, self._stripe_intent_json(p, outcome))
        return [self.sb.webhook("stripe", p.notify_url, event, event["type"])]

    def stripe_refund(self, req: Request) -> Resp:
        refused = self.stripe_auth(req)
        if refused:
            return refused
        resp = self.idempotent(
            "stripe", req.header("Idempotency-Key"), lambda: self._stripe_refund(req)
        )
        resp.operation = True
        return resp

    def _stripe_refund(self, req: Request) -> Resp:
        f, sb = req.form, self.sb
        key = f.get("payment_intent") or f.get("charge") or ""
        payment = sb.payments.get(("stripe", key))
        if payment is None or key not in (payment.provider_reference, payment.ids["charge_id"]):
            param = "charge" if f.get("charge") else "payment_intent"
            return self.stripe_error(
                404, f"No such {param}: '{key}'", code="resource_missing", param=param
            )
        if payment.status != "succeeded":
            return self.stripe_error(
                400,
                f"This PaymentIntent ({payment.provider_reference}) does not have a "
                "successful charge to refund.",
                code="charge_not_refundable",
            )
        places = stripe_exponent(payment.currency)
        if "amount" in f:
            minor = parse_minor(f["amount"])
            if minor is None:
                return self.stripe_error(
                    400,
                    "Invalid positive integer",
                    code="parameter_invalid_integer",
                    param="amount",
                )
            amount = Decimal(minor).scaleb(-places)
            if amount != amount.quantize(Decimal(1).scaleb(-exponent(payment.currency))):
                return self.stripe_error(
                    400, "Invalid amount", code="invalid_amount", param="amount"
                )
        else:
            amount = payment.unrefunded
        if payment.unrefunded <= 0:
            return self.stripe_error(
                400,
                f"Charge {payment.ids['charge_id']} has already been refunded.",
                code="charge_already_refunded",
            )
        if amount > payment.unrefunded:
            return self.stripe_error(
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
        refund = self._stripe_refund_json(op, final=False)
        final = self._stripe_refund_json(op, final=True)
        event_type = "refund.failed" if fails else "refund.created"
        event = stripe_event(event_type, final)
        return json_resp(
            refund, deliveries=[sb.webhook("stripe", op.notify_url, event, event_type)]
        )

    def _stripe_refund_json(self, op: Operation, *, final: bool) -> dict:
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

    def stripe_refund_list(self, req: Request) -> Resp:
        """`GET /v1/refunds?payment_intent=pi_…`: the payment's refunds, newest first."""
        refused = self.stripe_auth(req)
        if refused:
            return refused
        intent = req.query.get("payment_intent", "")
        with self.sb.lock:
            found = [
                self._stripe_refund_json(op, final=True)
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

    # --- Checkout.com --------------------------------------------------------------------------

    @staticmethod
    def checkout_error(status: int, *codes: str, error_type: str = "request_invalid") -> Resp:
        return json_resp(
            {
                "request_id": "req_" + secrets.token_hex(8),
                "error_type": error_type,
                "error_codes": list(codes),
            },
            status,
        )

    def checkout_auth(self, req: Request) -> Resp | None:
        given = req.header("Authorization").strip()
        if given.startswith("Bearer "):
            given = given[len("Bearer ") :].strip()
        if not given or not hmac.compare_digest(
            given.encode(), self.conf("checkout")["secret_key"].encode()
        ):
            return Resp(401, b"", headers={"Cko-Request-Id": secrets.token_hex(8)})
        return None

    def _checkout_body(self, req: Request) -> dict | Resp:
        body = req.json()
        if not isinstance(body, dict):
            return self.checkout_error(422, "request_body_malformed")
        return body

    def checkout_hosted_payment(self, req: Request) -> Resp:
        refused = self.checkout_auth(req)
        if refused:
            return refused
        key = req.header("Cko-Idempotency-Key")
        return self.idempotent("checkout", key, lambda: self._checkout_hpp(req))

    def _checkout_money(self, body: dict) -> tuple[Decimal, str] | Resp:
        currency = body.get("currency")
        if not is_currency(currency):
            return self.checkout_error(422, "currency_invalid")
        minor = body.get("amount")
        if isinstance(minor, bool) or not isinstance(minor, int) or minor <= 0:
            return self.checkout_error(422, "amount_invalid")
        return Decimal(minor).scaleb(-exponent(currency)), currency

    def _checkout_hpp(self, req: Request) -> Resp:
        body = self._checkout_body(req)
        if isinstance(body, Resp):
            return body
        money = self._checkout_money(body)
        if isinstance(money, Resp):
            return money
        missing = [
            f"{name}_required" for name in ("success_url", "cancel_url") if not body.get(name)
        ]
        if missing:
            return self.checkout_error(422, *missing)
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

    def _checkout_payment_data(self, p: Payment, action_id: str, approved: bool) -> dict:
        return {
            "id": p.provider_reference,
            "action_id": action_id,
            "reference": p.reference,
            "amount": p.ids["minor"],
            "currency": p.currency,
            "processed_on": _iso(datetime.now(UTC)),
            "response_code": "10000" if approved else "20005",
            "response_summary": "Approved" if approved else "Declined - Do Not Honour",
            "metadata": p.ids["metadata"],
            "customer": {"email": p.customer_email},
        }

    def _checkout_action(
        self, p: Payment, kind: str, amount_minor: int, reference: str, approved: bool | None
    ) -> str:
        action_id = "act_" + secrets.token_hex(13)
        p.ids["actions"].append(
            {
                "id": action_id,
                "type": kind,
                "processed_on": _iso(datetime.now(UTC)),
                "amount": amount_minor,
                "approved": approved,
                "response_code": "10000" if approved else "20005",
                "response_summary": "Approved" if approved else "Declined - Do Not Honour",
                "reference": reference,
            }
        )
        return action_id

    def checkout_payment_webhooks(self, p: Payment, outcome: str) -> list[Delivery]:
        sb, events = self.sb, []
        if outcome == "pay":
            auth = self._checkout_action(p, "Authorization", p.ids["minor"], p.reference, True)
            capture = self._checkout_action(p, "Capture", p.ids["minor"], p.reference, True)
            events.append(
                checkout_event("payment_approved", self._checkout_payment_data(p, auth, True))
            )
            events.append(
                checkout_event("payment_captured", self._checkout_payment_data(p, capture, True))
            )
        elif outcome == "decline":
            auth = self._checkout_action(p, "Authorization", p.ids["minor"], p.reference, False)
            events.append(
                checkout_event("payment_declined", self._checkout_payment_data(p, auth, False))
            )
        else:
            data = self._checkout_payment_data(p, "", False)
            del data["action_id"]
            data["response_summary"] = "Expired"
            events.append(checkout_event("payment_expired", data))
        return [sb.webhook("checkout", p.notify_url, e, e["type"]) for e in events]

    def checkout_refund(self, req: Request, pay: str) -> Resp:
        refused = self.checkout_auth(req)
        if refused:
            return refused
        key = req.header("Cko-Idempotency-Key")
        resp = self.idempotent("checkout", key, lambda: self._checkout_refund(req, pay))
        resp.operation = True
        return resp

    def _checkout_refund(self, req: Request, pay: str) -> Resp:
        sb = self.sb
        payment = sb.payments.get(("checkout", pay))
        if payment is None or payment.provider_reference != pay:
            return Resp(404, b"")
        body = self._checkout_body(req)
        if isinstance(body, Resp):
            return body
        if payment.status != "succeeded":
            return self.checkout_error(403, "refund_not_allowed", error_type="action_not_allowed")
        places = exponent(payment.currency)
        if body.get("amount") is None:
            amount = payment.unrefunded
        else:
            minor = body.get("amount")
            if isinstance(minor, bool) or not isinstance(minor, int) or minor <= 0:
                return self.checkout_error(422, "amount_invalid")
            amount = Decimal(minor).scaleb(-places)
        if amount > payment.unrefunded or payment.unrefunded <= 0:
            return self.checkout_error(422, "refund_amount_exceeds_balance")
        reference = str(body.get("reference") or "")
        minor = to_minor(amount, places)
        action_id = self._checkout_action(payment, "Refund", minor, reference, True)
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
            "processed_on": _iso(op.created_at),
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
            deliveries=[sb.webhook("checkout", payment.notify_url, event, event["type"])],
        )

    def checkout_payout(self, req: Request) -> Resp:
        refused = self.checkout_auth(req)
        if refused:
            return refused
        key = req.header("Cko-Idempotency-Key")
        resp = self.idempotent("checkout", key, lambda: self._checkout_payout(req))
        resp.operation = True
        return resp

    def _checkout_payout(self, req: Request) -> Resp:
        sb = self.sb
        body = self._checkout_body(req)
        if isinstance(body, Resp):
            return body
        destination = body.get("destination")
        if not isinstance(destination, dict):
            return self.checkout_error(422, "destination_required")
        funding_id = str(destination.get("id") or "")
        funding = sb.payments.get(("checkout", funding_id))
        if (
            destination.get("type") != "id"
            or funding is None
            or funding.provider_reference != funding_id
            or funding.status != "succeeded"
        ):
            return self.checkout_error(422, "destination_invalid")
        money = self._checkout_money(body)
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
            "processed_on": _iso(op.created_at),
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
            deliveries=[sb.webhook("checkout", op.notify_url, event, event["type"])],
        )

    def _checkout_payment_json(self, p: Payment) -> dict:
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
            "requested_on": _iso(p.created_at),
            "amount": p.ids["minor"],
            "currency": p.currency,
            "reference": p.reference,
            "status": status,
            "approved": p.status == "succeeded",
        }

    def _checkout_payout_json(self, op: Operation) -> dict:
        return {
            "id": op.provider_reference,
            "requested_on": _iso(op.created_at),
            "amount": op.ids["minor"],
            "currency": op.currency,
            "reference": op.reference,
            "status": {"succeeded": "Paid", "failed": "Declined"}[op.outcome],
            "approved": op.outcome == "succeeded",
            "response_summary": op.detail,
        }

    def checkout_payment_search(self, req: Request) -> Resp:
        refused = self.checkout_auth(req)
        if refused:
            return refused
        reference = req.query.get("reference", "")
        if not reference:
            return self.checkout_error(422, "reference_required")
        with self.sb.lock:
            data = [
                self._checkout_payment_json(p)
                for p in self.sb.payment_list
                if p.psp == "checkout" and p.reference == reference
            ] + [
                self._checkout_payout_json(op)
                for op in self.sb.operations
                if op.psp == "checkout" and op.kind == "payout" and op.reference == reference
            ]
        return json_resp({"limit": 10, "skip": 0, "total_count": len(data), "data": data})

    def checkout_actions(self, req: Request, pay: str) -> Resp:
        refused = self.checkout_auth(req)
        if refused:
            return refused
        with self.sb.lock:
            payment = self.sb.payments.get(("checkout", pay))
            if payment is None or payment.provider_reference != pay:
                return Resp(404, b"")
            return json_resp(list(reversed(payment.ids["actions"])))

    # --- Skrill ----------------------------------------------------------------------------

    @staticmethod
    def skrill_xml(inner: str, status: int = 200) -> Resp:
        body = f'<?xml version="1.0" encoding="UTF-8"?>\n<response>{inner}</response>\n'
        return Resp(status, body.encode(), "text/xml; charset=UTF-8")

    def skrill_xml_error(self, message: str) -> Resp:
        return self.skrill_xml(f"<error><error_msg>{xml_escape(message)}</error_msg></error>")

    def skrill_login_ok(self, f: dict) -> bool:
        conf = self.conf("skrill")
        expected = _md5_hex(conf["api_password"])  # lower-case hex, as Skrill requires
        return f.get("email") == conf["pay_to_email"] and hmac.compare_digest(
            f.get("password", "").encode(), expected.encode()
        )

    def skrill_pay(self, req: Request) -> Resp:
        f, sb = req.form, self.sb

        def refuse(message: str) -> Resp:
            return json_resp({"code": "BAD_REQUEST", "message": message}, 400)

        if f.get("pay_to_email") != self.conf("skrill")["pay_to_email"]:
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
                ids={"mb_transaction_id": sb.skrill_id()},
            )
            sb.add_payment(payment, payment.ids["mb_transaction_id"])
        return Resp(200, sid.encode(), "text/plain; charset=UTF-8")

    def _skrill_fields(
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
        conf = self.conf("skrill")
        text = major_text(amount, currency)
        fields = {
            "pay_to_email": conf["pay_to_email"],
            "pay_from_email": email,
            "merchant_id": conf["merchant_id"],
            "transaction_id": reference,
            "mb_transaction_id": mb_id,
            "mb_amount": text,
            "mb_currency": currency,
            "status": status,
            "amount": text,
            "currency": currency,
        }
        fields.update(extra)
        fields["md5sig"] = skrill_signature(fields, conf["secret_word"])
        return fields

    def skrill_payment_webhooks(self, p: Payment, outcome: str) -> list[Delivery]:
        status = {"pay": "2", "decline": "-2", "expire": "-1"}[outcome]
        extra = {"payment_type": "WLT", "customer_id": str(10**8 + len(p.reference) * 7919)}
        if outcome == "decline":
            extra["failed_reason_code"] = "05"
        fields = self._skrill_fields(
            reference=p.reference,
            mb_id=p.ids["mb_transaction_id"],
            amount=p.amount,
            currency=p.currency,
            status=status,
            email=p.customer_email,
            **extra,
        )
        return [self.sb.webhook("skrill", p.notify_url, fields, f"status {status}")]

    def _skrill_two_step(self, req: Request, execute: str, prepare: Callable, run: Callable):
        f, sb = req.form, self.sb
        action = f.get("action", "")
        if action == "prepare":
            if not self.skrill_login_ok(f):
                return self.skrill_xml_error("CANNOT_LOGIN")
            with sb.lock:
                refused = prepare(f)
                if refused:
                    return self.skrill_xml_error(refused)
                sid = secrets.token_hex(16)
                sb.skrill_prepared[sid] = (execute, dict(f))
            return self.skrill_xml(f"<sid>{sid}</sid>")
        if action == execute:
            with sb.lock:
                prepared = sb.skrill_prepared.pop(f.get("sid", ""), None)
                if prepared is None or prepared[0] != execute:
                    return self.skrill_xml_error("SESSION_EXPIRED")
                resp = run(prepared[1])
            resp.operation = True
            return resp
        return self.skrill_xml_error("INVALID_OR_MISSING_ACTION")

    def skrill_refund(self, req: Request) -> Resp:
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
            existing = self._skrill_existing_refund(f)
            if existing is None:
                amount = amount_of(f, payment)
                if isinstance(amount, str):
                    return amount
                if amount > payment.unrefunded or payment.unrefunded <= 0:
                    return "REFUND_AMOUNT_EXCEEDS_PAYMENT"
            return None

        def run(f: dict) -> Resp:
            existing = self._skrill_existing_refund(f)
            if existing is not None:
                return self._skrill_refund_answer(existing)
            payment = payment_of(f)
            if payment is None:
                return self.skrill_xml_error("TRANSACTION_NOT_FOUND")
            amount = amount_of(f, payment)
            if isinstance(amount, str):
                return self.skrill_xml_error(amount)
            if amount > payment.unrefunded or payment.unrefunded <= 0:
                return self.skrill_xml_error("REFUND_AMOUNT_EXCEEDS_PAYMENT")
            reference = f.get("refund_note", "")
            op = Operation(
                psp="skrill",
                kind="refund",
                provider_reference=sb.skrill_id(),
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
            fields = self._skrill_fields(
                reference=reference,
                mb_id=op.provider_reference,
                amount=amount,
                currency=op.currency,
                status="2",
                email=payment.customer_email,
                operation="refund",
                orig_mb_transaction_id=payment.reported_reference,
            )
            resp = self._skrill_refund_answer(op)
            resp.deliveries = [sb.webhook("skrill", op.notify_url, fields, "refund 2")]
            return resp

        return self._skrill_two_step(req, "refund", prepare, run)

    def _skrill_existing_refund(self, f: dict) -> Operation | None:
        note = f.get("refund_note", "")
        if not note:
            return None
        return self.sb.find_operation("skrill", kind="refund", reference=note)

    def _skrill_refund_answer(self, op: Operation) -> Resp:
        return self.skrill_xml(
            f"<mb_amount>{major_text(op.amount, op.currency)}</mb_amount>"
            f"<mb_currency>{op.currency}</mb_currency>"
            f"<mb_transaction_id>{op.provider_reference}</mb_transaction_id>"
            f"<status>{'2' if op.outcome == 'succeeded' else '-2'}</status>"
            f"<transaction_id>{xml_escape(op.reference)}</transaction_id>"
        )

    def skrill_transfer(self, req: Request) -> Resp:
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
                return self._skrill_transfer_answer(existing)
            refused = check(f)
            if refused:
                return self.skrill_xml_error(refused)
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
                provider_reference=sb.skrill_id(),
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
            fields = self._skrill_fields(
                reference=reference,
                mb_id=op.provider_reference,
                amount=amount,
                currency=currency,
                status="-2" if fails else "2",
                email=f["bnf_email"],
                operation="transfer",
            )
            resp = self._skrill_transfer_answer(op)
            resp.deliveries = [
                sb.webhook("skrill", op.notify_url, fields, f"transfer {fields['status']}")
            ]
            return resp

        return self._skrill_two_step(req, "transfer", check, run)

    def _skrill_transfer_answer(self, op: Operation) -> Resp:
        status, message = ("2", "processed") if op.status == "succeeded" else ("1", "scheduled")
        return self.skrill_xml(
            "<transaction>"
            f"<amount>{major_text(op.amount, op.currency)}</amount>"
            f"<currency>{op.currency}</currency><id>{op.provider_reference}</id>"
            f"<status>{status}</status><status_msg>{message}</status_msg>"
            "</transaction>"
        )

    def skrill_query(self, req: Request) -> Resp:
        f, sb = req.form, self.sb

        def text(line: str) -> Resp:
            return Resp(200, line.encode(), "text/plain; charset=UTF-8")

        if not self.skrill_login_ok(f):
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

    # --- CoinPayments ------------------------------------------------------------------------

    def coinpayments_api(self, req: Request) -> Resp:
        conf, f = self.conf("coinpayments"), req.form

        def answer(error: str, result=None) -> Resp:
            body = {"error": error, "result": result if result is not None else []}
            return json_resp(body)

        given = req.header("HMAC")
        if not given:
            return answer("No HMAC signature sent.")
        if f.get("key") != conf["public_key"]:
            return answer("Invalid API public key passed!")
        expected = _hmac_hex(conf["private_key"], req.body, "sha512")
        if not hmac.compare_digest(expected, given.strip().lower()):
            return answer("HMAC signature does not match")
        if f.get("version") != "1":
            return answer("Invalid API version - no version specified")
        command = {
            "create_transaction": self._cp_create_transaction,
            "get_tx_info": self._cp_tx_info,
            "create_withdrawal": self._cp_create_withdrawal,
            "get_withdrawal_info": self._cp_withdrawal_info,
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

    def _cp_create_transaction(self, f: dict, req: Request, deliveries: list):
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

    def _cp_tx_info(self, f: dict, req: Request, deliveries: list):
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

    def coinpayments_payment_webhooks(self, p: Payment, outcome: str) -> list[Delivery]:
        sb = self.sb
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
                config=self.conf("coinpayments"),
            )
            deliveries.append(sb.webhook("coinpayments", p.notify_url, ipn, f"status {status}"))
        return deliveries

    def _cp_create_withdrawal(self, f: dict, req: Request, deliveries: list):
        sb = self.sb
        note = f.get("note", "")
        existing = note and next(
            (op for op in sb.operations if op.psp == "coinpayments" and op.ids["note"] == note),
            None,
        )
        if existing:
            return "ok", self._cp_withdrawal_result(existing)
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
        fields = {
            "ipn_type": "withdrawal",
            "id": op.provider_reference,
            "status": -1 if fails else 2,
            "status_text": op.detail or "Complete",
            "address": address,
            "txn_id": "" if fails else op.ids["send_txid"],
            "currency": coin,
            "amount": str(coins),
            "amounti": int(coins.scaleb(8)),
            "note": note,
        }
        if fiat:
            fields.update(currency2=fiat, amount2=major_text(op.amount, fiat))
        ipn = coinpayments_ipn(fields, config=self.conf("coinpayments"))
        deliveries.append(
            sb.webhook("coinpayments", op.notify_url, ipn, f"withdrawal {fields['status']}")
        )
        return "ok", self._cp_withdrawal_result(op)

    @staticmethod
    def _cp_withdrawal_result(op: Operation) -> dict:
        return {"id": op.provider_reference, "status": 1, "amount": op.ids["coins"]}

    def _cp_withdrawal_info(self, f: dict, req: Request, deliveries: list):
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

    # --- control -------------------------------------------------------------------------------

    def _control_sync(self, req: Request, body) -> bool:
        return req.flag("sync_delivery") or (
            isinstance(body, dict) and body.get("sync_delivery") is True
        )

    def control_payment(self, req: Request, psp: str, ref: str) -> Resp:
        with self.sb.lock:
            payment = self.sb.find_payment(psp, ref)
            if payment is None:
                return control_error(404, "not_found", f"no {psp} payment {ref}")
            return json_resp(payment.as_json())

    def control_complete(self, req: Request, psp: str, ref: str, outcome: str) -> Resp:
        body = req.json()
        with self.sb.lock:
            payment = self.sb.find_payment(psp, ref)
            if payment is None:
                return control_error(404, "not_found", f"no {psp} payment {ref}")
            if payment.status != "open":
                return control_error(409, "not_open", f"payment {ref} is already {payment.status}")
            deliveries = self.complete(payment, outcome)
            payload = {**payment.as_json(), "webhooks": len([d for d in deliveries if d])}
        return json_resp(payload, deliveries=deliveries, sync=self._control_sync(req, body))

    def control_dispute_open(self, req: Request, psp: str) -> Resp:
        body = req.json()
        if not isinstance(body, dict):
            return control_error(400, "malformed", "the body must be a JSON object")
        if psp == "coinpayments":
            return control_error(400, "not_supported", "crypto payments cannot be charged back")
        sb = self.sb
        with sb.lock:
            payment = sb.find_payment(psp, str(body.get("payment_reference") or ""))
            if payment is None:
                return control_error(404, "not_found", "no such payment_reference")
            if payment.status != "succeeded":
                return control_error(409, "not_paid", f"the payment is {payment.status}")
            left = payment.unrefunded
            if body.get("amount") is None:
                amount = left
            else:
                amount = parse_major(str(body["amount"]), payment.currency)
                if amount is None:
                    return control_error(400, "bad_amount", f"amount {body['amount']!r}")
            if amount <= 0 or amount > left:
                return control_error(
                    409, "too_much", f"at most {major_text(left, payment.currency)} can be disputed"
                )
            reason = str(body.get("reason") or "fraudulent")
            dispute_id = {
                "stripe": lambda: _new_id("dp_"),
                "checkout": lambda: "dsp_" + secrets.token_hex(13),
                "skrill": lambda: "CB" + sb.skrill_id(),
            }[psp]()
            dispute = Dispute(
                psp=psp,
                id=dispute_id,
                provider_reference=payment.reported_reference if psp == "skrill" else dispute_id,
                payment=payment,
                amount=amount,
                currency=payment.currency,
                reason=reason,
                created_at=datetime.now(UTC),
            )
            sb.disputes[(psp, dispute_id)] = dispute
            payment.disputed += amount
            sb.book(
                psp,
                "dispute",
                dispute.provider_reference,
                payment.reference,
                -amount,
                payment.currency,
                f"Chargeback {reason}",
                payment.reported_reference,
            )
            deliveries = [self._dispute_webhook(dispute, "open")]
            payload = self._dispute_json(dispute)
        return json_resp(payload, 201, deliveries=deliveries, sync=self._control_sync(req, body))

    def control_dispute_close(self, req: Request, psp: str, id: str) -> Resp:
        body = req.json()
        outcome = body.get("outcome") if isinstance(body, dict) else None
        if outcome not in ("won", "lost"):
            return control_error(400, "bad_outcome", "outcome must be won or lost")
        sb = self.sb
        with sb.lock:
            dispute = sb.disputes.get((psp, id))
            if dispute is None:
                return control_error(404, "not_found", f"no {psp} dispute {id}")
            if dispute.status != "open":
                return control_error(409, "closed", f"dispute {id} is already {dispute.status}")
            dispute.status = outcome
            payment = dispute.payment
            if outcome == "won":
                payment.disputed -= dispute.amount
                sb.book(
                    psp,
                    "dispute_reversal",
                    dispute.provider_reference,
                    payment.reference,
                    dispute.amount,
                    dispute.currency,
                    "Chargeback reversed (won)",
                    payment.reported_reference,
                )
            deliveries = [self._dispute_webhook(dispute, outcome)]
            payload = self._dispute_json(dispute)
        return json_resp(payload, deliveries=deliveries, sync=self._control_sync(req, body))

    def _dispute_json(self, d: Dispute) -> dict:
        return {
            "id": d.id,
            "provider_reference": d.provider_reference,
            "payment_reference": d.payment.reported_reference,
            "amount": major_text(d.amount, d.currency),
            "currency": d.currency,
            "reason": d.reason,
            "status": d.status,
        }

    def _dispute_webhook(self, d: Dispute, stage: str) -> Delivery | None:
        p, sb = d.payment, self.sb
        if d.psp == "stripe":
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
            return sb.webhook("stripe", p.notify_url, stripe_event(kind, obj), kind)
        if d.psp == "checkout":
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
                "received_on": _iso(d.created_at),
            }
            kind = {"open": "dispute_received", "won": "dispute_won", "lost": "dispute_lost"}[stage]
            return sb.webhook("checkout", p.notify_url, checkout_event(kind, data), kind)
        if stage != "open":
            return None  # Skrill posts no status when a chargeback is decided
        fields = self._skrill_fields(
            reference=p.reference,
            mb_id=p.reported_reference,
            amount=d.amount,
            currency=d.currency,
            status="-3",
            email=p.customer_email,
        )
        return sb.webhook("skrill", p.notify_url, fields, "status -3")

    def control_activity(self, req: Request, psp: str) -> Resp:
        with self.sb.lock:
            rows = [m.as_json() for m in self.sb.activity if m.psp == psp]
        return json_resp(rows)

    def control_statement(self, req: Request, psp: str) -> Resp:
        fmt = req.query.get("format", "csv")
        if fmt not in ("stripe_csv", "camt053", "mt940", "csv"):
            return control_error(400, "bad_format", "format: stripe_csv, camt053, mt940 or csv")
        try:
            start = date.fromisoformat(req.query["from"]) if req.query.get("from") else date.min
            end = date.fromisoformat(req.query["to"]) if req.query.get("to") else date.max
        except ValueError:
            return control_error(400, "bad_date", "from and to are dates like 2026-01-31")
        with self.sb.lock:
            moves = [m for m in self.sb.activity if m.psp == psp]
        wanted = req.query.get("currency", "")
        period = [m for m in moves if start <= m.booked_at.date() <= end]
        if fmt in ("camt053", "mt940"):
            currencies = sorted({m.currency for m in period})
            if not wanted:
                if len(currencies) > 1:
                    return control_error(
                        400,
                        "currency_required",
                        f"the period has {', '.join(currencies)}: add ?currency=",
                    )
                wanted = currencies[0] if currencies else "USD"
        if wanted:
            period = [m for m in period if m.currency == wanted]
        rows = [
            StatementLine(
                line_no=n,
                reference=m.provider_reference,
                amount=m.amount,
                currency=m.currency,
                booked_on=m.booked_at.date(),
                description=m.description,
                category=_category(psp, m.kind),
                payment_reference=m.payment_reference,
            )
            for n, m in enumerate(period, 1)
        ]
        name = f"{psp}-{req.query.get('from', 'start')}-{req.query.get('to', 'now')}"
        if fmt == "stripe_csv":
            body, ctype, ext = writers.write_stripe_itemized_csv(rows), "text/csv", "csv"
        elif fmt == "csv":
            body, ctype, ext = writers.write_generic_csv(rows), "text/csv", "csv"
        else:
            opening = sum(
                (m.amount for m in moves if m.currency == wanted and m.booked_at.date() < start),
                Decimal(0),
            )
            account = STATEMENT_ACCOUNTS[psp]
            if fmt == "camt053":
                body = writers.write_camt053(
                    rows,
                    account_iban=account,
                    currency=wanted,
                    opening_balance=opening,
                    statement_id=f"{psp.upper()}-{start if start != date.min else 'ALL'}",
                )
                ctype, ext = "application/xml", "xml"
            else:
                body = writers.write_mt940(
                    rows, account=account, currency=wanted, opening_balance=opening
                )
                ctype, ext = "text/plain; charset=latin-1", "sta"
        return Resp(
            200, body, ctype, {"Content-Disposition": f'attachment; filename="{name}.{ext}"'}
        )

    def control_deliveries(self, req: Request) -> Resp:
        with self.sb.lock:
            return json_resp([dict(d) for d in self.sb.deliveries])

    def control_faults(self, req: Request) -> Resp:
        sb = self.sb
        if req.method == "DELETE":
            with sb.lock:
                sb.faults = dict(DEFAULT_FAULTS)
            return json_resp(sb.faults)
        if req.method == "POST":
            body = req.json()
            if not isinstance(body, dict):
                return control_error(400, "malformed", "the body must be a JSON object")
            unknown = sorted(set(body) - set(DEFAULT_FAULTS))
            if unknown:
                return control_error(400, "unknown_fault", f"unknown: {', '.join(unknown)}")
            for name, value in body.items():
                kind = type(DEFAULT_FAULTS[name])
                ok = (
                    isinstance(value, bool)
                    if kind is bool
                    else (
                        isinstance(value, int | float)
                        and not isinstance(value, bool)
                        and value >= 0
                    )
                )
                if not ok:
                    return control_error(400, "bad_fault", f"{name}: {value!r}")
            with sb.lock:
                sb.faults.update(body)
        with sb.lock:
            return json_resp(sb.faults)

    def control_reset(self, req: Request) -> Resp:
        self.sb.reset()
        return json_resp({"reset": True})


def _category(psp: str, kind: str) -> str:
    """The statement category of a movement. Stripe pays a card back as a refund; other client
    payouts are "withdrawal", since "payout" is the provider settling to the merchant's bank."""
    if kind == "payment":
        return "charge"
    if kind == "payout":
        return "refund" if psp == "stripe" else "withdrawal"
    return kind


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


def _cp_id(prefix: str) -> str:
    """A CoinPayments id: CP… for a transaction, CW… for a withdrawal."""
    return prefix + "".join(
        secrets.choice(string.ascii_uppercase + string.digits) for _ in range(22)
    )


def _btc_address() -> str:
    alphabet = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
    return "bc1q" + "".join(secrets.choice(alphabet) for _ in range(38))


# --- the server --------------------------------------------------------------------------------


def make_handler(app: PspApp):
    class Handler(BaseHTTPRequestHandler):
        server_version = "PSP-Sandbox/1.0"
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):
            if os.environ.get("SANDBOX_VERBOSE"):
                super().log_message(fmt, *args)

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length > 0 else b""
            host = self.headers.get("Host") or "{}:{}".format(*self.server.server_address[:2])
            req = Request(self.command, self.path, self.headers, body, host)
            try:
                resp = app.dispatch(req)
            except Exception:
                log.exception("sandbox error on %s %s", self.command, self.path)
                resp = control_error(500, "sandbox_error", "the sandbox failed; see its log")
            sandbox = app.sb
            sandbox.run_deliveries(resp.deliveries, sync=resp.sync)
            if resp.operation:
                delay = float(sandbox.fault("payout_delay_seconds"))
                if delay > 0:
                    time.sleep(delay)
                if sandbox.fault("drop_after_request"):
                    self.close_connection = True
                    return
            self.send_response(resp.status)
            self.send_header("Content-Type", resp.content_type)
            self.send_header("Content-Length", str(len(resp.body)))
            for name, value in resp.headers.items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(resp.body)

        do_GET = do_POST = do_DELETE = _handle  # noqa: N815 (http.server API)

    return Handler


def serve(host: str, port: int, config=None) -> ThreadingHTTPServer:
    """The PSP sandbox on host:port (port 0: any free port), not yet serving: call
    serve_forever() (in a thread for tests). `config` overrides `sandbox_config()`."""
    sandbox = Sandbox(config)
    server = ThreadingHTTPServer((host, port), make_handler(PspApp(sandbox)))
    server.daemon_threads = True
    server.sandbox = sandbox
    return server
