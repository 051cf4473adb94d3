"""Money as the providers write it: ISO 4217 codes and their minor units (with Stripe's
exceptions), amounts in major units ("42.50") or minor units (4250), and the coin rates
CoinPayments converts at. The sandbox's own: it shares nothing with the product's money code,
so that a mistake there shows here."""

import re
from decimal import Decimal

import pycountry

_ZERO_DECIMAL = frozenset(
    ["BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI"]
    + ["VND", "VUV", "XAF", "XOF", "XPF"]
)
_THREE_DECIMAL = frozenset(["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"])
_NON_MONEY = frozenset(
    {"XAG", "XAU", "XPD", "XPT", "XBA", "XBB", "XBC", "XBD", "XDR", "XSU", "XUA", "XTS", "XXX"}
)
# Stripe's minor units where they differ from ISO 4217.
_STRIPE_EXPONENTS = {"ISK": 2, "MGA": 0}
_MAJOR = re.compile(r"\d{1,13}(\.\d{1,8})?")
_MINOR = re.compile(r"\d{1,15}")
MAX_AMOUNT = Decimal("1000000000000")

# What one coin is worth in USD, and one unit of a fiat currency (CoinPayments' rates).
COIN_USD = {
    "BTC": Decimal("60000"),
    "ETH": Decimal("3000"),
    "LTC": Decimal("80"),
    "LTCT": Decimal("80"),
    "USDT": Decimal("1"),
}
FIAT_USD = {"USD": Decimal("1"), "EUR": Decimal("1.08"), "GBP": Decimal("1.27")}
COIN_PLACES = Decimal("0.00000001")


def is_currency(code: object) -> bool:
    return (
        isinstance(code, str)
        and len(code) == 3
        and code.isascii()
        and code.isupper()
        and code not in _NON_MONEY
        and pycountry.currencies.get(alpha_3=code) is not None
    )


def exponent(currency: str) -> int:
    return 0 if currency in _ZERO_DECIMAL else 3 if currency in _THREE_DECIMAL else 2


def stripe_exponent(currency: str) -> int:
    return _STRIPE_EXPONENTS.get(currency, exponent(currency))


def to_minor(amount: Decimal, places: int) -> int:
    return int(amount.scaleb(places))


def major_text(amount: Decimal, currency: str) -> str:
    return str(amount.quantize(Decimal(1).scaleb(-exponent(currency))))


def parse_major(text: object, currency: str) -> Decimal | None:
    """A positive decimal string with at most the currency's decimals, else None."""
    if not isinstance(text, str) or not _MAJOR.fullmatch(text.strip()):
        return None
    amount = Decimal(text.strip())
    places = exponent(currency)
    if amount <= 0 or amount > MAX_AMOUNT or amount != amount.quantize(Decimal(1).scaleb(-places)):
        return None
    return amount.quantize(Decimal(1).scaleb(-places))


def parse_minor(value: object) -> int | None:
    """A positive whole number of minor units (a JSON int or a digit string), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 < value <= 10**15 else None
    if isinstance(value, str) and _MINOR.fullmatch(value):
        number = int(value)
        return number if number > 0 else None
    return None


def fiat_convert(amount: Decimal, currency: str, to: str) -> Decimal:
    """`amount` in `currency` at the sandbox's rates, in `to` (rounded to its minor unit)."""
    if currency == to:
        return amount
    usd = amount * FIAT_USD.get(currency, Decimal(1))
    return (usd / FIAT_USD.get(to, Decimal(1))).quantize(Decimal(1).scaleb(-exponent(to)))


def coin_amount(fiat: Decimal, currency: str, coin: str) -> Decimal:
    usd = fiat * FIAT_USD.get(currency, Decimal(1))
    return (usd / COIN_USD[coin]).quantize(COIN_PLACES)
