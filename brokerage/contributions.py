"""What the kernel adds to the hooks it declares (brokerage.hooks): the back-office menu's
home and admin pages, the audit panel on the home page, the audit sealer and the database
replica on /healthz."""

from .dashboard_kernel import audit_panel
from .db import replica_health
from .health import audit_sealing
from .hooks import DASHBOARD_PANELS, HEALTH_FIGURES, NAV_BACKOFFICE, contribute
from .navigation import NavItem
from .teams import TEAMS

for item in [
    NavItem("Home", "backoffice:home", "house", order=0),
    NavItem("Team", "backoffice:team", "people", "brokerage.view_team", 800, "Admin"),
    NavItem(
        "Audit log",
        "backoffice:audit_log",
        "journal-check",
        "brokerage.view_auditevent",
        810,
        "Admin",
    ),
    NavItem(
        "Regions",
        "backoffice:regions",
        "globe-europe-africa",
        "brokerage.manage_regions",
        790,
        "Admin",
    ),
    NavItem(
        "System",
        "backoffice:system",
        "hdd-network",
        "brokerage.view_system_status",
        820,
        "Admin",
    ),
    # Each team's dashboard, under the home, for those who lead the team (and executives).
    *(
        NavItem(
            t.title, f"backoffice:dashboard_{t.slug}", t.icon, t.permission, 1 + n, "Dashboards"
        )
        for n, t in enumerate(TEAMS.values())
    ),
    # Their daily and weekly PDFs, first of the dashboards (an order after them would fall
    # among the Clients section's entries).
    NavItem(
        "Reports",
        "backoffice:reports",
        "file-earmark-pdf",
        "brokerage.subscribe_reports",
        0,
        "Dashboards",
    ),  # fmt: skip
]:
    contribute(NAV_BACKOFFICE, item, order=item.order)

contribute(DASHBOARD_PANELS, audit_panel)
contribute(HEALTH_FIGURES, ("audit_sealing", audit_sealing))
contribute(HEALTH_FIGURES, ("database_replica", replica_health))
