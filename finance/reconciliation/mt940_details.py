"""The MT940 :86: field (information to the account owner), in the three styles banks write.

`parse_86(lines)` gives a `Details`: the end-to-end reference, the customer reference (KREF),
the description, the other side's name and IBAN, and the remittance text.

- Structured subfields: German (GVC?00 booking text?10 primanota?20-?29 purpose?30 BLZ/BIC
  ?31 account?32-?33 name?60-?63 purpose) or the Dutch ">" subfields of the same numbers
  (000>10...>20...>31...). The purpose subfields are joined: SEPA keywords (EREF+ KREF+
  SVWZ+ ...) run on across them; without keywords (pre-SEPA) each is a line of free text.
  The name is ?32 and ?33 joined; the account ?31 is the IBAN when it is one (a bank code and
  account number is not).
- SWIFT codes, as ABN AMRO, ING and Rabobank write them: /EREF/ /NAME/ /IBAN/ /REMI/ (with
  USTD// or STRD/ prefixes) and /CNTP/account/BIC/name/city/.
- Free text: the text is the description and the remittance; an EREF+ token is picked out.

`description` and `remittance` are the SVWZ+ purpose, the /REMI/ text, or else the text.
References that are placeholders (NONREF, NOTPROVIDED, a bare "KREF+") are none: see
`real_reference`.
"""

from __future__ import annotations

import re
from typing import NamedTuple

_STRUCTURED = re.compile(r"(?:\d{3})?([?>])\d\d")  # GVC?00... (German), 000>10... (Dutch)
_SUBFIELD = {"?": re.compile(r"\?(\d\d)([^?]*)"), ">": re.compile(r">(\d\d)([^>]*)")}
_SEPA_KEYWORDS = re.compile(
    r"(EREF|KREF|MREF|CRED|DEBT|SVWZ|ABWA|ABWE|IBAN|BIC|COAM|OAMT|SQTP|PURP|RTRN)\+"
)
_SWIFT_CODES = (
    "EREF|TRTP|IBAN|BIC|NAME|REMI|MARF|CSID|SVCL|ISDT|RTRN|PURP|ORDP|BENM|ULTC|ULTD|CNTP|PREF|"
    "ADDR|OCMT|CHGS|EXCH|IREF|CREF|COAM|OAMT|ATOS|RTYP|SWOC|CDTRREFTP|CDTRREF|ACCW|BYOR"
)
_SLASH_FIELD = re.compile(rf"/({_SWIFT_CODES})/")
_FREE_EREF = re.compile(r"EREF\+(\S+)")
_IBAN = re.compile(r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}\Z")
_PURPOSE_CODES = frozenset([*(f"2{i}" for i in range(10)), "60", "61", "62", "63"])
_PLACEHOLDERS = frozenset({"", "NONREF", "NOTPROVIDED", "NONE"})


def real_reference(text: str) -> str:
    """`text` stripped, or "" when it only stands for a missing reference (NONREF,
    NOTPROVIDED, a SEPA keyword with nothing after it such as "KREF+")."""
    text = text.strip()
    if text.upper() in _PLACEHOLDERS or (len(text) == 5 and text[4] == "+" and text.isupper()):
        return ""
    return text


class Details(NamedTuple):
    """What a :86: field says about its statement line."""

    eref: str = ""  # the end-to-end reference (EREF)
    kref: str = ""  # the customer reference (KREF), which a :61: "KREF+" points to
    description: str = ""
    name: str = ""  # the other side
    iban: str = ""
    remittance: str = ""


def _iban(text: str) -> str:
    text = text.replace(" ", "").upper()
    return text if _IBAN.match(text) else ""


def _structured(text: str, mark: str) -> Details:
    purpose_lines = []
    name = account = ""
    for code, value in _SUBFIELD[mark].findall(text):
        if code in _PURPOSE_CODES:
            purpose_lines.append(value)
        elif code == "32" or code == "33":
            name += value
        elif code == "31":
            account += value
    if name:
        name = " ".join(name.split())
    iban = _iban(account) if account else ""
    purpose = "".join(purpose_lines)  # SEPA values run on across subfields
    parts = _SEPA_KEYWORDS.split(purpose)  # [before, key, value, key, value, ...]
    if len(parts) == 1:  # pre-SEPA: each subfield is a line of free text
        text = " ".join(line.strip() for line in purpose_lines if line.strip())
        return Details("", "", text, name, iban, text)
    values = {}
    for i in range(len(parts) - 2, 0, -2):  # backwards: the first of a keyword wins
        values[parts[i]] = parts[i + 1].strip()
    remittance = values.get("SVWZ", purpose.strip())
    if not iban and "IBAN" in values:
        iban = _iban(values["IBAN"])
    return Details(
        values.get("EREF", ""), values.get("KREF", ""), remittance, name, iban, remittance
    )


def _slash(text: str) -> Details:
    parts = _SLASH_FIELD.split(text)
    values: dict[str, str] = {}
    for code, value in zip(parts[1::2], parts[2::2], strict=True):
        values.setdefault(code, value.strip().rstrip("/").strip())
    name, iban = values.get("NAME", ""), _iban(values.get("IBAN", ""))
    if "CNTP" in values:  # /CNTP/account/BIC/name/city/
        cntp = values["CNTP"].split("/")
        iban = iban or _iban(cntp[0])
        name = name or (cntp[2] if len(cntp) > 2 else "")
    remi = values.get("REMI", "")
    for prefix in ("USTD//", "USTD/", "STRD/"):
        remi = remi.removeprefix(prefix)
    remi = remi.strip().strip("/")
    return Details(
        values.get("EREF", ""), "", remi or text.strip(), " ".join(name.split()), iban, remi
    )


def parse_86(lines: list[str]) -> Details:
    if not lines:
        return Details()
    structured = _STRUCTURED.match(lines[0])
    if structured:
        return _structured("".join(lines), structured.group(1))
    if lines[0].startswith("/"):
        return _slash("".join(lines))
    text = " ".join(" ".join(line.split()) for line in lines if line.strip())
    eref = _FREE_EREF.search(text)
    return Details(eref.group(1) if eref else "", "", text, remittance=text)
