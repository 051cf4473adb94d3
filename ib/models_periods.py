"""Commission periods: closing freezes a period's lines, writes each partner's statement and
settles it through the ledger exactly once (imported by `ib.models`)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

EXACT = {"max_digits": 24, "decimal_places": 8}
MONEY = {"max_digits": 20, "decimal_places": 2}
WALLET_EXACT = {"max_digits": 30, "decimal_places": 14}  # 8-place amounts x 6-place rates


class CommissionPeriod(models.Model):
    class Status(models.TextChoices):
        CLOSED = "closed", "Closed and settled"

    programme = models.ForeignKey("ib.Programme", on_delete=models.PROTECT, related_name="periods")
    start = models.DateTimeField()
    end = models.DateTimeField(help_text="Deals closed before this (UTC) belong to it.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.CLOSED)
    lines = models.PositiveIntegerField(default=0)
    checksum = models.CharField(max_length=32, blank=True, help_text="Of its lines, in order.")
    closed_by = models.CharField(max_length=254)
    closed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["programme", "-start"]
        constraints = [
            models.UniqueConstraint(fields=["programme", "start"], name="ib_period_once"),
            models.CheckConstraint(condition=Q(end__gt=models.F("start")), name="ib_period_order"),
        ]

    def __str__(self):
        return f"{self.programme} {self.start:%Y-%m-%d} – {self.end:%Y-%m-%d}"


class PartnerStatement(models.Model):
    """What one partner earned in a period, in one currency: the exact sum of its lines, the
    amount settled (the sum rounded once, half up, to cents) and how it was settled."""

    class Outcome(models.TextChoices):
        CREDITED = "credited", "Credited to the partner's wallet"
        CARRIED = "carried", "Negative: carried forward to the next period"
        NOTHING = "nothing", "Nothing to settle"

    period = models.ForeignKey(
        CommissionPeriod, on_delete=models.PROTECT, related_name="statements"
    )
    partner = models.ForeignKey("ib.Partner", on_delete=models.PROTECT, related_name="statements")
    currency = models.CharField(max_length=3)
    lines = models.PositiveIntegerField()
    exact_amount = models.DecimalField(**EXACT)
    amount = models.DecimalField(**MONEY, help_text="Settled: the exact sum rounded half up.")
    # The partner's wallet kept in another currency (ib.wallets): the exact sum of each line
    # converted at its own rate, and what was credited, that sum rounded once, half up.
    wallet_currency = models.CharField(max_length=3, blank=True, default="", db_default="")
    wallet_exact_amount = models.DecimalField(**WALLET_EXACT, null=True, blank=True)
    wallet_amount = models.DecimalField(**MONEY, null=True, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    transaction_id = models.BigIntegerField(null=True, blank=True, help_text="Ledger transaction.")
    payout_reference = models.CharField(max_length=32, blank=True)
    payout_note = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["period", "partner"]
        constraints = [
            models.UniqueConstraint(
                fields=["period", "partner", "currency"], name="ib_statement_once"
            )
        ]

    def __str__(self):
        return f"{self.partner} {self.period}: {self.amount} {self.currency}"
