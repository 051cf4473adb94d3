"""IB partners on the back-office home (contributed in ib.contributions)."""

from brokerage.dashboard import Kpi, Panel

from .selectors import commissions_summary, partner_summary


def partners_panel(user) -> Panel:
    kpis = [Kpi("IB partners", partner_summary()["total"], "diagram-3", order=30)]
    if user.has_perm("ib.manage_commissions") or user.has_perm("finance.view_finance"):
        summary = commissions_summary()
        kpis.append(
            Kpi("IB commissions this month", f"{summary['month']:,.2f} USD", "cash-coin", order=31)
        )
        if summary["unpriced"]:
            kpis.append(Kpi("Unpriced deals", summary["unpriced"], "question-diamond", order=32))
    return Panel(kpis=kpis)
