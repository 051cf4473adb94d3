"""Compliance's panel on the back-office home (the kernel's `dashboard.panels` hook): its
queues and how long their oldest item has waited, for compliance officers."""

from django.utils import timezone

from brokerage.dashboard import Kpi, Panel

from .permissions import PERM
from .risk import compliance_queues


def compliance_panel(user) -> Panel:
    """The compliance queues on the back-office home, with how long their oldest has waited."""
    if not user.has_perm(PERM):
        return Panel()
    queues = compliance_queues()
    now = timezone.now()

    def waited(since) -> str:
        if since is None:
            return "nothing waiting"
        days = (now.date() - (since.date() if hasattr(since, "date") else since)).days
        return "oldest today" if days <= 0 else f"oldest {days} day{'s' if days != 1 else ''}"

    alerts, reviews, sof = queues["alerts"], queues["reviews"], queues["sof"]
    return Panel(
        kpis=[
            Kpi(
                "Open screening alerts",
                alerts["n"],
                "shield-exclamation",
                waited(alerts["oldest"]),
                60,
            ),
            Kpi(
                "Reviews due or overdue",
                reviews["n"],
                "calendar-check",
                waited(reviews["oldest"]).replace("oldest", "most overdue"),
                61,
            ),
            Kpi(
                "Source-of-funds documents waiting",
                sof["n"],
                "file-earmark-text",
                waited(sof["oldest"]),
                62,
            ),
        ]
    )
