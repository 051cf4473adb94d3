"""Reconciliation statements: turn a payment provider's or a bank's file into `StatementRow`s.

Four formats (see `FORMATS`): Stripe's itemized payout reconciliation report (CSV), ISO 20022
camt.053 (XML), SWIFT MT940, and any CSV read through a saved `ColumnMapping`.

`read_statement()` streams: it reads the upload in chunks and yields one row at a time, so a
file of millions of lines parses in bounded memory. It raises `StatementError` on the first
thing it cannot read, naming the line. Because it streams, rows before a late error (a bad line
near the end, a closing balance that does not add up, a truncated file) have already been
yielded: a caller that must not apply a file partially collects the rows first (or stages them)
and commits only when the generator finished without an error.

Amounts are exact `Decimal`s, signed from the merchant's / account holder's side: + money in
(a payment received), - money out (refund, payout, chargeback, fee).

Reference conventions (what `StatementRow.reference` holds, matching the external reference on
our ledger postings):
- Stripe (category = reporting_category, amount = gross, booked_on = created_utc's date):
  charge -> payment_intent_id (else charge_id, else source_id); every other category
  (refund, refund_failure, dispute, dispute_reversal, payout, fee, transfer, ...) -> source_id
  (re_..., dp_..., po_...), with payment_reference = payment_intent_id (else charge_id) when
  the row has one; the engine skips the categories it does not reconcile.
- camt.053 (booked entries only: Sts BOOK or none; PDNG/INFO entries are skipped):
  NtryDtls/TxDtls/Refs/EndToEndId (unless NOTPROVIDED), else TxDtls/Refs/AcctSvcrRef, else the
  entry's AcctSvcrRef, else RmtInf/Ustrd.
- MT940: the :61: customer reference (unless NONREF; replaced by the full EREF of :86: when it
  is that EREF cut to 16 characters), else the end-to-end reference in :86: (EREF+... or
  /EREF/...), else the :61: bank reference after //.
- CSV: the mapped reference column.

Error codes: empty_file, wrong_format, malformed_row, unsafe_xml, balance_mismatch, truncated,
unknown_format, mapping_required, bad_mapping.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, fields
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from xml.parsers import expat

from brokerage.errors import InvalidInput
from brokerage.money import exponent, is_currency

FORMATS = {
    "stripe_csv": "Stripe itemized payout reconciliation (CSV)",
    "camt053": "ISO 20022 camt.053 (XML)",
    "mt940": "SWIFT MT940",
    "csv": "CSV with a saved column mapping",
}

HEAD_SIZE = 8192  # bytes peeked to check the declared format
CHUNK_SIZE = 1 << 16
MAX_LINE = 1 << 16  # an MT940 line longer than this is not MT940
MAX_XML_DEPTH = 64
MAX_XML_TEXT = 1 << 20  # characters in one XML element's text
MAX_INTEGER_DIGITS = 15
MIN_YEAR, MAX_YEAR = 1970, 2100
ZERO = Decimal(0)
BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True, slots=True)
class StatementRow:
    """One money movement in a statement file.

    line_no: 1-based line (CSV, MT940 :61: line) or entry number (camt.053 <Ntry>), for error
    reports. category: charge, refund, payout, dispute, dispute_reversal, fee, transfer, other …
    """

    line_no: int  # 1-based line (CSV, MT940 :61: line) or entry number (camt.053 <Ntry>)
    reference: str  # the provider's id that our ledger posting carries as external reference
    amount: Decimal  # signed, major units: + money in (a payment), - out (refund, payout, ...)
    currency: str  # ISO 4217, upper case
    booked_on: date  # booking / value date
    description: str = ""
    category: str = ""  # charge, refund, payout, dispute, dispute_reversal, fee, transfer, ...
    payment_reference: str = ""  # refunds/disputes: the original payment's id, when given


@dataclass(frozen=True, slots=True)
class StatementHeader:
    """One bank statement (a camt.053 <Stmt>, an MT940 message): account and balances."""

    statement_id: str  # camt Stmt/Id, MT940 :20:
    account: str  # IBAN (or other account id), MT940 :25:
    currency: str
    opening_balance: Decimal | None
    closing_balance: Decimal | None
    opening_date: date | None
    closing_date: date | None
    entry_count: int  # booked entries / :61: lines
    line_no: int  # where the statement starts in the file
    sequence: str = ""  # camt ElctrncSeqNb, MT940 :28C:


class StatementError(InvalidInput):
    """The statement file cannot be read."""

    code = "bad_statement"

    def __init__(self, message: str = "", *, code: str | None = None, line_no: int | None = None):
        if line_no is not None:
            message = f"line {line_no}: {message}"
        super().__init__(message, code=code)
        self.line_no = line_no


def _wrong_format(message: str) -> StatementError:
    return StatementError(message, code="wrong_format")


# --- column mapping for generic CSV ----------------------------------------------------------


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
            isinstance(self.default_currency, str) and _is_currency(self.default_currency.upper())
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


# --- value parsing -----------------------------------------------------------------------------


class _Bad(ValueError):
    """A value is not readable; the message completes "amount '...' <message>"."""


_PLAIN = re.compile(r"[+-]?\d{1,15}(?:\.\d{1,15})?\Z", re.ASCII)
_PLAIN_COMMA = re.compile(r"[+-]?\d{1,15}(?:,\d{1,15})?\Z", re.ASCII)
_GROUPED = re.compile(r"(\d{1,3})([,'\u00a0\u202f ])\d{3}(?:\2\d{3})*(?:\.\d{1,15})?\Z", re.ASCII)
_GROUPED_COMMA = re.compile(
    r"(\d{1,3})([.'\u00a0\u202f ])\d{3}(?:\2\d{3})*(?:,\d{1,15})?\Z", re.ASCII
)
_NOT_FINITE = re.compile(r"[+-]?(nan|snan|inf|infinity)\Z", re.IGNORECASE)


def _amount_slow(text: str, decimal_comma: bool, thousands: bool) -> Decimal:
    s = text.strip()
    if not s:
        raise _Bad("is empty")
    if _NOT_FINITE.match(s):
        raise _Bad("is not a finite number")
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
            raise _Bad("is not a number")
    if (_PLAIN_COMMA if decimal_comma else _PLAIN).match(s):
        digits = s
    elif thousands and (_GROUPED_COMMA if decimal_comma else _GROUPED).match(s):
        sep = (_GROUPED_COMMA if decimal_comma else _GROUPED).match(s).group(2)
        digits = s.replace(sep, "")
    else:
        whole = re.fullmatch(r"\d+(?:[.,]\d+)?", s)
        if whole and len(re.split(r"[.,]", s)[0]) > MAX_INTEGER_DIGITS:
            raise _Bad(f"has more than {MAX_INTEGER_DIGITS} integer digits")
        raise _Bad("is not a number")
    if decimal_comma:
        digits = digits.replace(",", ".")
    if len(digits.split(".")[0]) > MAX_INTEGER_DIGITS:
        raise _Bad(f"has more than {MAX_INTEGER_DIGITS} integer digits")
    amount = Decimal(sign + digits)
    return -amount if negative else amount


def _amount(text: str, decimal_comma: bool = False, thousands: bool = True) -> Decimal:
    """A decimal amount written by a person or a program: "1234.50", "-25", "1,234.50",
    "1.234,50" (decimal_comma), "(25.00)". Raises _Bad. Never a float, never NaN/Infinity."""
    if (_PLAIN_COMMA if decimal_comma else _PLAIN).match(text):
        return Decimal(text.replace(",", ".") if decimal_comma else text)
    return _amount_slow(text, decimal_comma, thousands)


_QUANTA = {0: Decimal(1), 1: Decimal("0.1"), 2: Decimal("0.01"), 3: Decimal("0.001")}
_currencies: set[str] = set()


def _is_currency(code: str) -> bool:
    """An ISO 4217 code money can be in (not XXX "no currency" nor XTS "testing")."""
    return code not in ("XXX", "XTS") and is_currency(code)


def _currency(text: str, line_no: int) -> str:
    code = text.strip().upper()
    if code in _currencies:
        return code
    if _is_currency(code):
        _currencies.add(code)
        return code
    if not code:
        raise StatementError("the currency is empty", code="malformed_row", line_no=line_no)
    raise StatementError(
        f"currency {text.strip()!r} is not an ISO 4217 currency code",
        code="malformed_row",
        line_no=line_no,
    )


def _check_places(amount: Decimal, currency: str, raw: str, line_no: int) -> None:
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
def _date(text: str, fmt: str) -> date:
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


def _parse_date(text: str, fmt: str, line_no: int, what: str = "date") -> date:
    try:
        return _date(text.strip(), fmt)
    except ValueError:
        raise StatementError(
            f"{what} {text.strip()!r} is not a valid date in the format {_human_format(fmt)}",
            code="malformed_row",
            line_no=line_no,
        ) from None


def _row_error(message: str, line_no: int) -> StatementError:
    return StatementError(message, code="malformed_row", line_no=line_no)


# --- the upload as a stream --------------------------------------------------------------------


class _PrefixedRaw(io.RawIOBase):
    """The peeked head, then the rest of the caller's file (which it never closes).

    With `encoding`, every chunk is checked to decode as it passes, so that a bad byte is
    reported with its line number (a text layer decodes whole chunks and cannot tell)."""

    def __init__(self, head: bytes, rest, encoding: str | None = None):
        self._head = memoryview(head)
        self._rest = rest
        self._encoding = encoding
        self._decoder = codecs.getincrementaldecoder(encoding)() if encoding else None
        self._lines = 0

    def readable(self):
        return True

    def readinto(self, buffer):
        if self._head:
            n = min(len(buffer), len(self._head))
            data = self._head[:n].tobytes()
            self._head = self._head[n:]
        else:
            data = self._rest.read(len(buffer))
            if isinstance(data, str):
                raise TypeError("open the statement file in binary mode")
            n = len(data)
        if self._decoder is not None:
            self._check(data)
        buffer[:n] = data
        return n

    def _check(self, data: bytes) -> None:
        try:
            self._decoder.decode(data, final=not data)
        except UnicodeDecodeError as exc:
            line = self._lines + data[: max(exc.start, 0)].count(b"\n") + 1
            raise StatementError(
                f"the file is not valid {self._encoding.removesuffix('-sig')} text "
                f"(byte {data[exc.start : exc.start + 1]!r})",
                code="malformed_row",
                line_no=line,
            ) from None
        self._lines += data.count(b"\n")


class _Source:
    def __init__(self, fileobj):
        head = fileobj.read(HEAD_SIZE)
        if isinstance(head, str):
            raise TypeError("open the statement file in binary mode")
        self.head = head or b""
        self.rest = fileobj

    def is_empty(self) -> bool:
        return not self.head.removeprefix(BOM).strip()

    def binary(self, encoding: str | None = None) -> io.BufferedReader:
        """The whole file as a stream; with `encoding`, checked to decode (see _PrefixedRaw)."""
        return io.BufferedReader(_PrefixedRaw(self.head, self.rest, encoding), CHUNK_SIZE)

    def chunks(self) -> Iterator[bytes]:
        if self.head:
            yield self.head
        while chunk := self.rest.read(CHUNK_SIZE):
            yield chunk


# --- format detection --------------------------------------------------------------------------

_CAMT_NS = re.compile(rb"urn:iso:std:iso:20022:tech:xsd:camt\.053\.001\.(\d\d)")
_CAMT_NS_TEXT = re.compile(r"urn:iso:std:iso:20022:tech:xsd:camt\.053\.001\.(0[2-9]|1[0-3])\Z")
_XMLNS = re.compile(rb"xmlns(?::\w+)?=[\"']([^\"']+)[\"']")
_MT940_TAG = re.compile(rb"(?m)^(?:\{4:)?[ \t]*:(20|25|60F|60M):")
_BINARY_MAGIC = (b"%PDF", b"PK\x03\x04", b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"\xd0\xcf\x11\xe0")
_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1a\x1c-\x1f]")
_STRIPE_MARKERS = {"balance_transaction_id", "reporting_category"}


def detect_format(head: bytes) -> str | None:
    """The format of a file from its first few KB: a key of FORMATS, or None (empty, binary, or
    XML that is not camt.053)."""
    text = head.removeprefix(BOM).lstrip()
    if not text or text.startswith(_BINARY_MAGIC) or _CONTROL.search(text[:4096]):
        return None
    if text.startswith(b"<"):
        return "camt053" if _CAMT_NS.search(text) else None
    tags = {m.group(1) for m in _MT940_TAG.finditer(text)}
    if b"20" in tags and (b"25" in tags or b"60F" in tags or b"60M" in tags):
        return "mt940"
    if text.startswith(b"{1:") and b"{2:O940" in text[:200]:
        return "mt940"
    first = text.decode("utf-8", errors="replace").splitlines()[0]
    names = {n.strip().lower() for n in next(csv.reader([first], delimiter=_sniff(first)), [])}
    if names >= _STRIPE_MARKERS:
        return "stripe_csv"
    return "csv"


def _check_declared(source: _Source, fmt: str) -> None:
    if source.is_empty():
        raise StatementError("the file is empty", code="empty_file")
    detected = detect_format(source.head)
    if detected == fmt or (fmt == "csv" and detected == "stripe_csv"):
        return
    if fmt == "stripe_csv" and detected == "csv":
        return  # the missing columns are named once the header is read
    expected = FORMATS[fmt]
    if detected in ("camt053", "mt940", "stripe_csv"):
        raise _wrong_format(f"the file is {FORMATS[detected]}, not {expected}")
    head = source.head.removeprefix(BOM).lstrip()
    if head.startswith(b"<"):
        ns = _XMLNS.search(head)
        what = f"XML in namespace {ns.group(1).decode('ascii', 'replace')!r}" if ns else "XML"
        raise _wrong_format(f"the file is {what}, not {expected}")
    if detected is None:
        raise _wrong_format(f"the file is not text: it cannot be {expected}")
    raise _wrong_format(f"the file looks like CSV, not {expected}")


# --- CSV ---------------------------------------------------------------------------------------


def _sniff(line: str) -> str:
    unquoted = re.sub(r'"[^"]*"', "", line)
    counts = {d: unquoted.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


class _CsvFile:
    """The header line and a csv.reader over the rest, with line numbers and decode errors
    turned into StatementErrors."""

    def __init__(self, source: _Source, *, delimiter: str | None, encoding: str = "utf-8"):
        if codecs.lookup(encoding).name == "utf-8":
            encoding = "utf-8-sig"
        self.encoding = encoding
        self.text = io.TextIOWrapper(source.binary(encoding), encoding=encoding, newline="")
        self.header_line = 0
        try:
            for line in self.text:
                self.header_line += 1
                if line.strip():
                    break
            else:
                raise StatementError("the file is empty", code="empty_file")
        except UnicodeDecodeError:
            raise self._decode_error(self.header_line + 1) from None
        self.delimiter = delimiter or _sniff(line)
        self.header = [h.strip() for h in next(csv.reader([line], delimiter=self.delimiter), [])]
        self.reader = csv.reader(self.text, delimiter=self.delimiter, strict=True)

    def _decode_error(self, line_no):
        return StatementError(
            f"the file is not valid {self.encoding.removesuffix('-sig')} text",
            code="malformed_row",
            line_no=line_no,
        )

    def line_no(self) -> int:
        return self.header_line + self.reader.line_num

    def rows(self) -> Iterator[list[str]]:
        try:
            yield from self.reader
        except UnicodeDecodeError:
            raise self._decode_error(self.line_no() + 1) from None
        except csv.Error as exc:
            raise _row_error(f"the CSV is malformed ({exc})", self.line_no()) from None

    def columns(self, wanted: dict[str, str | None], *, what: str) -> dict[str, int | None]:
        """Index of each wanted column (None where the name is None); wrong_format naming all
        missing ones."""
        exact = {}
        loose = {}
        for i, name in enumerate(self.header):
            exact.setdefault(name, i)
            loose.setdefault(name.strip().lower(), i)
        found, missing = {}, []
        for key, name in wanted.items():
            if name is None:
                found[key] = None
            elif name in exact:
                found[key] = exact[name]
            elif name.strip().lower() in loose:
                found[key] = loose[name.strip().lower()]
            else:
                missing.append(name)
        if missing:
            have = ", ".join(self.header[:30]) + (" …" if len(self.header) > 30 else "")
            raise _wrong_format(
                f"{what} lacks the column{'s' if len(missing) > 1 else ''} "
                f"{', '.join(missing)} (its columns are: {have})"
            )
        return found


def _blank(row: list[str]) -> bool:
    return not "".join(row).strip()


def _read_generic_csv(source: _Source, mapping: ColumnMapping) -> Iterator[StatementRow]:
    f = _CsvFile(source, delimiter=mapping.delimiter, encoding=mapping.encoding)
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


def _generic_rows(f: _CsvFile, mapping: ColumnMapping, cols) -> Iterator[StatementRow]:
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
    date_cache = _date
    currencies = _currencies
    for row in f.rows():
        if len(row) < need:
            if _blank(row):
                continue
            raise _row_error(f"expected {need} columns, found {len(row)}", f.line_no())
        raw = row[i_amt]
        if i_debit is None:
            try:
                amount = _amount(raw, decimal_comma)
            except _Bad as exc:
                if _blank(row):
                    continue
                raise _row_error(f"amount {raw.strip()!r} {exc}", f.line_no()) from None
        else:
            amount = _credit_debit(row, raw, row[i_debit], decimal_comma, f)
            if amount is None:
                continue
        currency = row[i_cur] if i_cur is not None else ""
        if currency not in currencies:
            if currency.strip() or not default_currency:
                currency = _currency(currency, f.line_no())
            else:
                currency = default_currency
        if amount.as_tuple().exponent < -2 or currency in _ODD_EXPONENTS:
            _check_places(amount, currency, raw, f.line_no())
        try:
            booked_on = date_cache(row[i_date], fmt)
        except ValueError:
            booked_on = _parse_date(row[i_date], fmt, f.line_no())
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
        if _blank(row):
            return None
        raise _row_error("both the credit and the debit amount are empty", f.line_no())
    amount = ZERO
    for name, raw in (("credit", credit), ("debit", debit)):
        if raw.strip():
            try:
                value = _amount(raw, decimal_comma)
            except _Bad as exc:
                raise _row_error(f"{name} {raw.strip()!r} {exc}", f.line_no()) from None
            amount = amount + value if name == "credit" else amount - abs(value)
    return amount


_ODD_EXPONENTS = frozenset(
    ["BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI"]
    + ["VND", "VUV", "XAF", "XOF", "XPF"]
)


# --- Stripe itemized payout reconciliation -----------------------------------------------------

_STRIPE_TIME = re.compile(
    r"(\d{4}-\d{2}-\d{2})(?:[ T](?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d+)?)?"
    r"(?:Z|[+-]\d{2}:?\d{2})?)?\Z",
    re.ASCII,
)
_STRIPE_CHARGE = frozenset({"charge"})


def _read_stripe_csv(source: _Source) -> Iterator[StatementRow]:
    f = _CsvFile(source, delimiter=",")
    lower = {h.lower() for h in f.header}
    created = "created_utc" if "created_utc" in lower or "created" not in lower else "created"
    cols = f.columns(
        {
            "category": "reporting_category",
            "gross": "gross",
            "currency": "currency",
            "source_id": "source_id",
            "created": created,
        },
        what="the Stripe report",
    )
    optional = f.columns(
        {
            name: name if name in lower else None
            for name in ("payment_intent_id", "charge_id", "description")
        },
        what="the Stripe report",
    )
    yield from _stripe_rows(f, cols, optional)


def _stripe_rows(f: _CsvFile, cols, optional) -> Iterator[StatementRow]:
    i_cat, i_gross, i_cur = cols["category"], cols["gross"], cols["currency"]
    i_src, i_created = cols["source_id"], cols["created"]
    i_pi, i_ch, i_desc = (
        optional["payment_intent_id"],
        optional["charge_id"],
        optional["description"],
    )
    need = 1 + max(i for i in [*cols.values(), *optional.values()] if i is not None)
    upper_cache: dict[str, str] = {}
    date_cache: dict[str, date] = {}
    for row in f.rows():
        if len(row) < need:
            if _blank(row):
                continue
            raise _row_error(f"expected {need} columns, found {len(row)}", f.line_no())
        raw = row[i_gross]
        try:
            amount = _amount(raw, False, False)
        except _Bad as exc:
            if _blank(row):
                continue
            raise _row_error(f"gross {raw.strip()!r} {exc}", f.line_no()) from None
        currency = upper_cache.get(row[i_cur])
        if currency is None:
            currency = upper_cache[row[i_cur]] = _currency(row[i_cur], f.line_no())
        if amount.as_tuple().exponent < -2 or currency in _ODD_EXPONENTS:
            _check_places(amount, currency, raw, f.line_no())
        created = row[i_created]
        day = created[:10]
        booked_on = date_cache.get(day)
        if booked_on is None or not _STRIPE_TIME.match(created):
            booked_on = _stripe_date(created, f.line_no())
            if len(date_cache) > 10000:
                date_cache.clear()
            date_cache[day] = booked_on
        category = row[i_cat].strip()
        source_id = row[i_src].strip()
        pi = row[i_pi].strip() if i_pi is not None else ""
        charge_id = row[i_ch].strip() if i_ch is not None else ""
        if category in _STRIPE_CHARGE:
            reference, payment_reference = pi or charge_id or source_id, ""
        else:
            reference, payment_reference = source_id, pi or charge_id
        if not category:
            raise _row_error("reporting_category is empty", f.line_no())
        yield StatementRow(
            f.line_no(),
            reference,
            amount,
            currency,
            booked_on,
            row[i_desc].strip() if i_desc is not None else "",
            category,
            payment_reference,
        )


def _stripe_date(text: str, line_no: int) -> date:
    m = _STRIPE_TIME.match(text.strip())
    if not m:
        raise _row_error(
            f"created {text.strip()!r} is not a time like 2024-01-31 23:59:59", line_no
        )
    return _parse_date(m.group(1), "%Y-%m-%d", line_no, "created")


# --- camt.053 ----------------------------------------------------------------------------------

_CAMT_AMOUNT = re.compile(r"\d{1,15}(?:\.\d{1,15})?\Z", re.ASCII)

# Paths below the Document element, and what the parser does when an element there ends:
# ("e", key) keeps an entry's text, ("t", key) its first transaction's, ("u", _) adds a Ustrd
# line, ("b", key) a balance's text, ("s", key) the statement's; or when it starts (_START_*).
_STMT = "BkToCstmrStmt/Stmt"
_NTRY = f"{_STMT}/Ntry"
_BAL = f"{_STMT}/Bal"
_TXDTLS = f"{_NTRY}/NtryDtls/TxDtls"
_ON_END = {
    _NTRY: ("entry", ""),
    _BAL: ("bal", ""),
    _STMT: ("stmt", ""),
    **{
        f"{_NTRY}/{path}": ("e", key)
        for path, key in {
            "Amt": "amount",
            "CdtDbtInd": "sign",
            "Sts": "status",
            "Sts/Cd": "status",
            "BookgDt/Dt": "booked",
            "BookgDt/DtTm": "booked_at",
            "ValDt/Dt": "value",
            "ValDt/DtTm": "value_at",
            "AcctSvcrRef": "bank_ref",
            "AddtlNtryInf": "info",
            "BkTxCd/Domn/Fmly/SubFmlyCd": "subfamily",
        }.items()
    },
    f"{_TXDTLS}/Refs/EndToEndId": ("t", "e2e"),
    f"{_TXDTLS}/Refs/AcctSvcrRef": ("t", "tx_bank_ref"),
    f"{_TXDTLS}/RmtInf/Ustrd": ("u", "ustrd"),
    **{
        f"{_BAL}/{path}": ("b", key)
        for path, key in {
            "Tp/CdOrPrtry/Cd": "type",
            "Amt": "amount",
            "CdtDbtInd": "sign",
            "Dt/Dt": "date",
            "Dt/DtTm": "date_at",
        }.items()
    },
    **{
        f"{_STMT}/{path}": ("s", key)
        for path, key in {
            "Id": "id",
            "ElctrncSeqNb": "seq",
            "Acct/Id/IBAN": "iban",
            "Acct/Id/Othr/Id": "account",
            "Acct/Ccy": "currency",
        }.items()
    },
}
_START_ENTRY, _START_TX, _START_ENTRY_AMT, _START_STMT, _START_BAL, _START_BAL_AMT = range(1, 7)
_ON_START = {
    _NTRY: _START_ENTRY,
    _TXDTLS: _START_TX,
    f"{_NTRY}/Amt": _START_ENTRY_AMT,
    _STMT: _START_STMT,
    _BAL: _START_BAL,
    f"{_BAL}/Amt": _START_BAL_AMT,
}
_FEE_SUBFAMILIES = frozenset({"CHRG", "COMM", "COME", "COMI", "FEES", "SUBS"})


class _Node:
    """A node of the tree of element paths the camt parser cares about."""

    __slots__ = ("children", "start", "end")

    def __init__(self, start=0, end=None):
        self.children: dict[str, _Node] = {}
        self.start = start
        self.end = end


_SKIP = _Node()  # every element outside the paths above: it has no children of interest


@lru_cache(maxsize=16)
def _camt_tree(ns: str) -> _Node:
    """The paths as a tree keyed by expat's "namespace name" element names."""
    root = _Node()
    for path in {*_ON_END, *_ON_START}:
        node = root
        for local in path.split("/"):
            node = node.children.setdefault(f"{ns} {local}", _Node())
        node.start = _ON_START.get(path, 0)
        node.end = _ON_END.get(path)
    return root


