"""Health of the parts the system needs: Postgres, Redis and at least one live Celery worker.

Workers announce themselves every CELERY_HEARTBEAT_INTERVAL seconds by writing a key with a
TTL (see `brokerage.celery.HeartbeatStep`); a worker that stops beating disappears.
"""

import json
import socket
import time

from django.conf import settings
from django.db import connection
from django.utils import timezone

from .hooks import HEALTH_FIGURES, contributions
from .kv import redis_client

HEARTBEAT_PREFIX = "health:celery:worker:"
BEAT_KEY = "health:celery:beat"


def check_database() -> str:
    try:
        with connection.cursor() as cur:
            cur.execute("SELECT 1")
            cur.fetchone()
        return "ok"
    except Exception as exc:  # noqa: BLE001  (any failure is "down", named in the answer)
        return f"down: {exc.__class__.__name__}"


def check_redis() -> str:
    try:
        redis_client().ping()
        return "ok"
    except Exception as exc:  # noqa: BLE001
        return f"down: {exc.__class__.__name__}"


def workers() -> list[dict]:
    """Live workers, from their heartbeat keys."""
    client = redis_client()
    keys = list(client.scan_iter(f"{HEARTBEAT_PREFIX}*", count=100))
    if not keys:
        return []
    found = []
    for raw in client.mget(keys):
        if raw:
            worker = json.loads(raw)
            worker["age_s"] = max(0, round(time.time() - worker["at"]))
            found.append(worker)
    return sorted(found, key=lambda w: w["hostname"])


def check_celery() -> str:
    try:
        return "ok" if workers() else "down: no worker heartbeat"
    except Exception as exc:  # noqa: BLE001
        return f"down: {exc.__class__.__name__}"


def extra_report() -> dict:
    """The figures apps contribute to /healthz as `(name, fn)` on the `health.figures` hook (the
    trading platform sync lag, the audit sealer's): reported, but they do not decide the status
    code, which is about this node serving requests."""
    found = {}
    for name, fn in contributions(HEALTH_FIGURES):
        try:
            found[name] = fn()
        except Exception as exc:  # noqa: BLE001  (a failing extra is reported, not raised)
            found[name] = f"unavailable: {exc.__class__.__name__}"
    return found


# Committed audit events older than this without a seal mean the sealer is not running.
AUDIT_SEALING_BEHIND_SECONDS = 30


def audit_sealing() -> dict:
    """How far the audit sealer is behind: committed events waiting, and the oldest's age."""
    from .audit import audit_sealing_status

    waiting, oldest = audit_sealing_status()
    lag = (timezone.now() - oldest).total_seconds() if oldest else 0.0
    status = "behind" if lag > AUDIT_SEALING_BEHIND_SECONDS else "ok"
    return {"status": status, "unsealed": waiting, "lag_s": round(lag, 1)}


def health_report() -> dict[str, str]:
    report = {"database": check_database(), "redis": check_redis()}
    report["celery"] = check_celery() if report["redis"] == "ok" else "down: redis unavailable"
    return report


def heartbeat_write(hostname: str, queues: list[str]) -> None:
    payload = {
        "hostname": hostname,
        "queues": sorted(queues),
        "host": socket.gethostname(),
        "at": time.time(),
    }
    redis_client().set(
        f"{HEARTBEAT_PREFIX}{hostname}", json.dumps(payload), ex=settings.CELERY_HEARTBEAT_TTL
    )


def heartbeat_clear(hostname: str) -> None:
    redis_client().delete(f"{HEARTBEAT_PREFIX}{hostname}")


def queue_depths() -> dict[str, int]:
    """Messages waiting per department queue (Redis lists named after the queues)."""
    client = redis_client()
    names = ["default", *settings.CELERY_DEPARTMENT_QUEUES]
    pipe = client.pipeline()
    for name in names:
        pipe.llen(name)
    return dict(zip(names, pipe.execute(), strict=True))


def beat_heartbeat_write() -> None:
    redis_client().set(BEAT_KEY, str(time.time()), ex=settings.CELERY_HEARTBEAT_TTL)


def beat_last_tick_age() -> float | None:
    """Seconds since celery beat last ticked, or None if it has not within the TTL."""
    raw = redis_client().get(BEAT_KEY)
    return None if raw is None else max(0.0, time.time() - float(raw))
