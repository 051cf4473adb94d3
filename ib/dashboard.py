"""IB partners on the back-office home (contributed in ib.contributions)."""

from brokerage.dashboard import Kpi, Panel

from .selectors import partner_summary


def partners_panel(user) -> Panel:
    return Panel(kpis=[Kpi("IB partners", partner_summary()["total"], "diagram-3", order=30)])
