"""What kyc adds to the kernel's hooks (brokerage.hooks): its reasons in a client's standing,
the portal's verification wizard and the review queue in the menus, the client's
submissions in the client 360, and the name and date of birth that link clients
(kyc.links)."""

from brokerage.hooks import (
    ALERT_METRICS,
    CLIENT_360_SECTIONS,
    CLIENT_LINK_SOURCES,
    CLIENT_STANDING,
    DOSSIER_SECTIONS,
    NAV_BACKOFFICE,
    NAV_PORTAL,
    PORTAL_NOTICES,
    PORTAL_OVERVIEW,
    PORTAL_PROFILE,
    contribute,
)
from brokerage.navigation import NavItem

from .alerts import METRICS as ALERT_METRIC_LIST
from .client360 import kyc_360
from .dossier import kyc_section
from .links import NAME_DOB
from .portal import kyc_notices, kyc_overview, kyc_profile_address, kyc_profile_finances
from .selectors import kyc_standing

contribute(CLIENT_STANDING, kyc_standing)
contribute(CLIENT_LINK_SOURCES, NAME_DOB, order=NAME_DOB.order)

for hook, item in [
    (NAV_PORTAL, NavItem("Verify", "kyc:wizard", "person-vcard", order=10)),
    (
        NAV_BACKOFFICE,
        NavItem(
            "KYC review", "kyc_review:queue", "person-check", "kyc.review_kyc", 40, "Compliance"
        ),
    ),
    (
        NAV_BACKOFFICE,
        NavItem(
            "Source of funds",
            "kyc_review:sof_queue",
            "file-earmark-text",
            "kyc.review_kyc",
            46,
            "Compliance",
        ),
    ),
]:
    contribute(hook, item, order=item.order)

contribute(CLIENT_360_SECTIONS, kyc_360)

contribute(PORTAL_OVERVIEW, kyc_overview, order=20)
contribute(PORTAL_NOTICES, kyc_notices, order=20)
contribute(PORTAL_PROFILE, kyc_profile_address, order=20)
contribute(PORTAL_PROFILE, kyc_profile_finances, order=25)

contribute(DOSSIER_SECTIONS, kyc_section)

for metric in ALERT_METRIC_LIST:  # the queues and rates this app watches for its heads
    contribute(ALERT_METRICS, metric, order=metric.order)
