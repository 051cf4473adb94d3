"""Reconciliation: a PSP's or bank's statement against the ledger, set-based in Postgres.

A run reads the uploaded file with `finance.statements` (streaming), COPYs its rows into
`finance_statementline`, then matches them against the postings on that PSP's clearing
accounts in a few SQL statements:

1. by reference (the PSP's id our posting carries), one line to one posting per direction;
   a matched pair whose amount or currency differs is a difference to explain;
2. what is left, by amount, currency and a date window (`date_window_days`);
3. lines left over are missing in the ledger (or duplicates of a matched line); postings of the
   period left over are missing at the PSP.

Statement amounts are + for money into the merchant account; a deposit's clearing posting is
negative (credit-positive ledger), so a line matches a posting of the opposite sign.
"""

from __future__ import annotations

import logging
from calendar import monthrange
from datetime import date, timedelta

from django.conf import settings
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.utils import timezone

from brokerage.errors import InvalidInput, NotAllowed
from brokerage.services import audit_record

from . import psp as psp_registry
from .models import LedgerAccount, PeriodClose, ReconciliationItem, ReconciliationRun
from .statements import FORMATS, ColumnMapping, StatementError, read_statement

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 500 * 1024 * 1024
# Statement categories that are not client money movements (the PSP paying us out, its fees).
SKIP_CATEGORIES = (
    "payout",
    "payout_reversal",
    "fee",
    "network_cost",
    "tax",
    "topup",
    "platform_earning",
    "transfer_reversal",
)
COPY_BATCH = 50_000


def _progress_key(run_id: int) -> str:
    return f"recon:{run_id}:progress"


def progress(run: ReconciliationRun) -> dict:
    """{"stage": "reading"|"matching"|"done", "rows": n, "percent": 0-100}."""
    if run.status == ReconciliationRun.Status.DONE:
        return {"stage": "done", "rows": run.counts.get("lines", 0), "percent": 100}
    return cache.get(_progress_key(run.pk)) or {"stage": "queued", "rows": 0, "percent": 0}


def _set_progress(run_id: int, **data) -> None:
    cache.set(_progress_key(run_id), data, 6 * 3600)


def month_bounds(month: date) -> tuple[date, date]:
    first = month.replace(day=1)
    return first, first.replace(day=monthrange(first.year, first.month)[1])


def closed_months(psp: str) -> set[date]:
    return set(PeriodClose.objects.filter(psp=psp).values_list("month", flat=True))


