"""Reconciliation reads: how far a run has got, and which months are closed.

None of these is scoped by user: the views and services that call them have already checked
`finance.reconcile`. The list of runs for a page is `finance.selectors.reconciliation_runs`.
"""

from __future__ import annotations

from calendar import monthrange
from datetime import date, timedelta
from decimal import Decimal

from django.core.cache import cache
from django.db.models import Q

from ..models import Deposit, PeriodClose, ReconciliationRun


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


def attach_payments(items) -> None:
    """Give each difference its date (`when`), the client it concerns and the deposit behind it
    (`deposit`), so the run page links them: through the ledger transaction of its posting, or
    for a line the ledger lacks, through the PSP's reference on the line. Two queries a page."""
    items = list(items)
    txn_ids = {i.posting.transaction_id for i in items if i.posting_id}
    refs = {i.line.reference for i in items if i.line_id and i.line.reference}
    refs |= {i.line.payment_reference for i in items if i.line_id and i.line.payment_reference}
    deposits = Deposit.objects.filter(
        Q(ledger_transaction_id__in=txn_ids)
        | Q(provider_reference__in=refs)
        | Q(reference__in=refs)
    ).select_related("client__user")
    by_txn, by_ref = {}, {}
    for deposit in deposits:
        if deposit.ledger_transaction_id:
            by_txn[deposit.ledger_transaction_id] = deposit
        for ref in (deposit.provider_reference, deposit.reference):
            if ref:
                by_ref[ref] = deposit
    for item in items:
        deposit = None
        if item.posting_id:
            deposit = by_txn.get(item.posting.transaction_id)
        if deposit is None and item.line_id:
            deposit = by_ref.get(item.line.reference) or by_ref.get(item.line.payment_reference)
        item.deposit = deposit
        txn_client = item.posting.transaction.client if item.posting_id else None
        item.client = txn_client or (deposit.client if deposit else None)
        item.when = item.line.booked_on if item.line_id else item.posting.posted_at.date()


def fee_totals(run: ReconciliationRun) -> list[dict]:
    """The run's fees by currency (from the days `fees.fees_book` recorded on the run)."""
    totals: dict[str, Decimal] = {}
    for day in (run.counts or {}).get("fees", []):
        totals[day["currency"]] = totals.get(day["currency"], Decimal(0)) + Decimal(day["amount"])
    return [{"currency": c, "amount": a} for c, a in sorted(totals.items())]
