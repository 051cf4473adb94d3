"""What every statement reader yields and raises, and the upload it reads, as a stream.

- `FORMATS`: the four formats a run can be started with (key -> label for the upload form).
- `StatementRow`: one money movement. Amounts are exact `Decimal`s in major units, signed from
  the merchant's / account holder's side: + money in (a payment received), - money out (refund,
  payout, chargeback, fee). `line_no` is 1-based: the CSV line, the MT940 :61: line, or the
  camt.053 <Ntry> number.
- `StatementHeader`: one bank statement of a camt.053 or MT940 file (account, balances).
- `StatementError`: the only error a reader raises for a bad file; an `InvalidInput` with a stable
  code (empty_file, wrong_format, malformed_row, unsafe_xml, balance_mismatch, truncated,
  unknown_format, mapping_required, bad_mapping) and, where it has one, the line it stopped at
  ("line 12: ..." in the message, `line_no` on the error).
- `Source`: the upload opened in binary mode. The first `HEAD_SIZE` bytes are peeked (format
  detection), then the whole file is read again as one stream, in `CHUNK_SIZE` pieces, without
  ever holding it in memory; a text-mode file is refused with a TypeError (a programming error,
  not bad input). With an encoding, every chunk is checked to decode as it passes, so a bad byte
  is reported with its line number.
"""

from __future__ import annotations

import codecs
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from brokerage.errors import InvalidInput

FORMATS = {
    "stripe_csv": "Stripe itemized report: payout reconciliation or balance (CSV)",
    "camt053": "ISO 20022 camt.053 (XML)",
    "mt940": "SWIFT MT940",
    "csv": "CSV with a saved column mapping",
}

HEAD_SIZE = 8192  # bytes peeked to check the declared format
CHUNK_SIZE = 1 << 16
BOM = b"\xef\xbb\xbf"


@dataclass(slots=True)
class StatementRow:
    """One money movement in a statement file.

    line_no: 1-based line (CSV, MT940 :61: line) or entry number (camt.053 <Ntry>), for error
    reports. category: charge, refund, payout, dispute, dispute_reversal, fee, transfer, other …

    Not frozen, though nothing changes a row once read: a frozen dataclass takes eight times
    as long to build, and a run builds a million rows.
    """

    line_no: int  # 1-based line (CSV, MT940 :61: line) or entry number (camt.053 <Ntry>)
    reference: str  # the provider's id that our ledger posting carries as external reference
    amount: Decimal  # signed, major units: + money in (a payment), - out (refund, payout, ...)
    currency: str  # ISO 4217, upper case
    booked_on: date  # booking / value date
    description: str = ""
    category: str = ""  # charge, refund, payout, dispute, dispute_reversal, fee, transfer, ...
    payment_reference: str = ""  # refunds/disputes: the original payment's id, when given
    # Bank statements (camt.053, MT940): who the other side is and what they wrote, so an
    # incoming wire can be matched to a client and an outgoing one to its payment order.
    counterparty_name: str = ""  # the payer of a credit, the payee of a debit
    counterparty_iban: str = ""  # their account (IBAN, upper case, no spaces), when given
    remittance: str = ""  # the payer's free-text remittance information, joined
    end_to_end_id: str = ""  # the payment order's EndToEndId (ISO 20022), when given
    # What the reader had to assume to read the row (a date that is not a date, ...), for
    # finance to see; empty when the row was read as written.
    note: str = ""
    # The provider's fee on this movement, when the file itemizes it (Stripe's fee column):
    # what it kept of the gross. A separate fee line (category fee) carries it as its amount.
    fee: Decimal | None = None


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


def wrong_format(message: str) -> StatementError:
    return StatementError(message, code="wrong_format")


def row_error(message: str, line_no: int) -> StatementError:
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


class Source:
    """The upload: its first `HEAD_SIZE` bytes (`head`) for detection, then all of it again."""

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
