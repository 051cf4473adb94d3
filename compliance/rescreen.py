"""Re-screening the whole book in the background (the compliance queue), as a `ScreeningJob`
whose progress the lists page polls.

The book is read from its candidate index (`compliance.book`: every client's screened names,
normalised when they were registered or changed), brought up to date first for any client
whose names changed another way.

- After a list snapshot (`delta`): every client is screened against the entries the list added
  or changed since the snapshot before it, and nothing else: the book's token index gives the
  names enough of whose tokens share a phonetic key (or a word) with a changed entry's names
  (or one fewer, and a misspelling of one), and only those are
  loaded and given their candidates among the changed entries by the candidate index held in
  memory, as a batch of the book is (`book.book_candidates`); it costs the changes, not the
  book. Those names are screened and recorded in parts of `BOOK_BATCH` names, the job saying
  it is alive after each (`heartbeat_at`): a delta whose worker died is run again from the
  start by the sweeper once silent for `DELTA_STALE`, recording no client twice. An undecided
  alert on an entry the list removed is cleared, naming the snapshot; one on a changed entry
  that no longer matches the client's name is cleared too. Hits raise alerts the way a single
  screening does (`services.run_record`: a dismissed pair is not raised again unless its entry
  changed).
- Nightly (`full`): every client against every current entry, raising what a list or a
  matcher change newly makes a hit. The book is split into batches of clients (`BookBatch`,
  `BOOK_BATCH` clients each, by client id); the task that starts the job queues one helper
  task per further batch on the compliance queue, and every task claims batches one at a time
  (`SELECT … FOR UPDATE SKIP LOCKED`) until none is left, so the batches run on every worker
  process at once; each batch's names are screened through the candidate index held in the
  worker's memory (`compliance.candidates`), its clients' runs and alerts written, and its
  counts added to the job's progress in the transaction that marks it done. The task that
  finishes the last batch finishes the job. A claim left running longer than
  `BATCH_STALE` (a worker that died) is claimed again; a batch run twice raises nothing twice
  and counts once.

The entries to screen are read when the job runs, against the snapshot before the one that
started it, so a job that runs after a later import of the same list still covers both.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from brokerage.services import Actor, audit_record
from clients.locks import lock_client

from . import audit_events
from .book import book_candidates, book_index_refresh, book_meeting
from .matching import SINGLE_TOKEN_CAP, Query
from .models import (
    UNDECIDED,
    Alert,
    AlertStatus,
    BookBatch,
    BookClient,
    BookName,
    JobKind,
    JobStatus,
    ListSnapshot,
    NameOrigin,
    ScreeningJob,
    ScreeningReason,
    ScreeningRun,
)
from .screening import candidate_pairs, candidates_score, current_snapshots
from .services import best_hits, runs_record

ACTOR = "rule:screening_rescreen"
BOOK_BATCH = 5000
RECORD_BATCH = 500  # clients whose runs and alerts one transaction writes
BATCH_STALE = timedelta(minutes=15)  # a batch takes seconds; a claim this old was lost
BATCH_ATTEMPTS = 3  # a batch that failed this often is left failed (its job with the error)
# Names a re-screen of the book reads; an alert on another (a payer, a document) is left open.
BOOK_ORIGINS = (NameOrigin.REGISTERED, NameOrigin.LEGAL, NameOrigin.KYC_DETAILS)
# A delta says it is alive after each part of the book it screens (seconds apart); one running
# and silent this long was lost with its worker, and is run again.
DELTA_STALE = timedelta(minutes=10)

DELTA_CLAIM_SQL = """
UPDATE compliance_screeningjob
   SET status = 'running', started_at = now(), heartbeat_at = now(), done = 0, message = ''
 WHERE id = %(job)s
   AND (status IN ('queued', 'failed')
        OR (status = 'running'
            AND COALESCE(heartbeat_at, started_at, created_at) < now() - %(stale)s))
RETURNING id
"""

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
    stopped half-way runs again (a delta from the start, a full re-screen from the batches not
    done), raising nothing twice (alerts are remembered per pair) and recording each client of
    a delta once. A delta another worker is running (it said so within `DELTA_STALE`) is left
    to it."""
    job = ScreeningJob.objects.select_related("snapshot__source").get(pk=job_id)
    if job.status == JobStatus.DONE:
        return job
    if job.kind == JobKind.FULL:
        return _full_start(job)
    if not _delta_claim(job):
        return job
    try:
        return _delta(job)
    except Exception as exc:
        _failed(job, exc)
        raise


