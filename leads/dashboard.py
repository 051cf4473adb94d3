"""Leads on the back-office home (contributed in leads.contributions)."""

from django.db.models import Count
from django.db.models.functions import TruncDate
from django.utils import timezone

from brokerage.dashboard import Chart, Kpi, Panel

from .models import Lead
from .selectors import lead_summary


def leads_panel(user) -> Panel:
    if not (
        user.has_perm("leads.work_leads")
        or user.has_perm("leads.manage_desk_leads")
        or user.has_perm("leads.view_all_leads")
    ):
        return Panel()
    summary = lead_summary(user=user)
    panel = Panel(
        kpis=[
            Kpi("Leads today", summary["today"], "person-lines-fill", order=1),
            Kpi("Open leads", summary["open"], "inbox", order=2),
        ]
    )
    if user.has_perm("leads.view_all_leads") or user.has_perm("leads.manage_desk_leads"):
        start = (timezone.now() - timezone.timedelta(days=13)).date()
        rows = dict(
            Lead.objects.filter(created_at__date__gte=start)
            .annotate(day=TruncDate("created_at"))
            .values("day")
            .annotate(n=Count("id"))
            .values_list("day", "n")
        )
        days = [start + timezone.timedelta(days=i) for i in range(14)]
        by_status = dict(
            Lead.objects.values("status").annotate(n=Count("id")).values_list("status", "n")
        )
        panel.charts = [
            Chart(
                "leads-per-day",
                "Leads captured, last 14 days",
                "bar",
                [d.isoformat()[5:] for d in days],
                [{"label": "Leads", "data": [rows.get(d, 0) for d in days]}],
                order=1,
            ),
            Chart(
                "leads-by-status",
                "Leads by status",
                "doughnut",
                [label for _value, label in Lead.Status.choices],
                [
                    {
                        "label": "Leads",
                        "data": [by_status.get(v, 0) for v, _l in Lead.Status.choices],
                    }
                ],
                order=2,
            ),
        ]
    return panel
