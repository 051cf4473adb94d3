"""Clients' alert metric (brokerage.alerts): each trading server's sync lag. Its heads are the
ops admins, who head operations (`brokerage.head_operations`)."""

from decimal import Decimal

from django.conf import settings
from django.urls import reverse

from brokerage.alerts import AlertMetric, Reading

from .sync import sync_lag_report


def sync_lag(now) -> list[Reading]:
    url = reverse("platforms:status")
    return [
        Reading(Decimal(str(r["lag_s"])), subject=name, subject_label=name, url=url)
        for name, r in sync_lag_report(now).items()
        if r["lag_s"] is not None
    ]


METRICS = [
    AlertMetric(
        "clients.sync_lag",
        "Operations",
        "Trading platform sync lag",
        "seconds",
        Decimal(settings.PLATFORM_SYNC_LAG_WARN_SECONDS) * 5,
        "brokerage.head_operations",
        sync_lag,
        hint="Seconds since a trading server's deals were last synced in full.",
        order=30,
    )
]
