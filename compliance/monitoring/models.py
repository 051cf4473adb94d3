"""AML transaction monitoring: what is looked for (`Scenario`, one per typology), with which
parameters and scores (`ScenarioVersion`: draft, live, retired; one live per scenario), and
what it found (`Alert`, with its `AlertEvidence`); a draft's backtests run in the background
(`BacktestJob`).

A live or retired version never changes: an officer changes a scenario by drafting a new
version, backtesting it and publishing it (the live one retires in the same transaction).
An alert keeps what the officer needs to judge it as it was at the first hit: the version and
a copy of its parameters, the client's profile, declared finances and risk (`snapshot`), and
the explanation with the figures. The same client and scenario inside an open alert's window
is that alert with more evidence (score raised when higher), never a second alert; the
database holds one open alert per (client, scenario).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now
from django.utils import timezone

from compliance.models_jobs import JobProgress, JobStatus


class Scenario(models.Model):
    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=120)
    description = models.TextField(help_text="What it looks for, in words an officer reads.")

    class Meta:
        ordering = ["pk"]
        permissions = [
            ("view_monitoring", "Can see AML monitoring alerts and scenarios"),
            ("manage_scenarios", "Can draft, backtest and publish AML scenario versions"),
        ]

    def __str__(self):
        return self.name


class VersionStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    LIVE = "live", "Live"
    RETIRED = "retired", "Retired"


class ScenarioVersion(models.Model):
    scenario = models.ForeignKey(Scenario, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    params = models.JSONField(default=dict)
    alert_score = models.PositiveSmallIntegerField(default=50)
    hold_score = models.PositiveSmallIntegerField(
        default=80, null=True, blank=True, help_text="Empty: this scenario never holds."
    )
    status = models.CharField(
        max_length=8, choices=VersionStatus.choices, default=VersionStatus.DRAFT
    )
    note = models.TextField(blank=True, help_text="Why this version (what changed).")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    published_at = models.DateTimeField(null=True, blank=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["scenario_id", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["scenario", "number"], name="aml_version_number"),
            models.UniqueConstraint(
                fields=["scenario"], condition=Q(status="live"), name="aml_one_live_version"
            ),
            models.CheckConstraint(
                condition=Q(alert_score__gte=0, alert_score__lte=100)
                & (Q(hold_score__isnull=True) | Q(hold_score__gte=0, hold_score__lte=100)),
                name="aml_version_scores_range",
            ),
        ]

    def __str__(self):
        return f"{self.scenario.name} v{self.number}"

    def action_for(self, score: int) -> str | None:
        """What a hit scoring `score` does under this version: "hold", "alert" or None."""
        if self.hold_score is not None and score >= self.hold_score:
            return AlertAction.HOLD
        if score >= self.alert_score:
            return AlertAction.ALERT
        return None


class AlertAction(models.TextChoices):
    ALERT = "alert", "Alert"
    HOLD = "hold", "Alert and hold"


class AlertStatus(models.TextChoices):
    OPEN = "open", "Open"
    IN_CASE = "in_case", "In a case"
    CLOSED = "closed", "Closed"


class AlertSource(models.TextChoices):
    REALTIME = "realtime", "Real time"
    NIGHTLY = "nightly", "Nightly batch"


OPEN_STATUSES = (AlertStatus.OPEN, AlertStatus.IN_CASE)


class Alert(models.Model):
    client = models.ForeignKey(
        "clients.Client", on_delete=models.PROTECT, related_name="monitoring_alerts"
    )
    scenario = models.ForeignKey(Scenario, on_delete=models.PROTECT, related_name="alerts")
    scenario_version = models.ForeignKey(
        ScenarioVersion, on_delete=models.PROTECT, related_name="alerts"
    )
    score = models.PositiveSmallIntegerField(help_text="The highest score seen.")
    action = models.CharField(max_length=5, choices=AlertAction.choices)
    status = models.CharField(
        max_length=8, choices=AlertStatus.choices, default=AlertStatus.OPEN, db_default="open"
    )
    explanation = models.TextField()
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    first_seen_at = models.DateTimeField(default=timezone.now, db_default=Now())
    last_seen_at = models.DateTimeField(default=timezone.now, db_default=Now())
    snapshot = models.JSONField(default=dict, db_default={})
    params = models.JSONField(default=dict, db_default={})
    source = models.CharField(max_length=8, choices=AlertSource.choices)
    closed_reason = models.TextField(blank=True, db_default="")
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    closings = models.JSONField(
        default=list,
        db_default=[],
        blank=True,
        help_text="Every closing, oldest first: when, by whom, why, and when more evidence "
        "reopened the alert (the row's closed fields hold the current one only).",
    )

    class Meta:
        ordering = ["-last_seen_at", "-pk"]
        indexes = [
            models.Index(fields=["status", "-last_seen_at"], name="aml_alert_queue"),
            models.Index(fields=["scenario", "first_seen_at"], name="aml_alert_by_scenario"),
            models.Index(fields=["client", "-last_seen_at"], name="aml_alert_client"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["client", "scenario"],
                condition=Q(status__in=["open", "in_case"]),
                name="aml_one_open_alert_per_scenario",
            ),
            models.CheckConstraint(
                condition=Q(score__gte=0, score__lte=100), name="aml_alert_score_range"
            ),
        ]

    def __str__(self):
        return f"AML alert {self.pk}: {self.scenario_id} on client {self.client_id}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def move_to_case(self, *, actor=None, case=None) -> Alert:
        """The alert is now worked in a case (the case links it; cases are compliance's).
        Audited in the caller's transaction. A closed alert cannot move."""
        from .services import CASE_ACTOR, alert_move_to_case

        return alert_move_to_case(alert=self, actor=actor or CASE_ACTOR, case=case)

    def close(self, reason: str, actor) -> Alert:
        """Close with a reason (an officer, or a case closing with it); audited."""
        from .services import alert_close

        return alert_close(alert=self, reason=reason, actor=actor)


class EvidenceKind(models.TextChoices):
    DEPOSIT = "deposit", "Deposit"
    WITHDRAWAL = "withdrawal", "Withdrawal"
    TRANSFER = "transfer", "Transfer"
    REFUND = "refund", "Refund"
    CHARGEBACK = "chargeback", "Chargeback"
    DEAL = "deal", "Deal"
    CLIENT_LINK = "client_link", "Linked client"


class AlertEvidence(models.Model):
    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="evidence")
    kind = models.CharField(max_length=12, choices=EvidenceKind.choices)
    object_id = models.BigIntegerField()
    occurred_at = models.DateTimeField()
    amount_usd = models.DecimalField(max_digits=20, decimal_places=2, null=True, blank=True)
    detail = models.TextField(blank=True, db_default="")
    added_at = models.DateTimeField(default=timezone.now, db_default=Now())

    class Meta:
        ordering = ["occurred_at", "pk"]
        verbose_name_plural = "alert evidence"
        constraints = [
            models.UniqueConstraint(fields=["alert", "kind", "object_id"], name="aml_evidence_once")
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.object_id}"


