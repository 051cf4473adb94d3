"""Nationality and issuing-state codes in machine-readable zones (ICAO Doc 9303 part 3).

Most are ISO 3166-1 alpha-3, but not all: Germany writes `D`, the United Kingdom has five
codes for kinds of British nationality besides `GBR`, the United Nations, the European Union
and other organisations issue documents, stateless people and refugees have codes of their
own, and the ICAO specimens are issued by `UTO` (Utopia). `country_of` maps a code to the
ISO alpha-2 country a client registers with (None when the code names no country), and
`label` says in words what the code means, for staff.
"""

import pycountry

# Code -> (ISO alpha-2 country a holder registers with, or None; label for staff).
SPECIAL_CODES: dict[str, tuple[str | None, str]] = {
    "D": ("DE", "Germany"),
    "GBD": ("GB", "British Overseas Territories citizen"),
    "GBN": ("GB", "British National (Overseas)"),
    "GBO": ("GB", "British Overseas citizen"),
    "GBP": ("GB", "British protected person"),
    "GBS": ("GB", "British subject"),
    "RKS": ("XK", "Kosovo"),
    "UNK": ("XK", "resident of Kosovo (document issued by UNMIK)"),
    "UNO": (None, "United Nations Organization official"),
    "UNA": (None, "official of a United Nations specialized agency"),
    "EUE": (None, "European Union (document issued by an EU institution)"),
    "XOM": (None, "Sovereign Military Order of Malta"),
    "XPO": (None, "Interpol"),
    "XCC": (None, "Caribbean Community (CARICOM)"),
    "XCE": (None, "Council of Europe"),
    "XEC": (None, "Economic Community of West African States"),
    "XBA": (None, "African Development Bank"),
    "XIM": (None, "African Export-Import Bank"),
    "XES": (None, "Organisation of Eastern Caribbean States"),
    "XMP": (None, "Mediterranean Partnership (document issued by an organisation)"),
    "XXA": (None, "stateless person (1954 Convention)"),
    "XXB": (None, "refugee (1951 Convention)"),
    "XXC": (None, "refugee (other than the 1951 Convention)"),
    "XXX": (None, "nationality not specified"),
    "UTO": (None, "Utopia (ICAO specimen, not a real state)"),
}
SPECIMEN_CODES = {"UTO"}


def _iso(code: str):
    return pycountry.countries.get(alpha_3=code) if len(code) == 3 else None


def is_known(code: str) -> bool:
    """Whether `code` (fillers stripped) is a code a document can carry."""
    return code in SPECIAL_CODES or _iso(code) is not None


def country_of(code: str) -> str | None:
    """The ISO alpha-2 country a holder of this nationality code registers with."""
    if code in SPECIAL_CODES:
        return SPECIAL_CODES[code][0]
    country = _iso(code)
    return country.alpha_2 if country else None


def label(code: str) -> str:
    """`D` -> `Germany (D)`, `GBN` -> `British National (Overseas) (GBN)`."""
    if code in SPECIAL_CODES:
        return f"{SPECIAL_CODES[code][1]} ({code})"
    country = _iso(code)
    return f"{country.name} ({code})" if country else f"unknown code {code or '(empty)'}"


def country_label(alpha2: str) -> str:
    if alpha2 == "XK":
        return "Kosovo (XK)"
    country = pycountry.countries.get(alpha_2=alpha2) if alpha2 else None
    return f"{country.name} ({alpha2})" if country else f"unknown country {alpha2 or '(none)'}"
