"""Re-screening the whole book in the background (the compliance queue), as a `ScreeningJob`
whose progress the lists page polls.

- After a list snapshot (`delta`): every client is screened against the entries the list added
  or changed since the snapshot before it, and nothing else: the candidate join of
  `compliance.screening` restricted to those entries, in batches of the book, so it costs the
  changes, not the list. An undecided alert on an entry the list removed is cleared, naming
  the snapshot; one on a changed entry that no longer matches the client's name is cleared too.
  Hits raise alerts the way a single screening does (`services.run_record`: a dismissed pair is
  not raised again unless its entry changed).
- Nightly (`full`): every client against every current entry, raising what a list or a
  matcher change newly makes a hit.

The entries to screen are read when the job runs, against the snapshot before the one that
started it, so a job that runs after a later import of the same list still covers both.
"""

from __future__ import annotations

from django.db import connection, transaction
from django.utils import timezone

from brokerage.services import Actor, audit_record
from clients.locks import lock_client
from clients.models import Client
from kyc.models import KycSubmission

from . import audit_events
from .matching import Query
from .models import (
    UNDECIDED,
    Alert,
    AlertStatus,
    JobKind,
    JobStatus,
    ListSnapshot,
    NameOrigin,
    ScreeningJob,
    ScreeningReason,
)
from .screening import current_snapshots, screen
from .services import KYC_DETAILS, best_hits, queries_of, run_record

ACTOR = "rule:screening_rescreen"
BOOK_BATCH = 5000
# Names a re-screen of the book reads; an alert on another (a payer, a document) is left open.
BOOK_ORIGINS = (NameOrigin.REGISTERED, NameOrigin.LEGAL, NameOrigin.KYC_DETAILS)

DELTA_ENTRIES_SQL = """
SELECT e.id FROM compliance_listentry e
 WHERE e.snapshot_id = %(current)s
   AND NOT EXISTS (
       SELECT 1 FROM compliance_listentry p
        WHERE p.snapshot_id = %(baseline)s AND p.list_id = e.list_id
          AND p.content_hash = e.content_hash)
"""
REMOVED_SQL = """
SELECT p.list_id FROM compliance_listentry p
 WHERE p.snapshot_id = %(baseline)s
   AND NOT EXISTS (
       SELECT 1 FROM compliance_listentry e
        WHERE e.snapshot_id = %(current)s AND e.list_id = p.list_id)
"""
CHANGED_SQL = """
SELECT e.list_id FROM compliance_listentry e
  JOIN compliance_listentry p ON p.snapshot_id = %(baseline)s AND p.list_id = e.list_id
 WHERE e.snapshot_id = %(current)s AND p.content_hash <> e.content_hash
"""


def rescreen_job_start(*, kind: str, actor: Actor, snapshot: ListSnapshot | None = None):
    """Queue a re-screen of the book (in the caller's transaction; it runs once that commits)."""
    from .tasks import book_rescreen_task

    job = ScreeningJob.objects.create(
        kind=kind,
        snapshot=snapshot,
        actor_label=actor if isinstance(actor, str) else actor.email,
    )
    transaction.on_commit(lambda: book_rescreen_task.delay(job.pk), robust=True)
    return job


def book_queries() -> list[tuple[int, Query]]:
    """(client id, query) for every client and partner holder: what `services.subject_queries`
    screens of each, read in two statements."""
    details = {
        row["client_id"]: row
        for row in KycSubmission.objects.order_by("client_id", "-created_at", "-pk")
        .distinct("client_id")
        .values("client_id", *KYC_DETAILS)
    }
    out = []
    rows = Client.objects.order_by("pk").values_list(
        "pk", "user__first_name", "user__last_name", "legal_name"
    )
    for pk, first, last, legal in rows.iterator(chunk_size=10_000):
        for query in queries_of(
            person=f"{first} {last}", legal=legal, details=details.get(pk, {}), reported=None
        ):
            out.append((pk, query))
    return out


def _ids(sql: str, params: dict) -> list:
    with connection.cursor() as cur:
        cur.execute(sql, params)
        return [row[0] for row in cur.fetchall()]


def job_progress(job: ScreeningJob, **fields) -> None:
    """Written at once (no transaction open), so the lists page sees it while the job runs."""
    for name, value in fields.items():
        setattr(job, name, value)
    ScreeningJob.objects.filter(pk=job.pk).update(**fields)


def book_rescreen(*, job_id: int) -> ScreeningJob:
    """Run the job (see the module docstring). A job already done is left as it is; one that
    stopped half-way runs again from the start, raising nothing twice (alerts are remembered
    per pair)."""
    job = ScreeningJob.objects.select_related("snapshot__source").get(pk=job_id)
    if job.status == JobStatus.DONE:
        return job
    job_progress(job, status=JobStatus.RUNNING, started_at=timezone.now(), done=0)
    try:
        return _run(job)
    except Exception as exc:
        job_progress(
            job, status=JobStatus.FAILED, message=str(exc)[:500], finished_at=timezone.now()
        )
        raise