def _attribute(attrs: list[str], name: str) -> str:
    for i in range(0, len(attrs), 2):
        if attrs[i] == name:
            return attrs[i + 1]
    return ""


def _camt_parser(out: list):
    """An expat parser that appends each booked entry (StatementRow) and, at the end of each
    <Stmt>, its StatementHeader to `out`. Only the current entry is kept in memory; DOCTYPE
    and entity declarations are refused before anything is expanded."""
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.buffer_text = True
    parser.buffer_size = CHUNK_SIZE
    parser.ordered_attributes = True  # attributes as [name, value, ...]: cheaper than a dict
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    stack: list[_Node] = []
    text = ""
    entry: dict | None = None
    bal: dict | None = None
    stmt: dict | None = None
    tx_count = 0
    entry_no = 0

    def line() -> int:
        return parser.CurrentLineNumber

    def refuse_doctype(*args):
        raise StatementError(
            "the XML has a DOCTYPE declaration; camt.053 files have none and it is refused "
            "(entity expansion and external entities are unsafe)",
            code="unsafe_xml",
            line_no=line(),
        )

    def refuse_entity(*args):
        raise StatementError(
            "the XML declares or references an external entity; refused as unsafe",
            code="unsafe_xml",
            line_no=line(),
        )

    def start(name: str, attrs: list[str]) -> None:
        nonlocal text, entry, bal, stmt, tx_count, entry_no
        text = ""
        if not stack:
            ns, _, local = name.rpartition(" ")
            if local != "Document" or not _CAMT_NS_TEXT.match(ns):
                where = f" in namespace {ns!r}" if ns else ""
                raise _wrong_format(
                    f"the XML root is <{local}>{where}, not a camt.053 (001.02 to 001.13) Document"
                )
            stack.append(_camt_tree(ns))
            return
        node = stack[-1].children.get(name, _SKIP)
        stack.append(node)
        action = node.start
        if not action:
            if node is _SKIP and len(stack) > MAX_XML_DEPTH:
                raise _row_error("the XML is nested too deeply", line())
        elif action == _START_ENTRY:
            entry_no += 1
            tx_count = 0
            entry = {"line": line(), "ustrd": []}
        elif action == _START_TX:
            tx_count += 1
        elif action == _START_ENTRY_AMT:
            entry["ccy"] = _attribute(attrs, "Ccy")
        elif action == _START_STMT:
            stmt = {"line": line(), "bals": [], "count": 0, "sum": ZERO, "currencies": set()}
        elif action == _START_BAL:
            bal = {"line": line()}
        elif action == _START_BAL_AMT:
            bal["ccy"] = _attribute(attrs, "Ccy")

    def chars(data: str) -> None:
        nonlocal text
        text += data
        if len(text) > MAX_XML_TEXT:
            raise _row_error("an XML element's text is too long", line())

    def end(name: str) -> None:
        nonlocal entry, bal, stmt
        action = stack.pop().end
        if action is None:
            return
        kind, key = action
        if kind == "e":
            entry.setdefault(key, text.strip())
        elif kind == "t":
            if tx_count == 1:
                entry.setdefault(key, text.strip())
        elif kind == "u":
            if tx_count == 1:
                entry["ustrd"].append(text.strip())
        elif kind == "entry":
            row = _camt_row(entry, entry_no)
            entry = None
            if row is not None:
                stmt["count"] += 1
                stmt["sum"] += row.amount
                stmt["currencies"].add(row.currency)
                out.append(row)
        elif kind == "b":
            bal.setdefault(key, text.strip())
        elif kind == "s":
            stmt.setdefault(key, text.strip())
        elif kind == "bal":
            stmt["bals"].append(bal)
            bal = None
        elif kind == "stmt":
            out.append(_camt_header(stmt))
            stmt = None

    parser.StartDoctypeDeclHandler = refuse_doctype
    parser.EntityDeclHandler = refuse_entity
    parser.ExternalEntityRefHandler = refuse_entity
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = chars
    return parser


