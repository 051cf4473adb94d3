"""Shared plumbing for the PSP adapters: outbound HTTP, and the checks every webhook parser makes.

Outbound calls use the standard library only. A network failure or a timeout raises
`PspError(code="psp_unreachable")`, a 5xx answer `PspError(code="psp_error")`; 4xx answers are
returned to the adapter, which knows what the provider's refusal looks like.

The webhook helpers turn untrusted provider fields into exact values or a `WebhookRejected` with a
stable code and a message that names the field and the value: amounts are never floats, minor
units are whole numbers, currencies are ISO 4217 codes in upper case.
"""

from __future__ import annotations

import hmac
import http.client
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings

from brokerage.errors import InvalidInput
from brokerage.metrics import outside_call
from brokerage.money import MAX_AMOUNT, exponent, is_currency

from .base import PspError, WebhookRejected

# ISO 4217 codes that are not money a client can pay with: precious metals, SDR-like units,
# bond-market units and the testing / "no currency" codes.
NON_MONEY_CODES = frozenset(
    {"XAG", "XAU", "XPD", "XPT", "XBA", "XBB", "XBC", "XBD", "XDR", "XSU", "XUA", "XTS", "XXX"}
)
# A provider refusing the credentials (a configuration problem, not a business refusal).
AUTH_STATUSES = (401, 403)
# Throttling: retry later, the operation was not refused.
RETRY_STATUSES = (408, 409, 429)

_MAJOR = re.compile(r"\d+(\.\d+)?")
_NEGATIVE_MAJOR = re.compile(r"-\d+(\.\d+)?")


# --- outbound HTTP --------------------------------------------------------------------------


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: Mapping[str, str]
    body: bytes

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self, psp: str) -> Any:
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise PspError(
                f"{psp} answered HTTP {self.status} with a body that is not JSON: "
                f"{self.text()[:200]!r}",
                code="psp_error",
            ) from exc


def timeout_seconds() -> float:
    return float(settings.PSP_TIMEOUT_SECONDS)


def form_encode(fields: Iterable[tuple[str, object]] | Mapping[str, object]) -> bytes:
    """application/x-www-form-urlencoded, keeping the order given (signatures depend on it)."""
    pairs = fields.items() if isinstance(fields, Mapping) else fields
    return urllib.parse.urlencode([(k, "" if v is None else str(v)) for k, v in pairs]).encode()


def call(
    psp: str,
    method: str,
    url: str,
    *,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
) -> HttpResponse:
    """One HTTP request to a provider. Returns 2xx-4xx answers; raises PspError otherwise. Timed
    and counted (brokerage.metrics) by provider and method; errors by their code."""
    with outside_call("psp", psp, method):
        return _call(psp, method, url, body=body, headers=headers)


def _call(psp, method, url, *, body, headers) -> HttpResponse:
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise PspError(f"{psp} API URL {url!r} is not an http(s) URL", code="psp_misconfigured")
    request = urllib.request.Request(  # noqa: S310 (scheme checked above)
        url, data=body, method=method, headers=dict(headers or {})
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_seconds()) as resp:  # noqa: S310 (scheme checked above)
            return HttpResponse(resp.status, dict(resp.headers.items()), resp.read())
    except urllib.error.HTTPError as err:
        payload = err.read() if err.fp is not None else b""
        response = HttpResponse(err.code, dict(err.headers.items()) if err.headers else {}, payload)
        if err.code >= 500:
            raise PspError(
                f"{psp} answered HTTP {err.code} to {method} {_path(url)}: "
                f"{response.text()[:200]!r}",
                code="psp_error",
            ) from err
        return response
    except (urllib.error.URLError, http.client.HTTPException, OSError) as err:
        reason = getattr(err, "reason", err)
        if isinstance(reason, TimeoutError):
            reason = f"no answer within {timeout_seconds():g} s"
        raise PspError(
            f"{psp} could not be reached ({method} {_path(url)}): {reason}",
            code="psp_unreachable",
        ) from err


