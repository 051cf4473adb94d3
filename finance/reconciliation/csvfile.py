"""The CSV plumbing the Stripe report and the generic CSV share.

`CsvFile` skips blank lines before the header, reads the header with the given delimiter (or
the one `sniff_delimiter` finds: the most frequent of , ; tab | outside quotes, else a comma),
then hands out a strict `csv.reader` over the rest. Line numbers it reports count from the
file's first line, header and skipped lines included. UTF-8 is read as utf-8-sig, so a BOM is
skipped; bytes that do not decode and malformed quoting become `StatementError`s
(malformed_row) naming the line. `columns()` finds columns by exact name, then ignoring case
and surrounding spaces, and names every missing one at once (wrong_format).
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterator

from .base import Source, StatementError, row_error, wrong_format


def sniff_delimiter(line: str) -> str:
    unquoted = re.sub(r'"[^"]*"', "", line)
    counts = {d: unquoted.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def is_blank(row: list[str]) -> bool:
    return not "".join(row).strip()


class CsvFile:
    """The header line and a csv.reader over the rest, with line numbers and decode errors
    turned into StatementErrors."""

    def __init__(self, source: Source, *, delimiter: str | None, encoding: str = "utf-8"):
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
        self.delimiter = delimiter or sniff_delimiter(line)
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
            raise row_error(f"the CSV is malformed ({exc})", self.line_no()) from None

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
            raise wrong_format(
                f"{what} lacks the column{'s' if len(missing) > 1 else ''} "
                f"{', '.join(missing)} (its columns are: {have})"
            )
        return found
