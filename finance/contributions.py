"""What finance adds to the kernel's hooks (brokerage.hooks): its reasons in a client's
standing, and the money thresholds page in the back-office menu."""

from brokerage.hooks import CLIENT_STANDING, NAV_BACKOFFICE, contribute
from brokerage.navigation import NavItem

from .selectors import finance_standing

contribute(CLIENT_STANDING, finance_standing)
contribute(
    NAV_BACKOFFICE,
    NavItem("Thresholds", "finance:thresholds", "sliders", "finance.view_finance", 55, "Finance"),
    order=55,
)
