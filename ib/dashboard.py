from brokerage.dashboard import Kpi, Panel, dashboard_provider

from .selectors import partner_summary


@dashboard_provider
def partners_panel(user) -> Panel:
    return Panel(kpis=[Kpi("IB partners", partner_summary()["total"], "diagram-3", order=30)])
