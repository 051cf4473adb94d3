"""Compliance's part of the client 360, for compliance officers only (never tip off sales or
support): the client's last screening, and the alerts undecided or blocking. Three queries."""

from django.urls import reverse

from clients.client360 import Contribution, Section

from .permissions import PERM
from .selectors import client_alert_summary


def compliance_360(client, user) -> Contribution:
    if not user.has_perm(PERM):
        return Contribution()
    summary = client_alert_summary(client)
    rows = [
        {
            "alert": a,
            "url": reverse("compliance:alert", args=[a.pk]),
            "score_pct": round(100 * a.score),
        }
        for a in summary["alerts"]
    ]
    badge = "blocked" if summary["blocking"] else (str(len(rows)) if rows else "")
    return Contribution(
        sections=[
            Section(
                "compliance",
                "Sanctions screening",
                "compliance/_360_screening.html",
                {"last_run": summary["last_run"], "rows": rows, "blocking": summary["blocking"]},
                order=24,
                column="side",
                icon="shield-exclamation",
                badge=badge,
            )
        ]
    )
