"""What compliance adds to the kernel's hooks (brokerage.hooks): its back-office menu."""

from brokerage.hooks import NAV_BACKOFFICE, contribute
from brokerage.navigation import NavItem

PERM = "compliance.manage_screening"

for item in [
    NavItem("Sanctions lists", "compliance:lists", "list-check", PERM, 60, "Compliance"),
    NavItem(
        "Name screening", "compliance:screening", "person-bounding-box", PERM, 61, "Compliance"
    ),
]:
    contribute(NAV_BACKOFFICE, item, order=item.order)
