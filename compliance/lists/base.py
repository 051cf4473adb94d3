"""What every list reader gives: `ParsedList` of `ParsedEntry`, or a `ListFileError` naming
the line or element it stopped at. Readers only read; `compliance.services.snapshot_import`
writes a whole file or nothing.

Also shared by the readers: country names to ISO codes (`country_code`), dates of birth as
`ParsedDate` (exact, month, year, range, circa) and the content hash an entry is compared by.
"""

from __future__ import annotations

import calendar
import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from datetime import date

import pycountry

from brokerage.errors import InvalidInput


class ListFileError(InvalidInput):
    """The list file cannot be read."""

    code = "malformed_list"

    def __init__(self, message: str, *, where: str = ""):
        super().__init__(f"{where}: {message}" if where else message)
        self.where = where


@dataclass
class ParsedDate:
    kind: str  # exact, month, year, range, circa (compliance.models.DateKind)
    earliest: date
    latest: date
    text: str = ""


@dataclass
class ParsedEntry:
    list_id: str
    kind: str  # person, entity, vessel, aircraft
    primary_name: str
    aliases: list[tuple[str, str, str]] = field(default_factory=list)  # (name, quality, type)
    programmes: list[str] = field(default_factory=list)
    remarks: str = ""
    gender: str = ""
    birth_dates: list[ParsedDate] = field(default_factory=list)
    countries: list[tuple[str, str, str]] = field(default_factory=list)  # (relation, code, text)
    documents: list[tuple[str, str, str, str]] = field(default_factory=list)  # kind, no, cc, note
    details: dict = field(default_factory=dict)

    def content_hash(self) -> str:
        data = asdict(self)
        return hashlib.sha256(
            json.dumps(data, sort_keys=True, default=str, ensure_ascii=False).encode()
        ).hexdigest()


@dataclass
class ParsedList:
    entries: list[ParsedEntry]
    published_on: date | None = None


# --- countries ---------------------------------------------------------------------------------

# Names the lists use that ISO 3166 (pycountry) does not know by that spelling.
COUNTRY_ALIASES = {
    "iran (islamic republic of)": "IR",
    "korea, north": "KP",
    "north korea": "KP",
    "korea, south": "KR",
    "south korea": "KR",
    "russia": "RU",
    "burma": "MM",
    "congo, democratic republic of the": "CD",
    "democratic republic of the congo": "CD",
    "congo, republic of the": "CG",
    "state of palestine": "PS",
    "palestinian": "PS",
    "palestinian territories": "PS",
    "west bank": "PS",
    "gaza": "PS",
    "turkey": "TR",
    "kosovo": "XK",
    "ivory coast": "CI",
    "cote d'ivoire": "CI",
    "laos": "LA",
    "macedonia": "MK",
    "macedonia, the former yugoslav republic of": "MK",
    "the netherlands": "NL",
    "united states": "US",
    "usa": "US",
    "uk": "GB",
    "united kingdom": "GB",
    "vatican city": "VA",
    "bosnia-herzegovina": "BA",
    "czech republic": "CZ",
    "swaziland": "SZ",
    "cape verde": "CV",
    "east timor": "TL",
}
_NOT_A_COUNTRY = {"", "na", "n/a", "-0-", "former soviet union", "unknown", "stateless"}


def country_code(name: str) -> str:
    """The ISO 3166 alpha-2 code of a country as a list writes it, or "" when unknown."""
    text = " ".join((name or "").split()).strip(" .")
    key = text.lower()
    if key in _NOT_A_COUNTRY:
        return ""
    key = key.removeprefix("possibly ").removeprefix("the ").removesuffix(", the")
    if key in COUNTRY_ALIASES:
        return COUNTRY_ALIASES[key]
    if len(text) == 2 and text.isalpha():
        return text.upper() if pycountry.countries.get(alpha_2=text.upper()) else ""
    try:
        return pycountry.countries.lookup(key).alpha_2
    except LookupError:
        return ""


# --- dates -------------------------------------------------------------------------------------

MONTHS = {m.lower(): i for i, m in enumerate(calendar.month_abbr) if m}


def year_bounds(year: int) -> tuple[date, date]:
    return date(year, 1, 1), date(year, 12, 31)


def month_bounds(year: int, month: int) -> tuple[date, date]:
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


_DAY_MONTH_YEAR = re.compile(r"^(?:(\d{1,2}) )?(?:([A-Za-z]{3})[a-z]* )?(\d{4})$")


def parse_day_month_year(text: str) -> tuple[str, date, date] | None:
    """`10 Dec 1948`, `Dec 1948` or `1948` as (kind, earliest, latest); None when not a date."""
    m = _DAY_MONTH_YEAR.match(text.strip())
    if not m:
        return None
    day, month, year = m.group(1), m.group(2), int(m.group(3))
    if month is None:
        if day is not None:
            return None
        return ("year", *year_bounds(year))
    month_no = MONTHS.get(month.lower())
    if month_no is None:
        return None
    if day is None:
        return ("month", *month_bounds(year, month_no))
    try:
        exact = date(year, month_no, int(day))
    except ValueError:
        return None
    return ("exact", exact, exact)
