"""AML monitoring's part of the client 360 and of the dossier: the client's alerts (open
first) for compliance officers; every alert with its evidence, snapshot, version and
parameters in the dossier."""

from django.db.models import Count, Q, Window

from brokerage.dossier import DossierSection, table
from brokerage.statements import Statement
from clients.client360 import Contribution, Section

from .models import OPEN_STATUSES, Alert, AlertEvidence
from .selectors import VIEW

# the client's latest alerts, each carrying how many of all are open (the window is taken
# before the LIMIT), compiled once per process (brokerage.statements)
_LATEST_ALERTS = Statement(
    lambda v: (
        Alert.objects.filter(client_id=v.client_id)
        .select_related("scenario")
        .annotate(open_n=Window(Count("id", filter=Q(status__in=OPEN_STATUSES))))
        .order_by("-last_seen_at", "-pk")[:8]
    )
)


def monitoring_360(client, user) -> Contribution:
    """One query: the client's latest alerts and how many of all are open."""
    if not user.has_perm(VIEW):
        return Contribution()
    alerts = _LATEST_ALERTS(client_id=client.pk)
    active = alerts[0].open_n if alerts else 0
    return Contribution(
        sections=[
            Section(
                "aml_alerts",
                "AML monitoring alerts",
                "compliance/monitoring/_360_alerts.html",
                {"alerts": alerts, "active": active, "client_id": client.pk},
                order=24,
                column="side",
                icon="activity",
                badge=f"{active} open" if active else "",
            )
        ]
    )


def monitoring_dossier(client) -> DossierSection:
    return DossierSection(
        key="aml_monitoring",
        title="AML monitoring alerts",
        order=61,
        tables=[
            table(
                "aml_alerts",
                "AML monitoring alerts",
                Alert.objects.filter(client=client).order_by("first_seen_at", "id"),
                [
                    ("Alert", "id"),
                    ("Scenario", "scenario__name"),
                    ("Version", "scenario_version__number"),
                    ("Parameters", "params"),
                    ("Score", "score"),
                    ("Action", "action"),
                    ("Status", "status"),
                    ("Source", "source"),
                    ("First seen (UTC)", "first_seen_at"),
                    ("Last seen (UTC)", "last_seen_at"),
                    ("Window from (UTC)", "window_start"),
                    ("Window to (UTC)", "window_end"),
                    ("Why", "explanation"),
                    ("Client at the first hit", "snapshot"),
                    ("Closed (UTC)", "closed_at"),
                    ("Closed by", "closed_by__email"),
                    ("Why closed", "closed_reason"),
                ],
            ),
            table(
                "aml_evidence",
                "AML alerts' evidence",
                AlertEvidence.objects.filter(alert__client=client).order_by(
                    "alert_id", "occurred_at", "id"
                ),
                [
                    ("Alert", "alert_id"),
                    ("Kind", "kind"),
                    ("Record", "object_id"),
                    ("When (UTC)", "occurred_at"),
                    ("USD", "amount_usd"),
                    ("What", "detail"),
                ],
            ),
        ],
    )
