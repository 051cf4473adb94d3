"""Staff roles: Django groups with exactly these permissions (synced after every migrate).

Clients and IB partners are not roles: they are users with a `clients.Client` or `ib.Partner`
profile and no staff flag. The same matrix is written for people in docs/roles.md; a test walks
every URL as every role and checks it against that matrix.
"""

from dataclasses import dataclass

from .statements import Statement


@dataclass(frozen=True)
class Role:
    slug: str
    label: str
    permissions: tuple[str, ...]


BACKOFFICE = ("brokerage.access_backoffice",)
# Looking after funded clients: their desk's 360, the retention queue, support tickets.
TEAM_DASHBOARDS = tuple(
    f"brokerage.view_{team}_dashboard"
    for team in ("sales", "retention", "finance", "compliance", "dealing")
)
CLIENT_CARE = ("clients.view_desk_clients", "clients.work_retention", "clients.answer_tickets")

# Compliance and finance officers; their heads hold the same and head the team.
COMPLIANCE = (
    *BACKOFFICE,
    "brokerage.view_auditevent",
    "kyc.review_kyc",
    "finance.view_finance",
    "clients.view_all_clients",
    "clients.manage_aml_case",
    "clients.review_client_emails",
    "clients.decide_category",
    "clients.change_account_leverage",
    "clients.publish_terms",
    "compliance.manage_screening",
    "brokerage.view_compliance_dashboard",
    "brokerage.subscribe_reports",
    "aml.view_monitoring",
    "aml.manage_scenarios",
    "brokerage.manage_regions",
)
FINANCE = (
    *BACKOFFICE,
    "finance.view_finance",
    "finance.manage_withdrawals",
    "finance.manage_refunds",
    "finance.manage_chargebacks",
    "finance.reconcile",
    "finance.manage_thresholds",
    "finance.manage_wires",
    "brokerage.view_finance_dashboard",
    "brokerage.subscribe_reports",
    "clients.view_all_clients",
)

