"""CSV files the product writes for people to open in a spreadsheet.

A cell whose text starts with `=`, `+`, `-`, `@`, a tab or a carriage return is read by Excel,
LibreOffice and Google Sheets as a formula (CSV injection: `=HYPERLINK(...)` in a lead's name or
a ledger description would run in the officer's spreadsheet). As OWASP recommends, such a cell
is written with a single quote in front (`'=HYPERLINK(...)`), which the spreadsheet shows as
text; the full-width forms of those characters, which some spreadsheets also read as formulas,
are treated the same. The csv module already doubles quotes and quotes separators.

Numbers stay numbers: a value passed as an int or a Decimal (an amount column, a row number) is
written as it is, so a debit of -12.50 is still a number the spreadsheet can sum. That is safe
because such a value's text is only digits, a sign, a point and an exponent; text that merely
looks like a number (a phone number "+44...", a string "-3") is neutralised like any other text.
Every export writes its rows through `csv_writer`.
"""

import csv
from decimal import Decimal

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")


def csv_cell(value):
    """`value` as a cell that cannot be read as a formula."""
    if value is None:
        return ""
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        return value
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class _SafeWriter:
    def __init__(self, out, **kwargs):
        self._writer = csv.writer(out, **kwargs)

    def writerow(self, row):
        return self._writer.writerow([csv_cell(value) for value in row])

    def writerows(self, rows):
        for row in rows:
            self.writerow(row)


class _Echo:
    """A file that hands each written line back (for streamed responses)."""

    def write(self, value):
        return value


def csv_writer(out=None):
    """A csv writer whose every cell goes through `csv_cell`. Without `out`, `writerow`
    returns the line it wrote (to stream an export with StreamingHttpResponse)."""
    return _SafeWriter(out if out is not None else _Echo())
