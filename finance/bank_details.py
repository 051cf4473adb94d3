"""Bank details for wires: the brokerage's own account (settings), a client's IBAN and BIC
checked before money is sent to them, and whether the name on a wire is the client's.

- `brokerage_account()`: the beneficiary name, IBAN, BIC and bank the portal shows and the
  pain.001 files pay from; None when they are not configured (no wires offered).
- `clean_iban(text)` / `clean_bic(text)`: the IBAN's checksum, its country and its length for
  that country (ISO 13616, the registry `schwifty` ships), a BIC's form and country (ISO 9362);
  an `InvalidInput` with a field error otherwise.
- `same_person(client_name, wire_name)`: every word of the client's name is in the name the
  bank reports (any order, accents and case ignored: "SCHNEIDER ROBERT" is Robert Schneider).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.conf import settings
from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException
from unidecode import unidecode

from brokerage.errors import InvalidInput

_WORD = re.compile(r"[A-Z0-9]+")


@dataclass(frozen=True)
class BankAccount:
    beneficiary: str
    iban: str
    bic: str
    bank_name: str

    @property
    def iban_display(self) -> str:
        return " ".join(self.iban[i : i + 4] for i in range(0, len(self.iban), 4))


def brokerage_account() -> BankAccount | None:
    iban = (settings.BANK_WIRE_IBAN or "").replace(" ", "").upper()
    if not (iban and settings.BANK_WIRE_BENEFICIARY):
        return None
    return BankAccount(
        beneficiary=settings.BANK_WIRE_BENEFICIARY,
        iban=iban,
        bic=(settings.BANK_WIRE_BIC or "").replace(" ", "").upper(),
        bank_name=settings.BANK_WIRE_BANK_NAME,
    )


def clean_iban(text: str) -> str:
    """The IBAN in electronic form (upper case, no spaces), or InvalidInput on field `iban`."""
    raw = "".join((text or "").split()).upper()
    if not raw:
        raise InvalidInput("Give the IBAN of your bank account.", fields={"iban": ["Required."]})
    try:
        iban = IBAN(raw, validate_bban=True)
    except SchwiftyException as exc:
        message = _iban_problem(raw, exc)
        raise InvalidInput(message, code="bad_iban", fields={"iban": [message]}) from None
    return iban.compact


def _iban_problem(raw: str, exc: SchwiftyException) -> str:
    name = type(exc).__name__
    if name == "InvalidCountryCode":
        return f"{raw[:2]!r} is not the country code of a country that uses IBANs."
    if name == "InvalidLength":
        return f"An IBAN from {raw[:2]} does not have {len(raw)} characters: check it."
    if name == "InvalidChecksumDigits":
        return "This IBAN's check digits are wrong: a character is mistyped."
    return "This is not a valid IBAN: check it on your bank statement."


def clean_bic(text: str) -> str:
    """The BIC (8 or 11 characters), "" when none is given, or InvalidInput on field `bic`."""
    raw = "".join((text or "").split()).upper()
    if not raw:
        return ""
    try:
        bic = BIC(raw)
    except SchwiftyException:
        message = "A BIC is 8 or 11 letters and digits, e.g. DEUTDEFF or DEUTDEFF500."
        raise InvalidInput(message, code="bad_bic", fields={"bic": [message]}) from None
    return bic.compact


def words(name: str) -> set[str]:
    return set(_WORD.findall(unidecode(name or "").upper()))


def same_person(client_name: str, wire_name: str) -> bool:
    mine = words(client_name)
    return bool(mine) and mine <= words(wire_name)