ROLES: dict[str, Role] = {
    r.slug: r
    for r in [
        Role(
            "sales_agent",
            "Sales agent",
            (*BACKOFFICE, "leads.work_leads", "clients.view_desk_clients"),
        ),
        Role(
            "senior_account_manager",
            "Senior account manager",
            (*BACKOFFICE, *CLIENT_CARE, "leads.work_leads"),
        ),
        Role("retention_agent", "Retention agent", (*BACKOFFICE, *CLIENT_CARE)),
        Role(
            "desk_manager",
            "Desk manager",
            (
                *BACKOFFICE,
                *CLIENT_CARE,
                "brokerage.view_team",
                "brokerage.view_leadership",
                "brokerage.view_sales_dashboard",
                "brokerage.view_retention_dashboard",
                "brokerage.subscribe_reports",
                "leads.manage_desk_leads",
                "leads.import_leads",
                "clients.manage_retention",
            ),
        ),
        # Reads every figure and the clients behind them; acts on nothing; exports
        # figures and ids only, never personal data (brokerage.exports)
        # (the lead lists are not theirs: seeing all leads is also reassigning them).
        Role(
            "executive",
            "Executive",
            (
                *BACKOFFICE,
                "brokerage.view_leadership",
                "brokerage.view_all_figures",
                *TEAM_DASHBOARDS,
                "brokerage.subscribe_reports",
                "clients.view_all_clients",
            ),
        ),
        # The dealing desk watches the book's exposure and the clients behind it; it reads,
        # and records nothing on a client.
        Role(
            "dealer",
            "Dealer",
            (
                *BACKOFFICE,
                "brokerage.view_dealing_dashboard",
                "brokerage.subscribe_reports",
                "clients.view_all_clients",
            ),
        ),
        Role("compliance_officer", "Compliance officer", COMPLIANCE),
        Role("finance_officer", "Finance officer", FINANCE),
        # The heads of a team: what its officers do, and they are the ones told of its alerts
        # and who set their limits (brokerage.alerts).
        Role(
            "head_of_compliance", "Head of compliance", (*COMPLIANCE, "brokerage.head_compliance")
        ),
        Role("head_of_finance", "Head of finance", (*FINANCE, "brokerage.head_finance")),
        Role(
            "ib_manager",
            "IB manager",
            (*BACKOFFICE, "ib.manage_commissions", "brokerage.manage_regions"),
        ),
        Role(
            "ops_admin",
            "Ops admin",
            (
                *BACKOFFICE,
                "brokerage.view_system_status",
                "brokerage.head_operations",  # ops admins head operations: told of sync lag
                "brokerage.view_team",
                "clients.view_all_clients",
                "clients.view_platform_sync",
                "clients.change_account_leverage",
                "clients.manage_retention",
                "clients.answer_tickets",
                "clients.review_client_emails",
                "brokerage.view_auditevent",
                "brokerage.view_user",
                "brokerage.add_user",
                "brokerage.change_user",
                "brokerage.view_desk",
                "brokerage.add_desk",
                "brokerage.change_desk",
                "brokerage.view_staffprofile",
                "brokerage.add_staffprofile",
                "brokerage.change_staffprofile",
                "brokerage.view_apikey",
                "brokerage.add_apikey",
                "brokerage.change_apikey",
                "auth.view_group",
                "brokerage.view_region",
                "brokerage.add_region",
                "brokerage.change_region",
                "leads.view_all_leads",
                "leads.import_leads",
                *(
                    f"leads.{verb}_{model}"
                    for model in ("scoringrule", "routingrule", "nurturesequence", "nurturestep")
                    for verb in ("view", "add", "change")
                ),
                *(
                    f"finance.{verb}_{model}"
                    for model in ("paymentmethod", "fxrate")
                    for verb in ("view", "add", "change")
                ),
                *(
                    f"clients.{verb}_{model}"
                    for model in (
                        "tradingserver",
                        "accounttype",
                        "instrument",
                        "retentionpolicy",
                        "outreachtemplate",
                    )
                    for verb in ("view", "add", "change")
                ),
                *(
                    f"clients.{verb}_accounttypemarkup"
                    for verb in ("view", "add", "change", "delete")
                ),
                *(f"clients.{verb}_sharednetwork" for verb in ("view", "add", "change", "delete")),
                "clients.view_syncrejection",
                "clients.change_syncrejection",
                "clients.view_accountopening",
                "clients.change_accountopening",
                "django_celery_beat.view_periodictask",
                "django_celery_beat.add_periodictask",
                "django_celery_beat.change_periodictask",
                "django_celery_beat.view_intervalschedule",
                "django_celery_beat.add_intervalschedule",
                "django_celery_beat.view_crontabschedule",
                "django_celery_beat.add_crontabschedule",
            ),
        ),
    ]
}

# Roles allowed into Django admin (/admin/): configuration is ops work.
ADMIN_ROLES = {"ops_admin"}
# Roles that read and never record: no note, call or other entry on the records they see.
READ_ONLY_ROLES = {"executive", "dealer"}


def reads_only(user) -> bool:
    return role_of(user) in READ_ONLY_ROLES


def _group_names(v):
    from django.contrib.auth.models import Group

    return Group.objects.filter(user__id=v.user_id).values_list("name", flat=True)


_GROUP_NAMES = Statement(_group_names)  # every staff page asks: compiled once per process


def role_of(user) -> str | None:
    """The user's staff role slug, or None for clients, partners and anonymous users."""
    if not getattr(user, "is_authenticated", False) or not user.is_staff:
        return None
    cached = getattr(user, "_role_slug", False)
    if cached is not False:
        return cached
    names = set(_GROUP_NAMES(user_id=user.pk))
    slug = next((r.slug for r in ROLES.values() if r.label in names), None)
    user._role_slug = slug
    return slug
