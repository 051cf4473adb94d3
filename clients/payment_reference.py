"""Payment references: what a client (or a partner) writes on a bank wire so the money finds
them, as an ISO 11649 structured creditor reference ("RF" + 2 check digits + up to 21 letters
and digits), which banks carry intact in the remittance information.

Ours are `REFERENCE_LENGTH` characters: "RF", the check digits, a one-letter kind (`C` client,
`P` partner) and `RANDOM_LENGTH` random characters from an alphabet without the look-alikes
0/O, 1/I/L. The check digits (mod 97, as in an IBAN) catch a mistyped character, so a wire
with a typo in its reference matches no one rather than someone else.

- `new_payment_reference(kind)`: a fresh reference (the models' field default; unique in the
  database, so a collision, about 1 in 10^13, is refused rather than shared);
- `reference_valid(text)`: the text is a well-formed RF reference with correct check digits;
- `references_in(text)`: every valid reference of ours found anywhere in a remittance text,
  tolerant of spaces, dashes and case ("rf18 c2ab-3xk9 qm" is found);
- `format_reference(ref)`: in groups of four, as printed for the client to copy.
"""

from __future__ import annotations

import re
import secrets

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
RANDOM_LENGTH = 9
KINDS = ("C", "P")  # client, partner
REFERENCE_LENGTH = 4 + 1 + RANDOM_LENGTH
_RF = re.compile(r"RF\d\d[A-Z0-9]{1,21}\Z")
_NOT_ALNUM = re.compile(r"[^A-Z0-9]")


def _numeric(text: str) -> int:
    """Letters as numbers (A=10 ... Z=35), digits as they are: ISO 7064 mod 97-10's input."""
    return int("".join(str(int(ch, 36)) for ch in text))


def check_digits(body: str) -> str:
    """The two check digits of the reference whose creditor part is `body`."""
    return f"{98 - _numeric(body + 'RF00') % 97:02d}"


def reference_valid(text: str) -> bool:
    ref = _NOT_ALNUM.sub("", (text or "").upper())
    if not _RF.match(ref):
        return False
    return _numeric(ref[4:] + ref[:4]) % 97 == 1


def new_payment_reference(kind: str = "C") -> str:
    if kind not in KINDS:
        raise ValueError(f"unknown payment reference kind {kind!r}")
    body = kind + "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_LENGTH))
    return f"RF{check_digits(body)}{body}"


def new_client_reference() -> str:
    return new_payment_reference("C")


def new_partner_reference() -> str:
    return new_payment_reference("P")


def references_in(text: str, kind: str | None = None) -> list[str]:
    """Every valid reference of ours (of `kind`, when given) in `text`, in order, once each."""
    flat = _NOT_ALNUM.sub("", (text or "").upper())
    found: list[str] = []
    start = flat.find("RF")
    while start != -1:
        candidate = flat[start : start + REFERENCE_LENGTH]
        if (
            len(candidate) == REFERENCE_LENGTH
            and (kind is None or candidate[4] == kind)
            and candidate[4] in KINDS
            and reference_valid(candidate)
            and candidate not in found
        ):
            found.append(candidate)
        start = flat.find("RF", start + 1)
    return found


def format_reference(ref: str) -> str:
    return " ".join(ref[i : i + 4] for i in range(0, len(ref), 4))
