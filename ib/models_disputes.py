"""A partner's dispute of one of its commission lines, and how it was decided (imported by
`ib.models`; written only by `ib.disputes`).

- One open dispute per line, unique in the database (open, or an adjustment awaiting its
  second IB manager). A pending line is `disputed` while its dispute is open, so no period
  settles it; a settled line stays settled, and what is owed is adjusted in a later period.
- A decision is a rejection (the line back to pending, or still settled) or an adjustment: a
  signed amount in cents written as a commission line of its own (kind `adjustment`, with no
  deal, linked to the disputed line by `reverses`), pending until the next period settles it.
  So a line may be disputed again later, and each adjustment is its own line.
- Four eyes: an adjustment above `IB_ADJUSTMENT_APPROVAL_THRESHOLD` waits for a different IB
  manager's approval; the database refuses an approval by the one who proposed it.
- The engine's recompute of the disputed deal is kept on the dispute (`recomputed`, made when it
  is opened, made again on an IB manager's demand), so its page reads it rather than running
  the engine on every view.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q

REASON_MAX = 1000


class CommissionDispute(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        AWAITING_APPROVAL = "awaiting_approval", "Adjustment awaiting approval"
        REJECTED = "rejected", "Rejected"
        ADJUSTED = "adjusted", "Adjusted"

    OPEN_STATUSES = (Status.OPEN, Status.AWAITING_APPROVAL)

    line = models.ForeignKey("ib.CommissionLine", on_delete=models.PROTECT, related_name="disputes")
    partner = models.ForeignKey("ib.Partner", on_delete=models.PROTECT, related_name="disputes")
    reason = models.CharField(max_length=REASON_MAX, help_text="The partner's words.")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN)
    line_status = models.CharField(
        max_length=10, help_text="The line's status when it was disputed (pending or settled)."
    )
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    opened_at = models.DateTimeField(auto_now_add=True)
    # An adjustment proposed above the threshold, waiting for a second IB manager.
    proposed_amount = models.DecimalField(max_digits=20, decimal_places=2, null=True, blank=True)
    proposed_reason = models.CharField(max_length=REASON_MAX, blank=True)
    proposed_by = models.CharField(max_length=254, blank=True)
    proposed_at = models.DateTimeField(null=True, blank=True)
    # The decision.
    decision_reason = models.CharField(max_length=REASON_MAX, blank=True)
    decided_by = models.CharField(max_length=254, blank=True)
    approved_by = models.CharField(max_length=254, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    # The engine's recompute of the disputed deal for the partner (`ib.disputes`), made when
    # the dispute is opened and again when an IB manager asks: [{tier, kind, amount, formula,
    # ...}] (amounts as exact decimal strings), and when.
    recomputed = models.JSONField(null=True, blank=True)
    recomputed_at = models.DateTimeField(null=True, blank=True)
    adjustment = models.OneToOneField(
        "ib.CommissionLine",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="adjustment_of",
    )

    class Meta:
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["line"],
                condition=Q(status__in=["open", "awaiting_approval"]),
                name="ib_dispute_one_open_per_line",
            ),
            models.CheckConstraint(
                condition=Q(approved_by="") | ~Q(approved_by=F("proposed_by")),
                name="ib_dispute_four_eyes",
            ),
            models.CheckConstraint(
                condition=~Q(status="awaiting_approval") | Q(proposed_amount__isnull=False),
                name="ib_dispute_proposal_has_amount",
            ),
            models.CheckConstraint(
                condition=~Q(status="adjusted") | Q(adjustment__isnull=False),
                name="ib_dispute_adjusted_has_line",
            ),
        ]
        indexes = [models.Index(fields=["status", "-opened_at"], name="ib_dispute_queue")]

    def __str__(self):
        return f"Dispute {self.pk} of line {self.line_id}"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES
