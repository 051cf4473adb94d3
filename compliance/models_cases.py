"""AML cases: a compliance officer's investigation of one client, grouping the alerts that
prompted it (screening hits, and the monitoring's AML alerts).

A case is open -> investigating -> escalated -> reported (a suspicious activity report filed
with the authority, its reference and date recorded) or closed with a reason, from any state
before that. An escalated case is decided (reported or closed) by a second officer, never the
one who escalated it (four eyes). While a client has a case that is neither reported nor
closed, their standing carries the AML case reason (`clients.standing`: no deposit,
withdrawal, transfer or new trading account, and trading disabled on the platform); the last
case to end lifts it. Status changes go through `compliance.cases` only (the field is
protected), each audited in the same transaction.
"""

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone
from django_fsm import FSMField, transition


class CaseStatus(models.TextChoices):
    OPEN = "open", "Open"
    INVESTIGATING = "investigating", "Investigating"
    ESCALATED = "escalated", "Escalated: awaiting a second officer"
    REPORTED = "reported", "Reported (suspicious activity report filed)"
    CLOSED = "closed", "Closed"


ACTIVE_CASE = (CaseStatus.OPEN, CaseStatus.INVESTIGATING, CaseStatus.ESCALATED)


class SlaState(models.TextChoices):
    ON_TIME = "on_time", "On time"
    DUE_SOON = "due_soon", "Due soon"
    BREACHED = "breached", "Past its deadline"
    DONE = "done", "Decided"


def sla_state(due_at, *, now=None, done: bool = False) -> str:
    """Where a deadline stands: past it, within COMPLIANCE_CASE_DUE_SOON_DAYS of it, or on
    time (`done` once the work is decided)."""
    if done:
        return SlaState.DONE
    now = now or timezone.now()
    if due_at is None:
        return SlaState.ON_TIME
    if due_at <= now:
        return SlaState.BREACHED
    if due_at - now <= timedelta(days=settings.COMPLIANCE_CASE_DUE_SOON_DAYS):
        return SlaState.DUE_SOON
    return SlaState.ON_TIME


class Case(models.Model):
    client = models.ForeignKey("clients.Client", on_delete=models.PROTECT, related_name="cases")
    status = FSMField(default=CaseStatus.OPEN, choices=CaseStatus.choices, protected=True)
    summary = models.TextField(help_text="Why the case was opened.")
    screening_alerts = models.ManyToManyField("compliance.Alert", related_name="cases", blank=True)
    aml_alerts = models.ManyToManyField("aml.Alert", related_name="cases", blank=True)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_label = models.CharField(max_length=120, blank=True, help_text="Who opened it.")
    opened_at = models.DateTimeField(default=timezone.now, db_index=True)
    due_at = models.DateTimeField(help_text="The deadline to decide it.")
    investigating_at = models.DateTimeField(null=True, blank=True)
    escalated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    escalated_at = models.DateTimeField(null=True, blank=True)
    escalation_reason = models.TextField(blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    close_reason = models.TextField(blank=True)
    sar_reference = models.CharField(
        max_length=100, blank=True, help_text="The authority's reference of the filed report."
    )
    sar_filed_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["-opened_at", "-pk"]
        indexes = [models.Index(fields=["status", "due_at"], name="compliance_case_queue")]

    def __str__(self):
        return self.reference

    @property
    def reference(self) -> str:
        return f"CASE-{self.pk:06d}" if self.pk else "CASE-new"

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_CASE

    @property
    def sla(self) -> str:
        return sla_state(self.due_at, done=not self.active)

    @transition(field=status, source=CaseStatus.OPEN, target=CaseStatus.INVESTIGATING)
    def investigate(self):
        pass

    @transition(field=status, source=CaseStatus.INVESTIGATING, target=CaseStatus.ESCALATED)
    def escalate(self):
        pass

    @transition(field=status, source=CaseStatus.ESCALATED, target=CaseStatus.REPORTED)
    def report(self):
        pass

    @transition(field=status, source=list(ACTIVE_CASE), target=CaseStatus.CLOSED)
    def close(self):
        pass


class CaseNote(models.Model):
    """An officer's note on a case: what they looked at, asked, found. Never changed."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    text = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self):
        return f"Note {self.pk} on {self.case}"


class CaseAttachment(models.Model):
    """A file an officer added to a case (a bank statement, a reply, the filed report), checked
    as every upload is (`brokerage.uploads`), kept in private storage and served only to
    compliance officers."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="attachments")
    file = models.FileField(upload_to="cases/%Y/%m/")
    name = models.CharField(max_length=200)
    content_type = models.CharField(max_length=60)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    description = models.CharField(max_length=300, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["uploaded_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["case", "sha256"], name="compliance_case_file_once")
        ]

    def __str__(self):
        return self.name
