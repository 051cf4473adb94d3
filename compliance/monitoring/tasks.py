"""AML monitoring's background work, on the `compliance` queue: a money row evaluated once it
commits, the sweeper that evaluates any row whose task was lost, the nightly batch, and the
officers' backtests (with their own sweeper)."""

from celery import shared_task
from django.db import transaction

from . import nightly, realtime, services, sweep


@shared_task(acks_late=True, time_limit=60, soft_time_limit=50, max_retries=3)
def evaluate_transaction_task(kind: str, pk: int) -> int:
    return len(realtime.evaluate_transaction(kind, pk))


@shared_task(acks_late=True, time_limit=300, soft_time_limit=290)
def evaluation_sweep_task() -> int:
    return sweep.evaluation_sweep()


@shared_task(acks_late=True, time_limit=3600, soft_time_limit=3500)
def nightly_monitoring_task() -> dict:
    return nightly.run_nightly()


@shared_task(acks_late=True, time_limit=1800, soft_time_limit=1790)
def backtest_task(job_id: int) -> str:
    job = services.backtest_job_run(job_id=job_id)
    return job.status if job else "missing"


@shared_task(acks_late=True, time_limit=60, soft_time_limit=50)
def backtest_sweep_task() -> int:
    """Backtests whose task was lost, or whose worker died, run again."""
    stuck = services.backtest_jobs_stuck()
    for job_id in stuck:
        backtest_task.delay(job_id)
    return len(stuck)


def money_moved(kind: str, pk: int) -> list[dict]:
    """The kernel's `money.moved` hook: a withdrawal is evaluated in its request (its hold a
    review reason of finance's checks); the other kinds once their row commits. A broker that
    cannot be reached never fails the money row: the sweeper finds it."""
    if kind == "withdrawal":
        return realtime.withdrawal_reasons(pk)
    transaction.on_commit(lambda: evaluate_transaction_task.delay(kind, pk), robust=True)
    return []
