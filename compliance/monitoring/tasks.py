"""AML monitoring's background work, on the `compliance` queue: a money row evaluated once it
commits, the sweeper that evaluates any row whose task was lost, and the nightly batch."""

from celery import shared_task
from django.db import transaction

from . import nightly, realtime, sweep


@shared_task(acks_late=True, time_limit=60, soft_time_limit=50, max_retries=3)
def evaluate_transaction_task(kind: str, pk: int) -> int:
    return len(realtime.evaluate_transaction(kind, pk))


@shared_task(acks_late=True, time_limit=300, soft_time_limit=290)
def evaluation_sweep_task() -> int:
    return sweep.evaluation_sweep()


@shared_task(acks_late=True, time_limit=3600, soft_time_limit=3500)
def nightly_monitoring_task() -> dict:
    return nightly.run_nightly()


def money_moved(kind: str, pk: int) -> list[dict]:
    """The kernel's `money.moved` hook: a withdrawal is evaluated in its request (its hold a
    review reason of finance's checks); the other kinds once their row commits. A broker that
    cannot be reached never fails the money row: the sweeper finds it."""
    if kind == "withdrawal":
        return realtime.withdrawal_reasons(pk)
    transaction.on_commit(lambda: evaluate_transaction_task.delay(kind, pk), robust=True)
    return []
