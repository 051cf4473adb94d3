"""OFAC's Specially Designated Nationals list in its legacy CSV files.

`sdn.csv` (ent_num, SDN_Name, SDN_Type, Program, Title, Call_Sign, Vess_type, Tonnage, GRT,
Vess_flag, Vess_owner, Remarks) is the list; `alt.csv` (ent_num, alt_num, alt_type, alt_name,
alt_remarks) its aliases, `add.csv` (ent_num, add_num, address, city/state/postal, country,
add_remarks) its addresses, and `sdn_comments.csv` (ent_num, remarks) the remarks that overflow
`sdn.csv`'s column, to be appended as they are. All are joined by the entity number; `-0-` is an
empty cell; a file ends with a DOS end-of-file byte (0x1A). Individuals' names are written
"LAST, First Middle".

The remarks are free text in parts separated by ";" and hold what the matcher uses:
`DOB 10 Dec 1948`, `DOB Dec 1948`, `DOB 1948`, `DOB circa 1948`, `DOB 1960 to 1962`,
`DOB 01 Jan 1960 to 31 Dec 1962`, each possibly `alt. DOB`; `nationality Iraq`,
`citizen Iran` (and `alt.` ones); `Gender Male`; documents as `Passport A123 (Iran)`,
`National ID No. 123 (Iran)`, `Cedula No. ...`; and weak aliases as `a.k.a. 'ABU AHMAD'`
(`f.k.a.`, `n.k.a.`).
"""

from __future__ import annotations

import csv
import io
import re

from .base import ListFileError, ParsedDate, ParsedEntry, ParsedList, country_code
from .base import parse_day_month_year as parse_dmy

NULL = "-0-"
KINDS = {"individual": "person", "vessel": "vessel", "aircraft": "aircraft", "": "entity"}
FILES = ("sdn", "alt", "add", "sdn_comments")

_DOC_KIND = re.compile(
    r"(Passport|ID|No\.?|Number|#|Card|Licen[cs]e|Cedula|C\.U\.R\.P\.|R\.F\.C\.|RFC|SSN|"
    r"D\.N\.I\.|NIT|RUC|RIF|I\.F\.E\.|C\.U\.I\.T\.|Identidad)$"
)
_DOC = re.compile(
    r"^(?P<kind>[A-Za-z][A-Za-z.#'/ ]*?) (?P<number>[A-Za-z0-9][A-Za-z0-9\-/.]*\d[A-Za-z0-9\-/.]*)"
    r"(?P<note>[^()]*?)(?: \((?P<country>[^)]*)\))?(?P<rest>[^()]*)$"
)
_ALIAS = re.compile(r"^(a\.k\.a\.|f\.k\.a\.|n\.k\.a\.) '(.+)'$")
_COUNTRY = re.compile(r"^(nationality|citizen) (.+)$")


def role_of(file_name: str) -> str | None:
    """Which of the four files a name is (`sdn.csv`, `SDN.CSV`, `2026-03_alt.csv`...)."""
    stem = file_name.rsplit("/", 1)[-1].lower().removesuffix(".csv")
    for role in ("sdn_comments", "alt", "add", "sdn"):
        if stem == role or stem.endswith(("_" + role, "-" + role)):
            return role
    return None


def cell(value: str) -> str:
    value = value.strip()
    return "" if value == NULL else value


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _rows(name: str, data: bytes, width: int):
    """(line number, row) of a CSV file, each row `width` cells, numbered ent_num first."""
    reader = csv.reader(io.StringIO(_decode(data), newline=""))
    try:
        for row in reader:
            if not row or row == ["\x1a"] or all(not c.strip() for c in row):
                continue
            where = f"{name} line {reader.line_num}"
            if len(row) != width:
                raise ListFileError(f"expected {width} columns, found {len(row)}", where=where)
            if not row[0].strip().isdigit():
                raise ListFileError(f"the entity number {row[0]!r} is not a number", where=where)
            yield where, [cell(c) for c in row]
    except csv.Error as exc:
        raise ListFileError(str(exc), where=f"{name} line {reader.line_num}") from None


