"""Compliance reads: list sources, snapshots and their entries (compliance officers see all
lists; there is no per-object scoping below the role)."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Exists, OuterRef, Q, QuerySet

from brokerage.statements import Statement
from clients.standing import Reason, Severity
from kyc.models import KycSubmission

from .models import (
    UNDECIDED,
    Alert,
    AlertStatus,
    EntryName,
    ListEntry,
    ListSnapshot,
    ListSource,
    ScreeningJob,
    ScreeningRun,
)


def list_source_list() -> QuerySet[ListSource]:
    return ListSource.objects.order_by("name")


def snapshot_list() -> QuerySet[ListSnapshot]:
    return ListSnapshot.objects.select_related("source", "imported_by").order_by(
        "-imported_at", "-pk"
    )


def job_list(limit: int = 5) -> list[ScreeningJob]:
    """The newest re-screens of the book, with their progress."""
    return list(ScreeningJob.objects.select_related("snapshot__source")[:limit])


def snapshot_get(pk: int) -> ListSnapshot:
    return ListSnapshot.objects.select_related("source", "imported_by", "previous").get(pk=pk)


def snapshot_entry_list(snapshot: ListSnapshot, *, q: str = "", kind: str = "") -> QuerySet:
    """The snapshot's entries, searched by any of their names or their list id."""
    entries = ListEntry.objects.filter(snapshot=snapshot).order_by("primary_name", "pk")
    if kind:
        entries = entries.filter(kind=kind)
    if q:
        names = EntryName.objects.filter(entry=OuterRef("pk"), name__icontains=q)
        entries = entries.filter(Q(list_id__iexact=q) | Exists(names))
    return entries


SANCTIONS_MATCH = "sanctions_match"


def blocking_alerts(client) -> QuerySet[Alert]:
    return Alert.objects.filter(
        client=client, status=AlertStatus.CONFIRMED, lifted_at__isnull=True
    ).select_related("source")


def compliance_standing(client, purpose, *, amount_usd=None):
    """Compliance's reasons in a client's standing (`clients.standing`): a confirmed sanctions
    or watch-list match blocks deposits, withdrawals, transfers and new accounts until
    compliance lifts it. The client is told only that the account is under review."""
    alert = blocking_alerts(client).order_by("pk").first()
    if alert is not None:
        yield Reason(
            SANCTIONS_MATCH,
            Severity.BLOCK,
            f"A {alert.source.name} match was confirmed by compliance (alert {alert.pk}, "
            f"entry {alert.list_id}); only compliance lifts it.",
        )


# Score bands of the alert queue: (code, label, lowest score, below).
SCORE_BANDS = [
    ("high", "90% and above", Decimal("0.90"), None),
    ("medium", "80% to 90%", Decimal("0.80"), Decimal("0.90")),
    ("low", "Below 80%", None, Decimal("0.80")),
]
STATUS_FILTERS = [
    ("undecided", "To decide"),
    *AlertStatus.choices,
    ("blocking", "Blocking the client"),
    ("all", "All"),
]


def alert_list(*, status: str = "undecided", source: str = "", band: str = "", q: str = ""):
    """The alert queue, oldest undecided first (ageing); decided ones newest first."""
    alerts = Alert.objects.select_related("client__user", "source", "proposed_by")
    if status == "undecided":
        alerts = alerts.filter(status__in=UNDECIDED).order_by("created_at", "pk")
    elif status == "blocking":
        alerts = alerts.filter(status=AlertStatus.CONFIRMED, lifted_at__isnull=True)
    elif status in AlertStatus.values:
        alerts = alerts.filter(status=status)
    if status not in ("undecided",):
        alerts = alerts.order_by("-created_at", "-pk")
    if source:
        alerts = alerts.filter(source__code=source)
    for code, _label, low, below in SCORE_BANDS:
        if band == code:
            alerts = alerts.filter(**({"score__gte": low} if low is not None else {}))
            alerts = alerts.filter(**({"score__lt": below} if below is not None else {}))
    if q:
        alerts = alerts.filter(
            Q(screened_name__icontains=q)
            | Q(matched_name__icontains=q)
            | Q(client__user__email__icontains=q)
            | Q(list_id__iexact=q)
        )
    return alerts


def alert_get(pk: int) -> Alert:
    return Alert.objects.select_related(
        "client__user",
        "source",
        "snapshot__source",
        "run",
        "cleared_by__source",
        "entry",
        "proposed_by",
        "decided_by",
        "lifted_by",
    ).get(pk=pk)


# client_alert_summary's reads, compiled once per process (brokerage.statements)
_OPEN_ALERTS = Statement(
    lambda v: (
        Alert.objects.filter(client_id=v.client_id)
        .filter(Q(status__in=UNDECIDED) | Q(status=AlertStatus.CONFIRMED, lifted_at__isnull=True))
        .select_related("source")
        .order_by("-score", "pk")
    )
)
_LAST_RUN = Statement(
    lambda v: ScreeningRun.objects.filter(client_id=v.client_id).order_by("-screened_at", "-pk")[:1]
)


def client_alert_summary(client) -> dict:
    """A client's screening at a glance: the last run, and alerts undecided or blocking."""
    alerts = _OPEN_ALERTS(client_id=client.pk)
    return {
        "last_run": _LAST_RUN.first(client_id=client.pk),
        "alerts": alerts,
        "blocking": [a for a in alerts if a.blocking],
    }


def subject_details(client) -> dict:
    """What the client told us, to hold beside a list entry: the newest KYC details."""
    submission = (
        KycSubmission.objects.filter(client=client)
        .exclude(state=KycSubmission.State.DRAFT)
        .order_by("-submitted_at", "-pk")
        .first()
    )
    documents = (
        sorted({d.get_kind_display() for d in submission.documents.all()}) if submission else []
    )
    return {
        "name": " ".join(p for p in [client.user.first_name, client.user.last_name] if p),
        "legal_name": client.legal_name,
        "email": client.user.email,
        "holder": client.get_holder_display(),
        "country": client.country,
        "registered": client.created_at,
        "kyc_name": (
            f"{submission.first_name} {submission.last_name}".strip() if submission else ""
        ),
        "dob": submission.date_of_birth if submission else None,
        "nationality": submission.nationality if submission else "",
        "documents": documents,
    }
