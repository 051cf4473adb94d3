"""Clients' rollups for the leadership figures (clients.rollups): trading per day, desk,
country, symbol and account currency; which clients traded on which day (for distinct counts
over any range); retention flags per day."""

from django.contrib.postgres.fields import ArrayField
from django.db import models

from brokerage.models import CardDay

MONEY = {"max_digits": 20, "decimal_places": 2}
# An amount times a day's USD rate, summed: exact (4 + 8 decimal places at most).
USD = {"max_digits": 44, "decimal_places": 12}


class DayBits(models.Field):
    """PostgreSQL `bit varying`: bit i set for the i-th day from a row's first day
    (brokerage.rollups.DAY_BITS), read and written by the rollups' SQL only."""

    description = "Days as bits"

    def db_type(self, connection):
        return "bit varying"


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


class TradingCardDay(CardDay):
    """Trading's card table (brokerage.rollups.Cards): `TradingDay`'s rows summed per day,
    desk and country (the filters trading honours), in USD at each day's rates: lots
    (volume), notional, the commission and swap clients paid, their P/L on every book and on
    the B-book."""

    volume = models.BigIntegerField(default=0, help_text="1/10000 lot")
    notional_usd = models.DecimalField(**USD, null=True)
    commission_usd = models.DecimalField(**USD, null=True)
    swap_usd = models.DecimalField(**USD, null=True)
    client_pl_usd = models.DecimalField(**USD, null=True)
    bbook_pl_usd = models.DecimalField(**USD, null=True)

    class Meta:
        db_table = "clients_rollup_trading_cards"
        indexes = [models.Index(fields=["day"], name="clients_trading_cards_day")]

    def __str__(self):
        return f"{self.day} trading cards"


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
        indexes = [
            models.Index(fields=["day", "client_id"], name="clients_rollup_activity_day"),
            # a client's days, for their row of the traders' days (TraderDays)
            models.Index(fields=["client_id"], name="clients_rollup_activity_client"),
        ]

    def __str__(self):
        return f"{self.day} client {self.client_id}"


class TraderDays(models.Model):
    """The days a client traded (of `clients_rollup_activity`'s rows under one desk and
    country): bit i of `days` is `first_day` + i. Whether they traded in any period is one
    substring of one row, so the active traders of any range are counted from one row per
    client, not from a row per client and day."""

    client_id = models.IntegerField()
    desk_id = models.IntegerField(null=True)
    country = models.CharField(max_length=2)
    first_day = models.DateField()
    days = DayBits()
    # Their result in USD (the profit of their deals at each day's rate) summed up to each day
    # they traded, in order, after a 0: the result of a period is the sum up to its last day
    # traded less the sum before its first (clients.team_dashboards).
    pl_usd = ArrayField(models.DecimalField(max_digits=44, decimal_places=10), default=list)

    class Meta:
        db_table = "clients_rollup_traders"
        indexes = [models.Index(fields=["client_id"], name="clients_rollup_traders_client")]

    def __str__(self):
        return f"client {self.client_id} from {self.first_day}"


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
