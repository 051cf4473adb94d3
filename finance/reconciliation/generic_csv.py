"""Any CSV export of a bank or provider, read through a saved `ColumnMapping`.

The mapping (kept as JSON on the run and in `SavedMapping`: `to_dict` / `from_dict`) names the
columns: reference, amount, date, and optionally currency (else `default_currency`), description,
category, and a separate debit column for exports that split money in and out (the row's amount
is then credit - |debit|, an empty cell counting as 0). Also: the date's strftime format, a
decimal comma, the delimiter (sniffed from the header line when None) and the encoding (a UTF-8
BOM is skipped either way). `suggest_mapping` guesses one from a header for the user to confirm.

Quirks handled:
- column names match exactly, then ignoring case and surrounding spaces; every missing column
  is named at once (wrong_format);
- amounts in the forms `values.parse_amount` reads: thousands separators, "(25.00)", "25.00-";
- blank rows are skipped wherever they stand (also a row of only delimiters); a short row that
  is not blank is a malformed_row;
- `StatementRow.reference` is the mapped reference column, stripped.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, fields
from decimal import Decimal

from .base import Source, StatementError, StatementRow, row_error
from .csvfile import CsvFile, is_blank
from .values import (
    ODD_EXPONENTS,
    ZERO,
    BadValue,
    check_places,
    is_money_currency,
    parse_amount,
    parse_currency,
    parse_date,
    seen_currencies,
    strict_date,
)


@dataclass
class ColumnMapping:
    """How to read a bank's or provider's CSV export; saved as JSON (`to_dict`/`from_dict`).

    Column names are matched exactly, then ignoring case and surrounding spaces. With
    `debit_column`, amounts come split in two columns: `amount` names the credit column and
    the row's amount is credit - |debit|.
    """

    reference: str
    amount: str
    currency: str | None
    date: str
    description: str | None = None
    category: str | None = None
    date_format: str = "%Y-%m-%d"
    decimal_comma: bool = False
    debit_column: str | None = None
    default_currency: str | None = None
    delimiter: str | None = None  # sniffed from the header line when None
    encoding: str = "utf-8"  # a UTF-8 BOM is skipped either way

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping) -> ColumnMapping:
        if not isinstance(data, Mapping):
            raise StatementError("the column mapping is not an object", code="bad_mapping")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise StatementError(
                f"the column mapping has unknown keys: {', '.join(unknown)}", code="bad_mapping"
            )
        missing = [k for k in ("reference", "amount", "date") if not data.get(k)]
        if missing:
            raise StatementError(
                f"the column mapping lacks: {', '.join(missing)}", code="bad_mapping"
            )
        mapping = cls(**{"currency": None, **data})
        mapping.validate()
        return mapping

    def validate(self) -> None:
        """Raise StatementError(code="bad_mapping") when the mapping cannot work."""

        def bad(message):
            return StatementError(message, code="bad_mapping")

        for name in ("reference", "amount", "date"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise bad(f"the column mapping needs a {name} column")
        for name in ("currency", "description", "category", "debit_column", "delimiter"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise bad(f"{name} must be a column name or empty")
        if not isinstance(self.decimal_comma, bool):
            raise bad("decimal_comma must be true or false")
        if not isinstance(self.date_format, str) or "%" not in self.date_format:
            raise bad(f"date_format {self.date_format!r} is not a strftime format like %Y-%m-%d")
        if self.delimiter is not None and (len(self.delimiter) != 1 or self.delimiter in '"\r\n'):
            raise bad(f"delimiter {self.delimiter!r} must be one character")
        if self.default_currency is not None and not (
            isinstance(self.default_currency, str)
            and is_money_currency(self.default_currency.upper())
        ):
            raise bad(f"default_currency {self.default_currency!r} is not an ISO 4217 code")
        if not self.currency and not self.default_currency:
            raise bad("the column mapping needs a currency column or a default currency")
        try:
            codecs.lookup(self.encoding)
        except (LookupError, TypeError):
            raise bad(f"encoding {self.encoding!r} is unknown") from None


_SUGGEST = {
    "reference": (
        "reference",
        "ref",
        "transaction id",
        "transaction reference",
        "payment id",
        "payment reference",
        "end to end id",
        "endtoendid",
        "external reference",
        "txn id",
        "id",
    ),
    "amount": ("amount", "gross", "gross amount", "value", "transaction amount", "sum"),
    "credit": ("credit", "credit amount", "paid in", "money in", "in"),
    "debit": ("debit", "debit amount", "paid out", "money out", "out"),
    "currency": ("currency", "ccy", "currency code", "cur", "curr"),
    "date": (
        "date",
        "booked",
        "booked on",
        "booking date",
        "created",
        "created utc",
        "created at",
        "transaction date",
        "value date",
        "posted",
        "posting date",
    ),
    "description": (
        "description",
        "details",
        "narrative",
        "memo",
        "remittance information",
        "text",
        "purpose",
    ),
    "category": ("category", "reporting category", "type", "transaction type", "kind"),
}
_SUGGEST_WORDS = {
    "reference": ("reference", "ref", "id"),
    "amount": ("amount", "gross"),
    "currency": ("currency", "ccy"),
    "date": ("date", "booked", "created"),
    "description": ("description", "details", "memo"),
}


def _norm_header(name: str) -> str:
    return " ".join(re.sub(r"[_\-.()/]+", " ", name.strip().lower().lstrip("\ufeff")).split())


def suggest_mapping(header: list[str]) -> ColumnMapping | None:
    """Guess a mapping from a CSV header by common column names, or None without the basics
    (a reference, an amount or credit/debit pair, a date). Date format and decimal comma cannot
    be guessed from a header: the user confirms them."""
    normed = [_norm_header(h) for h in header]
    used: set[int] = set()

    def pick(key):
        for candidate in _SUGGEST.get(key, ()):
            for i, name in enumerate(normed):
                if i not in used and name == candidate:
                    used.add(i)
                    return header[i]
        for word in _SUGGEST_WORDS.get(key, ()):
            for i, name in enumerate(normed):
                if i not in used and word in name.split():
                    used.add(i)
                    return header[i]
        return None

    date_col = pick("date")
    reference = pick("reference")
    amount = pick("amount")
    debit = None
    if amount is None:
        amount, debit = pick("credit"), pick("debit")
        if amount is None or debit is None:
            return None
    if reference is None or date_col is None:
        return None
    return ColumnMapping(
        reference=reference,
        amount=amount,
        currency=pick("currency"),
        date=date_col,
        description=pick("description"),
        category=pick("category"),
        debit_column=debit,
    )


# --- reading -------------------------------------------------------------------------------


def read_generic_csv(source: Source, mapping: ColumnMapping) -> Iterator[StatementRow]:
    f = CsvFile(source, delimiter=mapping.delimiter, encoding=mapping.encoding)
    cols = f.columns(
        {
            "reference": mapping.reference,
            "amount": mapping.amount,
            "debit": mapping.debit_column,
            "currency": mapping.currency,
            "date": mapping.date,
            "description": mapping.description,
            "category": mapping.category,
        },
        what="the CSV",
    )
    yield from _generic_rows(f, mapping, cols)


def _generic_rows(f: CsvFile, mapping: ColumnMapping, cols) -> Iterator[StatementRow]:
    i_ref, i_amt, i_debit = cols["reference"], cols["amount"], cols["debit"]
    i_cur, i_date, i_desc, i_cat = (
        cols["currency"],
        cols["date"],
        cols["description"],
        cols["category"],
    )
    need = 1 + max(i for i in cols.values() if i is not None)
    decimal_comma, fmt = mapping.decimal_comma, mapping.date_format
    default_currency = (mapping.default_currency or "").upper()
    date_cache = strict_date
    currencies = seen_currencies
    for row in f.rows():
        if len(row) < need:
            if is_blank(row):
                continue
            raise row_error(f"expected {need} columns, found {len(row)}", f.line_no())
        raw = row[i_amt]
        if i_debit is None:
            try:
                amount = parse_amount(raw, decimal_comma)
            except BadValue as exc:
                if is_blank(row):
                    continue
                raise row_error(f"amount {raw.strip()!r} {exc}", f.line_no()) from None
        else:
            amount = _credit_debit(row, raw, row[i_debit], decimal_comma, f)
            if amount is None:
                continue
        currency = row[i_cur] if i_cur is not None else ""
        if currency not in currencies:
            if currency.strip() or not default_currency:
                currency = parse_currency(currency, f.line_no())
            else:
                currency = default_currency
        if amount.as_tuple().exponent < -2 or currency in ODD_EXPONENTS:
            check_places(amount, currency, raw, f.line_no())
        try:
            booked_on = date_cache(row[i_date], fmt)
        except ValueError:
            booked_on = parse_date(row[i_date], fmt, f.line_no())
        yield StatementRow(
            f.line_no(),
            row[i_ref].strip(),
            amount,
            currency,
            booked_on,
            row[i_desc].strip() if i_desc is not None else "",
            row[i_cat].strip() if i_cat is not None else "",
        )


def _credit_debit(row, credit: str, debit: str, decimal_comma: bool, f) -> Decimal | None:
    """credit - |debit| from split amount columns (an empty one counts as 0); None to skip a
    blank row."""
    if not credit.strip() and not debit.strip():
        if is_blank(row):
            return None
        raise row_error("both the credit and the debit amount are empty", f.line_no())
    amount = ZERO
    for name, raw in (("credit", credit), ("debit", debit)):
        if raw.strip():
            try:
                value = parse_amount(raw, decimal_comma)
            except BadValue as exc:
                raise row_error(f"{name} {raw.strip()!r} {exc}", f.line_no()) from None
            amount = amount + value if name == "credit" else amount - abs(value)
    return amount
