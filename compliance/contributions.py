"""What compliance adds to the kernel's hooks (brokerage.hooks): its back-office menu, the
screening of every client and partner registered (and again when a document, a payer or
changed details say more of who they are), the block a confirmed sanctions match puts
on a client's standing, and the screening section of the client 360."""

from brokerage.hooks import (
    ALERT_METRICS,
    AML_CASE_LIFT_REFUSALS,
    CLIENT_360_SECTIONS,
    CLIENT_COUNTRY_CHANGED,
    CLIENT_NAME_REPORTED,
    CLIENT_REGISTERED,
    CLIENT_STANDING,
    DASHBOARD_PANELS,
    DEALS_SYNCED,
    DOSSIER_SECTIONS,
    NAV_BACKOFFICE,
    PORTAL_NOTICES,
    RISK_FACTOR_CHANGED,
    TEAM_PARTS,
    contribute,
)
from brokerage.navigation import NavItem
from clients.categories import PERM as CATEGORY_PERM

from .alerts import METRICS as ALERT_METRIC_LIST
from .case_selectors import active_case_lift_refusal
from .client360 import compliance_360, jurisdiction_360
from .dashboard import compliance_panel
from .dossier_sections import cases_section, compliance_section
from .jurisdiction_selectors import jurisdiction_notices, jurisdiction_standing
from .jurisdictions import jurisdiction_client_apply
from .permissions import PERM
from .selectors import compliance_standing
from .tasks import rate_again, rate_synced_deals, screen_registered, screen_reported
from .team_dashboards import COMPLIANCE

# Right after KYC review (40): the menu shows one Compliance group, not two either side of Finance.
for item in [
    NavItem("Workspace", "compliance:workspace", "kanban", PERM, 41, "Compliance"),
    NavItem("Sanctions lists", "compliance:lists", "list-check", PERM, 41, "Compliance"),
    NavItem(
        "Name screening", "compliance:screening", "person-bounding-box", PERM, 42, "Compliance"
    ),
    NavItem("Screening alerts", "compliance:alerts", "shield-exclamation", PERM, 43, "Compliance"),
    NavItem("AML cases", "compliance:cases", "folder2-open", PERM, 43, "Compliance"),
    NavItem("Jurisdictions", "compliance:jurisdictions", "globe2", PERM, 44, "Compliance"),
    NavItem(
        "Category requests",
        "compliance:category_requests",
        "person-up",
        CATEGORY_PERM,
        45,
        "Compliance",
    ),
    NavItem(
        "Leverage limits", "compliance:leverage_limits", "speedometer2", PERM, 46, "Compliance"
    ),
    NavItem("Periodic reviews", "compliance:reviews", "calendar-check", PERM, 47, "Compliance"),
    NavItem("Country risk", "compliance:country_risks", "globe", PERM, 48, "Compliance"),
    NavItem("Access log", "compliance:access_log", "eye", PERM, 49, "Compliance"),
    NavItem("Dossiers", "compliance:dossiers", "file-earmark-zip", PERM, 49, "Compliance"),
]:
    contribute(NAV_BACKOFFICE, item, order=item.order)

contribute(CLIENT_REGISTERED, screen_registered)
contribute(CLIENT_NAME_REPORTED, screen_reported)
contribute(RISK_FACTOR_CHANGED, rate_again)
contribute(DEALS_SYNCED, rate_synced_deals)
contribute(CLIENT_COUNTRY_CHANGED, jurisdiction_client_apply)
# Jurisdiction rules only: a sanctions match or an AML case never reaches the client's pages.
contribute(PORTAL_NOTICES, jurisdiction_notices, order=10)
contribute(CLIENT_STANDING, compliance_standing)
# Only the last active case's end lifts the AML case reason (compliance.cases).
contribute(AML_CASE_LIFT_REFUSALS, active_case_lift_refusal)
contribute(CLIENT_STANDING, jurisdiction_standing)
contribute(CLIENT_360_SECTIONS, compliance_360)
contribute(DASHBOARD_PANELS, compliance_panel)
contribute(CLIENT_360_SECTIONS, jurisdiction_360)

contribute(DOSSIER_SECTIONS, compliance_section)
contribute(DOSSIER_SECTIONS, cases_section)
contribute(TEAM_PARTS, COMPLIANCE, order=COMPLIANCE.order)

for metric in ALERT_METRIC_LIST:  # the queues and rates this app watches for its heads
    contribute(ALERT_METRICS, metric, order=metric.order)
