"""SWIFT MT940 (customer statement message), as banks deliver it in files.

A file holds one or more messages, each optionally in the SWIFT envelope ({1:...}{2:O940...}
{4: ... -}) and ended by "-", "-}" or "$". Read line by line (a line over `MAX_LINE` bytes is
not MT940); each line is decoded as UTF-8, else Latin-1, since banks write either; a UTF-8 BOM
is skipped. A field starts with :TAG: at the start of a line and runs on over the following
lines; text outside any field is a malformed_row. `iter_mt940` yields the rows of each :61:
and, at the end of each message, its `StatementHeader`.

Contract and quirks:
- :20: starts a statement; then :25: account, :28C: (or :28:) sequence, :60F:/:60M: opening
  balance, :61: statement lines each optionally followed by :86: information, :62F:/:62M:
  closing balance. A :61: before the opening or after the closing balance, a second opening
  balance, or a closing balance without an opening one is a malformed_row;
- balances and amounts use a decimal comma ("C240131EUR1234,56"); dates are YYMMDD, years
  70-99 in the 1900s; the optional :61: entry date MMDD is put in the year nearest the value
  date (a December value date and a January entry date cross the year), and is the row's
  `booked_on` when present;
- the :61: mark: C credit (+), D debit (-), RC reversal of a credit (-), RD reversal of a debit
  (+); the currency is the opening balance's;
- `reference`: the :61: customer reference (unless NONREF; replaced by the full EREF of :86:
  when it is that EREF cut to its 16 characters), else the end-to-end reference in :86:, else
  the :61: bank reference after //; an EREF of NOTPROVIDED counts as none;
- :86: in any of three styles: structured subfields, German (GVC?00 booking text?20-?29 and
  ?60-?63 purpose, ?31 account, ?32-?33 name) or Dutch (the same numbers after ">"), the
  purpose holding SEPA keywords EREF+ SVWZ+ ... running on across subfields, or pre-SEPA free
  lines; SWIFT codes (/EREF/ /NAME/ /IBAN/ /CNTP/account/BIC/name/ /REMI/USTD//...); or free
  text (an EREF+ token is picked out). `description` and `remittance` are the SVWZ+ purpose,
  the /REMI/ text, or else the field's text; `counterparty_name` ?32?33 or /NAME/;
  `counterparty_iban` ?31 or /IBAN/ when it is an IBAN (a bank code and account number is
  not); `end_to_end_id` the EREF;
- `category` is fee for the transaction type codes CHG and COM (NCHG, FCOM, ...), else
  transfer;
- every message must close: opening + lines = closing (balance_mismatch), a message without
  :62F: is truncated, and a file without any message is wrong_format.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import NamedTuple

from .base import Source, StatementError, StatementHeader, StatementRow, row_error, wrong_format
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
_STRUCTURED_86 = re.compile(r"(?:\d{3})?([?>])\d\d")  # GVC?00... (German), 000>10... (Dutch)
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
_FEE_TYPES = frozenset({"CHG", "COM"})


def _swift_amount(text: str) -> Decimal:
    if not _SWIFT_AMOUNT.match(text):
        raise BadValue("is not a SWIFT amount like 1234,56")
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


class _Info(NamedTuple):
    """What a :86: field says about its statement line."""

    eref: str = ""  # the end-to-end reference
    description: str = ""
    name: str = ""  # the other side
    iban: str = ""
    remittance: str = ""


def _iban(text: str) -> str:
    text = text.replace(" ", "").upper()
    return text if _IBAN.match(text) else ""


def _structured_86(text: str, mark: str) -> _Info:
    """German ?-subfields (GVC?00 booking text?10 primanota?20-?29 purpose?30 BLZ/BIC
    ?31 account?32-?33 name?60-?63 purpose) or the Dutch >-subfields of the same numbers."""
    parts = re.split(rf"\{mark}(\d\d)", text)
    fields: dict[str, list[str]] = {}
    for code, value in zip(parts[1::2], parts[2::2], strict=True):
        fields.setdefault(code, []).append(value)
    purpose_lines = [
        value
        for code, value in zip(parts[1::2], parts[2::2], strict=True)
        if code in _PURPOSE_CODES
    ]
    name = " ".join("".join(fields.get("32", []) + fields.get("33", [])).split())
    iban = _iban("".join(fields.get("31", [])))
    purpose = "".join(purpose_lines)  # SEPA values run on across subfields
    keys = list(_SEPA_KEYWORDS.finditer(purpose))
    if not keys:  # pre-SEPA: each subfield is a line of free text
        text = " ".join(line.strip() for line in purpose_lines if line.strip())
        return _Info("", text, name, iban, text)
    values = {}
    for k, m in enumerate(keys):
        stop = keys[k + 1].start() if k + 1 < len(keys) else len(purpose)
        values.setdefault(m.group(1), purpose[m.end() : stop].strip())
    remittance = values.get("SVWZ", purpose.strip())
    return _Info(
        values.get("EREF", ""),
        remittance,
        name,
        iban or _iban(values.get("IBAN", "")),
        remittance,
    )


def _slash_86(text: str) -> _Info:
    """SWIFT codes as ABN AMRO, ING and Rabobank write them: /EREF/.../NAME/.../REMI/..."""
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
    return _Info(values.get("EREF", ""), remi or text.strip(), " ".join(name.split()), iban, remi)


def _parse_86(lines: list[str]) -> _Info:
    if not lines:
        return _Info()
    structured = _STRUCTURED_86.match(lines[0])
    if structured:
        return _structured_86("".join(lines), structured.group(1))
    if lines[0].startswith("/"):
        return _slash_86("".join(lines))
    text = " ".join(line.strip() for line in lines).strip()
    eref = _FREE_EREF.search(text)
    return _Info(eref.group(1) if eref else "", text, remittance=text)


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
        vdate, edate, mark, _funds, raw_amount, ttype, custref, bankref = m.groups()
        try:
            booked_on = _yymmdd(vdate)
            if edate:
                booked_on = _entry_date(booked_on, edate)
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
        custref = custref.strip()
        if custref.upper() == "NONREF":
            custref = ""
        info = _parse_86(pending["info"]) if "info" in pending else _Info()
        eref, description = info.eref, info.description
        if eref.upper() == "NOTPROVIDED":
            eref = ""
        if custref and not (eref and len(custref) == 16 and eref.startswith(custref)):
            reference = custref
        else:
            reference = eref or (bankref or "").strip()
        msg.total += amount
        msg.count += 1
        category = "fee" if ttype[1:] in _FEE_TYPES else "transfer"
        return StatementRow(
            line_no,
            reference,
            amount,
            currency,
            booked_on,
            description,
            category,
            counterparty_name=info.name,
            counterparty_iban=info.iban,
            remittance=info.remittance,
            end_to_end_id=eref,
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


def iter_mt940(source: Source) -> Iterator[StatementRow | StatementHeader]:
    f = source.binary()
    parser = _Mt940Parser()
    tag: str | None = None
    lines: list[str] = []
    tag_line = 0
    line_no = 0
    while raw := f.readline(MAX_LINE):
        line_no += 1
        if len(raw) == MAX_LINE and not raw.endswith(b"\n"):
            raise row_error("the line is too long for MT940", line_no)
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
            raise row_error(f"{stripped[:40]!r} is outside any MT940 field", line_no)
        else:
            lines.append(line)
    if tag is not None:
        yield from parser.field(tag, lines, tag_line)
    if parser.msg is not None:
        yield parser.end(line_no)
    if not parser.messages:
        raise wrong_format("the file holds no MT940 statement (:20: ... :62F:)")
