"""What AML monitoring adds to the kernel's hooks: money that moved is evaluated (a
withdrawal in its request, to hold it for review; the rest once committed), and its pages in
the back office's compliance menu."""

from brokerage.hooks import MONEY_MOVED, NAV_BACKOFFICE, contribute
from brokerage.navigation import NavItem

from .selectors import VIEW
from .tasks import money_moved

contribute(MONEY_MOVED, money_moved)

for item in (
    NavItem("AML alerts", "compliance:aml_alerts", "activity", VIEW, 43, "Compliance"),
    NavItem("AML scenarios", "compliance:aml_scenarios", "sliders", VIEW, 43, "Compliance"),
):
    contribute(NAV_BACKOFFICE, item, order=item.order)
