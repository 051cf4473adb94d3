"""Lead input, whatever the channel: cleaned to one shape, or field-level errors."""

import re
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator

from brokerage.errors import InvalidInput
from brokerage.intl import is_country, is_language, phone_e164

from .models import Experience

TEXT_LIMITS = {
    "first_name": 150,
    "last_name": 150,
    "source": 60,
    "utm_source": 100,
    "utm_medium": 100,
    "utm_campaign": 100,
}
MAX_MONEY = Decimal("100000000000")
REFERRAL_RE = re.compile(r"[A-Za-z0-9_-]{4,32}")
FIELDS = [
    "first_name",
    "last_name",
    "email",
    "phone",
    "country",
    "language",
    "experience",
    "net_worth_usd",
    "annual_income_usd",
    "source",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "referral_code",
]
_email = EmailValidator()


def clean_lead_input(raw: dict, *, keep_invalid_phone: bool = False) -> dict:
    """Validate and normalise one lead. Raises InvalidInput naming every bad field.

    With `keep_invalid_phone` (the API: a landing page cannot ask the person again) a phone
    number that is not valid does not refuse the lead: it is kept without the number,
    `phone_invalid_reason` says what was given and why it is not valid, and the scoring rules
    see it. A lead with neither an email address nor a valid number is still refused."""
    errors: dict[str, list[str]] = {}
    out: dict = {}

    def err(field, message):
        errors.setdefault(field, []).append(message)

    unknown = set(raw) - set(FIELDS)
    for field in sorted(unknown):
        err(field, "Unknown field.")
    for field, limit in TEXT_LIMITS.items():
        value = raw.get(field)
        if value is None:
            out[field] = ""
            continue
        if not isinstance(value, str):
            err(field, "Must be text.")
            continue
        value = " ".join(value.split())
        if len(value) > limit:
            err(field, f"At most {limit} characters.")
        out[field] = value

    email = raw.get("email") or ""
    if not isinstance(email, str):
        err("email", "Must be text.")
        email = ""
    email = email.strip().lower()
    if email:
        try:
            _email(email)
        except ValidationError:
            err("email", "Not a valid email address.")
        else:
            if len(email) > 254:
                err("email", "At most 254 characters.")
    out["email"] = email

    country = raw.get("country") or ""
    if not isinstance(country, str):
        err("country", "Must be text.")
        country = ""
    country = country.strip().upper()
    if country and not is_country(country):
        err("country", "Not an ISO 3166-1 alpha-2 country code (e.g. AE, GB).")
    out["country"] = country

    language = raw.get("language") or "en"
    if not isinstance(language, str):
        err("language", "Must be text.")
        language = "en"
    language = language.strip().lower()
    if not is_language(language):
        err("language", "Not an ISO 639-1 language code (e.g. en, ar).")
    out["language"] = language

    phone = raw.get("phone") or ""
    if not isinstance(phone, str):
        err("phone", "Must be text.")
        phone = ""
    phone = phone.strip()
    out["phone"], out["phone_valid"], out["phone_invalid_reason"] = "", False, ""
    if phone:
        try:
            out["phone"], out["phone_valid"] = phone_e164(phone, country), True
        except ValueError as exc:
            if keep_invalid_phone:
                out["phone_invalid_reason"] = f"“{phone[:40]}”: {exc}"[:200]
            else:
                err("phone", str(exc))

    experience = raw.get("experience") or ""
    if experience and experience not in Experience.values:
        err("experience", f"One of: {', '.join(Experience.values)}.")
    out["experience"] = experience if isinstance(experience, str) else ""

    for field in ("net_worth_usd", "annual_income_usd"):
        value = raw.get(field)
        out[field] = None
        if value in (None, ""):
            continue
        if isinstance(value, bool):
            err(field, "Must be a number.")
            continue
        try:
            amount = Decimal(str(value).replace(",", "").strip())
        except InvalidOperation:
            err(field, "Must be a number.")
            continue
        if not amount.is_finite() or amount < 0 or amount > MAX_MONEY:
            err(field, "Must be between 0 and 100,000,000,000.")
            continue
        out[field] = amount.quantize(Decimal("0.01"))

    code = raw.get("referral_code") or ""
    if code and (not isinstance(code, str) or not REFERRAL_RE.fullmatch(code.strip())):
        err("referral_code", "4-32 letters, digits, _ or -.")
    out["referral_code"] = code.strip().upper() if isinstance(code, str) else ""

    if out["phone_invalid_reason"] and ("email" in errors or not out["email"]):
        # The number was the only way left to reach the person: it is an error after all.
        err("phone", out["phone_invalid_reason"].split(": ", 1)[-1])
    if not errors and not out["email"] and not out["phone"]:
        err("email", "An email address or a phone number is needed.")
    if errors:
        raise InvalidInput(
            "Some fields are not valid.", code="validation_error", fields=errors, status=422
        )
    return out
