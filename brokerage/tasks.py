"""Housekeeping tasks of the kernel. Thin: each calls a service or a command."""

import logging

from celery import shared_task
from django.core.management import call_command

from .audit import audit_chain_verify, audit_seal, audit_seal_all

log = logging.getLogger(__name__)


@shared_task(acks_late=True, time_limit=120, soft_time_limit=100)
def audit_seal_task() -> int:
    """Seal what the sealer process left (it seals within a second while it runs)."""
    sealed = 0
    while n := audit_seal():
        sealed += n
    return sealed


@shared_task(acks_late=True, time_limit=1800, soft_time_limit=1700)
def audit_chain_verify_task() -> dict:
    audit_seal_all()
    result = audit_chain_verify()
    if result.ok:
        log.info("audit chain intact: %s events", result.checked)
    else:
        log.error("AUDIT CHAIN BROKEN at seq %s: %s", result.broken_seq, result.problem)
    return {"ok": result.ok, "checked": result.checked, "broken_seq": result.broken_seq}


@shared_task(acks_late=True, time_limit=600)
def sessions_clear_expired_task() -> None:
    call_command("clearsessions")


@shared_task(acks_late=True, time_limit=30, soft_time_limit=25)
def echo_task(value: str, relay: str | None = None) -> str:
    """Round trip used by the health page and the worker integration tests; `relay` enqueues a
    second echo from inside this one (work a task hands on keeps its request's id)."""
    from .kv import redis_client

    redis_client().set(f"echo:{value}", value, ex=300)
    log.info("echo %s", value)
    if relay:
        echo_task.delay(relay)
    return value


@shared_task(acks_late=True, time_limit=300, soft_time_limit=280)
def rollups_refresh_task(skip=(), deals: bool = False) -> dict:
    """Bring the leadership rollups up to now, but those named in `skip` (queued on commit of
    a money row, `deals` after sync passes' deals, and by the beat: every rollup)."""
    from django.core.cache import cache

    from .rollups import DEALS_QUEUED_KEY, QUEUED_KEY, rollups, rollups_refresh

    cache.delete(DEALS_QUEUED_KEY if deals else QUEUED_KEY)  # a commit from now on queues again
    return rollups_refresh([r.name for r in rollups() if r.name not in skip])


@shared_task(acks_late=True, time_limit=1800, soft_time_limit=1700)
def rollups_rebuild_task() -> dict:
    """Rebuild every rollup from raw records (nightly: follows clients who moved desk)."""
    from .rollups import rollups_rebuild

    return rollups_rebuild()


@shared_task(acks_late=True, time_limit=120, soft_time_limit=100)
def alerts_check_task() -> dict:
    """Compare each team's alert metrics with their limits; tell the heads of a new breach
    once (brokerage.alerts)."""
    from .alerts import alerts_check

    return alerts_check()


@shared_task(acks_late=True, time_limit=600, soft_time_limit=570)
def reports_send_task() -> dict:
    """Send each subscriber's daily or weekly report once its period has ended, once per
    period (brokerage.reports)."""
    from .reports import reports_send_due

    return reports_send_due()
