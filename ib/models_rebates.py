"""Rebates: part of what a partner earns on a client passed back to that client.

A partner sets a percent for one of its own clients, or for all its own clients at once (no
client), from a moment; a newer row replaces an older one from its own moment, so what was in
force at any period's end can be read again. When a period closes, `ib.rebates` writes a
rebate line per (partner, client) of the percent of what the partner earned on that client in
the period (a negative line on the partner's statement) and credits the client's wallet with it
once the period settles.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q


class Rebate(models.Model):
    partner = models.ForeignKey("ib.Partner", on_delete=models.PROTECT, related_name="rebates")
    client = models.ForeignKey(
        "clients.Client",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Empty: every client of the partner without a rebate of its own.",
    )
    percent = models.DecimalField(max_digits=7, decimal_places=4)
    valid_from = models.DateTimeField()
    set_by = models.CharField(max_length=254)
    set_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["partner", "client", "-valid_from"]
        constraints = [
            models.CheckConstraint(
                condition=Q(percent__gte=0) & Q(percent__lte=100), name="ib_rebate_percent_range"
            )
        ]
        indexes = [models.Index(fields=["partner", "valid_from"], name="ib_rebate_partner")]

    def __str__(self):
        return f"{self.percent}% of {self.partner_id}'s earnings to {self.client_id or 'all'}"
