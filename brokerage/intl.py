"""Countries, languages and phone numbers, normalised the same way everywhere."""

from functools import lru_cache

import phonenumbers
import pycountry
from django.conf import settings

# Languages offered in forms (the desks' languages first); any ISO 639-1 code is accepted.
COMMON_LANGUAGES = ["en", "ar", "es", "ru", "fr", "de", "it", "pt", "zh", "hi", "tr", "fa"]


@lru_cache(maxsize=1)
def country_choices() -> list[tuple[str, str]]:
    return sorted(((c.alpha_2, c.name) for c in pycountry.countries), key=lambda c: c[1])


def country_name(code: str) -> str:
    """`GB` -> `United Kingdom`; an unknown code as it is, an empty one empty."""
    country = pycountry.countries.get(alpha_2=code.upper()) if code and len(code) == 2 else None
    return country.name if country else (code or "")


def is_country(code: str) -> bool:
    return len(code) == 2 and pycountry.countries.get(alpha_2=code.upper()) is not None


def is_language(code: str) -> bool:
    return len(code) == 2 and pycountry.languages.get(alpha_2=code.lower()) is not None


@lru_cache(maxsize=1)
def language_choices() -> list[tuple[str, str]]:
    return [(code, pycountry.languages.get(alpha_2=code).name) for code in COMMON_LANGUAGES]


def language_from_header(header: str, default: str = "en") -> str:
    """The language a visitor's browser asks for first (`Accept-Language`, by its q-values)
    among the languages offered in forms: `es-MX,es;q=0.9,en;q=0.8` -> `es`; none offered ->
    `default`. A malformed header is read as far as it makes sense."""
    ranked = []
    for position, part in enumerate((header or "")[:500].split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        code = tag.strip().split("-")[0].lower()
        if code in COMMON_LANGUAGES and quality > 0:
            ranked.append((-quality, position, code))
    return min(ranked)[2] if ranked else default


def phone_e164(raw: str, country: str = "") -> str:
    """The number in E.164, or ValueError with a message for people."""
    try:
        parsed = phonenumbers.parse(raw.strip(), (country or "").upper() or None)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(
            "Not a valid phone number; use the international format, e.g. +971501234567."
        ) from exc
    if not phonenumbers.is_valid_number(parsed):
        raise ValueError(
            "Not a valid phone number; use the international format, e.g. +971501234567."
        )
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def staff_language(user) -> str:
    """The language a staff member's emails and documents are written in: staff keep no
    language of their own, so the site's (LANGUAGE_CODE); words without a translation in it
    stay English."""
    return settings.LANGUAGE_CODE
