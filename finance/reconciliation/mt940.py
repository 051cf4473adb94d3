"""SWIFT MT940 (customer statement message), as banks deliver it in files.

Written by hand, as a stream, rather than on the mt-940 package (which reads every dialect
below, and which the tests use as a second reading of real banks' files, agreeing on every
amount, date and reference both read): mt-940 parses the whole file in memory and takes
about five times as long (100,000 statement lines: 15.5 s, against about 3 s here, on the
same machine), which a million lines cannot afford within a month's reconciliation target.

A file holds one or more messages, each optionally in the SWIFT envelope ({1:...}{2:O940...}
{4: ... -}{5:...}), with control bytes (SOH, ETX) around it, ended by "-", "-}", "-XXX" or
"$", or simply followed by the next :20:. Banks' header lines before a message's :20: (a BIC
line, "940", ":940:", "0000 01INGBNL2AXXXX00001": upper case, digits and spaces) are skipped.
Read a megabyte at a time (a line over `MAX_LINE` bytes is not MT940), decoded as UTF-8, else
Latin-1 line by line, since banks write either; a UTF-8 BOM is skipped. A field starts with
:TAG: at the start of a line and runs on over the following lines; other text outside any
field is a malformed_row. `iter_mt940` yields the rows of each :61: and, at the end of each
message, its `StatementHeader`.

Contract and quirks:
- :20: starts a statement; then :25: account, :28C: (or :28:) sequence, :60F:/:60M: opening
  balance, :61: statement lines each optionally followed by :86: information (several :86:
  run on, as Rabobank writes them), :62F:/:62M: closing balance; :64:, :65: and :NS: are
  ignored. A :61: before the opening or after the closing balance, a second opening balance,
  or a closing balance without an opening one is a malformed_row;
- balances and amounts use a decimal comma ("C240131EUR1234,56"; "500" without one is read as
  500); an amount with more decimal places than its currency has is a malformed_row;
- :61: as banks write it: the entry date MMDD, or four spaces for none; the mark C credit
  (+), D debit (-), RC reversal of a credit (-), RD reversal of a debit (+), then an optional
  funds code (CR, DD, CN: credit/debit with funds code R, D, N); the transaction type with
  spaces (NIT , NOV ) or digits (N192); the customer reference is the 16 characters before a
  "//", the bank reference up to 23 after it (mt-940's reading); the currency is the opening
  balance's;
- dates are YYMMDD, years 70-99 in the 1900s; the entry date is put in the year nearest the
  value date (a December value date and a January entry date cross the year), and is the
  row's `booked_on` when present. A date that is not a calendar date (30 February) is not
  refused when another can be taken: an entry date that is not one gives way to the value
  date, a value date that is not one to the entry date, else to the month's last day; the
  row's `note` says what was taken. A 13th month or a day 00 or 32 is refused;
- `reference`: the :61: customer reference, else the end-to-end reference (EREF) of :86:,
  else its customer reference (KREF, where the :61: says "KREF+"), else the :61: bank
  reference after //. A placeholder is never a reference: NONREF, NOTPROVIDED, a bare
  "KREF+"; a customer reference that is the EREF cut to 16 characters gives way to the EREF;
- :86:, `description`, `remittance`, the other side and `end_to_end_id`: see mt940_details;
- `category` is fee for the transaction type codes CHG and COM (NCHG, FCOM, ...), else
  transfer;
- every message must close: opening + lines = closing (balance_mismatch), a message without
  :62F: is truncated, and a file without any message is wrong_format; each names its line.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from functools import lru_cache

from .base import Source, StatementError, StatementHeader, StatementRow, row_error, wrong_format
from .mt940_details import Details, parse_86, real_reference
from .values import (
    MAX_YEAR,
    MIN_YEAR,
    ODD_EXPONENTS,
    ZERO,
    BadValue,
    check_places,
    parse_currency,
)

MAX_LINE = 1 << 16  # an MT940 line longer than this is not MT940
READ_SIZE = 1 << 20

_TAG = re.compile(r":(\d{2}[A-Z]?|NS):")
_BALANCE = re.compile(
    r"(?P<mark>[CD])(?P<date>\d{6})(?P<ccy>[A-Z]{3})(?P<amount>\d[\d,]*)\s*\Z", re.ASCII
)
# 6!n value date, [4!n] entry date (or four spaces), 2a mark, [1!a] funds code, 15d amount,
# 1!a3!c transaction type, 16x customer reference, [//16x bank reference], [34x details]:
# loosened as banks write it (the mt-940 package's reading, which the tests compare against).
_LINE_61 = re.compile(
    r"(?P<vdate>\d{6})(?P<edate>\d{4}| {4})?(?P<mark>RC|RD|C|D)(?P<funds>[A-Z])? ?"
    r"(?P<amount>\d[\d,]*)(?P<ttype>[A-Z][A-Z0-9 ]{3})?(?P<rest>.*)\Z",
    re.ASCII,
)
_SWIFT_AMOUNT = re.compile(r"\d{1,15}(?:,\d{0,15})?\Z", re.ASCII)
_FEE_TYPES = frozenset({"CHG", "COM"})
# Lines banks put before a message's :20: ("ABNANL2A", "940", ":940:", "940 00",
# "0000 01INGBNL2AXXXX00001"): upper case letters, digits, spaces, at most 40.
_HEADER_LINE = re.compile(r":?[A-Z0-9 ]{1,40}:?\Z", re.ASCII)
# The end of a message: "-", "-}" (with the trailer {5:...} after it), "-XXX", "$".
_END = re.compile(r"-(?:\}.*|[A-Z0-9]{0,8})\Z|\$\Z")
# Control bytes around messages (SOH, ETX, SUB, ...), stripped from both ends of a line.
_CONTROL = "".join(chr(c) for c in range(32) if c not in (9, 10)) + "\x7f"


def _swift_amount(text: str) -> Decimal:
    if not _SWIFT_AMOUNT.match(text):
        raise BadValue("is not a SWIFT amount like 1234,56")
    return Decimal(text.replace(",", "."))


def _year(yy: str) -> int:
    year = int(yy)
    return 2000 + year if year < 70 else 1900 + year


@lru_cache(maxsize=4096)
def _yymmdd(text: str) -> date:
    """A SWIFT YYMMDD date (years 70-99 are 1970-1999); ValueError if invalid."""
    return date(_year(text[:2]), int(text[2:4]), int(text[4:6]))


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


def _month_end(year: int, month: int) -> date:
    """The last day of a month (for a day past it, like 30 February); ValueError if the month
    is not one."""
    if not 1 <= month <= 12:
        raise ValueError(month)
    return date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)


@lru_cache(maxsize=1024)
def _line_dates(vdate: str, edate: str) -> tuple[date, str]:
    """The booking date of a :61: (the entry date MMDD, else the value date) and, when a date
    written is not a calendar date, what was taken instead. ValueError if none can be."""
    try:
        value = _yymmdd(vdate)
    except ValueError:
        value = None
    if value is not None:
        if not edate:
            return value, ""
        try:
            return _entry_date(value, edate), ""
        except ValueError:
            return value, f"entry date {edate} (MMDD) is not a date; the value date is used"
    if not 1 <= int(vdate[4:]) <= 31:
        raise ValueError(vdate)
    closest = _month_end(_year(vdate[:2]), int(vdate[2:4]))  # 30 February: 28/29 February
    if edate:
        try:
            return _entry_date(closest, edate), (
                f"value date {vdate} is not a date; the entry date is used"
            )
        except ValueError:
            pass
    return closest, f"value date {vdate} is not a date; taken as {closest.isoformat()}"


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
            if msg is not None and msg.pending is not None:  # several :86: (Rabobank) run on
                msg.pending.setdefault("info", []).extend(lines)
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
            raise row_error(f":{tag}: comes before the :20: that starts a statement", line_no)
        if tag == "25":
            msg.account = "".join(lines).strip()
        elif tag in ("28C", "28"):
            msg.sequence = lines[0].strip()
        elif tag in ("60F", "60M", "62F", "62M"):
            value = self._balance(tag, lines[0], line_no)
            if tag.startswith("60"):
                if msg.opening is not None:
                    raise row_error(f"a second opening balance :{tag}:", line_no)
                msg.opening = value
            else:
                if msg.opening is None:
                    raise row_error(f":{tag}: comes before the opening balance :60F:", line_no)
                msg.closing, msg.closing_line = value, line_no
        elif tag == "61":
            if msg.opening is None:
                raise row_error(":61: comes before the opening balance :60F:", line_no)
            if msg.closing is not None:
                raise row_error(":61: comes after the closing balance :62F:", line_no)
            msg.pending = {"line": line_no, "lines": lines}
        return out

    def _balance(self, tag: str, text: str, line_no: int) -> tuple[Decimal, str, date]:
        m = _BALANCE.match(text.strip())
        if not m:
            raise row_error(
                f":{tag}: {text.strip()!r} is not a balance like C240131EUR1234,56", line_no
            )
        try:
            on = _yymmdd(m.group("date"))
        except ValueError:
            raise row_error(
                f":{tag}: date {m.group('date')!r} is not a valid YYMMDD", line_no
            ) from None
        try:
            amount = _swift_amount(m.group("amount"))
        except BadValue as exc:
            raise row_error(f":{tag}: amount {m.group('amount')!r} {exc}", line_no) from None
        currency = parse_currency(m.group("ccy"), line_no)
        return (-amount if m.group("mark") == "D" else amount), currency, on

    def _row(self, pending: dict) -> StatementRow:
        msg = self.msg
        line_no = pending["line"]
        text = pending["lines"][0].strip()
        m = _LINE_61.match(text)
        if not m:
            raise row_error(
                f":61: {text!r} is not a statement line (YYMMDD[MMDD]C|D amount Nxxx reference)",
                line_no,
            )
        vdate, edate, mark, _funds, raw_amount, ttype, rest = m.groups()
        # 16x customer reference up to a "//", then a bank reference of up to 23 (mt-940's
        # reading: some banks write more than SWIFT's 16), the rest supplementary details
        cut = rest.find("//")
        if 0 <= cut <= 16:
            custref, bankref = rest[:cut], rest[cut + 2 : cut + 25]
        else:
            custref, bankref = rest[:16], ""
        try:
            booked_on, note = _line_dates(vdate, edate if edate and edate != "    " else "")
        except ValueError:
            raise row_error(
                f":61: date {vdate + (edate or '')!r} is not a valid YYMMDD[MMDD]", line_no
            ) from None
        try:
            amount = _swift_amount(raw_amount)
        except BadValue as exc:
            raise row_error(f":61: amount {raw_amount!r} {exc}", line_no) from None
        if mark == "D" or mark == "RC":
            amount = -amount
        currency = msg.opening[1]
        if amount.as_tuple().exponent < -2 or currency in ODD_EXPONENTS:
            check_places(amount, currency, raw_amount, line_no)
        info = parse_86(pending["info"]) if "info" in pending else Details()
        eref = real_reference(info.eref)
        custref = real_reference(custref)
        if custref and eref and len(custref) == 16 and eref.startswith(custref):
            custref = ""  # the end-to-end reference cut to 16 characters: the whole one is used
        reference = custref or eref or real_reference(info.kref) or real_reference(bankref)
        msg.total += amount
        msg.count += 1
        category = "fee" if ttype and ttype[1:] in _FEE_TYPES else "transfer"
        return StatementRow(
            line_no,
            reference,
            amount,
            currency,
            booked_on,
            info.description,
            category,
            counterparty_name=info.name,
            counterparty_iban=info.iban,
            remittance=info.remittance,
            end_to_end_id=eref,
            note=note,
        )

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
            raise row_error(
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


def _lines(f) -> Iterator[str]:
    """The file's lines without their line ends, read a megabyte at a time and decoded as
    UTF-8, else (a chunk that is not) Latin-1 line by line; a line longer than `MAX_LINE` is
    a malformed_row."""
    rest = b""
    count = 0
    while chunk := f.read(READ_SIZE):
        if rest:
            chunk = rest + chunk
        cut = chunk.rfind(b"\n") + 1
        rest = chunk[cut:]
        if len(rest) > MAX_LINE:
            raise row_error("the line is too long for MT940", count + 1)
        if not cut:
            continue
        try:
            lines = chunk[: cut - 1].decode("utf-8").split("\n")
        except UnicodeDecodeError:
            lines = []
            for raw in chunk[: cut - 1].split(b"\n"):
                try:
                    lines.append(raw.decode("utf-8"))
                except UnicodeDecodeError:
                    lines.append(raw.decode("latin-1"))
        if any(len(line) > MAX_LINE for line in lines):
            long = next(i for i, line in enumerate(lines) if len(line) > MAX_LINE)
            raise row_error("the line is too long for MT940", count + long + 1)
        count += len(lines)
        yield from lines
    if rest:
        try:
            yield rest.decode("utf-8")
        except UnicodeDecodeError:
            yield rest.decode("latin-1")


def iter_mt940(source: Source) -> Iterator[StatementRow | StatementHeader]:
    parser = _Mt940Parser()
    tag: str | None = None
    lines: list[str] = []
    tag_line = 0
    line_no = 0
    for line_no, text in enumerate(_lines(source.binary()), 1):
        line = text.strip(_CONTROL)  # keeps spaces: they are text in a field running on
        if line_no == 1:
            line = line.lstrip("\ufeff")
        stripped = line.strip()
        if not stripped:
            continue
        first = stripped[0]
        if first == "{":  # SWIFT envelope: {1:...}{2:...}{3:...}{4:
            start = stripped.find("{4:")
            if start < 0:
                continue
            line = stripped = stripped[start + 3 :].strip()
            if not stripped:
                continue
            first = stripped[0]
        m = _TAG.match(stripped) if first == ":" else None
        end_of_message = m is None and (first == "-" or first == "$") and _END.match(stripped)
        if m or end_of_message:
            if tag is not None:
                yield from parser.field(tag, lines, tag_line)
                tag = None
            if end_of_message:
                if parser.msg is not None:
                    yield parser.end(line_no)
                continue
            tag, lines, tag_line = m.group(1), [line.lstrip()[m.end() :]], line_no
        elif tag is not None:
            lines.append(line)
        elif parser.msg is not None or not _HEADER_LINE.match(stripped):
            raise row_error(f"{stripped[:40]!r} is outside any MT940 field", line_no)
        # else a bank's header line before a message (ABNANL2A, 940, :940:): skipped
    if tag is not None:
        yield from parser.field(tag, lines, tag_line)
    if parser.msg is not None:
        yield parser.end(line_no)
    if not parser.messages:
        raise wrong_format("the file holds no MT940 statement (:20: ... :62F:)")
