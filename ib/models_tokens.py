"""Partners' tokens for the partner API (`/api/v1/partners/`): made and revoked by the partner
in its dashboard, read-only, each scoped to its partner's own network. Stored as the kernel
stores every key (`brokerage.keys`): a prefix and a digest, never the token."""

from django.db import models
from django.db.models import Q

from brokerage.keys import HashedKey


class PartnerToken(HashedKey):
    MARKER = "ibp_"
    MAX_ACTIVE = 5  # per partner: one per integration it runs, not one per request

    partner = models.ForeignKey("ib.Partner", on_delete=models.PROTECT, related_name="api_tokens")
    name = models.CharField(max_length=60, help_text="What the partner calls it.")
    created_by = models.CharField(max_length=254, help_text="Who made it (an email).")
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.CharField(max_length=254, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "name"],
                condition=Q(revoked_at__isnull=True),
                name="ib_partnertoken_active_name_once",
            )
        ]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
