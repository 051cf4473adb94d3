"""Money: exact amounts in a currency's minor units. Never floats.

Amounts are `Decimal`s quantized to the currency's exponent (USD 2, JPY 0) and stored in
NUMERIC(20, 2) columns next to a `currency` column.
"""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

import pycountry

from .errors import InvalidInput

# ISO 4217 minor-unit exponents that are not 2 (pycountry does not carry them).
_EXPONENTS = {
    **dict.fromkeys(
        ["BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI"]
        + ["VND", "VUV", "XAF", "XOF", "XPF"],
        0,
    ),
    **dict.fromkeys(["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"], 3),
}
MAX_AMOUNT = Decimal("1000000000000")  # a trillion: anything bigger is a typo or an attack


def is_currency(code: str) -> bool:
    return (
        isinstance(code, str)
        and len(code) == 3
        and code.isascii()
        and code.isupper()
        and pycountry.currencies.get(alpha_3=code) is not None
    )


def exponent(currency: str) -> int:
    return _EXPONENTS.get(currency, 2)


def quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-exponent(currency))


def to_amount(value, currency: str, *, field: str = "amount", allow_zero=False) -> Decimal:
    """`value` (str, int or Decimal; never float) as an exact, positive amount of `currency`.

    Raises InvalidInput naming the field when the value is not a number, has more decimals
    than the currency allows, is not positive, or is absurdly large.
    """
    if not is_currency(currency):
        raise InvalidInput(
            f"{currency!r} is not an ISO 4217 currency code.",
            code="bad_currency",
            fields={"currency": ["Not a currency code."]},
        )
    if isinstance(value, float):
        raise TypeError("Money is never a float; pass a str or Decimal.")
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError) as exc:
        raise InvalidInput(
            f"{field}: {value!r} is not a number.",
            code="bad_amount",
            fields={field: ["Not a number."]},
        ) from exc
    if not amount.is_finite():
        raise InvalidInput(
            f"{field}: {value!r} is not a number.",
            code="bad_amount",
            fields={field: ["Not a number."]},
        )
    if abs(amount) > MAX_AMOUNT:
        raise InvalidInput(
            f"{field}: the amount is too large.", code="bad_amount", fields={field: ["Too large."]}
        )
    if amount != amount.quantize(quantum(currency), rounding=ROUND_HALF_UP):
        places = exponent(currency)
        raise InvalidInput(
            f"{field}: {currency} amounts have at most {places} decimal places.",
            code="bad_amount",
            fields={field: [f"At most {places} decimal places."]},
        )
    if amount < 0 or (amount == 0 and not allow_zero):
        raise InvalidInput(
            f"{field}: the amount must be positive.",
            code="bad_amount",
            fields={field: ["Must be more than zero."]},
        )
    if amount > MAX_AMOUNT:
        raise InvalidInput(
            f"{field}: the amount is too large.", code="bad_amount", fields={field: ["Too large."]}
        )
    return amount.quantize(quantum(currency))


def format_money(amount, currency: str) -> str:
    """`1234.5`, "USD" -> "USD 1,234.50" (negative amounts keep their sign)."""
    if amount is None:
        return "—"
    places = exponent(currency)
    return f"{currency} {Decimal(amount):,.{places}f}"
