"""Operations on outside systems, carried out exactly once by workers that may run twice.

A PSP's payout or refund, a trading platform's balance operation or new account: each is a row
(the intent, committed before anything is sent) and a call to a system that may act and lose
its answer. Every such operation follows the same five steps, and the pieces here are them:

1. **claim** (`claim`): one attempt takes the row under its row lock, in a transaction of its
   own (durable: the call must follow outside any transaction). It counts the attempt and
   stamps when it started. A row whose claim is younger than `stale_after` (longer than an
   attempt may run) belongs to a live attempt and is left alone ("in progress"); a row claimed
   before is *resumed*: an earlier attempt may have reached the outside system.
2. **call** (`call_outside`), outside any transaction: a resumed attempt looks the operation up
   first and sends it only if the outside system has no trace of it; a call whose answer is
   lost (an error in `lost`) is looked up at once, never sent again. The `Outcome` is the
   outside system's answer (from the call or the look-up), a refusal (an error in `refused`:
   certainly nothing was done), or unknown (not found yet, or the look-up failed with an error
   in `lookup_failed`). Any other error propagates to the caller.
3. **look up**: the caller's `lookup` finds the operation by the reference the call carried (our
   reference as the PSP's idempotency key, a comment on the platform). None: not there (yet).
4. **finish**: the caller posts the outcome in a transaction of its own, idempotently: the row's
   status is checked again under its lock (a webhook or another attempt may have finished it).
   An unknown outcome is left as it is for a webhook, a later attempt or the sweeper.
5. **sweep** (`stale`, `sweep`): rows still open that were never claimed and are due for
   longer than `stale_after`, or were claimed that long ago, are tried again (`sweep` queues
   the row's task by id).

Nothing here knows a PSP or a platform: callers pass the calls and name which of their errors
mean refused and lost. Callers: finance's withdrawal payouts, refunds and transfers, and
clients' account openings (which never resend: a new account's row is claimed by being created,
and its sweeper only looks up).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Generic, TypeVar

from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone

log = logging.getLogger(__name__)

M = TypeVar("M", bound=models.Model)
A = TypeVar("A")

SWEEP_BATCH = 500  # rows a sweep queues at most per run; the next run takes the rest

Errors = tuple[type[BaseException], ...]


@dataclass(frozen=True)
class Claim(Generic[M]):
    """The row, claimed for this attempt; or None and why not ("in progress", "already …")."""

    row: M | None
    resumed: bool = False
    why: str = ""


def claim(
    rows: models.QuerySet[M] | models.Manager[M] | Callable[[int], M],
    pk: int,
    *,
    stale_after: timedelta,
    is_open: Callable[[M], bool],
    started_field: str = "started_at",
    attempts_field: str = "attempts",
    on_claim: Callable[[M, bool], None] | None = None,
) -> Claim[M]:
    """Claim row `pk` for one attempt (step 1), in a durable transaction of its own.

    `rows` is a queryset (its row is locked `select_for_update(of=self)`) or a function that
    takes the app's locks in its order and returns the row locked. A row that `is_open` says is
    done gives `why` "already <status>". `on_claim(row, resumed)` runs in the claim's
    transaction after the claim is saved (a state transition, an audit event).
    """
    now = timezone.now()
    with transaction.atomic(durable=True):
        if isinstance(rows, models.QuerySet | models.Manager):
            row = rows.select_for_update(of=("self",)).get(pk=pk)
        else:
            row = rows(pk)
        if not is_open(row):
            return Claim(None, why=f"already {row.status}")
        started = getattr(row, started_field)
        if started and started > now - stale_after:
            return Claim(None, why="in progress")
        resumed = getattr(row, attempts_field) > 0
        setattr(row, attempts_field, getattr(row, attempts_field) + 1)
        setattr(row, started_field, now)
        row.save(update_fields=[attempts_field, started_field])
        if on_claim is not None:
            on_claim(row, resumed)
        return Claim(row, resumed)


@dataclass(frozen=True)
class Outcome(Generic[A]):
    """What the outside system did: its `answer`, or its `refusal`, or neither (unknown).
    `lost`: the call's error after which the answer was looked up (found or not)."""

    answer: A | None = None
    refusal: BaseException | None = None
    lost: BaseException | None = None

    @property
    def unknown(self) -> bool:
        return self.answer is None and self.refusal is None


def call_outside(
    *,
    call: Callable[[], A],
    lookup: Callable[[], A | None],
    resumed: bool = False,
    refused: Errors = (),
    lost: Errors = (),
    lookup_failed: Errors = (),
    label: str = "operation",
) -> Outcome[A]:
    """Call the outside system at most once for this attempt (steps 2 and 3); never inside a
    transaction. `resumed`: look the operation up before sending it. `refused`: errors of the
    call after which nothing was done. `lost`: errors of the call after which it may have been
    done (look it up). `lookup_failed`: errors of a look-up that leave the outcome unknown.
    Every other error propagates: the caller decides whether to retry (the next attempt is
    resumed, so it looks before it sends)."""
    if resumed:
        try:
            found = lookup()
        except lookup_failed as exc:
            log.warning("%s: the look-up failed (%s); the outcome is unknown for now", label, exc)
            return Outcome()
        if found is not None:
            return Outcome(answer=found)
    try:
        return Outcome(answer=call())
    except refused as exc:
        log.info("%s: refused (%s)", label, exc)
        return Outcome(refusal=exc)
    except lost as exc:
        log.warning("%s: the answer was lost (%s); looking it up", label, exc)
        lost_by = exc
    try:
        return Outcome(answer=lookup(), lost=lost_by)
    except lookup_failed as exc:
        log.warning("%s: the look-up failed (%s); the outcome is unknown for now", label, exc)
        return Outcome(lost=lost_by)


def stale(
    rows: models.QuerySet[M],
    *,
    due_field: str,
    stale_after: timedelta,
    started_field: str | None = None,
    now: datetime | None = None,
) -> models.QuerySet[M]:
    """Open `rows` a sweeper should try again (step 5): never claimed (`started_field` empty)
    and due (`due_field`) for longer than `stale_after`, or claimed that long ago. Without a
    `started_field` (rows that are never claimed again): due for longer than `stale_after`."""
    cutoff = (now or timezone.now()) - stale_after
    due = Q(**{f"{due_field}__lt": cutoff})
    if started_field:
        never = Q(**{f"{started_field}__isnull": True})
        due = (never & due) | Q(**{f"{started_field}__lt": cutoff})
    return rows.filter(due)


def sweep(
    rows: models.QuerySet[M],
    *,
    task,
    due_field: str,
    started_field: str,
    stale_after: timedelta,
    now: datetime | None = None,
) -> int:
    """Queue `task` (a Celery task taking the row's id) for each stale row; how many."""
    found = stale(
        rows,
        due_field=due_field,
        started_field=started_field,
        stale_after=stale_after,
        now=now,
    )
    ids = list(found.values_list("pk", flat=True)[:SWEEP_BATCH])
    for pk in ids:
        task.delay(pk)
    return len(ids)
