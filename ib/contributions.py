"""What ib adds to the kernel's hooks (brokerage.hooks): the partner dashboard's menu, the IB
credited with a client in the client 360, and the partners panel on the back-office home."""

from brokerage.hooks import (
    CLIENT_360_SECTIONS,
    DASHBOARD_PANELS,
    DEALS_REVISED,
    DEALS_SYNCED,
    DOSSIER_SECTIONS,
    NAV_BACKOFFICE,
    NAV_PARTNERS,
    REGION_CHANGE_REFUSALS,
    ROLLUPS,
    contribute,
)
from brokerage.navigation import NavItem

from .client360 import ib_360
from .dashboard import partners_panel
from .dossier import ib_section
from .plans import region_paid_refusal
from .rollups import ROLLUP
from .tasks import pay_revised_deals, pay_synced_deals

contribute(REGION_CHANGE_REFUSALS, region_paid_refusal)

for item in [
    NavItem("Overview", "partners:home", "speedometer2", order=0),
    NavItem("Network", "partners:network", "diagram-3", order=10),
    NavItem("Clients", "partners:clients", "person-lines-fill", order=15),
    NavItem("Links", "partners:links", "link-45deg", order=17),
    NavItem("Commissions", "partners:commissions", "cash-coin", order=20),
    NavItem("Earnings", "partners:earnings", "bar-chart-line", order=22),
    NavItem("Disputes", "partners:disputes", "chat-square-text", order=25),
    NavItem("Statements", "partners:statements", "file-earmark-text", order=30),
    NavItem("Payouts", "partners:payouts", "bank", order=35),
    NavItem("Invite a sub-IB", "partners:invitations", "person-plus", order=37),
    NavItem("Rebates", "partners:rebates", "arrow-return-left", order=36),
    NavItem("API", "partners:api_tokens", "key", order=40),
]:
    contribute(NAV_PARTNERS, item, order=item.order)

for item in [
    NavItem("Partners", "ib:partners", "people", "ib.manage_commissions", 70, "IB"),
    NavItem("Commission plans", "ib:plans", "sliders", "ib.manage_commissions", 73, "IB"),
    NavItem(
        "Commission periods", "ib:periods", "calendar-check", "ib.manage_commissions", 71, "IB"
    ),
    NavItem("Unpriced deals", "ib:unpriced", "question-diamond", "ib.manage_commissions", 72, "IB"),
    NavItem("Fraud checks", "ib:fraud", "shield-exclamation", "ib.manage_commissions", 74, "IB"),
    NavItem("Disputes", "ib:disputes", "chat-square-text", "ib.manage_commissions", 75, "IB"),
    NavItem("Withheld lines", "ib:withheld", "pause-circle", "ib.manage_commissions", 76, "IB"),
    NavItem("Campaign links", "ib:links", "link-45deg", "ib.manage_commissions", 77, "IB"),
    NavItem("Applications", "ib:applications", "person-check", "ib.manage_commissions", 78, "IB"),
    NavItem(
        "Partner agreement",
        "ib:agreements",
        "file-earmark-check",
        "ib.manage_commissions",
        79,
        "IB",
    ),
]:
    contribute(NAV_BACKOFFICE, item, order=item.order)

contribute(CLIENT_360_SECTIONS, ib_360)
contribute(DASHBOARD_PANELS, partners_panel)

contribute(DEALS_SYNCED, pay_synced_deals)
contribute(DEALS_REVISED, pay_revised_deals)

contribute(DOSSIER_SECTIONS, ib_section)
contribute(ROLLUPS, ROLLUP, order=ROLLUP.order)
