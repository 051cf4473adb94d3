"""Clients' support tickets and retention: tickets and their messages, the inactivity policy
per desk, outreach templates, and the retention flags with what was done about them."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords


class SupportTicket(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ANSWERED = "answered", "Answered"
        CLOSED = "closed", "Closed"

    class Category(models.TextChoices):
        ACCOUNT = "account", "My account"
        DEPOSIT = "deposit", "Deposits"
        WITHDRAWAL = "withdrawal", "Withdrawals"
        TRADING = "trading", "Trading"
        VERIFICATION = "verification", "Verification"
        OTHER = "other", "Other"

    class Priority(models.TextChoices):
        LOW = "low", "Low"
        NORMAL = "normal", "Normal"
        HIGH = "high", "High"

    client = models.ForeignKey("clients.Client", on_delete=models.PROTECT, related_name="tickets")
    subject = models.CharField(max_length=200)
    category = models.CharField(max_length=15, choices=Category.choices, default=Category.OTHER)
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.NORMAL)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_message_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-last_message_at"]
        indexes = [
            models.Index(fields=["client", "-created_at"], name="clients_ticket_client"),
            models.Index(fields=["status", "-last_message_at"], name="clients_ticket_queue"),
        ]

    def __str__(self):
        return f"#{self.pk} {self.subject}"


class TicketMessage(models.Model):
    ticket = models.ForeignKey(SupportTicket, on_delete=models.CASCADE, related_name="messages")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    from_staff = models.BooleanField(default=False)
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self):
        return f"Message on ticket {self.ticket_id}"


# --- Retention ---------------------------------------------------------------------------------


class RetentionPolicy(models.Model):
    """When a client counts as inactive, per desk (no desk: the default for everyone else)."""

    desk = models.OneToOneField(
        "brokerage.Desk", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    inactivity_days = models.PositiveSmallIntegerField(default=12)
    balance_drop_percent = models.PositiveSmallIntegerField(
        default=40, help_text="A fall of this much within 7 days is a signal."
    )
    no_login_days = models.PositiveSmallIntegerField(
        default=14, help_text="No portal login for this long is a signal."
    )
    is_active = models.BooleanField(default=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name_plural = "retention policies"
        constraints = [
            models.UniqueConstraint(
                fields=["desk"], nulls_distinct=False, name="clients_retention_policy_desk"
            )
        ]

    def __str__(self):
        return f"Retention: {self.desk or 'default'} ({self.inactivity_days} days)"


class OutreachTemplate(models.Model):
    """A message for a retention outreach; chosen by the signals that put the client there."""

    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        CALL = "call", "Call script"

    name = models.CharField(max_length=100, unique=True)
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.EMAIL)
    signal = models.CharField(
        max_length=30,
        blank=True,
        help_text="The signal this template answers (e.g. losing_streak); blank for any.",
    )
    language = models.CharField(max_length=8, default="en")
    subject = models.CharField(max_length=200, blank=True)
    body = models.TextField(
        help_text="Placeholders: {first_name} {days_inactive} {last_symbol} {agent_name} "
        "{balance} {currency}"
    )
    is_active = models.BooleanField(default=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["signal", "name"]

    def __str__(self):
        return self.name


class RetentionFlag(models.Model):
    """A client flagged by the daily inactivity run, with the signals that explain why."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLEARED = "cleared", "Cleared"

    class Outcome(models.TextChoices):
        REACHED = "reached", "Reached, will trade"
        DEPOSIT = "deposit", "Reached, will deposit"
        CALL_BACK = "call_back", "Call back later"
        NO_ANSWER = "no_answer", "No answer"
        NOT_INTERESTED = "not_interested", "Not interested"
        CLOSED_ACCOUNT = "closed_account", "Wants to close the account"

    client = models.ForeignKey(
        "clients.Client", on_delete=models.CASCADE, related_name="retention_flags"
    )
    desk = models.ForeignKey(
        "brokerage.Desk", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    days_inactive = models.PositiveIntegerField()
    last_trade_at = models.DateTimeField(null=True, blank=True)
    signals = models.JSONField(
        default=list, help_text='[{"code", "label", "detail"}], refreshed by each daily run.'
    )
    flagged_at = models.DateTimeField()
    refreshed_at = models.DateTimeField()
    last_outcome = models.CharField(max_length=20, choices=Outcome.choices, blank=True)
    last_contacted_at = models.DateTimeField(null=True, blank=True)
    cleared_at = models.DateTimeField(null=True, blank=True)
    cleared_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-flagged_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["client"], condition=Q(status="open"), name="clients_one_open_flag"
            )
        ]
        indexes = [models.Index(fields=["status", "desk"], name="clients_flag_queue")]

    def __str__(self):
        return f"Retention flag on client {self.client_id} ({self.status})"


class RetentionAction(models.Model):
    """An outreach or outcome logged against a flag."""

    flag = models.ForeignKey(RetentionFlag, on_delete=models.CASCADE, related_name="actions")
    template = models.ForeignKey(
        OutreachTemplate, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    channel = models.CharField(max_length=10, choices=OutreachTemplate.Channel.choices)
    outcome = models.CharField(max_length=20, choices=RetentionFlag.Outcome.choices, blank=True)
    subject = models.CharField(max_length=200, blank=True)
    body = models.TextField(blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.get_channel_display()} on flag {self.flag_id}"