def _camt_feed(parser, chunk: bytes, final: bool = False) -> None:
    try:
        parser.Parse(chunk, final)
    except expat.ExpatError as exc:
        if final and exc.code in _TRUNCATED_XML:
            raise StatementError(
                "the XML ends early: the file looks truncated",
                code="truncated",
                line_no=exc.lineno,
            ) from None
        raise StatementError(
            f"the XML is not well-formed ({expat.ErrorString(exc.code)})",
            code="malformed_row",
            line_no=exc.lineno,
        ) from None
    except (LookupError, UnicodeError) as exc:  # an encoding expat and Python do not know
        raise StatementError(
            f"the XML's encoding cannot be read ({exc})",
            code="malformed_row",
            line_no=parser.CurrentLineNumber,
        ) from None


_TRUNCATED_XML = frozenset(
    expat.errors.codes[message]
    for message in (
        expat.errors.XML_ERROR_NO_ELEMENTS,
        expat.errors.XML_ERROR_UNCLOSED_TOKEN,
        expat.errors.XML_ERROR_PARTIAL_CHAR,
    )
)


def _camt_date(e: dict, key: str, bad) -> date | None:
    if e.get(key):
        text = e[key]
        try:
            return _date(text, "%Y-%m-%d")
        except ValueError:
            raise bad(f"date {text!r} is not a valid date (YYYY-MM-DD)") from None
    if e.get(f"{key}_at"):
        text = e[f"{key}_at"]
        try:
            value = datetime.fromisoformat(text).date()
        except ValueError:
            raise bad(f"date-time {text!r} is not an ISO 8601 date-time") from None
        if not MIN_YEAR <= value.year <= MAX_YEAR:
            raise bad(f"date-time {text!r} is out of range")
        return value
    return None