def raise_for_transport(psp: str, response: HttpResponse, message: str) -> None:
    """4xx answers that say nothing about the operation itself: credentials or throttling."""
    if response.status in AUTH_STATUSES:
        raise PspError(
            f"{psp} refused our credentials (HTTP {response.status}): {message}",
            code="psp_auth_failed",
        )
    if response.status in RETRY_STATUSES:
        raise PspError(
            f"{psp} asked us to retry later (HTTP {response.status}): {message}",
            code="psp_busy",
        )


def _path(url: str) -> str:
    return urllib.parse.urlsplit(url).path


# --- amounts out --------------------------------------------------------------------------


def require_currency(currency: str) -> str:
    if not is_currency(currency) or currency in NON_MONEY_CODES:
        raise InvalidInput(f"{currency!r} is not an ISO 4217 currency code.", code="bad_currency")
    return currency


def to_minor(amount: Decimal, currency: str, *, places: int | None = None) -> int:
    """A positive major-unit Decimal as an integer count of minor units (USD 12.34 -> 1234)."""
    require_currency(currency)
    places = exponent(currency) if places is None else places
    if not isinstance(amount, Decimal | int) or isinstance(amount, bool):
        raise TypeError(f"amount must be a Decimal, not {type(amount).__name__}")
    amount = Decimal(amount)
    if not amount.is_finite() or amount <= 0 or amount > MAX_AMOUNT:
        raise InvalidInput(
            f"amount {amount} {currency} is not a payable amount.", code="bad_amount"
        )
    minor = amount.scaleb(places)
    if minor != minor.to_integral_value():
        raise InvalidInput(
            f"amount {amount} has more decimal places than {currency} allows ({places}).",
            code="bad_amount",
        )
    return int(minor)


def to_major_string(amount: Decimal, currency: str) -> str:
    """A positive amount as the provider's decimal string, at the currency's exponent."""
    places = exponent(currency)
    minor = to_minor(amount, currency, places=places)
    return str(Decimal(minor).scaleb(-places))


# --- webhooks in --------------------------------------------------------------------------


def reject(code: str, message: str) -> WebhookRejected:
    return WebhookRejected(message, code=code)


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A request header by name, whatever the case (request.headers, META or a plain dict)."""
    wanted = name.lower()
    meta = "HTTP_" + name.upper().replace("-", "_")
    for key, value in headers.items():
        if key.lower() == wanted or key == meta:
            return value
    return None


def same_digest(expected: str, given: str) -> bool:
    """Constant-time comparison of two hex digests (case-insensitive)."""
    return hmac.compare_digest(expected.lower().encode(), given.strip().lower().encode())


def hmac_hex(secret: str, message: bytes, digest: str) -> str:
    return hmac.new(secret.encode(), message, digest).hexdigest()


def require_secret(secret: str | None, what: str) -> str:
    """An empty secret would let anyone sign: refuse everything until one is configured."""
    if not secret:
        raise reject(
            "bad_signature", f"the {what} is not configured, so no webhook can be verified"
        )
    return secret


def parse_json_object(body: bytes) -> dict:
    """The body as a JSON object. Non-integers become Decimal (NaN/Infinity too, and are caught
    by the amount checks): money never passes through a float."""
    try:
        data = json.loads(body, parse_float=Decimal, parse_constant=Decimal)
    except (ValueError, UnicodeDecodeError) as exc:
        raise reject("malformed", f"the body is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise reject("malformed", "the body is not a JSON object")
    return data


def parse_form(body: bytes) -> dict[str, str]:
    """An application/x-www-form-urlencoded body; a field sent twice is refused."""
    try:
        text = body.decode("utf-8")
        pairs = urllib.parse.parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text))
    except (UnicodeDecodeError, ValueError) as exc:
        raise reject("malformed", f"the body is not a valid form: {exc}") from exc
    fields: dict[str, str] = {}
    for key, value in pairs:
        if key in fields:
            raise reject("malformed", f"field {key!r} appears more than once")
        fields[key] = value
    return fields


def jsonable(value: Any) -> Any:
    """The parsed payload as plain JSON data (for the evidence kept with the event)."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    return value


