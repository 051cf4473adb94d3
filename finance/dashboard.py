"""Payments waiting and done on the back-office home (contributed in finance.contributions)."""

from brokerage.dashboard import Chart, Kpi, Panel

from .selectors import deposits_per_day, finance_summary


def finance_panel(user) -> Panel:
    if not user.has_perm("finance.view_finance"):
        return Panel()
    summary = finance_summary()
    per_day = deposits_per_day(days=14)
    return Panel(
        kpis=[
            Kpi("Withdrawals to review", summary["pending_withdrawals"], "cash-stack", order=50),
            Kpi("Deposits, 24 h", summary["deposits_24h"], "credit-card", order=51),
            Kpi("Open chargebacks", summary["open_chargebacks"], "shield-exclamation", order=52),
            Kpi("Bank wires to assign", summary["queued_wires"], "bank", order=53),
            Kpi("Wires to send", summary["wires_to_send"], "send", order=54),
        ],
        charts=[
            Chart(
                id="deposits-per-day",
                title="Completed deposits and FTDs, last 14 days",
                kind="bar",
                labels=[d["day"][5:] for d in per_day],
                datasets=[
                    {"label": "Deposits", "data": [d["count"] for d in per_day]},
                    {"label": "FTDs", "data": [d["ftd"] for d in per_day]},
                ],
                order=50,
            )
        ],
    )
