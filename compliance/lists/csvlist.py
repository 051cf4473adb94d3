"""A PEP or internal watch list as CSV, read through a saved column mapping (`CsvMapping`).

The mapping names the columns: `list_id` and `name` (required); optionally `aliases` (split on
`alias_separator`, ";" by default), `kind` (person, entity, vessel, aircraft; else
`default_kind`, person by default), `dob` (YYYY-MM-DD, YYYY-MM, YYYY, or "YYYY to YYYY"),
`nationality` (ISO codes or country names, split on the alias separator), `gender`,
`programme` (e.g. the PEP's position) and `remarks`; and the file's `delimiter` (",") and
`encoding` ("utf-8"; a BOM is skipped). Column names match ignoring case and surrounding spaces.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from datetime import date

from .base import ListFileError, ParsedDate, ParsedEntry, ParsedList, country_code, year_bounds
from .base import month_bounds as month_range

COLUMNS = (
    "list_id",
    "name",
    "aliases",
    "kind",
    "dob",
    "nationality",
    "gender",
    "programme",
    "remarks",
)
OPTIONS = ("alias_separator", "default_kind", "delimiter", "encoding")
KINDS = {"person", "entity", "vessel", "aircraft"}


def check_mapping(mapping) -> dict:
    """The mapping, checked: ListFileError (code bad_mapping) names what is wrong."""
    if not isinstance(mapping, Mapping):
        raise ListFileError("the column mapping is not an object", where="mapping")
    unknown = sorted(set(mapping) - set(COLUMNS) - set(OPTIONS))
    if unknown:
        raise ListFileError(f"unknown keys: {', '.join(unknown)}", where="mapping")
    missing = [k for k in ("list_id", "name") if not mapping.get(k)]
    if missing:
        raise ListFileError(f"a column is needed for: {', '.join(missing)}", where="mapping")
    if mapping.get("default_kind", "person") not in KINDS:
        raise ListFileError(f"default_kind must be one of {sorted(KINDS)}", where="mapping")
    if len(mapping.get("delimiter", ",")) != 1:
        raise ListFileError("the delimiter must be one character", where="mapping")
    return dict(mapping)


def _dob(text: str, where: str) -> ParsedDate:
    try:
        if " to " in text:
            start, _, end = text.partition(" to ")
            return ParsedDate("range", year_bounds(int(start))[0], year_bounds(int(end))[1], text)
        if len(text) == 4:
            return ParsedDate("year", *year_bounds(int(text)), text)
        if len(text) == 7:
            return ParsedDate("month", *month_range(int(text[:4]), int(text[5:])), text)
        day = date.fromisoformat(text)
        return ParsedDate("exact", day, day, text)
    except ValueError:
        raise ListFileError(
            f"date of birth {text!r} is not YYYY-MM-DD, YYYY-MM, YYYY or 'YYYY to YYYY'",
            where=where,
        ) from None


def read_csv_list(files: list[tuple[str, bytes]], mapping) -> ParsedList:
    mapping = check_mapping(mapping)
    if len(files) != 1:
        raise ListFileError("a CSV list is one file")
    name, data = files[0]
    try:
        text = data.decode(mapping.get("encoding", "utf-8")).lstrip("\ufeff")
    except (UnicodeDecodeError, LookupError) as exc:
        raise ListFileError(f"cannot be decoded: {exc}", where=name) from None
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=mapping.get("delimiter", ","))
    header = next(reader, None)
    if not header:
        raise ListFileError("the file is empty", where=name)
    index = {h.strip().lower(): i for i, h in enumerate(header)}
    cols = {}
    for key in COLUMNS:
        column = mapping.get(key)
        if column:
            if column.strip().lower() not in index:
                raise ListFileError(f"no column {column!r} (for {key})", where=f"{name} line 1")
            cols[key] = index[column.strip().lower()]
    sep = mapping.get("alias_separator", ";")
    entries, seen = [], set()
    try:
        for row in reader:
            if not any(c.strip() for c in row):
                continue
            where = f"{name} line {reader.line_num}"
            if len(row) < len(header):
                raise ListFileError(
                    f"expected {len(header)} columns, found {len(row)}", where=where
                )
            value = {k: " ".join(row[i].split()) for k, i in cols.items()}
            entries.append(_entry(value, mapping, sep, where, seen))
    except csv.Error as exc:
        raise ListFileError(str(exc), where=f"{name} line {reader.line_num}") from None
    return ParsedList(entries=entries)


def _entry(value: dict, mapping: dict, sep: str, where: str, seen: set) -> ParsedEntry:
    list_id, name = value.get("list_id", ""), value.get("name", "")
    if not list_id or not name:
        raise ListFileError("the id and the name are required", where=where)
    if list_id in seen:
        raise ListFileError(f"id {list_id} appears twice", where=where)
    seen.add(list_id)
    kind = (value.get("kind") or mapping.get("default_kind", "person")).lower()
    if kind not in KINDS:
        raise ListFileError(f"kind {kind!r} is not one of {sorted(KINDS)}", where=where)
    entry = ParsedEntry(
        list_id=list_id,
        kind=kind,
        primary_name=name,
        programmes=[value["programme"]] if value.get("programme") else [],
        remarks=value.get("remarks", ""),
    )
    for alias in (value.get("aliases") or "").split(sep):
        if alias.strip():
            entry.aliases.append((alias.strip(), "strong", "aka"))
    if value.get("dob"):
        entry.birth_dates.append(_dob(value["dob"], where))
    for country in (value.get("nationality") or "").split(sep):
        if country.strip():
            entry.countries.append(("nationality", country_code(country), country.strip()))
    gender = (value.get("gender") or "").lower()
    entry.gender = {"m": "male", "f": "female"}.get(
        gender, gender if gender in ("male", "female") else ""
    )
    return entry
