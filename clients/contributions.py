"""What clients adds to the kernel's hooks (brokerage.hooks): its back-office and portal menu
entries, its parts of the client 360 (linked clients among them), the phone and device that
link clients, its panel on the back-office home and the trading platform sync on /healthz."""

from brokerage.hooks import (
    ALERT_METRICS,
    CLIENT_360_SECTIONS,
    CLIENT_LINK_SOURCES,
    DASHBOARD_PANELS,
    DEALS_SYNCED,
    DOSSIER_SECTIONS,
    HEALTH_FIGURES,
    NAV_BACKOFFICE,
    NAV_PORTAL,
    PORTAL_NOTICES,
    PORTAL_OVERVIEW,
    ROLLUPS,
    TEAM_PARTS,
    contribute,
)
from brokerage.navigation import NavItem
from brokerage.rollups import refresh_after_deals

from .alerts import METRICS as ALERT_METRIC_LIST
from .categories import category_360
from .client360 import (
    audit_trail,
    communications,
    identity_and_standing,
    retention,
    support_tickets,
    trading,
)
from .client360_links import linked_clients
from .dashboard import clients_panel
from .dossier import access_section, communications_section, profile_section, trading_section
from .links import DEVICE, PHONE
from .portal import category_notices, trading_overview
from .rollups import RETENTION_ROLLUP, TRADING_ROLLUP
from .sync import sync_health
from .team_dashboards import DEALING, RETENTION_TEAM
from .terms import terms_360, terms_dossier_section

for item in [
    NavItem("Clients", "clients:list", "people", "clients.view_desk_clients", 5, "Clients"),
    NavItem("All clients", "clients:all", "people", "clients.view_all_clients", 6, "Clients"),
    NavItem(
        "Support tickets", "clients:tickets", "headset", "clients.answer_tickets", 7, "Clients"
    ),
    NavItem(
        "Retention", "retention:queue", "life-preserver", "clients.work_retention", 8, "Clients"
    ),
    NavItem(
        "Retention settings",
        "retention:settings",
        "sliders",
        "clients.manage_retention",
        9,
        "Clients",
    ),
    NavItem(
        "Client emails",
        "clients:emails",
        "envelope-paper",
        "clients.review_client_emails",
        10,
        "Clients",
    ),
    NavItem(
        "Client terms",
        "clients:terms",
        "file-earmark-check",
        "clients.publish_terms",
        50,
        "Compliance",
    ),
    NavItem(
        "Trading platforms",
        "platforms:status",
        "arrow-repeat",
        "clients.view_platform_sync",
        825,
        "Admin",
    ),
]:
    contribute(NAV_BACKOFFICE, item, order=item.order)

for item in [
    NavItem("Overview", "portal:home", "speedometer2", order=0),
    NavItem("Trading", "portal:trading", "graph-up-arrow", order=40),
    NavItem("Support", "portal:support", "life-preserver", order=80),
    NavItem("Profile", "portal:profile", "shield-lock", order=90),
]:
    contribute(NAV_PORTAL, item, order=item.order)

# The 360's own parts, before those of the apps above clients (installed after it).
for provider in [
    identity_and_standing,
    category_360,
    terms_360,
    trading,
    communications,
    support_tickets,
    retention,
    linked_clients,
    audit_trail,
]:
    contribute(CLIENT_360_SECTIONS, provider)

contribute(DASHBOARD_PANELS, clients_panel)
contribute(CLIENT_LINK_SOURCES, PHONE, order=PHONE.order)
contribute(CLIENT_LINK_SOURCES, DEVICE, order=DEVICE.order)
contribute(HEALTH_FIGURES, ("platform_sync", sync_health))

contribute(PORTAL_OVERVIEW, trading_overview, order=30)

for section in (
    profile_section,
    terms_dossier_section,
    trading_section,
    communications_section,
    access_section,
):
    contribute(DOSSIER_SECTIONS, section)
contribute(PORTAL_NOTICES, category_notices, order=40)
contribute(DEALS_SYNCED, refresh_after_deals)  # the figures follow the sync passes
for rollup in (TRADING_ROLLUP, RETENTION_ROLLUP):
    contribute(ROLLUPS, rollup, order=rollup.order)
for part in (RETENTION_TEAM, DEALING):
    contribute(TEAM_PARTS, part, order=part.order)

for metric in ALERT_METRIC_LIST:  # the queues and rates this app watches for its heads
    contribute(ALERT_METRICS, metric, order=metric.order)