def _delta_claim(job: ScreeningJob) -> bool:
    """Take the delta to run (committed at once): queued, failed, or running but silent for
    `DELTA_STALE` (its worker died)."""
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(DELTA_CLAIM_SQL, {"job": job.pk, "stale": DELTA_STALE})
        claimed = cur.fetchone() is not None
    if claimed:
        job.refresh_from_db()
    return claimed


def _failed(job: ScreeningJob, exc: Exception) -> None:
    job_progress(job, status=JobStatus.FAILED, message=str(exc)[:500], finished_at=timezone.now())


def _delta(job: ScreeningJob) -> ScreeningJob:
    source = job.snapshot.source
    current = ListSnapshot.objects.filter(source=source, is_current=True).first()
    if current is None:
        job_progress(job, status=JobStatus.DONE, finished_at=timezone.now())
        return job
    params = {"current": current.pk, "baseline": job.snapshot.previous_id or 0}
    entries = _ids(DELTA_ENTRIES_SQL, params)
    removed = _ids(REMOVED_SQL, params)
    changed = _ids(CHANGED_SQL, params)
    # Scored through the candidate index of every current list (the one a single screening
    # reads, held in memory), among this list's entries only.
    everything = current_snapshots()
    snapshots = [s for s in everything if s.source_id == source.pk]
    book_index_refresh()
    total = BookClient.objects.count()
    job_progress(job, total=total, heartbeat_at=timezone.now())
    reference = f"{source.name} snapshot #{job.snapshot_id}"
    hit_clients, raised, still = 0, 0, set()
    floor = 2 if all(float(s.source.threshold) > SINGLE_TOKEN_CAP for s in everything) else 1
    book = book_meeting(everything, entries=entries, floor=floor) if snapshots and entries else []
    read = 0
    for part in _by_client(book, BOOK_BATCH):
        candidates, names = book_candidates(everything, part, entries=entries)
        found_by: dict[int, tuple[list[Query], list]] = {}  # per client, its names with hits
        _collect(
            found_by, candidates, candidates_score([q for _, q in candidates], names, everything)
        )
        part_raised, part_still = _record(
            found_by, ScreeningReason.LIST_UPDATE, reference, snapshots, once=True
        )
        hit_clients += len(found_by)
        raised += part_raised
        still |= part_still
        read += len(part)
        job_progress(job, done=total * read // len(book), heartbeat_at=timezone.now())
    job_progress(job, done=total)
    cleared = _clear(job, source, removed, "removed from the list")
    cleared += _clear(job, source, changed, "changed so it no longer matches", still=still)
    with transaction.atomic():
        job_progress(
            job,
            status=JobStatus.DONE,
            hit_clients=hit_clients,
            raised_count=raised,
            cleared_count=cleared,
            finished_at=timezone.now(),
        )
        _audit(job, snapshots, entries=len(entries), cleared=cleared)
    return job


def _collect(found_by, candidates, results) -> None:
    for (pk, query), found in zip(candidates, results, strict=True):
        if found:
            queries, hits = found_by.setdefault(pk, ([], []))
            queries.append(query)
            hits.append(found)


def _by_client(book: list[tuple[int, Query]], size: int):
    """`book` (ordered by client) in parts of about `size` names, a client's names together."""
    part: list[tuple[int, Query]] = []
    for item in book:
        if len(part) >= size and item[0] != part[-1][0]:
            yield part
            part = []
        part.append(item)
    if part:
        yield part


def _record(found_by, reason: str, reference: str, snapshots, *, once=False) -> tuple[int, set]:
    """The clients' runs and alerts (`services.runs_record`, a few hundred clients a
    transaction): (alerts raised, the (client, list id) pairs still hit). `once`: a client
    this job recorded already (a delta run again after its worker died) is not recorded again,
    and what it raised then is counted."""
    raised, still = 0, set()
    clients = sorted(found_by)
    for start in range(0, len(clients), RECORD_BATCH):
        screened = {}
        mine = clients[start : start + RECORD_BATCH]
        recorded = (
            dict(
                ScreeningRun.objects.filter(
                    client_id__in=mine, reason=reason, reference=reference[:120]
                ).values_list("client_id", "raised_count")
            )
            if once
            else {}
        )
        raised += sum(recorded.values())
        for pk in mine:
            queries, results = found_by[pk]
            best = best_hits(queries, results)
            still.update((pk, hit.entry_id) for hit, _ in best.values())
            if pk not in recorded:
                screened[pk] = (queries, best)
        if not screened:
            continue
        with transaction.atomic():
            runs = runs_record(
                screened=screened,
                reason=reason,
                reference=reference,
                snapshots=snapshots,
                actor=ACTOR,
            )
        raised += sum(run.raised_count for run in runs)
    return raised, still


def _audit(job: ScreeningJob, snapshots, *, entries: int | None, cleared: int) -> None:
    audit_record(
        actor=ACTOR,
        action=audit_events.BOOK_RESCREENED,
        target=job,
        reason=job.get_kind_display(),
        evidence={
            "snapshot": job.snapshot_id,
            "snapshots": [s.pk for s in snapshots],
            "entries": entries,
            "clients": job.total,
            "clients_with_hits": job.hit_clients,
            "raised": job.raised_count,
            "cleared": cleared,
            **({"batches": job.batches.count()} if job.kind == JobKind.FULL else {}),
        },
    )


# --- A full re-screen, in batches claimed by every worker ---------------------------------------


def book_batches_plan(job: ScreeningJob, *, helpers: bool = True) -> int:
    """Split a full re-screen's book into its batches (once: a job planned before keeps its
    batches), mark it running and, with `helpers`, queue a helper task per batch left beyond
    the first once that commits (each claims what is left; a broker that cannot be reached
    leaves them to the task that planned them). Returns how many batches are not done."""
    from .tasks import book_batch_task

    with transaction.atomic():
        job = ScreeningJob.objects.select_for_update().get(pk=job.pk)
        if not job.batches.exists():
            book_index_refresh()
            clients = list(BookClient.objects.order_by("pk").values_list("pk", flat=True))
            BookBatch.objects.bulk_create(
                [
                    BookBatch(
                        job=job,
                        low=clients[start],
                        high=clients[min(start + BOOK_BATCH, len(clients)) - 1],
                        size=len(clients[start : start + BOOK_BATCH]),
                    )
                    for start in range(0, len(clients), BOOK_BATCH)
                ]
            )
            job_progress(job, total=len(clients), done=0, started_at=timezone.now())
        job_progress(job, status=JobStatus.RUNNING, message="")
        left = job.batches.exclude(status=JobStatus.DONE).count()
        if helpers and left > 1:
            transaction.on_commit(
                lambda: [book_batch_task.delay_logged(job.pk) for _ in range(left - 1)],
                robust=True,
            )
        return left


def _full_start(job: ScreeningJob) -> ScreeningJob:
    """Plan the batches (queueing the helpers) and work them in this task too."""
    book_batches_plan(job)
    return book_batches_work(job_id=job.pk)


CLAIM_SQL = """
UPDATE compliance_bookbatch SET status = 'running', claimed_at = now(), attempts = attempts + 1
 WHERE id = (SELECT id FROM compliance_bookbatch
              WHERE job_id = %(job)s
                AND (status = 'queued'
                     OR (status = 'failed' AND attempts < %(attempts)s)
                     OR (status = 'running' AND claimed_at < now() - %(stale)s))
              ORDER BY low
              LIMIT 1
                FOR UPDATE SKIP LOCKED)
RETURNING id
"""


def book_batch_claim(job_id: int) -> BookBatch | None:
    """The next batch of the job no worker holds (committed at once, so the others skip it)."""
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(CLAIM_SQL, {"job": job_id, "stale": BATCH_STALE, "attempts": BATCH_ATTEMPTS})
        row = cur.fetchone()
    return BookBatch.objects.get(pk=row[0]) if row else None


def book_batches_work(*, job_id: int) -> ScreeningJob:
    """Claim and run the job's batches until none is left, then finish the job if every batch
    is done (whichever worker finishes the last one finishes it)."""
    job = ScreeningJob.objects.get(pk=job_id)
    if job.status == JobStatus.DONE:
        return job
    snapshots = current_snapshots()
    while (batch := book_batch_claim(job_id)) is not None:
        try:
            _batch_run(batch, snapshots)
        except Exception as exc:
            BookBatch.objects.filter(pk=batch.pk, status=JobStatus.RUNNING).update(
                status=JobStatus.FAILED
            )
            _failed(job, exc)
            raise
    return _full_finish(job_id, snapshots)


def _batch_run(batch: BookBatch, snapshots) -> None:
    rows = (
        BookName.objects.filter(client_id__gte=batch.low, client_id__lte=batch.high)
        .order_by("client_id", "pk")
        .values_list("client_id", "origin", "name", "kind", "dob", "nationality")
    )
    candidates = [
        (client_id, Query(name=name, kind=kind, dob=dob, nationality=nationality, origin=origin))
        for client_id, origin, name, kind, dob, nationality in rows
    ]
    found_by: dict[int, tuple[list[Query], list]] = {}
    if snapshots and candidates:
        queries = [q for _, q in candidates]
        pairs = candidate_pairs(queries, snapshots, hits_only=True)
        names = [pairs.get(i, set()) for i in range(len(queries))]
        _collect(found_by, candidates, candidates_score(queries, names, snapshots))
    reference = f"job #{batch.job_id}"
    raised, _still = _record(found_by, ScreeningReason.NIGHTLY, reference, snapshots)
    with transaction.atomic():
        batch = BookBatch.objects.select_for_update().get(pk=batch.pk)
        if batch.status == JobStatus.DONE:  # run twice (a stale claim taken over): counted once
            return
        batch.status, batch.finished_at = JobStatus.DONE, timezone.now()
        batch.hit_clients, batch.raised_count = len(found_by), raised
        batch.save(update_fields=["status", "finished_at", "hit_clients", "raised_count"])
        ScreeningJob.objects.filter(pk=batch.job_id).update(
            done=F("done") + batch.size,
            hit_clients=F("hit_clients") + len(found_by),
            raised_count=F("raised_count") + raised,
        )


def book_rescreen_jobs_stuck() -> list[int]:
    """Re-screens of the book not done whose work nobody is doing: queued over a minute ago
    and never started, a delta running but silent for `DELTA_STALE` (its worker died), or a
    full one with a batch unclaimed (or failed) and no batch claimed or finished for two
    minutes, or a claim older than `BATCH_STALE`."""
    now = timezone.now()
    quiet = now - timedelta(minutes=2)
    stuck = []
    for job in ScreeningJob.objects.filter(
        kind__in=(JobKind.DELTA, JobKind.FULL),
        status__in=(JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.FAILED),
        created_at__lt=now - timedelta(minutes=1),
    ).order_by("pk")[:50]:
        batches = list(job.batches.values_list("status", "claimed_at", "finished_at", "attempts"))
        if job.status == JobStatus.QUEUED and not batches:
            stuck.append(job.pk)
            continue
        if job.kind == JobKind.DELTA:  # running, and silent since its worker died
            alive = job.heartbeat_at or job.started_at or job.created_at
            if job.status == JobStatus.RUNNING and alive < now - DELTA_STALE:
                stuck.append(job.pk)
            continue
        moments = [m for _s, claimed, finished, _a in batches for m in (claimed, finished) if m]
        waiting = any(
            s == JobStatus.QUEUED or (s == JobStatus.FAILED and a < BATCH_ATTEMPTS)
            for s, _c, _f, a in batches
        )
        lost = any(
            s == JobStatus.RUNNING and c and c < now - BATCH_STALE for s, c, _f, _a in batches
        )
        if lost or (waiting and (not moments or max(moments) < quiet)):
            stuck.append(job.pk)
    return stuck


def _full_finish(job_id: int, snapshots) -> ScreeningJob:
    with transaction.atomic():
        job = ScreeningJob.objects.select_for_update().get(pk=job_id)
        if job.status == JobStatus.DONE or job.batches.exclude(status=JobStatus.DONE).exists():
            return job
        job.status, job.finished_at, job.done = JobStatus.DONE, timezone.now(), job.total
        job.save(update_fields=["status", "finished_at", "done"])
        _audit(job, snapshots, entries=None, cleared=0)
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
