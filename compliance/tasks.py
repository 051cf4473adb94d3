"""Compliance's background work, on the `compliance` queue: screening a client or partner once
their registration commits, or once something new is known of who they are (a name on an
identity document, a deposit's payer, changed details), and the sweeper that screens whoever
was never screened."""

import threading
import time
from datetime import timedelta

from celery import current_app, shared_task, signals
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from . import dossier, imports, rescreen, services
from .book import book_index_clients
from .models import DossierExport, JobKind, JobStatus, ScreeningReason
from .screening import index_warm_logged

# How often a compliance worker process checks that it holds the candidate index of the
# current lists (one query), reading a newly imported one ahead of the screenings that need it.
INDEX_WARM_SECONDS = 30


@shared_task(acks_late=True, time_limit=120, soft_time_limit=110)
def client_screen_task(
    client_id: int, reason: str = ScreeningReason.REGISTRATION, reported: dict | None = None
) -> int:
    return services.client_screen(client_id=client_id, reason=reason, reported=reported).pk


@shared_task(acks_late=True, time_limit=600, soft_time_limit=590)
def never_screened_sweep_task() -> int:
    return services.never_screened_sweep()


@shared_task(acks_late=True, time_limit=1800, soft_time_limit=1790)
def jurisdiction_apply_task() -> dict:
    """Rules whose start or end time has come (and clients who moved into or out of a rule's
    reach): restricted or lifted, set-based in batches, pairs already applied skipped; the
    leads a blocked rule that ended held are released to routing; an officer's rule change
    whose task was lost is queued again."""
    from leads.held import leads_held_release

    from .jurisdictions import jurisdiction_apply_batched, rule_apply_jobs_stuck

    stuck = rule_apply_jobs_stuck()
    for job_id in stuck:
        rule_apply_task.delay(job_id)
    return {
        **jurisdiction_apply_batched(),
        "leads_released": leads_held_release(),
        "jobs_requeued": len(stuck),
    }


@shared_task(acks_late=True, time_limit=1800, soft_time_limit=1790)
def rule_apply_task(job_id: int) -> str:
    """An officer's rule added or ended with effect now, applied to its clients."""
    from .jurisdictions import rule_apply_job_run

    job = rule_apply_job_run(job_id=job_id)
    return job.status if job else "missing"


def screen_registered(client_id: int) -> None:
    """A client or partner was registered (the kernel's `client.registered` hook): index their
    names for re-screens of the book, and screen them once that commits. A broker that cannot
    be reached never fails the registration (robust): the sweeper screens whoever was never
    screened."""
    book_index_clients([client_id])
    transaction.on_commit(lambda: client_screen_task.delay(client_id), robust=True)


# What each origin of `client.name_reported` is screened as.
REPORTED_REASONS = {
    "kyc_document": ScreeningReason.KYC_DOCUMENT,
    "deposit_payer": ScreeningReason.DEPOSIT_PAYER,
    "details_changed": ScreeningReason.DETAILS_CHANGED,
}


def screen_reported(
    client_id: int, *, origin: str, name="", reference="", dob=None, nationality=""
):
    """Something new is known of who a client is (the kernel's `client.name_reported` hook):
    screen the client again, with the reported name, once that commits. Changed details are
    indexed for re-screens of the book at once."""
    reason = REPORTED_REASONS[origin]
    if origin == "details_changed":
        book_index_clients([client_id])
    reported = {
        "origin": origin,
        "name": name,
        "reference": reference,
        "dob": dob.isoformat() if dob else "",
        "nationality": nationality,
    }
    transaction.on_commit(
        lambda: client_screen_task.delay(client_id, reason, reported), robust=True
    )


@shared_task(acks_late=True, time_limit=60, soft_time_limit=50)
def risk_assess_task(client_id: int, cause: str) -> int | None:
    from .rating import risk_assess

    assessment = risk_assess(client_id=client_id, cause=cause)
    return assessment.pk if assessment else None


@shared_task(acks_late=True, time_limit=1800, soft_time_limit=1790)
def risk_sweep_task() -> int:
    from .rating import risk_sweep

    return risk_sweep()


@shared_task(acks_late=True, time_limit=1800, soft_time_limit=1790)
def risk_deals_task(deal_ids: list[int]) -> int:
    from .rating import deals_rerate

    return deals_rerate(deal_ids)


