"""Leads on the back-office home (contributed in leads.contributions)."""

from brokerage.dashboard import Chart, Kpi, Panel

from .models import Lead
from .selectors import lead_counts_by_status, lead_counts_per_day, lead_summary


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
        per_day = lead_counts_per_day(user=user, days=14)
        by_status = lead_counts_by_status(user=user)
        panel.charts = [
            Chart(
                "leads-per-day",
                "Leads captured, last 14 days",
                "bar",
                [day.isoformat()[5:] for day, _n in per_day],
                [{"label": "Leads", "data": [n for _day, n in per_day]}],
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
