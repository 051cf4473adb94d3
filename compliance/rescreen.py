"""Re-screening the whole book in the background (the compliance queue), as a `ScreeningJob`
whose progress the lists page polls.

The book is read from its candidate index (`compliance.book`: every client's screened names,
normalised when they were registered or changed), brought up to date first for any client
whose names changed another way.

- After a list snapshot (`delta`): every client is screened against the entries the list added
  or changed since the snapshot before it, and nothing else: one statement joins those
  entries' tokens to the book's, so only the clients who share a token or a phonetic key with
  a changed entry are loaded and scored; it costs the changes, not the book. An undecided
  alert on an entry the list removed is cleared, naming the snapshot; one on a changed entry
  that no longer matches the client's name is cleared too. Hits raise alerts the way a single
  screening does (`services.run_record`: a dismissed pair is not raised again unless its entry
  changed).
- Nightly (`full`): every client against every current entry, in batches of the book,
  raising what a list or a matcher change newly makes a hit.

The entries to screen are read when the job runs, against the snapshot before the one that
started it, so a job that runs after a later import of the same list still covers both.
"""

from __future__ import annotations

from django.db import connection, transaction
from django.utils import timezone

from brokerage.services import Actor, audit_record
from clients.locks import lock_client

from . import audit_events
from .book import book_candidates, book_index_refresh
from .matching import Query
from .models import (
    UNDECIDED,
    Alert,
    AlertStatus,
    BookClient,
    JobKind,
    JobStatus,
    ListSnapshot,
    NameOrigin,
    ScreeningJob,
    ScreeningReason,
)
from .screening import candidates_score, current_snapshots
from .services import best_hits, run_record

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
    book_index_refresh()
    indexed = BookClient.objects.order_by("pk").values_list("pk", flat=True)
    if entries is not None:  # a delta: one statement over the whole book
        total = indexed.count()
        batches = [({"entries": entries}, total)] if snapshots and entries else []
    else:
        clients = list(indexed)
        total = len(clients)
        batches = [
            ({"clients": (clients[start], clients[min(start + BOOK_BATCH, total) - 1])},
             min(start + BOOK_BATCH, total))
            for start in range(0, total, BOOK_BATCH)
        ]  # fmt: skip
    job_progress(job, total=total)
    found_by: dict[int, tuple[list[Query], list]] = {}  # per client, its queries with hits
    snapshot_ids = [s.pk for s in snapshots]
    for batch, done in batches:
        candidates, names = book_candidates(snapshot_ids, **batch)
        results = candidates_score([q for _, q in candidates], names, snapshots)
        for (pk, query), found in zip(candidates, results, strict=True):
            if found:
                queries, hits = found_by.setdefault(pk, ([], []))
                queries.append(query)
                hits.append(found)
        job_progress(job, done=done)
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
            done=total,
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
                "clients": total,
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