def _period_closed(psp: str, start: date, end: date) -> date | None:
    month = start.replace(day=1)
    closed = closed_months(psp)
    while month <= end:
        if month in closed:
            return month
        month = (month + timedelta(days=32)).replace(day=1)
    return None


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
    if not actor.has_perm("finance.reconcile"):
        raise NotAllowed("Only finance officers reconcile.")
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
    closed = _period_closed(psp, period_start, period_end)
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
        action="reconciliation.started",
        target=run,
        evidence={"psp": psp, "format": fmt, "file": run.original_name, "size": uploaded_file.size},
    )
    from .tasks import reconciliation_run_task

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
    _set_progress(run_id, stage="reading", rows=0, percent=0)
    try:
        with transaction.atomic():
            lines = _load_lines(run)
            _set_progress(run_id, stage="matching", rows=lines, percent=60)
            counts = _match(run)
            counts["lines"] = lines
            run.counts = counts
            run.status = ReconciliationRun.Status.DONE
            run.finished_at = timezone.now()
            run.save(update_fields=["counts", "status", "finished_at"])
            audit_record(
                actor="rule:reconciliation",
                action="reconciliation.finished",
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
        cache.delete(_progress_key(run_id))
    return "done"


def _load_lines(run: ReconciliationRun) -> int:
    """COPY the statement's rows into finance_statementline, streaming."""
    mapping = ColumnMapping.from_dict(run.mapping) if run.mapping else None
    size = max(run.file.size, 1)
    n = 0
    with run.file.open("rb") as fh, connection.cursor() as cur:
        raw = cur.cursor  # psycopg's own cursor, for COPY
        columns = (
            "run_id, line_no, reference, amount, currency, booked_on, description, category,"
            " payment_reference, match"
        )
        with raw.copy(f"COPY finance_statementline ({columns}) FROM STDIN") as copy:
            for row in read_statement(fh, run.format, mapping=mapping):
                copy.write_row(
                    (
                        run.pk,
                        row.line_no,
                        row.reference[:100].replace("\x00", ""),
                        row.amount,
                        row.currency,
                        row.booked_on,
                        (row.description or "")[:255].replace("\x00", ""),
                        (row.category or "")[:30].replace("\x00", ""),
                        (row.payment_reference or "")[:100].replace("\x00", ""),
                        "",
                    )
                )
                n += 1
                if n % COPY_BATCH == 0:
                    pos = fh.tell() if hasattr(fh, "tell") else 0
                    _set_progress(run.pk, stage="reading", rows=n, percent=int(55 * pos / size))
    if n == 0:
        raise StatementError("The statement has no rows.", code="empty_statement")
    return n


# 2. What is left, by currency and amount within the date window: pairs that are each other's
# nearest candidate are matched, round after round, until no pair is left to agree on.
AMOUNT_DATE_SQL = """
WITH l AS (
    SELECT id, amount, currency, booked_on, line_no
      FROM finance_statementline sl
     WHERE run_id = %(run)s AND posting_id IS NULL AND category <> ALL(%(skip)s)
       -- a second line for a reference already matched is a duplicate, not a candidate
       AND NOT (reference <> '' AND EXISTS (
               SELECT 1 FROM finance_statementline m
                WHERE m.run_id = sl.run_id AND m.reference = sl.reference
                  AND sign(m.amount) = sign(sl.amount) AND m.posting_id IS NOT NULL))
), c AS (
    SELECT l.id AS line_id, p.id AS posting_id, abs(p.booked_on - l.booked_on) AS gap,
           l.line_no
      FROM l JOIN recon_postings p
        ON p.line_id IS NULL AND p.currency = l.currency AND p.amount = l.amount
       AND abs(p.booked_on - l.booked_on) <= %(window)s
), for_line AS (
    SELECT DISTINCT ON (line_id) line_id, posting_id FROM c ORDER BY line_id, gap, posting_id
), for_posting AS (
    SELECT DISTINCT ON (posting_id) posting_id, line_id FROM c
     ORDER BY posting_id, gap, line_no
), pairs AS (
    SELECT for_line.line_id, for_line.posting_id
      FROM for_line JOIN for_posting USING (line_id, posting_id)
), upd AS (
    UPDATE finance_statementline sl SET posting_id = pairs.posting_id, match = 'amount_date'
      FROM pairs WHERE sl.id = pairs.line_id RETURNING sl.id, sl.posting_id
)
UPDATE recon_postings rp SET line_id = upd.id FROM upd WHERE rp.id = upd.posting_id
"""

MATCH_SQL = [
    # The postings in reach: this PSP's clearing accounts, within the period and its window.
    """
    CREATE TEMP TABLE recon_postings ON COMMIT DROP AS
    SELECT p.id, p.external_reference AS reference, -p.amount AS amount, p.currency,
           (p.posted_at AT TIME ZONE 'UTC')::date AS booked_on, NULL::bigint AS line_id,
           ((p.posted_at AT TIME ZONE 'UTC')::date BETWEEN %(start)s AND %(end)s) AS in_period
      FROM finance_posting p
     WHERE p.account_id IN (SELECT id FROM finance_ledgeraccount
                             WHERE kind = %(clearing)s AND psp = %(psp)s)
       AND p.posted_at >= (%(start)s::date - %(window)s)
       AND p.posted_at < (%(end)s::date + 1 + %(window)s)
    """,
    "CREATE INDEX ON recon_postings (reference)",
    "ANALYZE recon_postings",
    # 1. By reference, pairing the n-th line and the n-th posting per reference and direction.
    """
    WITH l AS (
        SELECT id, reference, sign(amount) AS s,
               row_number() OVER (PARTITION BY reference, sign(amount) ORDER BY line_no) AS rn
          FROM finance_statementline
         WHERE run_id = %(run)s AND reference <> '' AND category <> ALL(%(skip)s)
    ), p AS (
        SELECT id, reference, sign(amount) AS s,
               row_number() OVER (PARTITION BY reference, sign(amount) ORDER BY id) AS rn
          FROM recon_postings WHERE reference <> ''
    ), pairs AS (
        SELECT l.id AS line_id, p.id AS posting_id
          FROM l JOIN p ON p.reference = l.reference AND p.s = l.s AND p.rn = l.rn
    ), upd AS (
        UPDATE finance_statementline sl SET posting_id = pairs.posting_id, match = 'reference'
          FROM pairs WHERE sl.id = pairs.line_id RETURNING sl.id, sl.posting_id
    )
    UPDATE recon_postings rp SET line_id = upd.id FROM upd WHERE rp.id = upd.posting_id
    """,
    # 3. Differences.
    """
    INSERT INTO finance_reconciliationitem
        (run_id, kind, line_id, posting_id, reference, statement_amount, ledger_amount, currency,
         resolution)
    SELECT %(run)s,
           CASE WHEN sl.currency <> rp.currency THEN 'currency_mismatch'
                ELSE 'amount_mismatch' END,
           sl.id, rp.id, sl.reference, sl.amount, rp.amount, sl.currency, ''
      FROM finance_statementline sl JOIN recon_postings rp ON rp.id = sl.posting_id
     WHERE sl.run_id = %(run)s AND (sl.amount <> rp.amount OR sl.currency <> rp.currency)
    """,
    """
    INSERT INTO finance_reconciliationitem
        (run_id, kind, line_id, reference, statement_amount, currency, resolution)
    SELECT %(run)s,
           CASE WHEN EXISTS (SELECT 1 FROM finance_statementline m
                              WHERE m.run_id = sl.run_id AND m.reference = sl.reference
                                AND sl.reference <> '' AND sign(m.amount) = sign(sl.amount)
                                AND m.posting_id IS NOT NULL)
                THEN 'duplicate' ELSE 'missing_in_ledger' END,
           sl.id, sl.reference, sl.amount, sl.currency, ''
      FROM finance_statementline sl
     WHERE sl.run_id = %(run)s AND sl.posting_id IS NULL AND sl.category <> ALL(%(skip)s)
    """,
    """
    INSERT INTO finance_reconciliationitem
        (run_id, kind, posting_id, reference, ledger_amount, currency, resolution)
    SELECT %(run)s, 'missing_at_psp', rp.id, rp.reference, rp.amount, rp.currency, ''
      FROM recon_postings rp WHERE rp.line_id IS NULL AND rp.in_period
    """,
]


def _match(run: ReconciliationRun) -> dict:
    params = {
        "run": run.pk,
        "psp": run.psp,
        "clearing": LedgerAccount.Kind.PSP_CLEARING,
        "start": run.period_start,
        "end": run.period_end,
        "window": run.date_window_days,
        "skip": list(SKIP_CATEGORIES),
    }
    with connection.cursor() as cur:
        for sql in MATCH_SQL[:4]:  # the postings in reach, then by reference
            cur.execute(sql, params if "%(" in sql else None)
        for _round in range(20):
            cur.execute(AMOUNT_DATE_SQL, params)
            if cur.rowcount == 0:
                break
        for sql in MATCH_SQL[4:]:  # the differences
            cur.execute(sql, params)
        cur.execute(
            "SELECT match, count(*) FROM finance_statementline WHERE run_id = %s GROUP BY match",
            [run.pk],
        )
        matched = dict(cur.fetchall())
        cur.execute(
            "SELECT kind, count(*) FROM finance_reconciliationitem WHERE run_id = %s GROUP BY kind",
            [run.pk],
        )
        items = dict(cur.fetchall())
        cur.execute(
            "SELECT count(*) FROM finance_statementline WHERE run_id = %s AND category = ANY(%s)",
            [run.pk, list(SKIP_CATEGORIES)],
        )
        skipped = cur.fetchone()[0]
    return {
        "matched_reference": matched.get("reference", 0),
        "matched_amount_date": matched.get("amount_date", 0),
        "skipped": skipped,
        **{kind: items.get(kind, 0) for kind in ReconciliationItem.Kind.values},
        "differences": sum(items.values()),
    }


def _check_open(run: ReconciliationRun) -> None:
    closed = _period_closed(run.psp, run.period_start, run.period_end)
    if closed:
        raise InvalidInput(f"{closed:%B %Y} is closed; its reconciliation is locked.")


@transaction.atomic
def reconciliation_item_resolve(*, item: ReconciliationItem, reason: str, actor):
    """Explain a difference (e.g. "refund booked by the PSP on the 1st"). Audited."""
    if not actor.has_perm("finance.reconcile"):
        raise NotAllowed("Only finance officers reconcile.")
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
        action="reconciliation.item_resolved",
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
    if not actor.has_perm("finance.reconcile"):
        raise NotAllowed("Only finance officers close periods.")
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
        action="reconciliation.period_closed",
        target=run,
        evidence={"psp": run.psp, "month": f"{first:%Y-%m}", **run.counts},
    )
    return close
