"""What AML monitoring adds to the kernel's hooks: money that moved is evaluated (a
withdrawal in its request, to hold it for review; the rest once committed), and its pages in
the back office's compliance menu, its section of the client 360 and of the dossier."""

from brokerage.hooks import (
    CLIENT_360_SECTIONS,
    DOSSIER_SECTIONS,
    MONEY_MOVED,
    NAV_BACKOFFICE,
    contribute,
)
from brokerage.navigation import NavItem

from .client360 import monitoring_360, monitoring_dossier
from .selectors import VIEW
from .tasks import money_moved

contribute(MONEY_MOVED, money_moved)

for item in (
    NavItem("AML alerts", "compliance:aml_alerts", "activity", VIEW, 43, "Compliance"),
    NavItem("AML scenarios", "compliance:aml_scenarios", "sliders", VIEW, 43, "Compliance"),
):
    contribute(NAV_BACKOFFICE, item, order=item.order)

contribute(CLIENT_360_SECTIONS, monitoring_360)
contribute(DOSSIER_SECTIONS, monitoring_dossier)
