"""The thresholds of the commission fraud signals (imported by `ib.models`).

The global row (no programme), created with its defaults on first read, is the default;
a programme may have its own row (`programme`), made from the global values the first time an
IB manager changes that programme's, and removed when the programme goes back to the global
ones. IB managers change them in the back office (/backoffice/ib/fraud/), every change audited
with before and after. What each signal does is in `ib.fraud`.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models


class FraudThresholds(models.Model):
    programme = models.OneToOneField(
        "ib.Programme",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="fraud_thresholds",
        help_text="Empty: the global thresholds, which every programme without its own uses.",
    )
    related_clients = models.BooleanField(
        "Related clients check",
        default=True,
        help_text="Withhold a partner's lines on a client linked to the partner's own record "
        "(same phone, payment instrument, registration IP, device or name and date of birth).",
    )
    cycling_accounts = models.PositiveSmallIntegerField(
        "Account cycling: accounts opened",
        default=2,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text="Account cycling: more than this many trading accounts opened ...",
    )
    cycling_days = models.PositiveSmallIntegerField(
        "Account cycling: within days",
        default=30,
        validators=[MinValueValidator(1), MaxValueValidator(365)],
        help_text="... within this many days.",
    )
    opposite_seconds = models.PositiveSmallIntegerField(
        "Opposite trades: seconds apart",
        default=10,
        validators=[MinValueValidator(1), MaxValueValidator(3600)],
        help_text="Opposite trades: one symbol, opposite sides, the same volume, opened at most "
        "this many seconds apart by two clients of one partner's network.",
    )
    burst_hold_seconds = models.PositiveIntegerField(
        "Short-hold burst: held under (seconds)",
        default=60,
        validators=[MinValueValidator(1), MaxValueValidator(86400)],
        help_text="Short-hold burst: positions closed within this many seconds ...",
    )
    burst_share_pct = models.DecimalField(
        "Short-hold burst: share of the day's lots (%)",
        max_digits=5,
        decimal_places=2,
        default=Decimal(50),
        validators=[MinValueValidator(Decimal(1)), MaxValueValidator(Decimal(100))],
        help_text="... make more than this percentage of a client's closed lots on a day.",
    )
    phantom_min_clients = models.PositiveSmallIntegerField(
        "Phantom sub-IB: own clients at least",
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(1000)],
        help_text="Phantom sub-IB: a sub-IB with sub-IBs of its own but fewer clients of its "
        "own than this earns overrides only for review.",
    )
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            # one row per programme, and one global row (no programme)
            models.UniqueConstraint(
                fields=["programme"], nulls_distinct=False, name="ib_fraud_thresholds_once"
            )
        ]
        verbose_name = "IB fraud thresholds"
        verbose_name_plural = "IB fraud thresholds"

    def __str__(self):
        return (
            f"IB fraud thresholds of {self.programme}"
            if self.programme_id
            else ("IB fraud thresholds")
        )

    @classmethod
    def current(cls) -> FraudThresholds:
        """The global thresholds (one row, made with the defaults on first read)."""
        found, _ = cls.objects.get_or_create(programme=None)
        return found

    @classmethod
    def of_programmes(cls, programme_ids) -> dict[int, FraudThresholds]:
        """Each programme's thresholds: its own, else the global ones."""
        default = cls.current()
        own = {
            row.programme_id: row
            for row in cls.objects.filter(programme_id__in=list(programme_ids))
        }
        return {pid: own.get(pid, default) for pid in programme_ids}
