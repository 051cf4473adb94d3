"""Sign-ins and devices: where and from what each user signed up and signed in, and which staff
member opened which client's personal data.

One `AccessRecord` per sign-up, per successful sign-in and per failed attempt (a wrong password
or an unknown address, a wrong second-factor code), written by `clients.access` from allauth's
and Django's signals, never updated: when, the IP address, the browser's user agent, and the
device id of the long-lived first-party cookie the sign-in found or set. A failed attempt names
the address typed (`identifier`) and the user it belongs to, if any, but never a client: it is
not that client's doing, so it never links clients. The links between
clients (`clients.links`: same device, same IP within a window) read them; `SharedNetwork`
lists the addresses many unrelated people share (an office, a carrier's NAT), which never link
clients. Retention: sign-in records are deleted after CLIENT_ACCESS_RETENTION_DAYS (daily
task); a client's sign-up record is kept with the client. Imported by `clients.models`.
"""

import ipaddress

from django.conf import settings
from django.contrib.postgres.indexes import BrinIndex
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now
from simple_history.models import HistoricalRecords

USER_AGENT_MAX = 300


class AccessRecord(models.Model):
    class Kind(models.TextChoices):
        SIGNUP = "signup", "Sign-up"
        LOGIN = "login", "Sign-in"
        LOGIN_FAILED = "login_failed", "Failed sign-in"
        SECOND_FACTOR_FAILED = "mfa_failed", "Wrong second-factor code"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text="Who signed in, or whose address a failed attempt typed (none if nobody's).",
    )
    client = models.ForeignKey(
        "clients.Client",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="access_records",
        help_text="The client the user is (none for staff and partners).",
    )
    kind = models.CharField(max_length=12, choices=Kind.choices)
    at = models.DateTimeField()
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=USER_AGENT_MAX, blank=True)
    device_id = models.CharField(
        max_length=32, blank=True, help_text="The device cookie's random id (32 hex digits)."
    )
    identifier = models.CharField(
        max_length=254, blank=True, help_text="The address a failed attempt typed, lower-cased."
    )

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            # The links: clients' records by address (and time, for the window), by device.
            models.Index(
                fields=["ip", "at"],
                name="clients_access_ip_at",
                condition=Q(client__isnull=False, ip__isnull=False),
            ),
            models.Index(
                fields=["device_id"],
                name="clients_access_device",
                condition=Q(client__isnull=False) & ~Q(device_id=""),
            ),
            models.Index(fields=["client", "-at"], name="clients_access_client"),
            # The retention purge.
            models.Index(fields=["at"], name="clients_access_login_at", condition=Q(kind="login")),
            # A user's own history (staff and partners have no client), the failed attempts.
            models.Index(fields=["user", "-at"], name="clients_access_user"),
            models.Index(
                fields=["-at"],
                name="clients_access_failed_at",
                condition=Q(kind__in=["login_failed", "mfa_failed"]),
            ),
        ]

    def __str__(self):
        who = self.user_id or self.identifier or "nobody"
        return f"{self.get_kind_display()} of user {who} at {self.at:%F %R}"


class PersonalDataView(models.Model):
    """One staff member opening one client's personal data: the client 360, a KYC case or
    document, a source-of-funds document, a screening alert, the dossier, a withdrawal (bank
    details), or a partner's record (the partner's own holder record). Append-only in the
    database (no UPDATE or DELETE, TRUNCATE only where the audit log's may be), high volume, and
    outside the decision chain: it is a log of reading, not an `AuditEvent`. Written by
    `clients.access.personal_data_viewed`; read by compliance's access log and the dossier."""

    class What(models.TextChoices):
        CLIENT_360 = "client_360", "Client 360"
        KYC_CASE = "kyc_case", "KYC case"
        KYC_DOCUMENT = "kyc_document", "KYC document"
        SOURCE_OF_FUNDS = "source_of_funds", "Source-of-funds document"
        SCREENING_ALERT = "screening_alert", "Screening alert"
        DOSSIER = "dossier", "Dossier"
        PARTNER = "partner", "Partner record"
        WITHDRAWAL = "withdrawal", "Withdrawal"
        AML_CASE = "aml_case", "AML case"

    at = models.DateTimeField(db_default=Now())
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    client = models.ForeignKey(
        "clients.Client", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    what = models.CharField(max_length=20, choices=What.choices)
    detail = models.CharField(
        max_length=120, blank=True, help_text="Which one, e.g. 'passport front' or a case id."
    )
    ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["client", "-at"], name="clients_pdview_client"),
            models.Index(fields=["user", "-at"], name="clients_pdview_user"),
            BrinIndex(fields=["at"], name="clients_pdview_at"),
        ]

    def __str__(self):
        return f"{self.get_what_display()} of client {self.client_id} by user {self.user_id}"


def network_normalise(value: str) -> str:
    """An address or network as Postgres reads it ("203.0.113.0/24"); ValidationError if not."""
    try:
        return str(ipaddress.ip_network((value or "").strip(), strict=False))
    except ValueError as exc:
        raise ValidationError(
            {"network": "An IP address or a network, e.g. 203.0.113.7 or 100.64.0.0/10."}
        ) from exc


class SharedNetwork(models.Model):
    """An address (or network) many unrelated people sign in from: never a link between them."""

    network = models.CharField(
        max_length=49, unique=True, help_text="An IP address or a network, e.g. 100.64.0.0/10."
    )
    note = models.CharField(max_length=200, help_text="Whose it is, e.g. a mobile carrier's NAT.")
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["network"]

    def __str__(self):
        return self.network

    def save(self, *args, **kwargs):
        self.network = network_normalise(self.network)  # the links query casts it to inet
        super().save(*args, **kwargs)

    def clean(self):
        self.network = network_normalise(self.network)
