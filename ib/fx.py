"""Money paid in another currency than the line's: one rule, written once.

- A conversion uses the rate between two currencies through their USD values as they stood at
  the moment it is dated (`finance.selectors.usd_rates_at`: the rates keep their history, so
  a recompute converts the same), **kept to 6 decimal places, rounded half up**, and stored on
  the line (`CommissionLine.fx_rate`) with the currency it converts into.
- A line's amount stays exact (8 places) in its own currency; what moves money is rounded
  **once, half up, to cents**, on each side from the exact amount: the line's currency side
  (the partner's statement, the payable) and the converted side (amount x the stored rate,
  into the wallet).

- The moment a conversion is dated: a CPA's qualifying deposit, its day; a revenue share, the
  period's last moment (each account currency's result converted at the rates of the period,
  never today's); a deal's markup (in the symbol's quote currency), the deal's close time
  (`usd_rate_segments` cuts a run's window where the rates changed); a rebate, the period's end.

Used by rebates (credited into the client's wallet in the currency it is kept in, while the
partner's statement nets the rebate in the programme's currency), by the CPA (its
qualifying first deposit converted into the programme's currency for the minimum), by revenue
share and the markup (converted into the programme's currency).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from finance.models import FxRate
from finance.selectors import usd_rates_at

CENT = Decimal("0.01")
RATE_PLACES = Decimal("0.000001")


def fx_rate(source: str, target: str, at=None, rates: dict | None = None) -> Decimal | None:
    """How many `target` one `source` is worth at `at` (6 places, half up); None without a
    rate for either; 1 for the same currency."""
    if source == target:
        return Decimal(1)
    rates = usd_rates_at(at) if rates is None else rates
    if source not in rates or target not in rates or not rates[target]:
        return None
    return (Decimal(rates[source]) / Decimal(rates[target])).quantize(RATE_PLACES, ROUND_HALF_UP)


def to_cents(amount: Decimal) -> Decimal:
    """Money as it moves: rounded once, half up, to cents."""
    return Decimal(amount).quantize(CENT, ROUND_HALF_UP)


def converted_cents(amount: Decimal, rate: Decimal) -> Decimal:
    """`amount` (exact) converted at the stored `rate`, rounded once to cents."""
    return to_cents(Decimal(amount) * Decimal(rate))


def usd_rate_segments(low, high, far_past, far_future) -> list[tuple]:
    """[(t_from, t_to, rates)]: the window [low, high] cut where a rate changed (its history),
    each piece with the USD rates as they stood in it (`usd_rates_at`); the first piece open to
    `far_past`, the last to `far_future`, so every moment of the window falls in one."""
    changes = sorted(
        set(
            FxRate.history.filter(history_date__gt=low, history_date__lte=high).values_list(
                "history_date", flat=True
            )
        )
    )
    edges = [low, *changes]
    return [
        (
            far_past if i == 0 else edge,
            far_future if i == len(edges) - 1 else edges[i + 1],
            usd_rates_at(edge),
        )
        for i, edge in enumerate(edges)
    ]
