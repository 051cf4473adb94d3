"""Read a statement file: check its declared format, then hand it to that format's reader.

`read_statement(fileobj, fmt, mapping=...)` streams: it reads the upload (opened in binary
mode) in chunks and yields one `StatementRow` at a time, in file order, so a file of millions of
lines parses in bounded memory. The arguments are checked at the call (unknown_format,
mapping_required, bad_mapping); the file is read as the rows are consumed, and a
`StatementError` is raised at the first thing that cannot be read, naming the line. Because it
streams, rows before a late error (a bad line near the end, a closing balance that does not add
up, a truncated file) have already been yielded: a caller that must not apply a file partially
collects the rows first (or stages them) and commits only when the generator finished without
an error.

Before reading, the first few KB are checked against the declared format (`detect_format`): an
empty file is empty_file; a camt.053, MT940 or Stripe report declared as another format, other
XML, binary content (PDF, ZIP/XLSX, images, old Office files, control bytes) are wrong_format
with what the file seems to be. A Stripe report read as a generic CSV is allowed, and a CSV
declared as a Stripe report goes on to name the columns it lacks.

`read_bank_statement` gives each statement of a camt.053 or MT940 file with its rows (bank
wires need the account a row was booked on). `read_statement_headers` / `read_camt053_header`
give the bank statements' accounts and balances (camt.053 and MT940 only), reading and checking
the whole file the same way.

Each format has its own module: `stripe_csv`, `camt053`, `mt940`, and `generic_csv` for the
"csv" format; what they share is in `base` (rows, errors, the stream), `values` (amounts,
currencies, dates) and `csvfile`.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator

from .base import BOM, FORMATS, Source, StatementError, StatementHeader, StatementRow, wrong_format
from .camt053 import iter_camt053
from .csvfile import sniff_delimiter
from .generic_csv import ColumnMapping, read_generic_csv
from .mt940 import iter_mt940
from .stripe_csv import read_stripe_csv

# --- format detection --------------------------------------------------------------------------

_CAMT_NS = re.compile(rb"urn:iso:std:iso:20022:tech:xsd:camt\.053\.001\.(\d\d)")
_XMLNS = re.compile(rb"xmlns(?::\w+)?=[\"']([^\"']+)[\"']")
_MT940_TAG = re.compile(rb"(?m)^(?:\{4:)?[ \t]*:(20|25|60F|60M):")
_BINARY_MAGIC = (b"%PDF", b"PK\x03\x04", b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"\xd0\xcf\x11\xe0")
_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1a\x1c-\x1f]")
_STRIPE_MARKERS = {"balance_transaction_id", "reporting_category"}


def detect_format(head: bytes) -> str | None:
    """The format of a file from its first few KB: a key of FORMATS, or None (empty, binary, or
    XML that is not camt.053)."""
    text = head.removeprefix(BOM).lstrip()
    if b"\x01" in text or b"\x03" in text:  # SOH before a SWIFT message, ETX after it
        text = text.replace(b"\x01", b"").replace(b"\x03", b"").lstrip()
        if not _MT940_TAG.search(text):
            return None
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
    names = {
        n.strip().lower() for n in next(csv.reader([first], delimiter=sniff_delimiter(first)), [])
    }
    if names >= _STRIPE_MARKERS:
        return "stripe_csv"
    return "csv"


def _check_declared(source: Source, fmt: str) -> None:
    if source.is_empty():
        raise StatementError("the file is empty", code="empty_file")
    detected = detect_format(source.head)
    if detected == fmt or (fmt == "csv" and detected == "stripe_csv"):
        return
    if fmt == "stripe_csv" and detected == "csv":
        return  # the missing columns are named once the header is read
    expected = FORMATS[fmt]
    if detected in ("camt053", "mt940", "stripe_csv"):
        raise wrong_format(f"the file is {FORMATS[detected]}, not {expected}")
    head = source.head.removeprefix(BOM).lstrip()
    if head.startswith(b"<"):
        ns = _XMLNS.search(head)
        what = f"XML in namespace {ns.group(1).decode('ascii', 'replace')!r}" if ns else "XML"
        raise wrong_format(f"the file is {what}, not {expected}")
    if detected is None:
        raise wrong_format(f"the file is not text: it cannot be {expected}")
    raise wrong_format(f"the file looks like CSV, not {expected}")


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
    source = Source(fileobj)
    _check_declared(source, fmt)
    if fmt == "csv":
        yield from read_generic_csv(source, mapping)
    elif fmt == "stripe_csv":
        yield from read_stripe_csv(source)
    else:
        items = iter_camt053(source) if fmt == "camt053" else iter_mt940(source)
        for item in items:
            if type(item) is StatementRow:
                yield item


def _bank_items(fileobj, fmt: str) -> Iterator[StatementRow | StatementHeader]:
    """The rows and, after each statement's rows, its header, of a camt.053 or MT940 file."""
    if fmt not in ("camt053", "mt940"):
        raise StatementError(
            f"{fmt!r} files have no statement header (camt053 and mt940 do)",
            code="unknown_format",
        )
    source = Source(fileobj)
    _check_declared(source, fmt)
    return iter_camt053(source) if fmt == "camt053" else iter_mt940(source)


def read_statement_headers(fileobj, fmt: str) -> list[StatementHeader]:
    """Account, balances and entry count of each statement in a camt.053 or MT940 file
    (reads the whole file, checking it as read_statement does)."""
    return [item for item in _bank_items(fileobj, fmt) if type(item) is StatementHeader]


def read_bank_statement(fileobj, fmt: str) -> list[tuple[StatementHeader, list[StatementRow]]]:
    """Each statement of a camt.053 or MT940 file with its booked rows, in file order (the
    whole file is read and checked first, so a bad file yields nothing)."""
    statements, rows = [], []
    for item in _bank_items(fileobj, fmt):
        if type(item) is StatementRow:
            rows.append(item)
        else:
            statements.append((item, rows))
            rows = []
    return statements


def read_camt053_header(fileobj) -> StatementHeader:
    """The first statement's header of a camt.053 file (account IBAN, opening/closing
    balance); use read_statement_headers for files with several <Stmt>."""
    headers = read_statement_headers(fileobj, "camt053")
    if not headers:
        raise StatementError("the camt.053 file holds no <Stmt>", code="wrong_format")
    return headers[0]
