"""Reads that scale out: a PostgreSQL streaming replica for the pages that only look.

With `DATABASE_REPLICA_URL` set, the project has a second database alias, `replica`, and
`ReplicaRouter` sends reads there, but only inside an explicit scope:

    from brokerage.db import reads_from_replica, stream_from_replica

    @staff_required("finance.view_ledgertransaction")   # access is decided first, on the primary
    @reads_from_replica()
    def transactions(request): ...

    response = StreamingHttpResponse(stream_from_replica(rows()))  # an export, row by row

Raw SQL (`connection.cursor()`) is not routed: a report that reads with raw SQL takes its
cursor from `read_connection(Model)`.

Who uses it: dashboards (the back-office home and the leadership and team dashboards: wrap
their views, or the function that computes their figures, in `reads_from_replica`), scheduled
reports, table exports, and the large list pages (audit log, clients, leads, ledger postings,
deals, IB lines). Work queues, detail pages and everything that decides money or access stay
on the primary: leave them unscoped.

What never reaches the replica, scope or not:
- writes (an object read from the replica is saved to the primary; the replica's sessions are
  also read-only, so a write sent there by `.using("replica")` is refused by the database);
- `select_for_update()` (Django routes it as a write) and anything inside a transaction on the
  primary (`transaction.atomic`: what a service reads while deciding is read where it writes);
- the models that decide who may do what (users, groups and permissions, sessions, sign-in and
  MFA records, API keys), listed in `PRIMARY_ONLY`.

A replica that is down, or whose replay is more than `DATABASE_REPLICA_MAX_LAG` seconds behind
the primary, is not used: reads fall back to the primary with a warning in the log. Its state is
checked at most every `CHECK_SECONDS` per process (`replica_status`), and shown on /healthz
(`database_replica`) and the system page. Without `DATABASE_REPLICA_URL`, nothing changes.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections

log = logging.getLogger(__name__)

REPLICA = "replica"
# How long a replica's state is trusted before it is read again (per process).
CHECK_SECONDS = 5.0
# Apps and models whose rows decide access: always read on the primary.
PRIMARY_ONLY_APPS = frozenset({"auth", "sessions", "account", "mfa", "contenttypes"})
PRIMARY_ONLY = frozenset({"brokerage.user", "brokerage.apikey", "brokerage.staffprofile"})

_scope: contextvars.ContextVar[bool] = contextvars.ContextVar("reads_from_replica", default=False)


@contextmanager
def reads_from_replica():
    """Reads inside this block (or decorated function) may be served by the replica. Also a
    decorator: `@reads_from_replica()`."""
    token = _scope.set(True)
    try:
        yield
    finally:
        _scope.reset(token)


def stream_from_replica(rows: Iterable) -> Iterator:
    """Each item of `rows` (a generator of export lines, say) computed inside the replica scope.
    A streamed response runs its generator after the view has returned, so a scope around the
    view would not reach the rows."""
    it = iter(rows)
    while True:
        with reads_from_replica():
            try:
                item = next(it)
            except StopIteration:
                return
        yield item


def replica_configured() -> bool:
    return REPLICA in settings.DATABASES


def read_connection(model):
    """The connection a raw SQL read of `model`'s table belongs on: `connection.cursor()` is
    never routed, so raw reads of a report use `read_connection(Model).cursor()` to reach the
    replica in a `reads_from_replica` scope (and the primary everywhere else)."""
    from django.db import router

    return connections[router.db_for_read(model) or DEFAULT_DB_ALIAS]


# --- The replica's state ---------------------------------------------------------------------

_LAG_SQL = """
SELECT pg_is_in_recovery(),
       CASE WHEN NOT pg_is_in_recovery() THEN 0
            WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() THEN 0
            ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0)
       END
"""

_lock = threading.Lock()
_state: dict = {"at": float("-inf"), "status": None}


def replica_probe() -> dict:
    """Ask the replica now: {"status": "ok" | "lagging" | "down", "lag_s", "in_recovery",
    "detail"}. Lag is how long the replica's last replayed change is behind now, and 0 when it
    has replayed everything it received (an idle primary sends nothing)."""
    max_lag = float(settings.DATABASE_REPLICA_MAX_LAG)
    connection = connections[REPLICA]
    try:
        with connection.cursor() as cur:
            cur.execute(_LAG_SQL)
            in_recovery, lag = cur.fetchone()
    except Exception as exc:  # noqa: BLE001  (any failure means "do not read there")
        connection.close()
        return {
            "status": "down",
            "lag_s": None,
            "in_recovery": None,
            "detail": f"{exc.__class__.__name__}: {str(exc).strip()[:200]}",
        }
    lag = round(float(lag), 1)
    status = "lagging" if lag > max_lag else "ok"
    detail = f"{lag} s behind (limit {max_lag:g} s)" if status == "lagging" else ""
    return {"status": status, "lag_s": lag, "in_recovery": in_recovery, "detail": detail}


def replica_status(*, fresh: bool = False) -> dict:
    """The replica's state, read at most every CHECK_SECONDS; {"status": "off"} without one.
    A replica that is not usable is logged as a warning each time it is read again."""
    if not replica_configured():
        return {"status": "off", "lag_s": None, "in_recovery": None, "detail": ""}
    now = time.monotonic()
    with _lock:
        if not fresh and now - _state["at"] < CHECK_SECONDS and _state["status"] is not None:
            return _state["status"]
        _state["at"] = now  # one probe at a time; the others use the last answer meanwhile
        last = _state["status"]
    found = replica_probe()
    with _lock:
        _state["status"] = found
    if found["status"] != "ok":
        log.warning(
            "database replica %s (%s): reading from the primary", found["status"], found["detail"]
        )
    elif last is not None and last["status"] != "ok":
        log.info("database replica back (%s s behind): reading from it again", found["lag_s"])
    return found


def replica_status_forget() -> None:
    """Read the replica's state again on next use (after promoting it, and in tests)."""
    with _lock:
        _state["at"], _state["status"] = float("-inf"), None


def replica_health() -> dict | str:
    """The figure on /healthz and the system page."""
    found = replica_status()
    if found["status"] == "off":
        return "off"
    return {k: found[k] for k in ("status", "lag_s", "detail")}


# --- The router ------------------------------------------------------------------------------


def _primary_only(model) -> bool:
    meta = model._meta
    return meta.app_label in PRIMARY_ONLY_APPS or meta.label_lower in PRIMARY_ONLY


class ReplicaRouter:
    """Reads in a `reads_from_replica` scope go to the replica while it is usable; everything
    else goes where it would without this router (the primary)."""

    def db_for_read(self, model, **hints):
        if not replica_configured():
            return None
        instance = hints.get("instance")
        on_replica = instance is not None and instance._state.db == REPLICA
        if (
            not _scope.get()
            or _primary_only(model)
            or connections[DEFAULT_DB_ALIAS].in_atomic_block
            or replica_status()["status"] != "ok"
        ):
            # A related object of a row read on the replica is read on the primary outside the
            # scope (left alone, Django would follow the row to its database).
            return DEFAULT_DB_ALIAS if on_replica else None
        return REPLICA

    def db_for_write(self, model, **hints):
        if not replica_configured():
            return None
        return DEFAULT_DB_ALIAS  # never the replica, whatever an instance was read from

    def allow_relation(self, obj1, obj2, **hints):
        dbs = {obj1._state.db, obj2._state.db}
        if replica_configured() and dbs <= {DEFAULT_DB_ALIAS, REPLICA, None}:
            return True  # the same rows, whichever copy they were read from
        return None

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return False if db == REPLICA else None
