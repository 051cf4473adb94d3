"""What finance adds to the kernel's hooks (brokerage.hooks): its reasons in a client's
standing, the wallet in the portal menu, the finance queues and the money thresholds page in
the back-office menu, wallet and payments in the client 360, the finance panel on the
back-office home, the failed-withdrawal retention signal, and the payment instruments and
payers' names that link clients (finance.links)."""

from brokerage.hooks import (
    ALERT_METRICS,
    CLIENT_360_SECTIONS,
    CLIENT_LINK_SOURCES,
    CLIENT_LIST_FILTERS,
    CLIENT_STANDING,
    DASHBOARD_PANELS,
    DOSSIER_SECTIONS,
    MONEY_MOVED,
    NAV_BACKOFFICE,
    NAV_PORTAL,
    PORTAL_OVERVIEW,
    RETENTION_SIGNALS,
    ROLLUPS,
    TEAM_PARTS,
    USD_RATES,
    contribute,
)
from brokerage.navigation import NavItem
from brokerage.rollups import refresh_on_commit

from .alerts import METRICS as ALERT_METRIC_LIST
from .client360 import finance_360
from .dashboard import finance_panel
from .dossier import money_section
from .links import SOURCES as LINK_SOURCES
from .portal import wallet_overview
from .retention_signals import failed_withdrawals
from .rollups import ROLLUP
from .selectors import clients_by_ftd_psp, finance_standing, usd_rates_by_day
from .team_dashboards import FINANCE, PSP_ROLLUP

contribute(CLIENT_STANDING, finance_standing)
contribute(CLIENT_LIST_FILTERS, ("psp", clients_by_ftd_psp))
contribute(PORTAL_OVERVIEW, wallet_overview, order=10)

for item in [
    NavItem("Wallet", "wallet:home", "wallet2", order=20),
    NavItem("Deposit", "wallet:deposit", "box-arrow-in-down", order=21),
    NavItem("Withdraw", "wallet:withdraw", "box-arrow-up", order=22),
]:
    contribute(NAV_PORTAL, item, order=item.order)

perm = "finance.view_finance"
for item in [
    NavItem("Withdrawals", "finance:withdrawals", "cash-stack", perm, 50, "Finance"),
    NavItem("Deposits", "finance:deposits", "credit-card", perm, 51, "Finance"),
    NavItem("Transactions", "finance:transactions", "journal-text", perm, 52, "Finance"),
    NavItem("Chargebacks", "finance:chargebacks", "shield-exclamation", perm, 53, "Finance"),
    NavItem(
        "Reconciliation",
        "finance:reconciliations",
        "check2-all",
        "finance.reconcile",
        54,
        "Finance",
    ),
    NavItem("Thresholds", "finance:thresholds", "sliders", perm, 55, "Finance"),
    NavItem("Bank wires", "finance:wires", "bank", perm, 56, "Finance"),
    NavItem("Wire payments", "finance:wire_payments", "send", perm, 57, "Finance"),
    NavItem(
        "FX conversion",
        "finance:fx_conversion",
        "currency-exchange",
        "finance.reconcile",
        58,
        "Finance",
    ),
]:
    contribute(NAV_BACKOFFICE, item, order=item.order)

contribute(CLIENT_360_SECTIONS, finance_360)
contribute(DASHBOARD_PANELS, finance_panel)
contribute(RETENTION_SIGNALS, ("failed_withdrawal", "Failed withdrawal", failed_withdrawals))

for source in LINK_SOURCES:
    contribute(CLIENT_LINK_SOURCES, source, order=source.order)

contribute(DOSSIER_SECTIONS, money_section)
contribute(ROLLUPS, ROLLUP, order=ROLLUP.order)
contribute(ROLLUPS, PSP_ROLLUP, order=PSP_ROLLUP.order)
contribute(TEAM_PARTS, FINANCE, order=FINANCE.order)
contribute(USD_RATES, usd_rates_by_day)
# A deposit, withdrawal, refund or chargeback shows in the figures seconds after it commits.
contribute(MONEY_MOVED, refresh_on_commit)

for metric in ALERT_METRIC_LIST:  # the queues and rates this app watches for its heads
    contribute(ALERT_METRICS, metric, order=metric.order)
