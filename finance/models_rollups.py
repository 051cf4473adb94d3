"""Finance's rollup for the leadership figures (finance.rollups): money per day, desk, PSP,
country and currency, rebuilt from deposits, withdrawals, refunds and chargebacks."""

from django.db import models

from brokerage.models import CardDay

MONEY = {"max_digits": 20, "decimal_places": 2}
# An amount times a day's USD rate, summed: exact (2 + 8 decimal places at most).
USD = {"max_digits": 40, "decimal_places": 14}


class MoneyDay(models.Model):
    """One day's money of the clients of one desk and country through one PSP in one currency.
    Deposits and FTDs count on the day they completed, withdrawals and refunds on the day they
    were paid, chargebacks on the day they were opened (those won are not counted). `usd_rate`
    is the currency's USD value at the end of the day."""

    day = models.DateField()
    desk_id = models.IntegerField(null=True)
    psp = models.CharField(max_length=20)
    country = models.CharField(max_length=2)
    currency = models.CharField(max_length=3)
    usd_rate = models.DecimalField(max_digits=18, decimal_places=8, null=True)
    ftd_count = models.IntegerField(default=0)
    ftd_amount = models.DecimalField(**MONEY, default=0)
    deposit_count = models.IntegerField(default=0)
    deposit_amount = models.DecimalField(**MONEY, default=0)
    withdrawal_count = models.IntegerField(default=0)
    withdrawal_amount = models.DecimalField(**MONEY, default=0)
    refund_count = models.IntegerField(default=0)
    refund_amount = models.DecimalField(**MONEY, default=0)
    chargeback_count = models.IntegerField(default=0)
    chargeback_amount = models.DecimalField(**MONEY, default=0)

    class Meta:
        db_table = "finance_rollup_money"
        indexes = [models.Index(fields=["day"], name="finance_rollup_money_day")]

    def __str__(self):
        return f"{self.day} {self.psp} {self.currency}"


class MoneyCardDay(CardDay):
    """Money's card table (brokerage.rollups.Cards): `MoneyDay`'s rows summed per day, desk,
    country and PSP (the filters money honours), each currency's amounts at the day's USD
    rate."""

    psp = models.CharField(max_length=20)
    ftd_count = models.IntegerField(default=0)
    deposit_count = models.IntegerField(default=0)
    withdrawal_count = models.IntegerField(default=0)
    chargeback_count = models.IntegerField(default=0)
    ftd_usd = models.DecimalField(**USD, null=True)
    deposit_usd = models.DecimalField(**USD, null=True)
    withdrawal_usd = models.DecimalField(**USD, null=True)
    refund_usd = models.DecimalField(**USD, null=True)
    chargeback_usd = models.DecimalField(**USD, null=True)
    net_usd = models.DecimalField(**USD, null=True)

    class Meta:
        db_table = "finance_rollup_money_cards"
        indexes = [models.Index(fields=["day"], name="finance_money_cards_day")]

    def __str__(self):
        return f"{self.day} {self.psp} money cards"


class PspDay(models.Model):
    """The deposits clients of one desk and country started on one day through one PSP, by
    how they ended: completed, failed (declined) or expired, and those still open. A PSP's
    success rate is completed of those that ended; its decline rate failed of them."""

    day = models.DateField()
    desk_id = models.IntegerField(null=True)
    psp = models.CharField(max_length=20)
    country = models.CharField(max_length=2)
    started = models.IntegerField(default=0)
    completed = models.IntegerField(default=0)
    failed = models.IntegerField(default=0)
    expired = models.IntegerField(default=0)

    class Meta:
        db_table = "finance_rollup_psp"
        indexes = [models.Index(fields=["day"], name="finance_rollup_psp_day")]

    def __str__(self):
        return f"{self.day} {self.psp}"
