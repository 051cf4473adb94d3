"""Reconciliation writes: start a run, execute it, explain a difference, close a month.

- `reconciliation_start` (finance officers): checks the request, stores the upload privately,
  records the run and queues `reconciliation_run_task` after commit; a month closed for the PSP
  cannot be reconciled again.
- `reconciliation_execute` (the task): claims a queued run (a run already claimed is left
  alone, so a repeated task changes nothing), then loads and matches it in one transaction
  (`matching`). A bad file fails the run with the reader's reason, any other error with its
  type; either way nothing of it is kept and it never stays "running".
- `reconciliation_item_resolve` and `period_close` (finance officers): a difference is explained
  once, with a reason; a month is closed only for a finished run of exactly that month with
  every difference explained, and then it is locked: no new run, no more explanations.

Each writes its `AuditEvent` in the same transaction (a run that fails keeps its reason on the
run instead).
"""

from __future__ import annotations

import logging
from datetime import date

from django.conf import settings
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from brokerage.errors import InvalidInput
from brokerage.permissions import actor_require
from brokerage.services import audit_record
from finance import audit_events

from .. import psp as psp_registry
from ..models import PeriodClose, ReconciliationItem, ReconciliationRun
from .base import FORMATS, StatementError
from .generic_csv import ColumnMapping
from .matching import load_lines, match_run, set_progress
from .selectors import month_bounds, period_closed, progress_key

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 500 * 1024 * 1024


@transaction.atomic
def reconciliation_start(
    *,
    psp: str,
    fmt: str,
    uploaded_file,
    period_start: date,
    period_end: date,
    actor,
    mapping: ColumnMapping | None = None,
    date_window_days: int | None = None,
) -> ReconciliationRun:
    """Store the file privately and queue the run (large files run in the background)."""
    actor_require(actor, "finance.reconcile", "Only finance officers reconcile.")
    errors = {}
    if psp not in psp_registry.PSP_CODES:
        errors["psp"] = ["Choose a PSP."]
    if fmt not in FORMATS:
        errors["format"] = ["Choose a file format."]
    if period_end < period_start:
        errors["period_end"] = ["The period ends before it starts."]
    if fmt == "csv" and mapping is None:
        errors["mapping"] = ["A CSV needs a column mapping."]
    if uploaded_file.size > MAX_FILE_BYTES:
        errors["file"] = [f"At most {MAX_FILE_BYTES // 1024 // 1024} MB."]
    if uploaded_file.size == 0:
        errors["file"] = ["The file is empty."]
    if errors:
        raise InvalidInput("The reconciliation cannot start.", fields=errors)
    closed = period_closed(psp, period_start, period_end)
    if closed:
        raise InvalidInput(
            f"{closed:%B %Y} is closed for {psp_registry.PSP_NAMES[psp]}.",
            code="period_closed",
            fields={"period_start": ["The period is closed."]},
        )
    run = ReconciliationRun(
        psp=psp,
        format=fmt,
        original_name=(uploaded_file.name or "statement")[:200],
        mapping=mapping.to_dict() if mapping else None,
        period_start=period_start,
        period_end=period_end,
        date_window_days=(
            settings.FINANCE_RECONCILE_DATE_WINDOW_DAYS
            if date_window_days is None
            else date_window_days
        ),
        created_by=actor,
    )
    run.file.save("statement.dat", ContentFile(b""), save=False)
    with run.file.storage.open(run.file.name, "wb") as out:
        for chunk in uploaded_file.chunks():
            out.write(chunk)
    run.save()
    audit_record(
        actor=actor,
        action=audit_events.RECONCILIATION_STARTED,
        target=run,
        evidence={"psp": psp, "format": fmt, "file": run.original_name, "size": uploaded_file.size},
    )
    from ..tasks import reconciliation_run_task

    reconciliation_run_task.delay_on_commit(run.pk)
    return run


