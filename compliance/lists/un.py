"""The UN Security Council consolidated list (`CONSOLIDATED_LIST`, XML).

`INDIVIDUALS/INDIVIDUAL` and `ENTITIES/ENTITY`, each with DATAID and REFERENCE_NUMBER (the id
the UN publishes, e.g. `QDi.001`: the entry's `list_id`), FIRST_NAME .. FOURTH_NAME (an
entity's name is its FIRST_NAME), UN_LIST_TYPE (the sanctions regime), NAME_ORIGINAL_SCRIPT,
GENDER, NATIONALITY/VALUE (country names), aliases (`INDIVIDUAL_ALIAS` / `ENTITY_ALIAS` with
QUALITY "Good" or "a.k.a." (strong), "Low" (low quality), "f.k.a."), INDIVIDUAL_DATE_OF_BIRTH
(TYPE_OF_DATE EXACT with DATE or YEAR, APPROXIMATELY with DATE or YEAR, BETWEEN with FROM_YEAR
and TO_YEAR) and INDIVIDUAL_DOCUMENT (TYPE_OF_DOCUMENT, NUMBER, ISSUING_COUNTRY, NOTE).
The root's `dateGenerated` is the snapshot's published date.
"""

from __future__ import annotations

from datetime import date

from .base import ListFileError, ParsedDate, ParsedEntry, ParsedList, country_code, year_bounds
from .xmlfile import text_of, xml_root

QUALITY = {"good": "strong", "a.k.a.": "strong", "low": "low", "f.k.a.": "strong", "": "strong"}


def read_un(files: list[tuple[str, bytes]]) -> ParsedList:
    name, root, published = xml_root(
        files,
        what="UN consolidated list",
        root_tag="CONSOLIDATED_LIST",
        date_attribute="dateGenerated",
    )
    entries: list[ParsedEntry] = []
    seen: set[str] = set()
    for group, tag, kind in (
        ("INDIVIDUALS", "INDIVIDUAL", "person"),
        ("ENTITIES", "ENTITY", "entity"),
    ):
        for index, element in enumerate(root.findall(f"{group}/{tag}"), start=1):
            where = f"{name}: {group}/{tag}[{index}]"
            entry = _entry(element, kind, where)
            if entry.list_id in seen:
                raise ListFileError(f"REFERENCE_NUMBER {entry.list_id} appears twice", where=where)
            seen.add(entry.list_id)
            entries.append(entry)
    return ParsedList(entries=entries, published_on=published)


def _entry(element, kind: str, where: str) -> ParsedEntry:
    dataid = text_of(element, "DATAID")
    list_id = text_of(element, "REFERENCE_NUMBER") or dataid
    where = f"{where} (DATAID {dataid})" if dataid else where
    if not list_id:
        raise ListFileError("no REFERENCE_NUMBER or DATAID", where=where)
    parts = [
        text_of(element, t) for t in ("FIRST_NAME", "SECOND_NAME", "THIRD_NAME", "FOURTH_NAME")
    ]
    primary = " ".join(p for p in parts if p)
    if not primary:
        raise ListFileError("no FIRST_NAME", where=where)
    entry = ParsedEntry(
        list_id=list_id,
        kind=kind,
        primary_name=primary,
        programmes=[p for p in [text_of(element, "UN_LIST_TYPE")] if p],
        remarks=text_of(element, "COMMENTS1"),
        details={
            k: v
            for k, v in (
                ("dataid", dataid),
                ("listed_on", text_of(element, "LISTED_ON")),
                ("original_script", text_of(element, "NAME_ORIGINAL_SCRIPT")),
                ("designation", "; ".join(_values(element, "DESIGNATION"))),
                ("title", "; ".join(_values(element, "TITLE"))),
            )
            if v
        },
    )
    gender = text_of(element, "GENDER").lower()
    if gender in ("male", "female"):
        entry.gender = gender
    original = text_of(element, "NAME_ORIGINAL_SCRIPT")
    if original:
        entry.aliases.append((original, "strong", "original script"))
    alias_tag = "INDIVIDUAL_ALIAS" if kind == "person" else "ENTITY_ALIAS"
    for alias in element.findall(alias_tag):
        alias_name = text_of(alias, "ALIAS_NAME")
        if alias_name:
            quality = text_of(alias, "QUALITY").lower()
            entry.aliases.append((alias_name, QUALITY.get(quality, "weak"), quality))
    for value in _values(element, "NATIONALITY"):
        entry.countries.append(("nationality", country_code(value), value))
    for i, dob in enumerate(element.findall("INDIVIDUAL_DATE_OF_BIRTH"), start=1):
        parsed = _birth_date(dob, f"{where}/INDIVIDUAL_DATE_OF_BIRTH[{i}]")
        if parsed:
            entry.birth_dates.append(parsed)
    for doc in element.findall("INDIVIDUAL_DOCUMENT"):
        number = text_of(doc, "NUMBER")
        if number:
            issuing = text_of(doc, "ISSUING_COUNTRY") or text_of(doc, "COUNTRY_OF_ISSUE")
            entry.documents.append(
                (
                    text_of(doc, "TYPE_OF_DOCUMENT") or "Document",
                    number,
                    country_code(issuing),
                    text_of(doc, "NOTE")[:300],
                )
            )
    return entry


def _values(element, tag: str) -> list[str]:
    return [
        " ".join((v.text or "").split())
        for v in element.findall(f"{tag}/VALUE")
        if (v.text or "").strip()
    ]


def _year(text: str, where: str) -> int:
    if not (text.isdigit() and len(text) == 4):
        raise ListFileError(f"the year {text!r} is not a year", where=where)
    return int(text)


def _birth_date(dob, where: str) -> ParsedDate | None:
    kind = text_of(dob, "TYPE_OF_DATE").upper()
    exact, year = text_of(dob, "DATE"), text_of(dob, "YEAR")
    start, end = text_of(dob, "FROM_YEAR"), text_of(dob, "TO_YEAR")
    if kind == "BETWEEN":
        if not (start and end):
            return None
        first, last = _year(start, where), _year(end, where)
        if first > last:
            raise ListFileError(f"FROM_YEAR {first} is after TO_YEAR {last}", where=where)
        return ParsedDate("range", date(first, 1, 1), date(last, 12, 31), f"{first} to {last}")
    if not (exact or year):
        return None
    if kind not in ("EXACT", "APPROXIMATELY", ""):
        raise ListFileError(f"unknown TYPE_OF_DATE {kind!r}", where=where)
    if exact:
        try:
            day = date.fromisoformat(exact[:10])
        except ValueError:
            raise ListFileError(f"DATE {exact!r} is not a date", where=where) from None
        return ParsedDate("exact" if kind == "EXACT" else "circa", day, day, exact[:10])
    if year:
        first, last = year_bounds(_year(year, where))
        return ParsedDate("year" if kind == "EXACT" else "circa", first, last, year)
    return None
