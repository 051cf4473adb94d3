"""IB quality for the leadership figures (ib.rollups): per day and IB, what its referred
clients brought and cost, each in one currency."""

from django.db import models

EXACT = {"max_digits": 24, "decimal_places": 6}


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
