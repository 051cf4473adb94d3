"""What an instrument is, in numbers and in classes, without the database.

- **Classes** as commission plans and leverage limits group instruments: FX majors, minors and
  exotics, metals, energies, indices, crypto, stocks (`INSTRUMENT_CLASSES`). An FX pair's class
  follows from its two currencies (`fx_class`): the seven majors are the USD pairs of the other
  G10 currencies in the market's usual quoting; a minor is any other pair of two of the eight
  currencies EUR GBP JPY CHF AUD CAD NZD USD; anything else is exotic.
- **Symbol groups**: what a commission plan prices by. By default each class is its own group;
  `settings.INSTRUMENT_SYMBOL_GROUPS` maps classes to other groups (e.g. all three FX classes to
  one "fx" group) without touching the instruments (`symbol_group`).
- **Point value**: a price moves in points of `10^-digits`; one point on one lot is worth
  `contract size x point` in the instrument's quote (profit) currency (`point_size`,
  `point_value`). EURUSD (100000, 5 digits): 1 USD; USDJPY (100000, 3 digits): 100 JPY; XAUUSD
  (100, 2 digits): 1 USD.

The migration that turned the six coarse asset classes into these classes uses `class_for`, and
the tests hold it to the mapping above.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings

from brokerage.leverage_limits import FINER_CLASSES

FX_MAJOR, FX_MINOR, FX_EXOTIC = "fx_major", "fx_minor", "fx_exotic"
METALS, ENERGIES, INDICES, CRYPTO, STOCKS = "metals", "energies", "indices", "crypto", "stocks"
INSTRUMENT_CLASSES = [
    (FX_MAJOR, "FX major"),
    (FX_MINOR, "FX minor"),
    (FX_EXOTIC, "FX exotic"),
    (METALS, "Metals"),
    (ENERGIES, "Energies"),
    (INDICES, "Indices"),
    (CRYPTO, "Crypto"),
    (STOCKS, "Stocks"),
]
CLASS_LABELS = dict(INSTRUMENT_CLASSES)

# Leverage limits need two finer classes (ESMA, FCA, ASIC: gold and major indices 20:1, other
# metals and non-major indices 10:1): an instrument flagged gold (of metals) or major index (of
# indices) has that leverage class; any other, its class. A limit on a class covers its finer
# class where no limit names that (`brokerage.leverage_limits.FINER_CLASSES`).
GOLD, MAJOR_INDICES = "gold", "indices_major"
SUBCLASSES = [("", "None: its class"), (GOLD, "Gold"), (MAJOR_INDICES, "Major index")]
SUBCLASS_OF = FINER_CLASSES  # {GOLD: METALS, MAJOR_INDICES: INDICES}, the kernel's
LEVERAGE_CLASSES = [
    (FX_MAJOR, "FX major"),
    (FX_MINOR, "FX minor"),
    (FX_EXOTIC, "FX exotic"),
    (GOLD, "Gold"),
    (METALS, "Metals other than gold"),
    (MAJOR_INDICES, "Major indices"),
    (INDICES, "Indices, not major"),
    (ENERGIES, "Energies"),
    (CRYPTO, "Crypto"),
    (STOCKS, "Stocks"),
]
LEVERAGE_CLASS_LABELS = dict(LEVERAGE_CLASSES)
# ESMA's major indices (Decision (EU) 2018/796, Annex II): FTSE 100, CAC 40, DAX, Dow Jones
# Industrial Average, S&P 500, NASDAQ-100, NASDAQ Composite, Nikkei 225, S&P/ASX 200, EURO
# STOXX 50, under the names brokers' servers give them.
MAJOR_INDEX_SYMBOLS = frozenset(
    {
        "UK100", "FTSE100", "FRA40", "CAC40", "GER40", "DE40", "GER30", "DE30", "DAX40",
        "US30", "DJ30", "US500", "SPX500", "NAS100", "USTEC", "JP225", "JPN225", "AUS200",
        "EU50", "EUSTX50",
    }
)  # fmt: skip


def subclass_guess(asset_class: str, symbol: str) -> str:
    """Gold for XAU pairs, major index for ESMA's major indices' usual names; else ""."""
    name = (symbol or "").strip().upper()
    if asset_class == METALS and (name.startswith("XAU") or name == "GOLD"):
        return GOLD
    if asset_class == INDICES and name in MAJOR_INDEX_SYMBOLS:
        return MAJOR_INDICES
    return ""


def leverage_class(asset_class: str, subclass: str = "") -> str:
    """The class a leverage limit caps the instrument by."""
    return subclass if SUBCLASS_OF.get(subclass) == asset_class else asset_class


MAJORS = frozenset({"EURUSD", "GBPUSD", "USDJPY", "USDCHF", "AUDUSD", "USDCAD", "NZDUSD"})
G8 = frozenset({"EUR", "GBP", "JPY", "CHF", "AUD", "CAD", "NZD", "USD"})
# The coarse asset classes instruments had before, and the class each becomes (FX by its pair).
COARSE = {
    "metal": METALS,
    "commodity": ENERGIES,
    "index": INDICES,
    "crypto": CRYPTO,
    "stock": STOCKS,
}

MAX_DIGITS = 8


def fx_class(symbol: str) -> str:
    """FX major, minor or exotic, by the pair's two currencies (the first six letters)."""
    pair = (symbol or "").strip().upper()[:6]
    if pair in MAJORS:
        return FX_MAJOR
    base, quote = pair[:3], pair[3:]
    if len(pair) == 6 and base != quote and base in G8 and quote in G8:
        return FX_MINOR
    return FX_EXOTIC


def class_for(asset_class: str, symbol: str) -> str:
    """The class an instrument of a coarse asset class ("fx", "metal"...) belongs to: FX by
    its pair, the others one to one. A code that is already a class stays; any other code
    raises ValueError (nothing is guessed)."""
    if asset_class in CLASS_LABELS:
        return asset_class
    if asset_class == "fx":
        return fx_class(symbol)
    try:
        return COARSE[asset_class]
    except KeyError:
        raise ValueError(f"No instrument class for asset class {asset_class!r}.") from None


def quote_currency_guess(symbol: str, instrument_class: str) -> str:
    """An FX pair's or a metal's quote currency from its name (XAUUSD -> USD); else ""."""
    name = (symbol or "").strip().upper()
    if instrument_class in (FX_MAJOR, FX_MINOR, FX_EXOTIC, METALS) and len(name) >= 6:
        quote = name[3:6]
        if quote.isalpha():
            return quote
    return ""


def point_size(digits: int) -> Decimal:
    """The smallest price step: 10^-digits (5 digits: 0.00001)."""
    return Decimal(1).scaleb(-int(digits))


def point_value(contract_size: Decimal, digits: int) -> Decimal:
    """What one point is worth on one lot, in the quote currency: contract size x point."""
    return Decimal(contract_size) * point_size(digits)


def symbol_group(instrument_class: str) -> str:
    """The symbol group a class is priced in: settings.INSTRUMENT_SYMBOL_GROUPS, else itself."""
    groups = getattr(settings, "INSTRUMENT_SYMBOL_GROUPS", None) or {}
    return groups.get(instrument_class, instrument_class)


def symbol_group_choices() -> list[tuple[str, str]]:
    """Every group a plan can price, in class order, each with the label staff read (a group
    named after a class takes the class's label)."""
    from brokerage.labels import code_label

    seen: dict[str, str] = {}
    for code in CLASS_LABELS:
        group = symbol_group(code)
        seen.setdefault(group, CLASS_LABELS.get(group) or code_label(group))
    return list(seen.items())
