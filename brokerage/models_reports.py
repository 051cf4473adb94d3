"""Scheduled reports: staff subscriptions to a dashboard's daily or weekly PDF, and each
period's send (brokerage.reports). Imported by `brokerage.models`."""

from django.conf import settings
from django.db import models
from django.db.models import Q


class ReportSubscription(models.Model):
    """A staff member's standing order for one dashboard's summary as PDF, daily or weekly,
    with the filters they chose. Unsubscribing ends it (`ended_at`); the row stays, with its
    sends. Created and ended only through `brokerage.reports` (audited)."""

    class Frequency(models.TextChoices):
        DAILY = "daily", "Daily"
        WEEKLY = "weekly", "Weekly"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="report_subscriptions"
    )
    dashboard = models.CharField(max_length=30)  # "leadership" or a team's slug
    frequency = models.CharField(max_length=10, choices=Frequency.choices)
    desk = models.ForeignKey(
        "brokerage.Desk", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    country = models.CharField(max_length=2, blank=True, default="")
    psp = models.CharField(max_length=40, blank=True, default="")
    ib = models.CharField(max_length=40, blank=True, default="")
    created_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["dashboard", "frequency", "pk"]
        permissions = [
            ("subscribe_reports", "Can subscribe to scheduled reports of the dashboards they see")
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "dashboard", "frequency", "desk", "country", "psp", "ib"],
                condition=Q(ended_at__isnull=True),
                nulls_distinct=False,
                name="brokerage_one_live_report_subscription",
            )
        ]

    def __str__(self):
        return f"{self.user} {self.dashboard} {self.frequency}"


class ReportSend(models.Model):
    """One subscription's report for one period: made once per subscription and period (a
    unique row), claimed by the worker that renders and emails it, marked sent once the mail
    server took it. A claim left by a worker that died is taken over by a later run; a sent row
    is never sent again."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting to be sent"
        SENDING = "sending", "Being sent"
        SENT = "sent", "Sent"
        FAILED = "failed", "Not sent"
        SKIPPED = "skipped", "Not sent: the dashboard is no longer open to the subscriber"

    subscription = models.ForeignKey(
        ReportSubscription, on_delete=models.CASCADE, related_name="sends"
    )
    period_start = models.DateField()
    period_end = models.DateField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # What was sent: the recipient, the subject and language, the PDF's size and SHA-256.
    recipient = models.EmailField(blank=True, default="")
    subject = models.CharField(max_length=200, blank=True, default="")
    language = models.CharField(max_length=10, blank=True, default="")
    pdf_bytes = models.PositiveIntegerField(null=True, blank=True)
    pdf_sha256 = models.CharField(max_length=64, blank=True, default="")
    error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-period_start", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "period_start"], name="brokerage_one_report_per_period"
            )
        ]
        indexes = [
            models.Index(
                fields=["status"],
                condition=Q(status__in=["pending", "sending"]),
                name="brokerage_report_send_due",
            )
        ]

    def __str__(self):
        return f"{self.subscription} {self.period_start} {self.status}"
