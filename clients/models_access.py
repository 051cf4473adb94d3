"""Sign-ins and devices: where and from what each user signed up and signed in.

One `AccessRecord` per sign-up and per successful sign-in (written by `clients.access` from
allauth's signals, never updated): when, the IP address, the browser's user agent, and the
device id of the long-lived first-party cookie the sign-in found or set. The links between
clients (`clients.links`: same device, same IP within a window) read them; `SharedNetwork`
lists the addresses many unrelated people share (an office, a carrier's NAT), which never link
clients. Retention: sign-in records are deleted after CLIENT_ACCESS_RETENTION_DAYS (daily
task); a client's sign-up record is kept with the client. Imported by `clients.models`.
"""

import ipaddress

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

USER_AGENT_MAX = 300


class AccessRecord(models.Model):
    class Kind(models.TextChoices):
        SIGNUP = "signup", "Sign-up"
        LOGIN = "login", "Sign-in"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    client = models.ForeignKey(
        "clients.Client",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="access_records",
        help_text="The client the user is (none for staff and partners).",
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    at = models.DateTimeField()
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=USER_AGENT_MAX, blank=True)
    device_id = models.CharField(
        max_length=32, blank=True, help_text="The device cookie's random id (32 hex digits)."
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
        ]

    def __str__(self):
        return f"{self.get_kind_display()} of user {self.user_id} at {self.at:%F %R}"


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
