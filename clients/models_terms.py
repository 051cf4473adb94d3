"""The terms clients accept (imported by `clients.models`).

- A `TermsVersion` is one published version of one of the documents a client accepts (the
  client agreement, the risk disclosure, the privacy notice): its title, text, what changed,
  the SHA-256 of the text, when it takes effect and whether clients who accepted an earlier
  version must accept it again. Of a document's versions, the highest whose effective time has
  come is in force. A version is never changed once published (the database refuses it).
- A `TermsAcceptance` records that a client accepted a version: when, from which IP address
  and browser, and the SHA-256 of the text they were shown. Append-only in the database.

The IB partner agreement is the `ib` app's (`ib.PartnerAgreement`, one per programme).
"""

from django.db import models


class TermsDocument(models.TextChoices):
    CLIENT_AGREEMENT = "client_agreement", "Client agreement"
    RISK_DISCLOSURE = "risk_disclosure", "Risk disclosure"
    PRIVACY_NOTICE = "privacy_notice", "Privacy notice"


class TermsVersion(models.Model):
    document = models.CharField(max_length=20, choices=TermsDocument.choices)
    version = models.PositiveIntegerField()
    title = models.CharField(max_length=140)
    text = models.TextField(help_text="What the client accepts, as they read it.")
    changes = models.TextField(
        blank=True, help_text="What changed since the previous version, in plain words."
    )
    text_sha256 = models.CharField(max_length=64)
    effective_at = models.DateTimeField(help_text="When it takes effect (UTC).")
    reacceptance_required = models.BooleanField(
        default=True,
        help_text="Clients who accepted an earlier version accept this one before going on.",
    )
    published_at = models.DateTimeField()
    published_by = models.CharField(max_length=254)

    class Meta:
        ordering = ["document", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["document", "version"], name="clients_terms_version_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(version__gte=1), name="clients_terms_version_positive"
            ),
        ]

    def __str__(self):
        return f"{self.get_document_display()} v{self.version}"


class TermsAcceptance(models.Model):
    client = models.ForeignKey(
        "clients.Client", on_delete=models.PROTECT, related_name="terms_acceptances"
    )
    terms = models.ForeignKey(TermsVersion, on_delete=models.PROTECT, related_name="acceptances")
    accepted_at = models.DateTimeField()
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    text_sha256 = models.CharField(
        max_length=64, help_text="The SHA-256 of the text the client was shown."
    )

    class Meta:
        ordering = ["-accepted_at"]
        constraints = [
            models.UniqueConstraint(fields=["client", "terms"], name="clients_terms_accepted_once")
        ]

    def __str__(self):
        return f"client {self.client_id} accepted {self.terms}"
