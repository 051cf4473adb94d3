"""The EU financial sanctions file (FSF), XML in namespace `http://eu.europa.ec/fpi/fsd/export`.

Root `export` (attribute `generationDate`), one `sanctionEntity` per listed subject with
attributes `logicalId` (the entry's `list_id`), `euReferenceNumber`, `unitedNationId`,
`designationDate`; and children whose data is in attributes:
- `subjectType code="person|enterprise"`;
- `regulation programme="IRQ" ...` (the regime);
- `nameAlias wholeName firstName middleName lastName gender="M|F" title function strong` (the
  first alias is the primary name; `strong="false"` marks a weak one);
- `citizenship countryIso2Code countryDescription`;
- `birthdate birthdate="1937-04-28" year monthOfYear dayOfMonth circa="true|false"
  yearRangeFrom yearRangeTo countryIso2Code city`;
- `identification number identificationTypeCode identificationTypeDescription
  countryIso2Code`;
- `remark` (text).
Elements are matched by local name, so a file without the namespace reads the same.
"""

from __future__ import annotations

from datetime import date

from .base import (
    ListFileError,
    ParsedDate,
    ParsedEntry,
    ParsedList,
    country_code,
    month_bounds,
    year_bounds,
)
from .xmlfile import local, xml_root

KINDS = {"person": "person", "enterprise": "entity", "entity": "entity", "vessel": "vessel"}


def _children(element, name: str):
    return [c for c in element if local(c.tag) == name]


def read_eu(files: list[tuple[str, bytes]]) -> ParsedList:
    name, root, published = xml_root(
        files,
        what="EU financial sanctions file",
        root_tag="export",
        date_attribute="generationDate",
    )
    entries, seen = [], set()
    for index, element in enumerate(_children(root, "sanctionEntity"), start=1):
        where = f"{name}: sanctionEntity[{index}]"
        entry = _entry(element, where)
        if entry.list_id in seen:
            raise ListFileError(f"logicalId {entry.list_id} appears twice", where=where)
        seen.add(entry.list_id)
        entries.append(entry)
    return ParsedList(entries=entries, published_on=published)


def _alias_name(alias) -> str:
    whole = " ".join((alias.get("wholeName") or "").split())
    if whole:
        return whole
    parts = (alias.get(k, "") for k in ("firstName", "middleName", "lastName"))
    return " ".join(p.strip() for p in parts if p and p.strip())


def _entry(element, where: str) -> ParsedEntry:
    list_id = (element.get("logicalId") or element.get("euReferenceNumber") or "").strip()
    if not list_id:
        raise ListFileError("the sanctionEntity has no logicalId", where=where)
    where = f"{where} (logicalId {list_id})"
    subject = _children(element, "subjectType")
    code = (subject[0].get("code", "") if subject else "").lower()
    if code not in KINDS:
        raise ListFileError(f"unknown subjectType code {code!r}", where=where)
    names = [(n, _alias_name(n)) for n in _children(element, "nameAlias")]
    names = [(n, text) for n, text in names if text]
    if not names:
        raise ListFileError("the sanctionEntity has no nameAlias with a name", where=where)
    entry = ParsedEntry(
        list_id=list_id,
        kind=KINDS[code],
        primary_name=names[0][1],
        programmes=sorted(
            {r.get("programme", "") for r in _children(element, "regulation")} - {""}
        ),
        remarks=" ".join(" ".join((r.text or "").split()) for r in _children(element, "remark")),
        details={
            k: v
            for k in ("euReferenceNumber", "unitedNationId", "designationDate")
            if (v := element.get(k, ""))
        },
    )
    for alias, text in names[1:]:
        strong = (alias.get("strong") or "true").lower() != "false"
        entry.aliases.append((text, "strong" if strong else "weak", "alias"))
    gender = {"M": "male", "F": "female"}.get((names[0][0].get("gender") or "").upper(), "")
    entry.gender = gender
    for citizenship in _children(element, "citizenship"):
        code2 = (citizenship.get("countryIso2Code") or "").upper()
        text = citizenship.get("countryDescription") or code2
        code2 = code2 if code2 not in ("", "00") else country_code(text)
        if text:
            entry.countries.append(("citizenship", country_code(code2) if code2 else "", text))
    for i, birth in enumerate(_children(element, "birthdate"), start=1):
        parsed = _birth_date(birth, f"{where}/birthdate[{i}]")
        if parsed:
            entry.birth_dates.append(parsed)
    for doc in _children(element, "identification"):
        number = (doc.get("number") or doc.get("latinNumber") or "").strip()
        if number:
            entry.documents.append(
                (
                    doc.get("identificationTypeDescription")
                    or doc.get("identificationTypeCode")
                    or "Document",
                    number,
                    country_code(doc.get("countryIso2Code") or ""),
                    (doc.get("remark") or "")[:300],
                )
            )
    return entry


def _int(value: str | None, what: str, where: str) -> int | None:
    if value in (None, ""):
        return None
    if not value.strip().isdigit():
        raise ListFileError(f"{what} {value!r} is not a number", where=where)
    return int(value)


def _birth_date(birth, where: str) -> ParsedDate | None:
    circa = (birth.get("circa") or "false").lower() == "true"
    full = birth.get("birthdate") or ""
    first = _int(birth.get("yearRangeFrom"), "yearRangeFrom", where)
    last = _int(birth.get("yearRangeTo"), "yearRangeTo", where)
    if first and last:
        if first > last:
            raise ListFileError(f"yearRangeFrom {first} is after yearRangeTo {last}", where=where)
        return ParsedDate("range", date(first, 1, 1), date(last, 12, 31), f"{first} to {last}")
    if full:
        try:
            day = date.fromisoformat(full[:10])
        except ValueError:
            raise ListFileError(f"birthdate {full!r} is not a date", where=where) from None
        return ParsedDate("circa" if circa else "exact", day, day, full[:10])
    year = _int(birth.get("year"), "year", where)
    month = _int(birth.get("monthOfYear"), "monthOfYear", where)
    if not year:
        return None
    try:
        if month:
            earliest, latest = month_bounds(year, month)
            kind = "month"
        else:
            earliest, latest = year_bounds(year)
            kind = "year"
    except ValueError:
        raise ListFileError(f"monthOfYear {month} is not a month", where=where) from None
    return ParsedDate("circa" if circa else kind, earliest, latest, str(year))
