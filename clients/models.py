"""Clients: the trader's record and standing. Other apps write it through clients.services."""

from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords


class Client(models.Model):
    class Status(models.TextChoices):
        REGISTERED = "registered", "Registered"
        ACTIVE = "active", "Active"
        DORMANT = "dormant", "Dormant"
        CLOSED = "closed", "Closed"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="client"
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.REGISTERED)
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166-1 alpha-2")
    language = models.CharField(max_length=8, default="en", help_text="ISO 639-1")
    phone = models.CharField(max_length=20, blank=True, help_text="E.164")
    # Standing: written by kyc and compliance through clients.services, read by finance.
    kyc_level = models.PositiveSmallIntegerField(
        default=0, help_text="0 unverified, 1 identity and address verified."
    )
    kyc_verified_at = models.DateTimeField(null=True, blank=True)
    id_document_expires_on = models.DateField(null=True, blank=True)
    restricted = models.BooleanField(default=False)
    restriction_reason = models.CharField(max_length=200, blank=True)
    aml_case_open = models.BooleanField(
        default=False, help_text="An AML case is open on the client (set by compliance)."
    )
    risk_flags = models.JSONField(
        default=list, blank=True, help_text='Standing flags, e.g. ["chargeback"].'
    )
    first_deposit_at = models.DateTimeField(
        null=True, blank=True, help_text="The FTD: when the client first funded their wallet."
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"Client {self.pk} ({self.user.email})"