class Evaluation(models.Model):
    """A money row real-time monitoring has evaluated: what the sweeper reads to evaluate any
    row whose task was lost, and what tells a repeated task it has nothing new to do."""

    kind = models.CharField(max_length=12, choices=EvidenceKind.choices)
    object_id = models.BigIntegerField()
    client = models.ForeignKey("clients.Client", on_delete=models.PROTECT, related_name="+")
    evaluated_at = models.DateTimeField(default=timezone.now, db_default=Now())
    held = models.BooleanField(default=False, db_default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "object_id"], name="aml_evaluation_once")
        ]

    def __str__(self):
        return f"{self.kind} {self.object_id} evaluated at {self.evaluated_at:%Y-%m-%d %H:%M}"


class BacktestJob(JobProgress, models.Model):
    """A backtest a compliance officer asked for, run in the background on the compliance
    queue (`nightly.backtest`): `done` of `total` nights replayed (the draft's, then the live
    version's), then what each would have raised (`result`). The scenario's page shows its
    progress and its result; asking, finishing and failing are audited."""

    version = models.ForeignKey(
        ScenarioVersion,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="backtests",
        help_text="Empty once the draft was discarded (its number stays).",
    )
    scenario = models.ForeignKey(Scenario, on_delete=models.PROTECT, related_name="backtests")
    version_number = models.PositiveIntegerField()
    days = models.PositiveSmallIntegerField()
    status = models.CharField(
        max_length=8, choices=JobStatus.choices, default=JobStatus.QUEUED, db_default="queued"
    )
    total = models.PositiveIntegerField(default=0, db_default=0)
    done = models.PositiveIntegerField(default=0, db_default=0)
    result = models.JSONField(null=True, blank=True)
    message = models.CharField(max_length=300, blank=True, db_default="")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_label = models.CharField(max_length=120, blank=True, db_default="")
    requested_at = models.DateTimeField(default=timezone.now, db_default=Now())
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at", "-pk"]
        indexes = [models.Index(fields=["status", "requested_at"], name="aml_backtest_status")]

    def __str__(self):
        return f"Backtest of {self.scenario_id} v{self.version_number} over {self.days} days"
