"""Finance's money thresholds: audited settings in the database, the environment as default.

A threshold no officer has changed reads its environment variable (README, configuration).
Lowering one is stricter and applies at once; a raise waits for a second, different finance
officer (`finance.services.thresholds`). Imported by `finance.models`.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from .models import MONEY


class Threshold(models.TextChoices):
    """Each threshold: lower is stricter for every one of them."""

    WITHDRAWAL_AUTO_APPROVE_MAX_USD = (
        "withdrawal_auto_approve_max_usd",
        "A withdrawal is approved automatically up to (USD)",
    )
    FOUR_EYES_USD = "four_eyes_usd", "Two finance officers approve a withdrawal from (USD)"
    VELOCITY_COUNT_24H = "velocity_count_24h", "Withdrawal requests per 24 hours before review"
    VELOCITY_USD_24H = "velocity_usd_24h", "USD requested per 24 hours before review"


# The environment variable each threshold reads until an officer changes it.
ENVIRONMENT = {
    Threshold.WITHDRAWAL_AUTO_APPROVE_MAX_USD: "FINANCE_WITHDRAWAL_AUTO_APPROVE_MAX_USD",
    Threshold.FOUR_EYES_USD: "FINANCE_FOUR_EYES_USD",
    Threshold.VELOCITY_COUNT_24H: "FINANCE_VELOCITY_COUNT_24H",
    Threshold.VELOCITY_USD_24H: "FINANCE_VELOCITY_USD_24H",
}
COUNTS = {Threshold.VELOCITY_COUNT_24H}  # whole numbers; the others are USD amounts


def environment_default(key: str):
    return getattr(settings, ENVIRONMENT[Threshold(key)])


class ThresholdValue(models.Model):
    """The value in force for one threshold; no row (or no value) is the environment's. Its row
    is also the lock that queues changes to the threshold."""

    key = models.CharField(max_length=40, choices=Threshold.choices, unique=True)
    value = models.DecimalField(**MONEY, null=True, blank=True)
    changed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"{self.key} = {self.value if self.value is not None else 'environment'}"


class ThresholdChange(models.Model):
    """One proposed change to a threshold and what became of it (the history of the settings)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for a second officer"
        APPLIED = "applied", "Applied"
        REJECTED = "rejected", "Rejected"
        SUPERSEDED = "superseded", "Superseded by a lower value"

    key = models.CharField(max_length=40, choices=Threshold.choices)
    previous_value = models.DecimalField(**MONEY)
    value = models.DecimalField(**MONEY)
    status = models.CharField(max_length=12, choices=Status.choices)
    reason = models.CharField(max_length=500)
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    proposed_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-proposed_at", "-pk"]
        permissions = [("manage_thresholds", "Can propose and approve money threshold changes")]
        constraints = [
            models.UniqueConstraint(
                fields=["key"],
                condition=Q(status="pending"),
                name="finance_one_pending_change_per_threshold",
            )
        ]

    def __str__(self):
        return f"{self.key}: {self.previous_value} -> {self.value} ({self.status})"
