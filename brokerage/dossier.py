"""What a part of a client's compliance dossier is: the contract of the `dossier.sections` hook.

Each app that keeps something about a client contributes, in its `contributions.py`,
`fn(client) -> DossierSection`: a title, a few facts, tables and files. Compliance puts them
together (`compliance.dossier`) with the audit trail and its hash-chain proof: one ZIP of a
readable PDF, a JSON file per table and the documents themselves. The JSON holds every row, with
stored codes; the PDF shows labels and, past `PDF_ROWS` rows, says how many more the JSON holds.

- `table(key, title, queryset, columns)` reads a queryset's rows in one query with
  `.values()`: `columns` are (label, field path) pairs; choice fields get their labels in the
  PDF; times are ISO 8601 in UTC, amounts exact decimal strings.
- A file is read only when the ZIP is written (`DossierFile.open`), so building the sections
  reads no document.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import IO

from django.core.exceptions import FieldDoesNotExist

PDF_ROWS = 30
PDF_CELL = 90  # characters of a value the PDF shows; the JSON holds it whole
PDF_COLUMNS = 3


@dataclass
class DossierTable:
    key: str
    title: str
    columns: list[tuple[str, str]]
    rows: list[dict]
    labels: dict[str, dict] = field(default_factory=dict)  # column -> {code: label}

    def pdf_columns(self) -> list[str]:
        """The PDF's column heads: the first PDF_COLUMNS - 1 columns, then one "Details" cell
        that holds the rest as "label: value" pairs (fewer cells lay out much faster)."""
        labels = [label for label, _ in self.columns]
        if len(labels) <= PDF_COLUMNS:
            return labels
        return [*labels[: PDF_COLUMNS - 1], "Details"]

    def pdf_rows(self) -> list[list[str]]:
        out = []
        for row in self.rows[:PDF_ROWS]:
            cells = [(label, self._cell(row, path)) for label, path in self.columns]
            if len(cells) > PDF_COLUMNS:
                rest = [f"{label}: {value}" for label, value in cells[PDF_COLUMNS - 1 :]]
                rest = [part for part in rest if not part.endswith(": —")]
                cells = [*cells[: PDF_COLUMNS - 1], ("", " · ".join(rest) or "—")]
            out.append([value for _, value in cells])
        return out

    def _cell(self, row: dict, path: str) -> str:
        value = row.get(path)
        if isinstance(value, str | int) and path in self.labels:
            value = self.labels[path].get(value, value)
        shown = _shown(value)
        return shown if len(shown) <= PDF_CELL else shown[: PDF_CELL - 1] + "…"


@dataclass
class DossierFile:
    name: str  # path inside the ZIP, under documents/
    open: Callable[[], IO[bytes]]
    note: str = ""
    sha256: str = ""


@dataclass
class DossierSection:
    key: str
    title: str
    order: int = 100
    facts: list[tuple[str, str]] = field(default_factory=list)
    tables: list[DossierTable] = field(default_factory=list)
    files: list[DossierFile] = field(default_factory=list)


def plain(value):
    """A value as JSON holds it: times in UTC ISO 8601, decimals as exact strings."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC)
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def table_cell(t: DossierTable, row: dict, path: str) -> str:
    """One value as a spreadsheet shows it: the label of a code, JSON for structures."""
    value = row.get(path)
    if isinstance(value, str | int) and not isinstance(value, bool) and path in t.labels:
        value = t.labels[path].get(value, value)
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _shown(value) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)[:300]
    return value.replace("T", " ")[:19] if _is_time(value) else str(value)


def _is_time(value) -> bool:
    return isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] == "T"


def _choices(model, path: str) -> dict:
    """The labels of the field at `path` (through relations), if it has choices."""
    parts = path.split("__")
    try:
        for part in parts[:-1]:
            model = model._meta.get_field(part).related_model
        found = model._meta.get_field(parts[-1])
    except (FieldDoesNotExist, AttributeError):
        return {}
    return {code: str(label) for code, label in (found.choices or [])}


def table(key: str, title: str, queryset, columns: list[tuple[str, str]]) -> DossierTable:
    paths = [path for _, path in columns]
    rows = [plain(row) for row in queryset.values(*paths)]
    labels = {path: found for path in paths if (found := _choices(queryset.model, path))}
    return DossierTable(key=key, title=title, columns=columns, rows=rows, labels=labels)
