"""Finance's alert metrics (brokerage.alerts): withdrawals waiting for a decision, each PSP's
decline rate, and reconciliation differences nobody has explained. Their heads are the heads of
finance (`brokerage.head_finance`), not every finance officer."""

from datetime import timedelta
from decimal import Decimal

from django.db.models import Count, Min, Q
from django.urls import reverse

from brokerage.alerts import AlertMetric, Reading, age_hours

from . import psp as psp_registry
from .models import Deposit, ReconciliationItem, ReconciliationRun, Withdrawal

HEADS = "brokerage.head_finance"
WAITING = (Withdrawal.Status.REQUESTED, Withdrawal.Status.IN_REVIEW)
# A PSP's decline rate counts once it has this many finished deposits in the window.
DECLINE_WINDOW = timedelta(hours=24)
DECLINE_MIN_ATTEMPTS = 10


def withdrawals_waiting(now) -> list[Reading]:
    """The hours the oldest withdrawal has waited for a decision (0 when none waits)."""
    waiting = Withdrawal.objects.filter(status__in=WAITING)
    hours = age_hours(waiting.aggregate(at=Min("requested_at"))["at"], now)
    return [Reading(hours, url=reverse("finance:withdrawals") + "?status=in_review")]


def psp_decline_rates(now) -> list[Reading]:
    """Per PSP, the share of deposits that failed among those finished in the last 24 hours
    (PSPs with fewer than DECLINE_MIN_ATTEMPTS are not read)."""
    rows = (
        Deposit.objects.filter(
            created_at__gte=now - DECLINE_WINDOW,
            status__in=[Deposit.Status.COMPLETED, Deposit.Status.FAILED],
        )
        .values("psp")
        .annotate(n=Count("pk"), failed=Count("pk", filter=Q(status=Deposit.Status.FAILED)))
        .order_by("psp")
    )
    deposits = reverse("finance:deposits")
    return [
        Reading(
            Decimal(r["failed"]) * 100 / r["n"],
            subject=r["psp"],
            subject_label=psp_registry.PSP_NAMES.get(r["psp"], r["psp"]),
            url=f"{deposits}?psp={r['psp']}&status=failed",
        )
        for r in rows
        if r["n"] >= DECLINE_MIN_ATTEMPTS
    ]


def reconciliation_unexplained(now) -> list[Reading]:
    """Differences found by finished reconciliation runs and not yet explained."""
    n = ReconciliationItem.objects.filter(
        resolved_at__isnull=True, run__status=ReconciliationRun.Status.DONE
    ).count()
    return [Reading(Decimal(n), url=reverse("finance:reconciliations"))]


METRICS = [
    AlertMetric(
        "finance.withdrawals_waiting",
        "Finance",
        "Oldest withdrawal waiting for a decision",
        "hours",
        Decimal(24),
        HEADS,
        withdrawals_waiting,
        hint="Hours the oldest requested or in-review withdrawal has waited: the SLA.",
        order=10,
    ),
    AlertMetric(
        "finance.psp_decline_rate",
        "Finance",
        "PSP decline rate",
        "pct",
        Decimal(30),
        HEADS,
        psp_decline_rates,
        hint=f"Failed deposits of those finished in the last 24 hours, per PSP (from "
        f"{DECLINE_MIN_ATTEMPTS} deposits).",
        order=11,
    ),
    AlertMetric(
        "finance.reconciliation_unexplained",
        "Finance",
        "Unexplained reconciliation differences",
        "count",
        Decimal(0),
        HEADS,
        reconciliation_unexplained,
        hint="Differences between PSP statements and the ledger that nobody has explained.",
        order=12,
    ),
]
