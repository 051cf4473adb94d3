"""The compliance workspace's reads: each queue compliance works (screening hits, AML alerts,
cases, periodic reviews, KYC review) with its size, how long its items have waited (ageing
buckets), how many are past their service level, and the officers' workload. One aggregate
query per queue, one for the workload.

Service levels: a screening hit or an AML alert undecided for COMPLIANCE_ALERT_SLA_DAYS, a
case past its deadline (`Case.due_at`), a periodic review past its due date, a KYC submission
in review beyond the KYC queue's red mark (`kyc.selectors.SLA_HOURS_RED`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, Min, Q
from django.urls import reverse
from django.utils import timezone

from kyc.models import KycSubmission
from kyc.selectors import SLA_HOURS_RED

from .models import UNDECIDED, Alert, Case, CaseStatus, PeriodicReview
from .models_cases import ACTIVE_CASE
from .monitoring.models import Alert as AmlAlert
from .monitoring.models import AlertStatus as AmlAlertStatus

# (key, label, from days, to days): how long an item has waited.
AGEING = [
    ("day", "Under a day", 0, 1),
    ("week", "1 to 7 days", 1, 7),
    ("month", "7 to 30 days", 7, 30),
    ("older", "Over 30 days", 30, None),
]


@dataclass
class Queue:
    key: str
    title: str
    icon: str
    url: str
    count: int = 0
    breached: int = 0
    breach_url: str = ""
    sla: str = ""  # the service level, in words
    oldest: object = None
    ageing: list[tuple[str, int]] = field(default_factory=list)


def _ageing(field_name: str, now, *, dates: bool = False) -> dict:
    """Count aggregates, one per ageing bucket: waited at least `start` days and less than
    `end` days since `field_name` (a date: days since it)."""
    ref = now.date() if dates else now
    out = {}
    for key, _label, start, end in AGEING:
        condition = Q(**{f"{field_name}__lte": ref - timedelta(days=start)})
        if end is not None:
            condition &= Q(**{f"{field_name}__gt": ref - timedelta(days=end)})
        out[f"age_{key}"] = Count("pk", filter=condition)
    return out


def _queue(queue: Queue, queryset, since: str, breach: Q, now, *, dates=False) -> Queue:
    found = queryset.aggregate(
        count=Count("pk"),
        breached=Count("pk", filter=breach),
        oldest=Min(since),
        **_ageing(since, now, dates=dates),
    )
    queue.count, queue.breached, queue.oldest = found["count"], found["breached"], found["oldest"]
    queue.ageing = [(label, found[f"age_{key}"]) for key, label, _s, _e in AGEING]
    return queue


def workspace_queues(now=None) -> list[Queue]:
    now = now or timezone.now()
    today = now.date()
    alert_days = settings.COMPLIANCE_ALERT_SLA_DAYS
    alert_breach = now - timedelta(days=alert_days)
    alert_sla = f"decided within {alert_days} day{'s' if alert_days != 1 else ''}"
    return [
        _queue(
            Queue(
                "screening",
                "Screening hits",
                "shield-exclamation",
                reverse("compliance:alerts"),
                sla=alert_sla,
            ),
            Alert.objects.filter(status__in=UNDECIDED),
            "created_at",
            Q(created_at__lte=alert_breach),
            now,
        ),
        _queue(
            Queue(
                "aml",
                "AML alerts",
                "activity",
                reverse("compliance:aml_alerts") + "?status=open",
                sla=alert_sla,
            ),
            AmlAlert.objects.filter(status=AmlAlertStatus.OPEN),
            "first_seen_at",
            Q(first_seen_at__lte=alert_breach),
            now,
        ),
        _queue(
            Queue(
                "cases",
                "AML cases",
                "folder2-open",
                reverse("compliance:cases"),
                breach_url=reverse("compliance:cases") + "?sla=breached",
                sla="decided by each case's deadline",
            ),
            Case.objects.filter(status__in=ACTIVE_CASE),
            "opened_at",
            Q(due_at__lte=now),
            now,
        ),
        _queue(
            Queue(
                "reviews",
                "Periodic reviews due",
                "calendar-check",
                reverse("compliance:reviews") + "?due=due",
                breach_url=reverse("compliance:reviews") + "?due=overdue",
                sla="completed by the due date",
            ),
            PeriodicReview.objects.filter(status=PeriodicReview.Status.OPEN, due_on__lte=today),
            "due_on",
            Q(due_on__lt=today),
            now,
            dates=True,
        ),
        _queue(
            Queue(
                "kyc",
                "KYC review",
                "person-vcard",
                reverse("kyc_review:queue"),
                sla=f"decided within {SLA_HOURS_RED} hours",
            ),
            KycSubmission.objects.filter(state=KycSubmission.State.IN_REVIEW),
            "submitted_at",
            Q(submitted_at__lte=now - timedelta(hours=SLA_HOURS_RED)),
            now,
        ),
    ]


def officer_workload(now=None) -> list[dict]:
    """Per officer with an active case: how many, by status, and how many past the deadline
    (nobody's cases last)."""
    now = now or timezone.now()
    rows = (
        Case.objects.filter(status__in=ACTIVE_CASE)
        .values("assigned_to", "assigned_to__email", "assigned_to__first_name")
        .annotate(
            active=Count("pk"),
            open=Count("pk", filter=Q(status=CaseStatus.OPEN)),
            investigating=Count("pk", filter=Q(status=CaseStatus.INVESTIGATING)),
            escalated=Count("pk", filter=Q(status=CaseStatus.ESCALATED)),
            breached=Count("pk", filter=Q(due_at__lte=now)),
        )
        .order_by("-active", "assigned_to__email")
    )
    cases = reverse("compliance:cases")
    out = []
    for row in rows:
        officer = row["assigned_to"]
        out.append(
            {
                **row,
                "name": row["assigned_to__email"] or "Nobody yet",
                "url": f"{cases}?assigned={officer if officer else 'none'}",
            }
        )
    return sorted(out, key=lambda r: r["assigned_to"] is None)