def need(mapping: Mapping, key: str, where: str = "") -> Any:
    """A field that must be present and not empty."""
    value = mapping.get(key) if isinstance(mapping, Mapping) else None
    if value is None or value == "":
        raise reject("malformed", f"field {where}{key!r} is missing")
    return value


def need_dict(mapping: Mapping, key: str, where: str = "") -> dict:
    value = need(mapping, key, where)
    if not isinstance(value, dict):
        raise reject("malformed", f"field {where}{key!r} is not an object")
    return value


def text_field(mapping: Mapping, key: str, default: str = "") -> str:
    value = mapping.get(key) if isinstance(mapping, Mapping) else None
    if value is None:
        return default
    if isinstance(value, str):
        return value
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        return str(value)
    raise reject("malformed", f"field {key!r} is not text")


def parse_currency(value: Any, *, field: str = "currency", lower_case: bool = False) -> str:
    """An ISO 4217 code. Stripe sends lower case (`lower_case=True`); the others upper case."""
    if not isinstance(value, str) or not value:
        raise reject("bad_currency", f"{field} {_show(value)} is not a currency code")
    code = value.upper() if lower_case and value.islower() else value
    if not is_currency(code) or code in NON_MONEY_CODES:
        raise reject("bad_currency", f"{field} {_show(value)} is not a known ISO 4217 currency")
    return code


def parse_minor(value: Any, currency: str, *, field: str = "amount", places: int | None = None):
    """A JSON integer of minor units as major units (USD 1234 -> Decimal("12.34"))."""
    places = exponent(currency) if places is None else places
    if isinstance(value, bool) or value is None:
        raise reject("bad_amount", f"{field} {_show(value)} is not a number")
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise reject("bad_amount", f"{field} {_show(value)} is not a finite number")
        if value < 0:
            raise reject("bad_amount", f"{field} {_show(value)} is negative")
        raise reject("bad_amount", f"{field} {_show(value)} is not a whole number of minor units")
    if not isinstance(value, int):
        raise reject("bad_amount", f"{field} {_show(value)} is not a number of minor units")
    if value < 0:
        raise reject("bad_amount", f"{field} {_show(value)} is negative")
    amount = Decimal(value).scaleb(-places)
    if amount > MAX_AMOUNT:
        raise reject("bad_amount", f"{field} {_show(value)} is too large to be real")
    return amount


def parse_major(value: Any, currency: str, *, field: str = "amount") -> Decimal:
    """A decimal string in major units ("12.34"), exact, at most the currency's decimals."""
    if not isinstance(value, str) or not value:
        raise reject("bad_amount", f"{field} {_show(value)} is not a number")
    if _NEGATIVE_MAJOR.fullmatch(value):
        raise reject("bad_amount", f"{field} {_show(value)} is negative")
    if not _MAJOR.fullmatch(value):
        try:
            finite = Decimal(value.strip()).is_finite()
        except InvalidOperation:
            finite = True
        if not finite:
            raise reject("bad_amount", f"{field} {_show(value)} is not a finite number")
        raise reject("bad_amount", f"{field} {_show(value)} is not a decimal number")
    amount = Decimal(value)
    places = exponent(currency)
    quantum = Decimal(1).scaleb(-places)
    if amount != amount.quantize(quantum):
        raise reject(
            "bad_amount",
            f"{field} {_show(value)} has more decimal places than {currency} allows ({places})",
        )
    if amount > MAX_AMOUNT:
        raise reject("bad_amount", f"{field} {_show(value)} is too large to be real")
    return amount.quantize(quantum)


def from_timestamp(value: Any, *, field: str) -> datetime:
    if isinstance(value, bool) or not isinstance(value, int):
        raise reject("malformed", f"{field} {_show(value)} is not a Unix timestamp")
    try:
        return datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise reject("malformed", f"{field} {_show(value)} is not a valid time") from exc


def from_iso(value: Any, *, field: str) -> datetime:
    if not isinstance(value, str):
        raise reject("malformed", f"{field} {_show(value)} is not an ISO 8601 time")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise reject("malformed", f"{field} {_show(value)} is not an ISO 8601 time") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _show(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    if value is None:
        return "(missing)"
    return str(value)
