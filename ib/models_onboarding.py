"""How partners join (imported by `ib.models`): applications, invitations and the versioned
partner agreement.

- A `PartnerApplication` records how a partner joined a programme on its own: through the
  public sign-up (pending until an IB manager approves or rejects it, with a reason) or
  through a parent partner's `PartnerInvitation` (a link with a token, stored as its SHA-256
  digest: single use, expiring). Partners an IB manager creates have none.
- A `PartnerAgreement` is the text of a programme's partner agreement, one row per version;
  the newest is in force. An `AgreementAcceptance` records that a partner accepted a version:
  when, from which IP address and browser. A partner accepts the version in force at sign-up
  and again whenever a new one is published, before it uses its dashboard.
"""

from __future__ import annotations

from django.db import models


class PartnerAgreement(models.Model):
    programme = models.ForeignKey(
        "ib.Programme", on_delete=models.PROTECT, related_name="agreements"
    )
    version = models.PositiveIntegerField()
    text = models.TextField(help_text="What the partner accepts, as it reads it.")
    published_at = models.DateTimeField()
    published_by = models.CharField(max_length=254)

    class Meta:
        ordering = ["programme", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["programme", "version"], name="ib_agreement_version_unique"
            )
        ]

    def __str__(self):
        return f"{self.programme} agreement v{self.version}"


class AgreementAcceptance(models.Model):
    partner = models.ForeignKey(
        "ib.Partner", on_delete=models.PROTECT, related_name="agreement_acceptances"
    )
    agreement = models.ForeignKey(
        PartnerAgreement, on_delete=models.PROTECT, related_name="acceptances"
    )
    accepted_at = models.DateTimeField()
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-accepted_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "agreement"], name="ib_acceptance_once_per_version"
            )
        ]

    def __str__(self):
        return f"partner {self.partner_id} accepted {self.agreement}"


class PartnerInvitation(models.Model):
    """A parent partner's invitation of a sub-IB: the link's token is shown once and stored as
    its digest; it is used once, before it expires, unless the parent withdraws it."""

    inviter = models.ForeignKey("ib.Partner", on_delete=models.PROTECT, related_name="invitations")
    digest = models.CharField(max_length=64, unique=True)
    email = models.EmailField(blank=True, help_text="Whom it was emailed to, if anyone.")
    note = models.CharField(max_length=100, blank=True, help_text="The inviter's own label.")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    used_by = models.OneToOneField(
        "ib.Partner",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="invited_by",
    )
    withdrawn_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"invitation {self.pk} by partner {self.inviter_id}"

    def state(self, now) -> str:
        if self.used_at:
            return "used"
        if self.withdrawn_at:
            return "withdrawn"
        if self.expires_at <= now:
            return "expired"
        return "open"


class PartnerApplication(models.Model):
    class Via(models.TextChoices):
        PUBLIC = "public", "Public sign-up"
        INVITATION = "invitation", "Invitation by a parent partner"

    partner = models.OneToOneField(
        "ib.Partner", on_delete=models.PROTECT, related_name="application"
    )
    programme = models.ForeignKey(
        "ib.Programme", on_delete=models.PROTECT, related_name="applications"
    )
    via = models.CharField(max_length=12, choices=Via.choices)
    invitation = models.OneToOneField(
        PartnerInvitation,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="application",
    )
    website = models.URLField(blank=True, max_length=200)
    message = models.TextField(blank=True, help_text="How the applicant will bring clients.")
    submitted_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.CharField(max_length=254, blank=True)
    decision_reason = models.CharField(max_length=500, blank=True)
    # A rejected applicant may apply again (`ib.onboarding.partner_reapply`): each earlier
    # round, oldest first: {submitted_at, decided_at, decided_by, reason, website, message}.
    earlier = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-submitted_at"]

    def __str__(self):
        return f"application of partner {self.partner_id} to {self.programme}"