def rate_synced_deals(deal_ids: list[int]) -> None:
    """A sync pass stored new deals (the kernel's `platform.deals_synced` hook): rate their
    clients again on the compliance queue once that commits. A broker that cannot be reached
    fails nothing (robust): the nightly sweep rates the book."""
    ids = list(deal_ids)
    transaction.on_commit(lambda: risk_deals_task.delay(ids), robust=True)


@shared_task(acks_late=True, time_limit=1800, soft_time_limit=1790)
def country_rerate_task(country: str, cause: str = "") -> int:
    from .rating import country_rerate

    return country_rerate(country, cause)


def rate_again(client_id: int, cause: str) -> None:
    """Something the client's risk rating reads changed (the kernel's
    `client.risk_factor_changed` hook): rate them again once that commits. A broker that cannot
    be reached fails nothing (robust): the nightly sweep rates the book."""
    transaction.on_commit(lambda: risk_assess_task.delay(client_id, cause), robust=True)


@shared_task(acks_late=True, time_limit=3600, soft_time_limit=3550)
def book_rescreen_task(job_id: int) -> int:
    return rescreen.book_rescreen(job_id=job_id).pk


@shared_task(acks_late=True, time_limit=3600, soft_time_limit=3550)
def book_batch_task(job_id: int) -> int:
    """A helper of a full re-screen: claims the job's batches left until none is."""
    return rescreen.book_batches_work(job_id=job_id).pk


@shared_task(acks_late=True, time_limit=60, soft_time_limit=50)
def book_rescreen_sweep_task() -> int:
    """Re-screens of the book whose task was lost (never started, or a batch left unclaimed or
    held by a worker that died): queued again."""
    jobs = rescreen.book_rescreen_jobs_stuck()
    for job_id in jobs:
        book_rescreen_task.delay(job_id)
    return len(jobs)


@shared_task(acks_late=True, time_limit=600, soft_time_limit=590)
def nightly_rescreen_task() -> int:
    """Queue the nightly full re-screen of every client (it runs as its own job)."""
    with transaction.atomic():
        return rescreen.rescreen_job_start(kind=JobKind.FULL, actor="rule:screening_nightly").pk


@shared_task(acks_late=True, time_limit=1800, soft_time_limit=1790)
def list_import_task(job_id: int) -> int:
    return imports.list_import_run(job_id=job_id).pk


@shared_task(acks_late=True, time_limit=1800, soft_time_limit=1790)
def dossier_build_task(export_id: int) -> int:
    return dossier.dossier_export_run(export_id).pk


@shared_task(acks_late=True, time_limit=60, soft_time_limit=50)
def dossier_sweep_task() -> int:
    """Dossiers queued over a minute ago and never started (a lost task), or running for longer
    than a build may (a worker that died): built again."""
    now = timezone.now()
    stuck = DossierExport.objects.filter(
        Q(status=JobStatus.QUEUED, requested_at__lt=now - timedelta(minutes=1))
        | Q(status=JobStatus.RUNNING, started_at__lt=now - timedelta(minutes=35))
    ).values_list("pk", flat=True)
    ids = list(stuck[:50])
    for pk in ids:
        dossier_build_task.delay(pk)
    return len(ids)


# --- The candidate index read ahead in every compliance worker process --------------------------


@signals.worker_process_init.connect
def index_kept_warm(**kwargs) -> None:
    """A worker process of the compliance queue starts: read the lists' candidate index, and
    again within `INDEX_WARM_SECONDS` of each import, in a thread of its own (the process
    starts at once; a task that needs the index meanwhile waits for that read, not another)."""
    if "compliance" not in getattr(current_app.amqp.queues, "consume_from", {}):
        return
    threading.Thread(target=_keep_warm, name="screening-index", daemon=True).start()


def _keep_warm() -> None:
    while True:
        try:
            index_warm_logged()
        finally:
            connection.close()  # this thread's own connection, not held between checks
        time.sleep(INDEX_WARM_SECONDS)


@signals.task_prerun.connect
def index_warm_before_task(task=None, **kwargs) -> None:
    """Before each screening task a worker runs (not one run inline): the index of the current
    lists, read now if this process holds another (one query when it does)."""
    if task is None or task.request.is_eager or not task.name.startswith(__name__ + "."):
        return
    index_warm_logged()
