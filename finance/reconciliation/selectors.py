"""Reconciliation reads: how far a run has got, and which months are closed.

None of these is scoped by user: the views and services that call them have already checked
`finance.reconcile`. The list of runs for a page is `finance.selectors.reconciliation_runs`.
"""

from __future__ import annotations

from calendar import monthrange
from datetime import date, timedelta

from django.core.cache import cache

from ..models import PeriodClose, ReconciliationRun


def progress_key(run_id: int) -> str:
    """The cache key under which a running run reports its progress."""
    return f"recon:{run_id}:progress"


def progress(run: ReconciliationRun) -> dict:
    """{"stage": "reading"|"matching"|"done", "rows": n, "percent": 0-100}."""
    if run.status == ReconciliationRun.Status.DONE:
        return {"stage": "done", "rows": run.counts.get("lines", 0), "percent": 100}
    return cache.get(progress_key(run.pk)) or {"stage": "queued", "rows": 0, "percent": 0}


def month_bounds(month: date) -> tuple[date, date]:
    first = month.replace(day=1)
    return first, first.replace(day=monthrange(first.year, first.month)[1])


def closed_months(psp: str) -> set[date]:
    return set(PeriodClose.objects.filter(psp=psp).values_list("month", flat=True))


def period_closed(psp: str, start: date, end: date) -> date | None:
    """The first month from `start` to `end` that is closed for `psp`, or None."""
    month = start.replace(day=1)
    closed = closed_months(psp)
    while month <= end:
        if month in closed:
            return month
        month = (month + timedelta(days=32)).replace(day=1)
    return None
