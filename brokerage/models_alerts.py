"""Threshold alerts to team heads, and the back-office notifications that carry them
(brokerage.alerts). Imported by `brokerage.models`."""

from django.conf import settings
from django.db import models
from django.db.models import Q


class AlertThreshold(models.Model):
    """A team's limit for one alert metric, as its heads set it; no row is the metric's
    default. Changed only through `brokerage.alerts.alert_threshold_set` (audited)."""

    metric = models.CharField(max_length=60, primary_key=True)
    limit = models.DecimalField(max_digits=14, decimal_places=2)
    enabled = models.BooleanField(default=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        # A team's heads: told of its alerts, and who set their limits (brokerage.alerts).
        permissions = [
            ("head_finance", "Heads finance: told of its alerts, sets their limits"),
            ("head_compliance", "Heads compliance: told of its alerts, sets their limits"),
            ("head_operations", "Heads operations: told of its alerts, sets their limits"),
        ]

    def __str__(self):
        return f"{self.metric} > {self.limit}"


class AlertBreach(models.Model):
    """One crossing of a threshold, from the check that found it over the limit to the check
    that found it back under: opened, then notified (the heads told, once), then resolved. A
    metric's subject (a PSP, a trading server; "" for the whole queue) has at most one breach
    not resolved."""

    class Status(models.TextChoices):
        OPEN = "open", "Over the limit, heads not told yet"
        NOTIFIED = "notified", "Over the limit, heads told"
        RESOLVED = "resolved", "Back under the limit"

    metric = models.CharField(max_length=60)
    subject = models.CharField(max_length=100, blank=True, default="")
    subject_label = models.CharField(max_length=200, blank=True, default="")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    limit = models.DecimalField(max_digits=14, decimal_places=2)
    opened_value = models.DecimalField(max_digits=14, decimal_places=2)
    last_value = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    peak_value = models.DecimalField(max_digits=14, decimal_places=2)
    url = models.CharField(max_length=300, blank=True, default="")
    opened_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    notified_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-opened_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["metric", "subject"],
                condition=~Q(status="resolved"),
                name="brokerage_one_unresolved_breach",
            )
        ]
        indexes = [models.Index(fields=["status"], name="brokerage_breach_status")]

    def __str__(self):
        return f"{self.metric} {self.subject} {self.status}"


class StaffNotification(models.Model):
    """Something a staff member should know, on the back office's notification list (unread
    counted in the top bar) and by email. One per person and breach."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    breach = models.ForeignKey(
        AlertBreach, null=True, blank=True, on_delete=models.CASCADE, related_name="notifications"
    )
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True, default="")
    url = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField()
    read_at = models.DateTimeField(null=True, blank=True)
    # The email: claimed by the run sending it, marked sent (`emailed_at`) once the mail server
    # took it, with what was sent, in the head's language (brokerage.alerts).
    email_claimed_at = models.DateTimeField(null=True, blank=True)
    email_attempts = models.PositiveSmallIntegerField(default=0, db_default=0)
    emailed_at = models.DateTimeField(null=True, blank=True)
    email_language = models.CharField(max_length=10, blank=True, default="", db_default="")
    email_subject = models.CharField(max_length=200, blank=True, default="", db_default="")
    email_body = models.TextField(blank=True, default="", db_default="")
    email_error = models.TextField(blank=True, default="", db_default="")

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "breach"], name="brokerage_one_notification_per_breach"
            )
        ]
        indexes = [
            models.Index(
                fields=["user"], condition=Q(read_at__isnull=True), name="brokerage_notif_unread"
            )
        ]

    def __str__(self):
        return self.title
