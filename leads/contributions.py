"""What leads adds to the kernel's hooks (brokerage.hooks): the sales menu, the client 360's
acquisition and lead history, and the leads panel on the back-office home."""

from brokerage.hooks import (
    CLIENT_360_SECTIONS,
    DASHBOARD_PANELS,
    NAV_BACKOFFICE,
    ROLLUPS,
    TEAM_PARTS,
    contribute,
)
from brokerage.navigation import NavItem

from .client360 import leads_360
from .dashboard import leads_panel
from .rollups import ROLLUP, SALES

for item in [
    NavItem("My leads", "leads:inbox", "inbox", "leads.work_leads", 10, "Sales"),
    NavItem("Desk", "leads:desk", "kanban", "leads.manage_desk_leads", 20, "Sales"),
    NavItem("Desk leads", "leads:desk_leads", "people", "leads.manage_desk_leads", 22, "Sales"),
    NavItem("All leads", "leads:all", "people", "leads.view_all_leads", 25, "Sales"),
    NavItem("Import leads", "leads:imports", "upload", "leads.import_leads", 30, "Sales"),
]:
    contribute(NAV_BACKOFFICE, item, order=item.order)

contribute(CLIENT_360_SECTIONS, leads_360)
contribute(DASHBOARD_PANELS, leads_panel)
contribute(ROLLUPS, ROLLUP, order=ROLLUP.order)
contribute(TEAM_PARTS, SALES, order=SALES.order)