def _camt_row(e: dict, n: int) -> StatementRow | None:
    line = e["line"]

    def bad(message):
        return _row_error(f"entry {n}: {message}", line)

    status = e.get("status", "BOOK").upper()
    if status not in ("BOOK", ""):
        return None  # pending / information-only entries are not booked money
    raw = e.get("amount")
    if raw is None:
        raise bad("the entry has no <Amt>")
    if not _CAMT_AMOUNT.match(raw):
        if _NOT_FINITE.match(raw):
            raise bad(f"amount {raw!r} is not a finite number")
        raise bad(f"amount {raw!r} is not a number")
    amount = Decimal(raw)
    currency = e.get("ccy", "")
    if currency not in _currencies:
        if not currency:
            raise bad("the amount has no Ccy attribute")
        currency = _currency(currency, line)
    if amount.as_tuple().exponent < -2 or currency in _ODD_EXPONENTS:
        _check_places(amount, currency, raw, line)
    sign = e.get("sign")
    if sign == "DBIT":
        amount = -amount
    elif sign != "CRDT":
        raise bad(f"CdtDbtInd {sign!r} is neither CRDT nor DBIT")
    booked_on = _camt_date(e, "booked", bad) or _camt_date(e, "value", bad)
    if booked_on is None:
        raise bad("the entry has no booking or value date")
    ustrd = " ".join(u for u in e["ustrd"] if u)
    e2e = e.get("e2e", "")
    if e2e.upper() == "NOTPROVIDED":
        e2e = ""
    reference = e2e or e.get("tx_bank_ref") or e.get("bank_ref") or ustrd
    category = "fee" if e.get("subfamily", "").upper() in _FEE_SUBFAMILIES else "transfer"
    return StatementRow(n, reference, amount, currency, booked_on, e.get("info") or ustrd, category)


