"""Clients' rollups for the leadership figures (clients.rollups): trading per day, desk,
country, symbol and account currency; which clients traded on which day (for distinct counts
over any range); retention flags per day."""

from django.db import models

MONEY = {"max_digits": 20, "decimal_places": 2}


class TradingDay(models.Model):
    """One day's trades (buy and sell deals the platform has not removed) of the clients of one
    desk and country on one symbol, in one account currency. Commission, swap and profit are
    in the account currency, the notional in the symbol's quote currency; the rates are their
    USD values at the end of the day."""

    day = models.DateField()
    desk_id = models.IntegerField(null=True)
    country = models.CharField(max_length=2)
    symbol = models.CharField(max_length=32)
    currency = models.CharField(max_length=3)
    quote_currency = models.CharField(max_length=3)
    book = models.CharField(max_length=10)
    deals = models.IntegerField(default=0)
    volume = models.BigIntegerField(default=0, help_text="1/10000 lot")
    notional_amount = models.DecimalField(max_digits=28, decimal_places=4, null=True)
    commission_amount = models.DecimalField(**MONEY, default=0)
    swap_amount = models.DecimalField(**MONEY, default=0)
    profit_amount = models.DecimalField(**MONEY, default=0)
    usd_rate = models.DecimalField(max_digits=18, decimal_places=8, null=True)
    quote_usd_rate = models.DecimalField(max_digits=18, decimal_places=8, null=True)

    class Meta:
        db_table = "clients_rollup_trading"
        indexes = [models.Index(fields=["day"], name="clients_rollup_trading_day")]

    def __str__(self):
        return f"{self.day} {self.symbol}"


class ActivityDay(models.Model):
    """A client traded on this day (one row per account currency they traded in): the active
    traders of any range are the distinct clients of its days, which sums of days cannot give;
    the clients winning and losing most are the sums of their days' results."""

    day = models.DateField()
    client_id = models.IntegerField()
    desk_id = models.IntegerField(null=True)
    country = models.CharField(max_length=2)
    # The client's result that day in one account currency: the profit of their deals
    # (closing deals carry it), and its USD value at the end of the day.
    currency = models.CharField(max_length=3, db_default="")
    profit_amount = models.DecimalField(**MONEY, default=0, db_default=0)
    usd_rate = models.DecimalField(max_digits=18, decimal_places=8, null=True)

    class Meta:
        db_table = "clients_rollup_activity"
        indexes = [models.Index(fields=["day", "client_id"], name="clients_rollup_activity_day")]

    def __str__(self):
        return f"{self.day} client {self.client_id}"


class RetentionDay(models.Model):
    """One day's retention flags of one desk, account manager and country: flags raised, flags
    cleared because the client traded again (reactivations), and clients lost (the last outcome
    logged on the flag that day was 'not interested' or 'wants to close the account')."""

    day = models.DateField()
    desk_id = models.IntegerField(null=True)
    agent_id = models.IntegerField(null=True, help_text="The client's account manager.")
    country = models.CharField(max_length=2)
    flagged = models.IntegerField(default=0)
    reactivated = models.IntegerField(default=0)
    churned = models.IntegerField(default=0)

    class Meta:
        db_table = "clients_rollup_retention"
        indexes = [models.Index(fields=["day"], name="clients_rollup_retention_day")]

    def __str__(self):
        return f"{self.day} retention"
