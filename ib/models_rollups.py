"""IB quality for the leadership figures (ib.rollups): per day and IB, what its referred
clients brought and cost, each in one currency."""

from django.db import models

from brokerage.models import CardDay

EXACT = {"max_digits": 24, "decimal_places": 6}
# An amount times a day's USD rate, summed: exact (6 + 8 decimal places at most).
USD = {"max_digits": 44, "decimal_places": 14}


class QualityDay(models.Model):
    """One day of one IB's referred clients of one desk and country, in one currency: their
    FTDs and deposits (completed that day), their net deposits (less withdrawals paid, refunds
    and chargebacks not won), the broker's revenue from their trades (commission and swap
    they paid, their net loss on B-book accounts) and the IB commission lines of the day's
    deals (not cancelled), at `usd_rate` the day's USD value of `currency`."""

    day = models.DateField()
    partner_id = models.IntegerField()
    ib_code = models.CharField(max_length=32)
    desk_id = models.IntegerField(null=True)
    country = models.CharField(max_length=2)
    currency = models.CharField(max_length=3)
    usd_rate = models.DecimalField(max_digits=18, decimal_places=8, null=True)
    ftd_count = models.IntegerField(default=0)
    deposit_amount = models.DecimalField(**EXACT, default=0)
    net_amount = models.DecimalField(**EXACT, default=0)
    revenue_amount = models.DecimalField(**EXACT, default=0)
    commission_amount = models.DecimalField(**EXACT, default=0)

    class Meta:
        db_table = "ib_rollup_quality"
        indexes = [models.Index(fields=["day"], name="ib_rollup_quality_day")]

    def __str__(self):
        return f"{self.day} IB {self.partner_id}"


class QualityUsd(models.Model):
    """IB quality summed in USD at each day's rate (brokerage.rollups.Cards)."""

    ftd_count = models.IntegerField(default=0)
    deposit_usd = models.DecimalField(**USD, null=True)
    net_usd = models.DecimalField(**USD, null=True)
    revenue_usd = models.DecimalField(**USD, null=True)
    commission_usd = models.DecimalField(**USD, null=True)

    class Meta:
        abstract = True


class QualityCardDay(CardDay, QualityUsd):
    """IB quality's card table (brokerage.rollups.Cards): `QualityDay`'s rows summed per day,
    desk, country and IB (by its referral code), each currency's amounts at the day's USD
    rate."""

    ib_code = models.CharField(max_length=32)
    partner_id = models.IntegerField()

    class Meta:
        db_table = "ib_rollup_quality_cards"
        indexes = [
            models.Index(fields=["day"], name="ib_quality_cards_day"),
            models.Index(fields=["ib_code", "day"], name="ib_quality_cards_ib"),
        ]

    def __str__(self):
        return f"{self.day} IB {self.ib_code} cards"


class QualityDeskCardDay(CardDay, QualityUsd):
    """IB quality's card table for every IB (brokerage.rollups.Cards): `QualityDay`'s rows
    summed per day, desk and country, in USD; the cards read it unless one IB is chosen."""

    class Meta:
        db_table = "ib_rollup_quality_desk_cards"
        indexes = [models.Index(fields=["day"], name="ib_quality_desk_cards_day")]

    def __str__(self):
        return f"{self.day} IB quality cards"


class QualityIbCardDay(QualityUsd):
    """IB quality's card table per IB (brokerage.rollups.Cards): `QualityDay`'s rows summed
    per day and IB, in USD; the IBs' table reads it unless a desk or a country is chosen."""

    day = models.DateField()
    ib_code = models.CharField(max_length=32)
    partner_id = models.IntegerField()

    class Meta:
        db_table = "ib_rollup_quality_ib_cards"
        indexes = [models.Index(fields=["day"], name="ib_quality_ib_cards_day")]

    def __str__(self):
        return f"{self.day} IB {self.ib_code} cards"