def _camt_header(s: dict) -> StatementHeader:
    opening = closing = None
    for bal in s["bals"]:
        kind = bal.get("type", "").upper()
        line = bal["line"]

        def bad(message, line=line, kind=kind):
            return _row_error(f"balance {kind or '?'}: {message}", line)

        raw = bal.get("amount", "")
        if not _CAMT_AMOUNT.match(raw):
            raise bad(f"amount {raw!r} is not a number")
        amount = Decimal(raw)
        if bal.get("sign") == "DBIT":
            amount = -amount
        elif bal.get("sign") != "CRDT":
            raise bad(f"CdtDbtInd {bal.get('sign')!r} is neither CRDT nor DBIT")
        currency = _currency(bal.get("ccy", ""), line)
        on = _camt_date(bal, "date", bad)
        if kind in ("OPBD", "PRCD") and opening is None:
            opening = (amount, currency, on)
        elif kind == "CLBD" and closing is None:
            closing = (amount, currency, on)
    currency = s.get("currency") or (opening or closing or (None, "", None))[1]
    total = s["sum"]
    if (
        opening is not None
        and closing is not None
        and opening[1] == closing[1]
        and s["currencies"] <= {opening[1]}
        and opening[0] + total != closing[0]
    ):
        raise StatementError(
            f"statement {s.get('id', '')!r} does not add up: opening balance {opening[0]} "
            f"+ entries {total} = {opening[0] + total}, but the closing balance is {closing[0]}",
            code="balance_mismatch",
            line_no=s["line"],
        )
    return StatementHeader(
        statement_id=s.get("id", ""),
        account=s.get("iban") or s.get("account", ""),
        currency=currency,
        opening_balance=opening[0] if opening else None,
        closing_balance=closing[0] if closing else None,
        opening_date=opening[2] if opening else None,
        closing_date=closing[2] if closing else None,
        entry_count=s["count"],
        line_no=s["line"],
        sequence=s.get("seq", ""),
    )


