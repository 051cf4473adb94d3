"""How each provider signs what it posts, written out here again (the product's verifiers are
not imported, so a mistake in them shows): Stripe `Stripe-Signature: t=…,v1=HMAC-SHA256(secret,
"t.body")`, Checkout.com `Cko-Signature: HMAC-SHA256(secret, body)`, Skrill's `md5sig` field,
CoinPayments' `HMAC: HMAC-SHA512(IPN secret, body)`. Pure functions, for the tests too."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.parse
from collections.abc import Mapping

from .config import psp_config


def hmac_hex(secret: str, message: bytes, digest: str) -> str:
    return hmac.new(secret.encode(), message, digest).hexdigest()


def md5_hex(value: str) -> str:
    return hashlib.md5(value.encode()).hexdigest()  # noqa: S324 (Skrill's protocol)


def skrill_signature(fields: Mapping[str, str], secret_word: str) -> str:
    """md5sig = UPPER(MD5(merchant_id + transaction_id + UPPER(MD5(secret)) + mb_amount +
    mb_currency + status))."""
    return md5_hex(
        str(fields.get("merchant_id", ""))
        + str(fields.get("transaction_id", ""))
        + md5_hex(secret_word).upper()
        + str(fields.get("mb_amount", ""))
        + str(fields.get("mb_currency", ""))
        + str(fields.get("status", ""))
    ).upper()


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
    conf = psp_config(psp, config)
    if psp == "stripe":
        body = _as_body(payload, form=False)
        t = int(time.time()) if timestamp is None else int(timestamp)
        signature = hmac_hex(conf["webhook_secret"], f"{t}.".encode() + body, "sha256")
        return {
            "Content-Type": "application/json",
            "Stripe-Signature": f"t={t},v1={signature}",
        }, body
    if psp == "checkout":
        body = _as_body(payload, form=False)
        signature = hmac_hex(conf["webhook_secret"], body, "sha256")
        return {"Content-Type": "application/json", "Cko-Signature": signature}, body
    form_headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if psp == "skrill":
        if isinstance(payload, Mapping) and "md5sig" not in payload:
            payload = {**payload, "md5sig": skrill_signature(payload, conf["secret_word"])}
        return form_headers, _as_body(payload, form=True)
    body = _as_body(payload, form=True)
    return {**form_headers, "HMAC": hmac_hex(conf["ipn_secret"], body, "sha512")}, body
