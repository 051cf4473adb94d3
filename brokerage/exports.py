"""Exports: every table and long list staff download, as CSV or XLSX, by one mechanism.

A view describes what it exports and hands it to `export_response`:

    export = Export(
        name="clients",                       # what was exported, in the audit trail
        title="Clients",                      # the file's name and the sheet's title
        columns=[Column("client_id", lambda c: c.pk),
                 Column("email", lambda c: c.user.email, personal=True), ...],
        rows=queryset.iterator(chunk_size=2000),   # read lazily, never held whole
    )
    return export_response(request, export, fmt)   # fmt: "csv" | "xlsx"

- **Constant memory.** CSV is streamed (a StreamingHttpResponse over the rows, one line at a
  time); XLSX is written row by row to a temporary file (XlsxWriter's `constant_memory` mode,
  which flushes each row as the next one starts) and that file is streamed. Rows past a sheet's
  limit continue on a second sheet.
- **The read replica.** Rows are read inside `reads_from_replica` (`brokerage.db`): the
  streamed CSV through `stream_from_replica`, the XLSX while it is written.
- **Figures only for read-only roles.** An executive (`brokerage.roles.READ_ONLY_ROLES`)
  exports figures and ids, never personal data: a column marked `personal` (a name, an email,
  a phone, an address...) is left out of their file, or replaced by the id given for it
  (`Column.id_instead`), so an agent's row still says which agent it is.
- **No formulas.** CSV cells go through `brokerage.csvexport.csv_writer`; XLSX cells are
  written as strings or numbers, never as formulas or links.
- **Audited.** Each export writes one `export.downloaded` event: who, which export, the
  filters of the query string, the format, the columns and the number of rows written (for a
  streamed CSV, once the last row is sent, or what was sent when the download stops early).

Dashboard tables (`brokerage.rollups.Table`) export through `table_export`, so every table of
every dashboard exports without code of its own.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal

from django.db import transaction
from django.http import FileResponse, HttpResponse, StreamingHttpResponse
from django.utils import timezone
from django.utils.text import slugify

from . import audit_events
from .audit import audit_record
from .csvexport import csv_writer
from .db import reads_from_replica, stream_from_replica
from .roles import reads_only

FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
# Query-string keys that choose the export or the page, not the rows.
NOT_FILTERS = frozenset({"export", "page", "table"})
CENT = Decimal("0.01")
XLSX_MAX_ROWS = 1_048_575  # a sheet's rows, less the header


@dataclass(frozen=True)
class Column:
    """A column of an export: its header and how a row gives its value. `personal` marks
    personal data (names, emails, phones...), left out for figures-only users, or replaced by
    `id_instead(row)` under the header `id_header` where one is given."""

    header: str
    value: Callable[[object], object] = lambda row: row
    personal: bool = False
    id_instead: Callable[[object], object] | None = None
    id_header: str = ""


def read(path: str) -> Callable[[object], object]:
    """A row's value at a dotted `path` ("client.user.email"); a step ending in "()" is
    called ("get_status_display()"); a missing link in the chain gives None."""

    def value(row):
        for step in path.split("."):
            if row is None:
                return None
            called = step.endswith("()")
            row = getattr(row, step.removesuffix("()"))
            row = row() if called else row
        return row

    return value


def columns(*specs: str, personal: bool = False) -> list[Column]:
    """Columns from "header=path" specs (or "path", its own header): `read(path)` each."""
    out = []
    for spec in specs:
        header, _, path = spec.partition("=")
        out.append(Column(header, read(path or header), personal=personal))
    return out


def person_columns(prefix: str = "") -> list[Column]:
    """A person's name, email and phone, as personal data, read under `prefix`
    ("user." for a client's user, "" for a lead)."""
    return columns(
        f"first_name={prefix}first_name",
        f"last_name={prefix}last_name",
        f"email={prefix}email",
        personal=True,
    )


def staff_column(header: str, attr: str, id_header: str = "") -> Column:
    """The staff member at `attr` of a row (an agent, an account manager), by name; their id
    for figures-only users."""
    return Column(
        header,
        lambda row: staff_name(getattr(row, attr)),
        personal=True,
        id_instead=lambda row: getattr(row, f"{attr}_id"),
        id_header=id_header or f"{header}_id",
    )


@dataclass
class Export:
    name: str
    title: str
    columns: list[Column]
    rows: Iterable
    filters: dict = field(default_factory=dict)
    filename: str = ""  # without its extension; by default the title and today's date


class ExportRefused(ValueError):
    pass


def export_format(request, default: str = "") -> str:
    """The format `?export=` asks for ("csv" or "xlsx"), `default` when none is asked; an
    unknown format is refused."""
    fmt = (request.GET.get("export") or default).strip().lower()
    if fmt and fmt not in FORMATS:
        raise ExportRefused(f"Exports are CSV or XLSX, not {fmt[:20]!r}.")
    return fmt


def figures_only(user) -> bool:
    """Whether `user` exports figures and ids only (no personal data)."""
    return reads_only(user)


def query_filters(request) -> dict:
    """The filters of the query string, as the audit trail records them."""
    return {k: v[:200] for k, v in request.GET.items() if k not in NOT_FILTERS}


def export_response(request, export: Export, fmt: str) -> HttpResponse:
    """The file of `export` in `fmt`, for `request.user`: see the module docstring."""
    if fmt not in FORMATS:
        return HttpResponse(f"Exports are CSV or XLSX, not {fmt[:20]!r}.\n", status=400)
    only_figures = figures_only(request.user)
    headers, cells = _shape(export.columns, only_figures)
    record = {
        "export": export.name,
        "title": export.title,
        "format": fmt,
        "filters": export.filters or query_filters(request),
        "columns": headers,
        "figures_only": only_figures,
    }
    stem = export.filename or f"{slugify(export.title) or 'export'}-{timezone.now():%Y-%m-%d}"
    filename = f"{stem}.{fmt}"
    if fmt == "csv":
        response = StreamingHttpResponse(
            stream_from_replica(_csv_lines(request, record, headers, cells, export.rows)),
            content_type=FORMATS[fmt],
        )
    else:
        with reads_from_replica():
            handle, written = _xlsx_file(export.title, headers, cells, export.rows)
        _audit(request, record, rows=written, complete=True)
        response = FileResponse(handle, content_type=FORMATS[fmt])
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


def _shape(columns: list[Column], only_figures: bool):
    """The headers and cell functions a user's file has."""
    headers, cells = [], []
    for column in columns:
        if column.personal and only_figures:
            if column.id_instead is None:
                continue
            headers.append(column.id_header or f"{column.header} id")
            cells.append(column.id_instead)
        else:
            headers.append(column.header)
            cells.append(column.value)
    return headers, cells


def _plain(value):
    """A cell's value as a spreadsheet takes it: numbers stay numbers, times in UTC ISO text."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat() if value.tzinfo else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | Decimal | float | str) or value is None:
        return value
    return str(value)


def _csv_lines(request, record, headers, cells, rows):
    writer = csv_writer()
    written, complete = 0, False
    try:
        yield writer.writerow(headers)
        for row in rows:
            line = writer.writerow([_plain(cell(row)) for cell in cells])
            written += 1
            yield line
        complete = True
    finally:
        _audit(request, record, rows=written, complete=complete)


def _xlsx_file(title: str, headers, cells, rows):
    """Write the rows to a temporary XLSX file; (an open handle on it, rows written). The
    file is unlinked at once: it disappears when the response closes the handle."""
    import xlsxwriter

    fd, path = tempfile.mkstemp(suffix=".xlsx")
    os.close(fd)
    try:
        book = xlsxwriter.Workbook(
            path,
            {
                "constant_memory": True,
                "strings_to_formulas": False,
                "strings_to_urls": False,
                "strings_to_numbers": False,
                "tmpdir": tempfile.gettempdir(),
            },
        )
        bold = book.add_format({"bold": True})
        sheet_title = (title or "Export")[:28]
        sheet, at, sheets, written = None, XLSX_MAX_ROWS + 1, 0, 0
        for row in rows:
            if at > XLSX_MAX_ROWS:
                sheets += 1
                sheet = book.add_worksheet(
                    sheet_title if sheets == 1 else f"{sheet_title} {sheets}"
                )
                sheet.write_row(0, 0, headers, bold)
                at = 1
            for col, cell in enumerate(cells):
                value = _plain(cell(row))
                if value is None:
                    continue
                if isinstance(value, str):
                    sheet.write_string(at, col, value)
                else:
                    sheet.write_number(at, col, value)
            at += 1
            written += 1
        if sheet is None:
            book.add_worksheet(sheet_title).write_row(0, 0, headers, bold)
        book.close()
        handle = open(path, "rb")  # noqa: SIM115  (the response closes it)
    finally:
        os.unlink(path)
    return handle, written


def _audit(request, record: dict, *, rows: int, complete: bool) -> None:
    with transaction.atomic():
        audit_record(
            actor=request.user,
            action=audit_events.EXPORT_DOWNLOADED,
            reason=f"{record['title']} ({record['format'].upper()}, {rows} rows)",
            evidence=record | {"rows": rows, "complete": complete},
            request=request,
        )


# --- Dashboard tables ----------------------------------------------------------------------------


def _figure(value):
    """A dashboard figure as exported: amounts and ratios to the cent (the rollups compute
    them to ten places), counts as they are."""
    if isinstance(value, Decimal):
        return value.quantize(CENT) if value.as_tuple().exponent < -2 else value
    return value


def table_export(name: str, table, *, filters: dict) -> Export:
    """A dashboard table (`brokerage.rollups.Table`) as an export: its raw values (numbers
    stay numbers), its personal columns (`Table.personal`) marked."""
    columns = []
    for index, header in enumerate(table.columns):
        personal = header in table.personal
        ids = table.personal.get(header)
        columns.append(
            Column(
                header,
                value=lambda pair, i=index: _figure(pair[1][i]),
                personal=personal,
                id_instead=None if ids is None else (lambda pair, ids=ids: ids[pair[0]]),
                id_header=f"{header} id",
            )
        )
    return Export(
        name=f"{name}.{table.id}",
        title=table.title,
        columns=columns,
        rows=list(enumerate(table.rows)),
        filters=filters,
    )


def dashboard_export(request, dashboard: str, tables) -> HttpResponse:
    """The table `?table=<id>` of a dashboard's `tables`, in the format `?export=` asks for."""
    try:
        fmt = export_format(request)
    except ExportRefused as exc:
        return HttpResponse(f"{exc}\n", status=400, content_type="text/plain")
    wanted = request.GET.get("table", "")
    table = next((t for t in tables if t.id == wanted), None)
    if table is None:
        known = ", ".join(t.id for t in tables) or "none"
        return HttpResponse(
            f"No table {wanted[:60]!r} on this dashboard (its tables: {known}).\n",
            status=404,
            content_type="text/plain",
        )
    return export_response(
        request, table_export(dashboard, table, filters=query_filters(request)), fmt
    )


def filter_errors_response(form) -> HttpResponse:
    """A 400 naming each bad filter of an export's form (nothing is exported)."""
    lines = [
        f"{name}: {' '.join(errors)}" if name != "__all__" else " ".join(errors)
        for name, errors in form.errors.items()
    ]
    return HttpResponse("\n".join(lines) + "\n", status=400, content_type="text/plain")


def export_query(params) -> str:
    """The query string of a page's filters, for its export links (`?<this>&export=csv`)."""
    kept = params.copy()
    for key in NOT_FILTERS:
        kept.pop(key, None)
    return kept.urlencode()


@dataclass(frozen=True)
class Listing:
    """What a list page exports: its name in the audit trail, its title, its columns."""

    name: str
    title: str
    columns: list[Column]


def list_export(request, listing: Listing, rows, *, default: str = "") -> HttpResponse:
    """A list page's rows (its own filtered, scoped query, read in chunks) in the format
    `?export=` asks for (`default` when it asks for none); an unknown format is a 400."""
    try:
        fmt = export_format(request, default)
    except ExportRefused as exc:
        return HttpResponse(f"{exc}\n", status=400, content_type="text/plain")
    if hasattr(rows, "iterator"):
        rows = rows.iterator(chunk_size=2000)
    return export_response(request, Export(listing.name, listing.title, listing.columns, rows), fmt)


def tuple_columns(*headers: str) -> list[Column]:
    """Columns of rows that are tuples, one header per position."""
    return [Column(h, lambda row, i=i: row[i]) for i, h in enumerate(headers)]


def staff_name(user) -> str:
    """A staff member's name as an export shows it ("" for nobody)."""
    return (user.get_full_name() or user.email) if user is not None else ""