def _iter_camt053(source: _Source) -> Iterator[StatementRow | StatementHeader]:
    out: list = []
    parser = _camt_parser(out)
    for chunk in source.chunks():
        _camt_feed(parser, chunk)
        if out:
            yield from out
            out.clear()
    _camt_feed(parser, b"", final=True)
    yield from out


# --- MT940 -------------------------------------------------------------------------------------

_TAG = re.compile(r":(\d{2}[A-Z]?):")
_BALANCE = re.compile(
    r"(?P<mark>[CD])(?P<date>\d{6})(?P<ccy>[A-Z]{3})(?P<amount>\d[\d,]*)\s*\Z", re.ASCII
)
_LINE_61 = re.compile(
    r"(?P<vdate>\d{6})(?P<edate>\d{4})?(?P<mark>RC|RD|C|D)(?P<funds>[A-Z])?"
    r"(?P<amount>\d[\d,]*)(?P<ttype>[NFS][A-Z0-9]{3})(?P<custref>.*?)(?://(?P<bankref>.*))?\Z",
    re.ASCII,
)
_SWIFT_AMOUNT = re.compile(r"\d{1,15},\d{0,15}\Z", re.ASCII)
_STRUCTURED_86 = re.compile(r"\d{3}\?\d\d|\?\d\d")
_SUBFIELD = re.compile(r"\?(\d\d)")
_SEPA_KEYWORDS = re.compile(
    r"(EREF|KREF|MREF|CRED|DEBT|SVWZ|ABWA|ABWE|IBAN|BIC|COAM|OAMT|SQTP|PURP|RTRN)\+"
)
_SWIFT_CODES = (
    "EREF|TRTP|IBAN|BIC|NAME|REMI|MARF|CSID|SVCL|ISDT|RTRN|PURP|ORDP|BENM|ULTC|ULTD|CNTP|PREF|"
    "ADDR|OCMT|CHGS|EXCH|IREF|CREF|COAM|OAMT|ATOS|RTYP|SWOC|CDTRREFTP|CDTRREF"
)
_SLASH_EREF = re.compile(rf"/EREF/(.*?)(?=/(?:{_SWIFT_CODES})/|/?\Z)")
_SLASH_REMI = re.compile(rf"/REMI/(?:USTD//|STRD/)?(.*?)(?=/(?:{_SWIFT_CODES})/|/?\Z)")
_FREE_EREF = re.compile(r"EREF\+(\S+)")
_PURPOSE_CODES = frozenset([*(f"2{i}" for i in range(10)), "60", "61", "62", "63"])
_FEE_TYPES = frozenset({"CHG", "COM"})


