"""The broker's FX conversion account, read by finance (`/backoffice/finance/fx/`).

Money credited in another currency than the one it was owed in (a partner's commissions into a
wallet kept in euros, a rebate into a client's euro wallet) goes through the FX conversion
account in each currency (`finance.services.commission_credit`): the account receives what was
owed in one currency and pays what was credited in the other, so each currency's postings sum
to zero and the account's balances are the broker's FX position.

`fx_conversion_days` lists its postings by UTC day and currency pair (from the currency
received to the currency paid): how many conversions, the amounts on each side, the rates used
(what was paid per unit received: the day's overall rate and each conversion's lowest and
highest), and the account's running balance in each of the two currencies at the day's end.
The broker's FX result at a day's end is those balances valued in USD at that day's rates
(`usd_rates_at_many`): what the conversions gained or lost against the rates of the day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from brokerage.db import read_connection

from .models import LedgerAccount
from .selectors import usd_rates_at_many

RATE_PLACES = Decimal("0.000001")
CENT = Decimal("0.01")

# One row per conversion (a ledger transaction with FX conversion postings): the currency the
# account received and the one it paid, with their amounts.
CONVERSIONS = """
WITH fx AS (
    SELECT p.transaction_id, p.currency, p.amount, p.posted_at
      FROM finance_posting p
      JOIN finance_ledgeraccount a ON a.id = p.account_id
     WHERE a.kind = %(kind)s
), t AS (
    SELECT transaction_id, min(posted_at) AS posted_at,
           max(currency) FILTER (WHERE amount > 0) AS source,
           sum(amount) FILTER (WHERE amount > 0) AS source_amount,
           max(currency) FILTER (WHERE amount < 0) AS target,
           -sum(amount) FILTER (WHERE amount < 0) AS target_amount
      FROM fx GROUP BY transaction_id
)
SELECT (posted_at AT TIME ZONE 'UTC')::date AS day, source, target, count(*),
       sum(source_amount), sum(target_amount),
       min(target_amount / source_amount), max(target_amount / source_amount)
  FROM t
 WHERE source IS NOT NULL AND target IS NOT NULL
   AND (%(start)s::date IS NULL OR (posted_at AT TIME ZONE 'UTC')::date >= %(start)s)
   AND (%(end)s::date IS NULL OR (posted_at AT TIME ZONE 'UTC')::date <= %(end)s)
   AND (%(currency)s = '' OR source = %(currency)s OR target = %(currency)s)
 GROUP BY 1, 2, 3
 ORDER BY 1 DESC, 2, 3
"""
# The FX conversion account's balance in each currency at the end of each day it moved.
BALANCES = """
SELECT p.currency, (p.posted_at AT TIME ZONE 'UTC')::date AS day,
       sum(sum(p.amount)) OVER (PARTITION BY p.currency
                                ORDER BY (p.posted_at AT TIME ZONE 'UTC')::date)
  FROM finance_posting p
  JOIN finance_ledgeraccount a ON a.id = p.account_id
 WHERE a.kind = %(kind)s
 GROUP BY p.currency, 2
"""


@dataclass
class FxDay:
    day: date
    source: str
    target: str
    conversions: int
    source_amount: Decimal
    target_amount: Decimal
    rate: Decimal  # paid per unit received over the day
    rate_low: Decimal
    rate_high: Decimal
    source_balance: Decimal = Decimal(0)  # the account at the day's end, in each currency
    target_balance: Decimal = Decimal(0)
    result_usd: Decimal | None = None  # every balance at the day's end, valued at its rates


def _rate(value) -> Decimal:
    return Decimal(value).quantize(RATE_PLACES, ROUND_HALF_UP)


def fx_conversion_days(*, start=None, end=None, currency: str = "") -> list[FxDay]:
    """The FX conversion account's days and currency pairs, newest first (see the module);
    balances and the FX result are filled in by `fx_conversion_balances` for the rows shown."""
    params = {
        "kind": LedgerAccount.Kind.FX_CONVERSION,
        "start": start,
        "end": end,
        "currency": currency,
    }
    with read_connection(LedgerAccount).cursor() as cur:
        cur.execute(CONVERSIONS, params)
        rows = cur.fetchall()
    return [
        FxDay(
            day=day,
            source=source,
            target=target,
            conversions=count,
            source_amount=received,
            target_amount=paid,
            rate=_rate(paid / received),
            rate_low=_rate(low),
            rate_high=_rate(high),
        )
        for day, source, target, count, received, paid, low, high in rows
    ]


def fx_conversion_balances(rows: list[FxDay]) -> list[FxDay]:
    """Fill in each row's running balances and the FX result at its day's end (one query for
    the balances, one for the rates and their history, whatever the number of rows)."""
    if not rows:
        return rows
    with read_connection(LedgerAccount).cursor() as cur:
        cur.execute(BALANCES, {"kind": LedgerAccount.Kind.FX_CONVERSION})
        moves = sorted(cur.fetchall(), key=lambda r: r[1])
    ends = {
        row.day: datetime.combine(row.day + timedelta(days=1), time.min, tzinfo=UTC)
        - timedelta(microseconds=1)
        for row in rows
    }
    rates_at = usd_rates_at_many(list(ends.values()))  # each day's end, read once
    for row in rows:
        balances: dict[str, Decimal] = {}
        for currency, day, balance in moves:
            if day > row.day:
                break
            balances[currency] = balance
        row.source_balance = balances.get(row.source, Decimal(0))
        row.target_balance = balances.get(row.target, Decimal(0))
        rates = rates_at[ends[row.day]]
        if all(c in rates for c in balances):
            result = sum(
                (amount * Decimal(rates[c]) for c, amount in balances.items()), Decimal(0)
            ).quantize(CENT, ROUND_HALF_UP)
            row.result_usd = result if result else abs(result)  # never "-0.00"
    return rows


def fx_conversion_currencies() -> list[str]:
    """The currencies the FX conversion account holds (the report's currency filter)."""
    return sorted(
        LedgerAccount.objects.filter(kind=LedgerAccount.Kind.FX_CONVERSION)
        .values_list("currency", flat=True)
        .distinct()
    )
