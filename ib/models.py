"""Introducing brokers (IBs): partners, their hierarchy and referral codes."""

import secrets
import string

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from simple_history.models import HistoricalRecords

CODE_ALPHABET = string.ascii_uppercase + string.digits


def new_referral_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))


class Partner(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="partner"
    )
    company_name = models.CharField(max_length=200, blank=True)
    referral_code = models.CharField(
        max_length=32,
        unique=True,
        default=new_referral_code,
        validators=[RegexValidator(r"^[A-Z0-9_-]{4,32}$", "4-32 of A-Z, 0-9, _ and -.")],
    )
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="sub_partners",
        help_text="The master IB of a sub-IB.",
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return self.company_name or self.user.email


class Referral(models.Model):
    """A client attributed to the IB whose referral link they followed before signing up.

    Fixed at sign-up (the last link followed wins); never re-attributed silently.
    """

    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="referrals")
    client = models.OneToOneField(
        "clients.Client", on_delete=models.PROTECT, related_name="referral"
    )
    code = models.CharField(max_length=32, help_text="The referral code as followed.")
    attributed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-attributed_at"]

    def __str__(self):
        return f"{self.client} via {self.code}"