def _swift_amount(text: str) -> Decimal:
    if not _SWIFT_AMOUNT.match(text):
        raise _Bad("is not a SWIFT amount like 1234,56")
    return Decimal(text.replace(",", "."))


@lru_cache(maxsize=4096)
def _yymmdd(text: str) -> date:
    """A SWIFT YYMMDD date (years 70-99 are 1970-1999); ValueError if invalid."""
    year = int(text[:2])
    return date(2000 + year if year < 70 else 1900 + year, int(text[2:4]), int(text[4:6]))


@lru_cache(maxsize=4096)
def _entry_date(value_date: date, mmdd: str) -> date:
    """The :61: entry (booking) date MMDD, in the year that puts it nearest the value date."""
    month, day = int(mmdd[:2]), int(mmdd[2:])
    year = value_date.year
    if month - value_date.month > 6:
        year -= 1
    elif value_date.month - month > 6:
        year += 1
    booked_on = date(year, month, day)
    if not MIN_YEAR <= booked_on.year <= MAX_YEAR:
        raise ValueError(mmdd)
    return booked_on


def _parse_86(lines: list[str]) -> tuple[str, str]:
    """(end-to-end reference, description) from a :86: field."""
    if lines and _STRUCTURED_86.match(lines[0]):  # German style: GVC?00booking text?20...
        parts = _SUBFIELD.split("".join(lines))
        purpose_lines = [
            text
            for code, text in zip(parts[1::2], parts[2::2], strict=True)
            if code in _PURPOSE_CODES
        ]
        purpose = "".join(purpose_lines)  # SEPA values run on across subfields
        keys = list(_SEPA_KEYWORDS.finditer(purpose))
        if not keys:  # pre-SEPA: each subfield is a line of free text
            return "", " ".join(text.strip() for text in purpose_lines if text.strip())
        values = {}
        for k, m in enumerate(keys):
            end = keys[k + 1].start() if k + 1 < len(keys) else len(purpose)
            values.setdefault(m.group(1), purpose[m.end() : end].strip())
        return values.get("EREF", ""), values.get("SVWZ", purpose.strip())
    if lines and lines[0].startswith("/"):
        text = "".join(lines)
        eref = _SLASH_EREF.search(text)
        remi = _SLASH_REMI.search(text)
        return (eref.group(1).strip().rstrip("/") if eref else ""), (
            remi.group(1).strip().rstrip("/") if remi else text.strip()
        )
    text = " ".join(line.strip() for line in lines).strip()
    eref = _FREE_EREF.search(text)
    return (eref.group(1) if eref else ""), text


class _Mt940Message:
    def __init__(self, line_no: int):
        self.line_no = line_no
        self.statement_id = ""
        self.account = ""
        self.sequence = ""
        self.opening: tuple[Decimal, str, date] | None = None
        self.closing: tuple[Decimal, str, date] | None = None
        self.closing_line = line_no
        self.total = ZERO
        self.count = 0
        self.pending: dict | None = None  # the last :61:, waiting for its :86:


class _Mt940Parser:
    def __init__(self):
        self.msg: _Mt940Message | None = None
        self.messages = 0

    def field(self, tag: str, lines: list[str], line_no: int) -> list:
        """Apply one field; return the rows / headers it completes."""
        out = []
        if tag == "86":
            msg = self.msg
            if msg is not None and msg.pending is not None and "info" not in msg.pending:
                msg.pending["info"] = lines
            return out
        if self.msg is not None and self.msg.pending is not None:
            out.append(self._row(self.msg.pending))
            self.msg.pending = None
        if tag == "20":
            if self.msg is not None:
                out.append(self.end(line_no))
            self.msg = _Mt940Message(line_no)
            self.msg.statement_id = lines[0].strip()
            return out
        msg = self.msg
        if msg is None:
            raise _row_error(f":{tag}: comes before the :20: that starts a statement", line_no)
        if tag == "25":
            msg.account = "".join(lines).strip()
        elif tag in ("28C", "28"):
            msg.sequence = lines[0].strip()
        elif tag in ("60F", "60M", "62F", "62M"):
            value = self._balance(tag, lines[0], line_no)
            if tag.startswith("60"):
                if msg.opening is not None:
                    raise _row_error(f"a second opening balance :{tag}:", line_no)
                msg.opening = value
            else:
                if msg.opening is None:
                    raise _row_error(f":{tag}: comes before the opening balance :60F:", line_no)
                msg.closing, msg.closing_line = value, line_no
        elif tag == "61":
            if msg.opening is None:
                raise _row_error(":61: comes before the opening balance :60F:", line_no)
            if msg.closing is not None:
                raise _row_error(":61: comes after the closing balance :62F:", line_no)
            msg.pending = {"line": line_no, "lines": lines}
        return out

    def _balance(self, tag: str, text: str, line_no: int) -> tuple[Decimal, str, date]:
        m = _BALANCE.match(text.strip())
        if not m:
            raise _row_error(
                f":{tag}: {text.strip()!r} is not a balance like C240131EUR1234,56", line_no
            )
        try:
            on = _yymmdd(m.group("date"))
        except ValueError:
            raise _row_error(
                f":{tag}: date {m.group('date')!r} is not a valid YYMMDD", line_no
            ) from None
        try:
            amount = _swift_amount(m.group("amount"))
        except _Bad as exc:
            raise _row_error(f":{tag}: amount {m.group('amount')!r} {exc}", line_no) from None
        currency = _currency(m.group("ccy"), line_no)
        return (-amount if m.group("mark") == "D" else amount), currency, on

    def _row(self, pending: dict) -> StatementRow:
        msg = self.msg
        line_no = pending["line"]
        text = pending["lines"][0].strip()
        m = _LINE_61.match(text)
        if not m:
            raise _row_error(
                f":61: {text!r} is not a statement line (YYMMDD[MMDD]C|D amount Nxxx reference)",
                line_no,
            )
        vdate, edate, mark, _funds, raw_amount, ttype, custref, bankref = m.groups()
        try:
            booked_on = _yymmdd(vdate)
            if edate:
                booked_on = _entry_date(booked_on, edate)
        except ValueError:
            raise _row_error(
                f":61: date {vdate + (edate or '')!r} is not a valid YYMMDD[MMDD]", line_no
            ) from None
        try:
            amount = _swift_amount(raw_amount)
        except _Bad as exc:
            raise _row_error(f":61: amount {raw_amount!r} {exc}", line_no) from None
        if mark == "D" or mark == "RC":
            amount = -amount
        currency = msg.opening[1]
        if amount.as_tuple().exponent < -2 or currency in _ODD_EXPONENTS:
            _check_places(amount, currency, raw_amount, line_no)
        custref = custref.strip()
        if custref.upper() == "NONREF":
            custref = ""
        eref, description = _parse_86(pending["info"]) if "info" in pending else ("", "")
        if eref.upper() == "NOTPROVIDED":
            eref = ""
        if custref and not (eref and len(custref) == 16 and eref.startswith(custref)):
            reference = custref
        else:
            reference = eref or (bankref or "").strip()
        msg.total += amount
        msg.count += 1
        category = "fee" if ttype[1:] in _FEE_TYPES else "transfer"
        return StatementRow(line_no, reference, amount, currency, booked_on, description, category)

    def end(self, line_no: int) -> StatementHeader:
        """Close the current message, checking that its balances add up."""
        msg, self.msg = self.msg, None
        out_line = msg.line_no
        if msg.opening is None:
            raise StatementError(
                f"the statement {msg.statement_id!r} has no opening balance :60F:",
                code="truncated",
                line_no=out_line,
            )
        if msg.closing is None:
            raise StatementError(
                f"the statement {msg.statement_id!r} has no closing balance :62F: "
                "(the file looks truncated)",
                code="truncated",
                line_no=line_no,
            )
        opening, currency, opening_date = msg.opening
        closing, closing_currency, closing_date = msg.closing
        if closing_currency != currency:
            raise _row_error(
                f"the closing balance is in {closing_currency}, the opening one in {currency}",
                msg.closing_line,
            )
        if opening + msg.total != closing:
            raise StatementError(
                f"the statement {msg.statement_id!r} does not add up: opening balance {opening} "
                f"+ lines {msg.total} = {opening + msg.total}, but the closing balance :62F: is "
                f"{closing} (lines missing or the file truncated?)",
                code="balance_mismatch",
                line_no=msg.closing_line,
            )
        self.messages += 1
        return StatementHeader(
            statement_id=msg.statement_id,
            account=msg.account,
            currency=currency,
            opening_balance=opening,
            closing_balance=closing,
            opening_date=opening_date,
            closing_date=closing_date,
            entry_count=msg.count,
            line_no=msg.line_no,
            sequence=msg.sequence,
        )


