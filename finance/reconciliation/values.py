"""Amounts, currencies and dates as statement files write them, read exactly.

- `parse_amount`: a decimal written by a person or a program: "1234.50", "-25", "1,234.50",
  "1.234,50" (with `decimal_comma`), "1'234.50", "1 234,50" (no-break or thin spaces too), and
  the accounting notations "(25.00)" and "25.00-". Never a float; NaN and Infinity are refused,
  and so is anything with more than `MAX_INTEGER_DIGITS` integer digits. Plain numbers take a
  fast path (a regular expression and `Decimal`); grouped and accounting forms only when
  `thousands` is on. Raises `BadValue`, whose message completes "amount '...' <message>", for
  the reader to turn into a `StatementError` naming the column and line.
- `parse_currency`: an ISO 4217 code money can be in (not XXX nor XTS), upper-cased; codes seen
  once are kept in `seen_currencies`, which readers check first on their hot path.
- `check_places`: an amount with more decimal places than its currency has (JPY 0, BHD 3, ...)
  is refused; readers call it only for amounts past two places or in `ODD_EXPONENTS`.
- `strict_date` / `parse_date`: a date in exactly the given strftime format, between
  `MIN_YEAR` and `MAX_YEAR` (cached: statements repeat dates); the error names the format in
  letters (YYYY-MM-DD).
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache

from brokerage.money import exponent, is_currency

from .base import StatementError

MAX_INTEGER_DIGITS = 15
MIN_YEAR, MAX_YEAR = 1970, 2100
ZERO = Decimal(0)


class BadValue(ValueError):
    """A value is not readable; the message completes "amount '...' <message>"."""


_PLAIN = re.compile(r"[+-]?\d{1,15}(?:\.\d{1,15})?\Z", re.ASCII)
_PLAIN_COMMA = re.compile(r"[+-]?\d{1,15}(?:,\d{1,15})?\Z", re.ASCII)
_GROUPED = re.compile(r"(\d{1,3})([,'\u00a0\u202f ])\d{3}(?:\2\d{3})*(?:\.\d{1,15})?\Z", re.ASCII)
_GROUPED_COMMA = re.compile(
    r"(\d{1,3})([.'\u00a0\u202f ])\d{3}(?:\2\d{3})*(?:,\d{1,15})?\Z", re.ASCII
)
NOT_FINITE = re.compile(r"[+-]?(nan|snan|inf|infinity)\Z", re.IGNORECASE)


def _amount_slow(text: str, decimal_comma: bool, thousands: bool) -> Decimal:
    s = text.strip()
    if not s:
        raise BadValue("is empty")
    if NOT_FINITE.match(s):
        raise BadValue("is not a finite number")
    negative = False
    if thousands:  # accounting notations: (25.00) and 25.00-
        if s.startswith("(") and s.endswith(")"):
            negative, s = True, s[1:-1].strip()
        elif s.endswith("-") and s[:1] not in "+-":
            negative, s = True, s[:-1].strip()
    sign = ""
    if s[:1] in "+-":
        sign, s = s[0], s[1:]
        if negative:
            raise BadValue("is not a number")
    if (_PLAIN_COMMA if decimal_comma else _PLAIN).match(s):
        digits = s
    elif thousands and (_GROUPED_COMMA if decimal_comma else _GROUPED).match(s):
        sep = (_GROUPED_COMMA if decimal_comma else _GROUPED).match(s).group(2)
        digits = s.replace(sep, "")
    else:
        whole = re.fullmatch(r"\d+(?:[.,]\d+)?", s)
        if whole and len(re.split(r"[.,]", s)[0]) > MAX_INTEGER_DIGITS:
            raise BadValue(f"has more than {MAX_INTEGER_DIGITS} integer digits")
        raise BadValue("is not a number")
    if decimal_comma:
        digits = digits.replace(",", ".")
    if len(digits.split(".")[0]) > MAX_INTEGER_DIGITS:
        raise BadValue(f"has more than {MAX_INTEGER_DIGITS} integer digits")
    amount = Decimal(sign + digits)
    return -amount if negative else amount


def parse_amount(text: str, decimal_comma: bool = False, thousands: bool = True) -> Decimal:
    """A decimal amount written by a person or a program: "1234.50", "-25", "1,234.50",
    "1.234,50" (decimal_comma), "(25.00)". Raises BadValue. Never a float, never NaN/Infinity."""
    if (_PLAIN_COMMA if decimal_comma else _PLAIN).match(text):
        return Decimal(text.replace(",", ".") if decimal_comma else text)
    return _amount_slow(text, decimal_comma, thousands)


_QUANTA = {0: Decimal(1), 1: Decimal("0.1"), 2: Decimal("0.01"), 3: Decimal("0.001")}
seen_currencies: set[str] = set()

# Currencies whose minor unit is not two places (checked whatever the amount looks like).
ODD_EXPONENTS = frozenset(
    ["BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI"]
    + ["VND", "VUV", "XAF", "XOF", "XPF"]
)


def is_money_currency(code: str) -> bool:
    """An ISO 4217 code money can be in (not XXX "no currency" nor XTS "testing")."""
    return code not in ("XXX", "XTS") and is_currency(code)


def parse_currency(text: str, line_no: int) -> str:
    code = text.strip().upper()
    if code in seen_currencies:
        return code
    if is_money_currency(code):
        seen_currencies.add(code)
        return code
    if not code:
        raise StatementError("the currency is empty", code="malformed_row", line_no=line_no)
    raise StatementError(
        f"currency {text.strip()!r} is not an ISO 4217 currency code",
        code="malformed_row",
        line_no=line_no,
    )


def check_places(amount: Decimal, currency: str, raw: str, line_no: int) -> None:
    places = exponent(currency)
    if amount.as_tuple().exponent < -places and amount != amount.quantize(_QUANTA[places]):
        raise StatementError(
            f"amount {raw.strip()!r} has more decimal places than {currency} allows ({places})",
            code="malformed_row",
            line_no=line_no,
        )


def _human_format(fmt: str) -> str:
    for code, human in (("%Y", "YYYY"), ("%m", "MM"), ("%d", "DD"), ("%y", "YY")):
        fmt = fmt.replace(code, human)
    for code, human in (("%H", "hh"), ("%M", "mm"), ("%S", "ss"), ("%b", "Mon")):
        fmt = fmt.replace(code, human)
    return fmt


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}\Z", re.ASCII)


@lru_cache(maxsize=4096)
def strict_date(text: str, fmt: str) -> date:
    """`text` as a date in exactly `fmt`; ValueError if not (cached: statements repeat dates)."""
    if fmt == "%Y-%m-%d":
        if not _ISO_DATE.match(text):
            raise ValueError(text)
        value = date.fromisoformat(text)
    else:
        value = datetime.strptime(text, fmt).date()
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ValueError(text)
    return value


def parse_date(text: str, fmt: str, line_no: int, what: str = "date") -> date:
    try:
        return strict_date(text.strip(), fmt)
    except ValueError:
        raise StatementError(
            f"{what} {text.strip()!r} is not a valid date in the format {_human_format(fmt)}",
            code="malformed_row",
            line_no=line_no,
        ) from None
