"""The kernel's own panel on the back-office home (contributed in brokerage.contributions)."""

from django.utils import timezone

from .dashboard import Chart, Kpi, Panel
from .models import AuditEvent
from .selectors import audit_events_per_day


def audit_panel(user) -> Panel:
    if not user.has_perm("brokerage.view_auditevent"):
        return Panel()
    today = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    per_day = audit_events_per_day(days=14)
    return Panel(
        kpis=[
            Kpi(
                "Audited decisions today",
                AuditEvent.objects.filter(occurred_at__gte=today).count(),
                "journal-check",
                order=90,
            )
        ],
        charts=[
            Chart(
                id="audit-per-day",
                title="Audited decisions, last 14 days",
                kind="line",
                labels=[d["day"][5:] for d in per_day],
                datasets=[{"label": "Events", "data": [d["count"] for d in per_day]}],
                order=90,
            )
        ],
    )
