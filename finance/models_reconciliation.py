"""Reconciliation: a run of one statement file against the ledger, its lines (a million at a
time), the differences to explain and the month-end close. Imported by `finance.models`."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from .models import MONEY, UNCHECKED, Posting, statement_path


class ReconciliationRun(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    psp = models.CharField(max_length=20)
    format = models.CharField(max_length=20)
    file = models.FileField(upload_to=statement_path)
    original_name = models.CharField(max_length=200)
    mapping = models.JSONField(null=True, blank=True)
    period_start = models.DateField()
    period_end = models.DateField()
    date_window_days = models.PositiveSmallIntegerField(default=3)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    error = models.TextField(blank=True)
    counts = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"Reconciliation {self.pk} ({self.psp} {self.period_start:%Y-%m})"


class StatementLine(models.Model):
    # Written only by their run's load, a million at a time: the keys are not checked row by
    # row (postings are never deleted; the (run, reference) index serves the run's lookups).
    run = models.ForeignKey(ReconciliationRun, models.CASCADE, related_name="lines", **UNCHECKED)
    line_no = models.PositiveIntegerField()
    reference = models.CharField(max_length=100)
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3)
    booked_on = models.DateField()
    description = models.CharField(max_length=255, blank=True)
    category = models.CharField(max_length=30, blank=True)
    payment_reference = models.CharField(max_length=100, blank=True)
    posting = models.ForeignKey(
        Posting, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", **UNCHECKED
    )
    match = models.CharField(max_length=20, blank=True)  # reference, description, amount_date
    note = models.CharField(max_length=255, blank=True)  # what the reader had to assume
    fee = models.DecimalField(**MONEY, null=True, blank=True)  # the PSP's fee, when itemized

    class Meta:
        ordering = ["line_no"]
        indexes = [  # the lines left for matching after the load: a few of a million
            models.Index(fields=["run", "reference"]),
            models.Index(fields=["run"], condition=Q(posting=None), name="finance_sl_unmatched"),
        ]

    def __str__(self):
        return f"line {self.line_no} {self.reference}"


class ReconciliationItem(models.Model):
    """A difference between the statement and the ledger, to be explained."""

    class Kind(models.TextChoices):
        MISSING_IN_LEDGER = "missing_in_ledger", "Missing in the ledger"
        MISSING_AT_PSP = "missing_at_psp", "Missing at the PSP"
        AMOUNT_MISMATCH = "amount_mismatch", "Amount mismatch"
        CURRENCY_MISMATCH = "currency_mismatch", "Currency mismatch"
        DUPLICATE = "duplicate", "Duplicate on the statement"
        FEE_MISMATCH = "fee_mismatch", "Fees differ from those booked"

    run = models.ForeignKey(ReconciliationRun, on_delete=models.CASCADE, related_name="items")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    line = models.ForeignKey(StatementLine, models.CASCADE, null=True, blank=True, related_name="+")
    posting = models.ForeignKey(
        Posting, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reference = models.CharField(max_length=100, blank=True)
    statement_amount = models.DecimalField(**MONEY, null=True, blank=True)
    ledger_amount = models.DecimalField(**MONEY, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    resolution = models.TextField(blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["kind", "id"]
        indexes = [models.Index(fields=["run", "kind", "resolved_at"])]

    def __str__(self):
        return f"{self.get_kind_display()} {self.reference}"


class PeriodClose(models.Model):
    """Month-end close of one PSP: the period is locked (no new reconciliation or resolution)."""

    psp = models.CharField(max_length=20)
    month = models.DateField(help_text="The first day of the closed month.")
    run = models.ForeignKey(ReconciliationRun, on_delete=models.PROTECT, related_name="+")
    closed_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+")
    closed_at = models.DateTimeField(auto_now_add=True)
    summary = models.JSONField(default=dict)

    class Meta:
        ordering = ["-month"]
        constraints = [
            models.UniqueConstraint(fields=["psp", "month"], name="finance_one_close_per_month")
        ]

    def __str__(self):
        return f"{self.psp} {self.month:%Y-%m} closed"


# Finance's money thresholds (audited settings) have a module of their own, registered here.
