"""What the monitoring pages read: the alert queue with its filters, one alert with its
evidence, the scenarios with their versions, and alerts by scenario over time."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncWeek
from django.utils import timezone

from .catalogue import TYPOLOGIES
from .models import OPEN_STATUSES, Alert, BacktestJob, Scenario, ScenarioVersion, VersionStatus

VIEW = "aml.view_monitoring"


def alert_list(
    *, q: str = "", scenario: str = "", status: str = "", action: str = "", since=None, until=None
) -> QuerySet[Alert]:
    alerts = Alert.objects.select_related("client__user", "scenario", "scenario_version")
    if status == "active":
        alerts = alerts.filter(status__in=OPEN_STATUSES)
    elif status:
        alerts = alerts.filter(status=status)
    if scenario:
        alerts = alerts.filter(scenario__code=scenario)
    if action:
        alerts = alerts.filter(action=action)
    tz = timezone.get_current_timezone()
    if since:
        alerts = alerts.filter(first_seen_at__gte=datetime.combine(since, time.min, tz))
    if until:
        alerts = alerts.filter(
            first_seen_at__lt=datetime.combine(until, time.min, tz) + timedelta(1)
        )
    if q:
        if q.isdigit():
            alerts = alerts.filter(Q(client_id=int(q)) | Q(pk=int(q)))
        else:
            alerts = alerts.filter(
                Q(client__user__email__icontains=q)
                | Q(client__user__first_name__icontains=q)
                | Q(client__user__last_name__icontains=q)
                | Q(client__legal_name__icontains=q)
            )
    return alerts.order_by("-last_seen_at", "-pk")


def alert_get(pk: int) -> Alert:
    return Alert.objects.select_related(
        "client__user", "scenario", "scenario_version", "closed_by"
    ).get(pk=pk)


def alert_closings(alert: Alert) -> list[dict]:
    """The alert's closings, newest first, their times as datetimes (for the alert page)."""
    from datetime import datetime

    def at(value):
        return datetime.fromisoformat(value) if value else None

    return [
        {**c, "closed_at": at(c.get("closed_at")), "reopened_at": at(c.get("reopened_at"))}
        for c in reversed(alert.closings or [])
    ]


def param_rows(code: str, params: dict) -> list[tuple[str, object]]:
    """A version's parameters as (label, value), in the typology's order."""
    rows = []
    for p in TYPOLOGIES[code].params:
        value = params.get(p.key, p.default)
        if isinstance(value, list):
            value = ", ".join(value) or "The high-risk countries (country risk)"
        rows.append((p.label, value))
    return rows


def scenario_rows() -> list[dict]:
    """Each scenario with its live version, its draft (if any) and its open alerts (3 queries)."""
    versions: dict[int, dict] = {}
    for v in ScenarioVersion.objects.exclude(status=VersionStatus.RETIRED).order_by("number"):
        versions.setdefault(v.scenario_id, {})[v.status] = v
    open_counts = dict(
        Alert.objects.filter(status__in=OPEN_STATUSES)
        .values_list("scenario_id")
        .annotate(n=Count("pk"))
        .values_list("scenario_id", "n")
    )
    return [
        {
            "scenario": s,
            "live": versions.get(s.pk, {}).get(VersionStatus.LIVE),
            "draft": versions.get(s.pk, {}).get(VersionStatus.DRAFT),
            "open": open_counts.get(s.pk, 0),
        }
        for s in Scenario.objects.order_by("pk")
    ]


def alerts_by_scenario_chart(*, weeks: int = 12, now=None) -> dict:
    """Alerts raised per week by scenario over the last `weeks` weeks, as a stacked chart."""
    now = now or timezone.now()
    start = (now - timedelta(weeks=weeks)).replace(hour=0, minute=0, second=0, microsecond=0)
    rows = (
        Alert.objects.filter(first_seen_at__gte=start)
        .annotate(week=TruncWeek("first_seen_at"))
        .values_list("week", "scenario__code")
        .annotate(n=Count("pk"))
    )
    weeks_seen = sorted({w.date() for w, _, _ in rows})
    first = (start - timedelta(days=start.weekday())).date()
    labels = [first + timedelta(weeks=n) for n in range(weeks + 1)]
    labels = [d for d in labels if d <= now.date()] or weeks_seen
    counts: dict[str, dict] = {}
    for week, code, n in rows:
        counts.setdefault(code, {})[week.date()] = n
    return {
        "id": "alerts-by-scenario",
        "title": "Alerts by scenario, per week",
        "kind": "bar",
        "labels": [d.strftime("%d %b") for d in labels],
        "datasets": [
            {
                "label": TYPOLOGIES[code].name,
                "data": [counts[code].get(d, 0) for d in labels],
                "stack": "alerts",
            }
            for code in TYPOLOGIES
            if code in counts
        ],
    }


def backtest_latest(draft: ScenarioVersion, *, job_id: int | None = None) -> BacktestJob | None:
    """The draft's newest backtest (or its backtest `job_id`), with who asked for it."""
    jobs = BacktestJob.objects.filter(version=draft).select_related("requested_by")
    if job_id is not None:
        jobs = jobs.filter(pk=job_id)
    return jobs.order_by("-requested_at", "-pk").first()