def _run(job: ScreeningJob) -> ScreeningJob:
    entries, removed, changed, lists, source = None, [], [], None, None
    if job.kind == JobKind.DELTA:
        source = job.snapshot.source
        current = ListSnapshot.objects.filter(source=source, is_current=True).first()
        if current is None:
            job_progress(job, status=JobStatus.DONE, finished_at=timezone.now())
            return job
        params = {"current": current.pk, "baseline": job.snapshot.previous_id or 0}
        entries = _ids(DELTA_ENTRIES_SQL, params)
        removed = _ids(REMOVED_SQL, params)
        changed = _ids(CHANGED_SQL, params)
        lists = [source.code]
    snapshots = current_snapshots(lists)
    book = book_queries()
    clients = sorted({pk for pk, _ in book})
    job_progress(job, total=len(clients))
    found_by: dict[int, tuple[list[Query], list]] = {}  # per client, its queries with hits
    if snapshots and (entries is None or entries):
        seen: set[int] = set()
        for start in range(0, len(book), BOOK_BATCH):
            batch = book[start : start + BOOK_BATCH]
            results = screen([q for _, q in batch], lists=lists, entries=entries, typos=False)
            for (pk, query), found in zip(batch, results, strict=True):
                seen.add(pk)
                if found:
                    queries, hits = found_by.setdefault(pk, ([], []))
                    queries.append(query)
                    hits.append(found)
            job_progress(job, done=len(seen))
    reason = ScreeningReason.LIST_UPDATE if job.kind == JobKind.DELTA else ScreeningReason.NIGHTLY
    reference = f"{source.name} snapshot #{job.snapshot_id}" if source else f"job #{job.pk}"
    raised, still = 0, set()
    for pk, (queries, results) in found_by.items():
        best = best_hits(queries, results)
        with transaction.atomic():
            run = run_record(
                client=lock_client(pk),
                reason=reason,
                reference=reference,
                queries=queries,
                best=best,
                snapshots=snapshots,
                actor=ACTOR,
            )
        raised += run.raised_count
        still.update((pk, hit.entry_id) for hit, _ in best.values())
    cleared = 0
    if source is not None:
        cleared = _clear(job, source, removed, "removed from the list")
        cleared += _clear(job, source, changed, "changed so it no longer matches", still=still)
    with transaction.atomic():
        job_progress(
            job,
            status=JobStatus.DONE,
            done=len(clients),
            hit_clients=len(found_by),
            raised_count=raised,
            cleared_count=cleared,
            finished_at=timezone.now(),
        )
        audit_record(
            actor=ACTOR,
            action=audit_events.BOOK_RESCREENED,
            target=job,
            reason=job.get_kind_display(),
            evidence={
                "snapshot": job.snapshot_id,
                "snapshots": [s.pk for s in snapshots],
                "entries": None if entries is None else len(entries),
                "clients": len(clients),
                "clients_with_hits": len(found_by),
                "raised": raised,
                "cleared": cleared,
            },
        )
    return job


def _clear(job, source, list_ids, why: str, *, still: set | None = None) -> int:
    """Clear the undecided alerts on `list_ids` of `source` (but not a pair in `still`, nor,
    for a changed entry, one on a name the book does not read), each audited."""
    if not list_ids:
        return 0
    alerts = Alert.objects.filter(source=source, list_id__in=list_ids, status__in=UNDECIDED)
    if still is not None:
        alerts = alerts.filter(name_origin__in=BOOK_ORIGINS)
    cleared = 0
    for alert_id, client_id, list_id in alerts.values_list("pk", "client_id", "list_id"):
        if still is not None and (client_id, list_id) in still:
            continue
        with transaction.atomic():
            lock_client(client_id)
            alert = Alert.objects.select_for_update().select_related("client").get(pk=alert_id)
            if alert.status not in UNDECIDED:
                continue
            alert.status, alert.cleared_by_id = AlertStatus.CLEARED, job.snapshot_id
            alert.cleared_at = timezone.now()
            alert.save(update_fields=["status", "cleared_by", "cleared_at"])
            audit_record(
                actor=ACTOR,
                action=audit_events.ALERT_CLEARED,
                target=alert,
                subject=alert.client,
                reason=f"Entry {list_id} {why} in {source.name} snapshot #{job.snapshot_id}",
                evidence={
                    "list": source.code,
                    "list_id": list_id,
                    "snapshot": job.snapshot_id,
                    "job": job.pk,
                    "score": str(alert.score),
                },
            )
        cleared += 1
    return cleared