def read_ofac(files: list[tuple[str, bytes]]) -> ParsedList:
    """Read the SDN files (name, content); `sdn.csv` is required, the others optional."""
    by_role: dict[str, tuple[str, bytes]] = {}
    for name, data in files:
        role = role_of(name)
        if role is None:
            raise ListFileError(
                f"{name} is not one of the SDN files (sdn.csv, alt.csv, add.csv, sdn_comments.csv)"
            )
        if role in by_role:
            raise ListFileError(f"two {role}.csv files were given ({by_role[role][0]}, {name})")
        by_role[role] = (name, data)
    if "sdn" not in by_role:
        raise ListFileError("sdn.csv is required (the other three files are optional)")

    entries: dict[str, ParsedEntry] = {}
    name, data = by_role["sdn"]
    for where, row in _rows(name, data, 12):
        ent = row[0]
        if ent in entries:
            raise ListFileError(f"entity number {ent} appears twice", where=where)
        if not row[1]:
            raise ListFileError("the entry has no name", where=where)
        sdn_type = row[2].lower()
        if sdn_type not in KINDS:
            raise ListFileError(f"unknown SDN type {row[2]!r}", where=where)
        details = {
            k: v
            for k, v in zip(
                ("title", "call_sign", "vessel_type", "tonnage", "grt", "vessel_flag", "owner"),
                row[4:11],
                strict=True,
            )
            if v
        }
        entries[ent] = ParsedEntry(
            list_id=ent,
            kind=KINDS[sdn_type],
            primary_name=row[1],
            programmes=[p.strip() for p in row[3].strip("[] ").split("] [") if p.strip()],
            remarks=row[11],
            details=details,
        )

    def entry_for(where, ent) -> ParsedEntry:
        if ent not in entries:
            raise ListFileError(f"entity number {ent} is not in sdn.csv", where=where)
        return entries[ent]

    if "sdn_comments" in by_role:
        name, data = by_role["sdn_comments"]
        for where, row in _rows(name, data, 2):
            entry = entry_for(where, row[0])
            entry.remarks += row[1]
    if "alt" in by_role:
        name, data = by_role["alt"]
        for where, row in _rows(name, data, 5):
            if not row[3]:
                raise ListFileError("the alias has no name", where=where)
            entry_for(where, row[0]).aliases.append((row[3], "strong", row[2].lower()))
    if "add" in by_role:
        name, data = by_role["add"]
        for where, row in _rows(name, data, 6):
            address = {
                k: v
                for k, v in zip(("address", "city", "country", "remarks"), row[2:6], strict=True)
                if v
            }
            if address:
                entry_for(where, row[0]).details.setdefault("addresses", []).append(address)
    for entry in entries.values():
        apply_remarks(entry)
    return ParsedList(entries=list(entries.values()))


def remark_parts(remarks: str) -> list[str]:
    text = remarks.strip()
    if text.endswith("."):
        text = text[:-1]
    return [p.strip() for p in text.split(";") if p.strip()]


def parse_dob(text: str) -> ParsedDate | None:
    """The date of a remark's `DOB ...` part (without `DOB `): exact, month, year, circa or a
    range `1960 to 1962` / `01 Jan 1960 to 31 Dec 1962`; None when it cannot be read."""
    text = text.strip()
    if text.lower().startswith("circa "):
        read = parse_dmy(text[6:])
        return ParsedDate("circa", read[1], read[2], text) if read else None
    if " to " in text:
        start, _, end = text.partition(" to ")
        first, last = parse_dmy(start), parse_dmy(end)
        if not first or not last or first[1] > last[2]:
            return None
        return ParsedDate("range", first[1], last[2], text)
    read = parse_dmy(text)
    return ParsedDate(read[0], read[1], read[2], text) if read else None


def apply_remarks(entry: ParsedEntry) -> None:
    """Fill the entry's dates of birth, countries, gender, documents and weak aliases from its
    remarks (the part a remark does not explain stays only in `remarks`)."""
    for part in remark_parts(entry.remarks):
        plain = part.removeprefix("alt. ")
        if plain.startswith("DOB "):
            parsed = parse_dob(plain[4:])
            if parsed:
                entry.birth_dates.append(parsed)
            continue
        if plain.startswith("Gender "):
            gender = plain[7:].strip().lower()
            if gender in ("male", "female"):
                entry.gender = gender
            continue
        m = _COUNTRY.match(plain)
        if m:
            relation = "nationality" if m.group(1) == "nationality" else "citizenship"
            entry.countries.append((relation, country_code(m.group(2)), m.group(2).strip()))
            continue
        m = _ALIAS.match(plain)
        if m:
            entry.aliases.append((m.group(2), "weak", m.group(1).replace(".", "")))
            continue
        m = _DOC.match(plain)
        if m and _DOC_KIND.search(m.group("kind")) and not plain.startswith(("POB ", "Linked")):
            note = " ".join(f"{m.group('note')} {m.group('rest')}".split())
            entry.documents.append(
                (
                    m.group("kind"),
                    m.group("number"),
                    country_code(m.group("country") or ""),
                    note[:300],
                )
            )
