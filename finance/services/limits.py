"""Reads the finance services decide by: USD values from the FX rates ops keep, which payment
methods a client may use, what a client has deposited so far, what each PSP funded and can
take back (closed loop), and the money thresholds in force.

Contract: reads only (no writes, no locks); below the noun modules, above `finance.models`.
"""

from __future__ import annotations

from decimal import Decimal

from django.db.models import F, Sum

from brokerage.errors import InvalidInput
from clients.models import Client

from ..models import Deposit, FxRate, PaymentMethod, Withdrawal
from ..models_thresholds import COUNTS, Threshold, ThresholdValue, environment_default


def usd_value(amount: Decimal, currency: str) -> Decimal:
    """What `amount` of `currency` is worth in USD, from the rates ops keep in admin."""
    if currency == "USD":
        return amount
    rate = FxRate.objects.filter(currency=currency).values_list("usd_rate", flat=True).first()
    if rate is None:
        raise InvalidInput(
            f"No USD rate is set for {currency}; ops can add one in admin.", code="no_fx_rate"
        )
    return (amount * rate).quantize(Decimal("0.01"))


def deposited_total_usd(client: Client) -> Decimal:
    """USD value of what the client has deposited (or has pending) so far."""
    total = Decimal(0)
    rows = (
        Deposit.objects.filter(
            client=client,
            status__in=[
                Deposit.Status.CREATED,
                Deposit.Status.PENDING,
                Deposit.Status.COMPLETED,
            ],
        )
        .values("currency")
        .annotate(total=Sum("amount"))
    )
    for row in rows:
        total += usd_value(row["total"], row["currency"])
    return total


def method_available(method: PaymentMethod, client: Client) -> bool:
    country = client.country
    return (
        method.is_active
        and (not method.countries or country in method.countries)
        and country not in method.excluded_countries
        and client.kyc_level >= method.min_kyc_level
    )


def closed_loop_capacity(client: Client) -> dict[tuple[str, str], Decimal]:
    """What each (PSP, currency) funded and can take back: completed deposits less refunds,
    chargebacks and withdrawals already sent (or on their way) through it."""
    funded = (
        Deposit.objects.filter(client=client, status=Deposit.Status.COMPLETED)
        .values("psp", "currency")
        .annotate(total=Sum(F("amount") - F("refunded_amount") - F("charged_back_amount")))
    )
    out = {(r["psp"], r["currency"]): r["total"] for r in funded}
    taken = (
        Withdrawal.objects.filter(client=client)
        .exclude(
            status__in=[
                Withdrawal.Status.REJECTED,
                Withdrawal.Status.CANCELLED,
                Withdrawal.Status.FAILED,
            ]
        )
        .values("psp", "currency")
        .annotate(total=Sum("amount"))
    )
    for row in taken:
        key = (row["psp"], row["currency"])
        out[key] = out.get(key, Decimal(0)) - row["total"]
    return out


def threshold_values() -> dict[str, Decimal | int]:
    """Each money threshold in force: the value finance last set, else the environment's.
    Counts are ints, amounts Decimals (USD)."""
    stored = dict(ThresholdValue.objects.filter(value__isnull=False).values_list("key", "value"))
    values = {}
    for key in Threshold.values:
        value = Decimal(str(stored.get(key, environment_default(key))))
        values[key] = int(value) if key in COUNTS else value
    return values