def reconciliation_execute(*, run_id: int) -> str:
    """Read, load and match one run. A bad file fails the run with the reason; nothing stays."""
    with transaction.atomic():
        run = ReconciliationRun.objects.select_for_update().get(pk=run_id)
        if run.status != ReconciliationRun.Status.QUEUED:
            return f"nothing to do: {run.status}"
        run.status = ReconciliationRun.Status.RUNNING
        run.save(update_fields=["status"])
    set_progress(run_id, stage="reading", rows=0, percent=0)
    try:
        with transaction.atomic():
            loaded = load_lines(run)
            set_progress(run_id, stage="matching", rows=loaded.lines, percent=60)
            counts = match_run(run, loaded)
            counts["lines"] = loaded.lines
            run.counts = counts
            run.status = ReconciliationRun.Status.DONE
            run.finished_at = timezone.now()
            run.save(update_fields=["counts", "status", "finished_at"])
            audit_record(
                actor="rule:reconciliation",
                action=audit_events.RECONCILIATION_FINISHED,
                target=run,
                evidence=counts,
            )
    except StatementError as exc:
        ReconciliationRun.objects.filter(pk=run_id).update(
            status=ReconciliationRun.Status.FAILED, error=exc.message, finished_at=timezone.now()
        )
        log.warning("reconciliation %s refused the file: %s", run_id, exc.message)
        return "failed"
    except Exception as exc:  # nothing of the run is kept; it must not stay "running"
        log.exception("reconciliation %s failed", run_id)
        ReconciliationRun.objects.filter(pk=run_id).update(
            status=ReconciliationRun.Status.FAILED,
            error=f"The run could not finish ({type(exc).__name__}); nothing was kept.",
            finished_at=timezone.now(),
        )
        return "failed"
    finally:
        cache.delete(progress_key(run_id))
    return "done"


def _check_open(run: ReconciliationRun) -> None:
    closed = period_closed(run.psp, run.period_start, run.period_end)
    if closed:
        raise InvalidInput(f"{closed:%B %Y} is closed; its reconciliation is locked.")


@transaction.atomic
def reconciliation_item_resolve(*, item: ReconciliationItem, reason: str, actor):
    """Explain a difference (e.g. "refund booked by the PSP on the 1st"). Audited."""
    actor_require(actor, "finance.reconcile", "Only finance officers reconcile.")
    reason = " ".join((reason or "").split())
    if len(reason) < 5:
        raise InvalidInput("Explain the difference.", fields={"reason": ["A reason is needed."]})
    item = ReconciliationItem.objects.select_for_update().select_related("run").get(pk=item.pk)
    _check_open(item.run)
    if item.resolved_at:
        raise InvalidInput("This difference is already explained.")
    item.resolution, item.resolved_by, item.resolved_at = reason, actor, timezone.now()
    item.save(update_fields=["resolution", "resolved_by", "resolved_at"])
    audit_record(
        actor=actor,
        action=audit_events.RECONCILIATION_ITEM_RESOLVED,
        target=item.run,
        reason=reason,
        evidence={
            "item": item.pk,
            "kind": item.kind,
            "reference": item.reference,
            "statement_amount": str(item.statement_amount),
            "ledger_amount": str(item.ledger_amount),
        },
    )
    return item


@transaction.atomic
def period_close(*, run: ReconciliationRun, actor) -> PeriodClose:
    """Close the run's month for its PSP: every difference explained, then locked."""
    actor_require(actor, "finance.reconcile", "Only finance officers close periods.")
    run = ReconciliationRun.objects.select_for_update().get(pk=run.pk)
    first, last = month_bounds(run.period_start)
    if (run.period_start, run.period_end) != (first, last):
        raise InvalidInput("A month-end close needs a run covering exactly one calendar month.")
    if run.status != ReconciliationRun.Status.DONE:
        raise InvalidInput("The run has not finished.")
    open_items = run.items.filter(resolved_at__isnull=True).count()
    if open_items:
        raise InvalidInput(
            f"{open_items} difference{'s' if open_items != 1 else ''} still to explain.",
            code="unexplained_differences",
        )
    if PeriodClose.objects.filter(psp=run.psp, month=first).exists():
        raise InvalidInput(f"{first:%B %Y} is already closed.")
    close = PeriodClose.objects.create(
        psp=run.psp, month=first, run=run, closed_by=actor, summary=run.counts
    )
    audit_record(
        actor=actor,
        action=audit_events.RECONCILIATION_PERIOD_CLOSED,
        target=run,
        evidence={"psp": run.psp, "month": f"{first:%Y-%m}", **run.counts},
    )
    return close
