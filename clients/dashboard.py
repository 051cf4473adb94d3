"""Clients and sign-ups on the back-office home (contributed in clients.contributions)."""

from brokerage.dashboard import Chart, Kpi, Panel

from .selectors import client_signups_per_day, client_summary


def clients_panel(user) -> Panel:
    summary = client_summary()
    per_day = client_signups_per_day(days=14)
    return Panel(
        kpis=[
            Kpi("Clients", summary["total"], "people", order=10),
            Kpi("New clients, 7 days", summary["new_7d"], "person-plus", order=20),
        ],
        charts=[
            Chart(
                id="client-signups",
                title="Client registrations, last 14 days",
                kind="bar",
                labels=[d["day"][5:] for d in per_day],
                datasets=[{"label": "Registrations", "data": [d["count"] for d in per_day]}],
                order=10,
            )
        ],
    )