def _iter_mt940(source: _Source) -> Iterator[StatementRow | StatementHeader]:
    f = source.binary()
    parser = _Mt940Parser()
    tag: str | None = None
    lines: list[str] = []
    tag_line = 0
    line_no = 0
    while raw := f.readline(MAX_LINE):
        line_no += 1
        if len(raw) == MAX_LINE and not raw.endswith(b"\n"):
            raise _row_error("the line is too long for MT940", line_no)
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            line = raw.decode("latin-1")
        line = line.rstrip("\r\n")
        if line_no == 1:
            line = line.lstrip("\ufeff")
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("{"):  # SWIFT envelope: {1:...}{2:...}{3:...}{4:
            start = stripped.find("{4:")
            if start < 0:
                continue
            line = stripped = stripped[start + 3 :].strip()
            if not stripped:
                continue
        end_of_message = stripped == "-" or stripped.startswith("-}") or stripped == "$"
        m = None if end_of_message else _TAG.match(stripped)
        if end_of_message or m:
            if tag is not None:
                yield from parser.field(tag, lines, tag_line)
                tag = None
            if end_of_message:
                if parser.msg is not None:
                    yield parser.end(line_no)
                continue
            tag, lines, tag_line = m.group(1), [line.lstrip()[m.end() :]], line_no
        elif tag is None:
            raise _row_error(f"{stripped[:40]!r} is outside any MT940 field", line_no)
        else:
            lines.append(line)
    if tag is not None:
        yield from parser.field(tag, lines, tag_line)
    if parser.msg is not None:
        yield parser.end(line_no)
    if not parser.messages:
        raise _wrong_format("the file holds no MT940 statement (:20: ... :62F:)")


# --- entry points ------------------------------------------------------------------------------


def read_statement(
    fileobj, fmt: str, *, mapping: ColumnMapping | None = None
) -> Iterator[StatementRow]:
    """Stream the rows of a statement file opened in binary mode, in file order.

    Arguments are checked now; the file is read as the rows are consumed, and StatementError
    is raised at the first problem (see the module docstring on partial reads).
    """
    if fmt not in FORMATS:
        raise StatementError(
            f"unknown statement format {fmt!r} (known: {', '.join(FORMATS)})",
            code="unknown_format",
        )
    if fmt == "csv":
        if mapping is None:
            raise StatementError("a CSV statement needs a column mapping", code="mapping_required")
        mapping.validate()
    return _read(fileobj, fmt, mapping)


def _read(fileobj, fmt: str, mapping: ColumnMapping | None) -> Iterator[StatementRow]:
    source = _Source(fileobj)
    _check_declared(source, fmt)
    if fmt == "csv":
        yield from _read_generic_csv(source, mapping)
    elif fmt == "stripe_csv":
        yield from _read_stripe_csv(source)
    else:
        items = _iter_camt053(source) if fmt == "camt053" else _iter_mt940(source)
        for item in items:
            if type(item) is StatementRow:
                yield item


def read_statement_headers(fileobj, fmt: str) -> list[StatementHeader]:
    """Account, balances and entry count of each statement in a camt.053 or MT940 file
    (reads the whole file, checking it as read_statement does)."""
    if fmt not in ("camt053", "mt940"):
        raise StatementError(
            f"{fmt!r} files have no statement header (camt053 and mt940 do)",
            code="unknown_format",
        )
    source = _Source(fileobj)
    _check_declared(source, fmt)
    items = _iter_camt053(source) if fmt == "camt053" else _iter_mt940(source)
    return [item for item in items if type(item) is StatementHeader]


def read_camt053_header(fileobj) -> StatementHeader:
    """The first statement's header of a camt.053 file (account IBAN, opening/closing
    balance); use read_statement_headers for files with several <Stmt>."""
    headers = read_statement_headers(fileobj, "camt053")
    if not headers:
        raise StatementError("the camt.053 file holds no <Stmt>", code="wrong_format")
    return headers[0]
