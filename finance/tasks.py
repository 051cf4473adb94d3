"""Finance tasks (queue `finance`). Thin: each loads ids and calls a service."""

import logging

from celery import shared_task

from . import services
from .ledger import ledger_verify

log = logging.getLogger(__name__)


@shared_task(
    acks_late=True,
    time_limit=120,
    soft_time_limit=110,
    autoretry_for=(OSError,),
    retry_backoff=True,
    max_retries=5,
)
def withdrawal_payout_task(withdrawal_id: int) -> str:
    return services.withdrawal_payout(withdrawal_id=withdrawal_id)


@shared_task(
    acks_late=True,
    time_limit=120,
    soft_time_limit=110,
    autoretry_for=(OSError,),
    retry_backoff=True,
    max_retries=5,
)
def refund_execute_task(refund_id: int) -> str:
    return services.refund_execute(refund_id=refund_id)


@shared_task(acks_late=True, time_limit=120, soft_time_limit=110)
def payouts_sweep_task() -> int:
    return services.payouts_sweep()


@shared_task(acks_late=True, time_limit=3600, soft_time_limit=3500)
def ledger_verify_task() -> dict:
    counts, problem = ledger_verify()
    if problem:
        log.error("LEDGER DISCREPANCY: %s", problem)
    else:
        log.info("ledger consistent: %s", counts)
    return {**counts, "problem": problem}


@shared_task(acks_late=True, time_limit=3600, soft_time_limit=3500)
def bank_statement_apply_task(statement_id: int) -> dict:
    from .services.wires import bank_statement_apply

    return bank_statement_apply(statement_id=statement_id)


@shared_task(acks_late=True, time_limit=3600, soft_time_limit=3500)
def reconciliation_run_task(run_id: int) -> str:
    from .reconciliation.services import reconciliation_execute

    return reconciliation_execute(run_id=run_id)


@shared_task(
    bind=True,
    acks_late=True,
    time_limit=120,
    soft_time_limit=110,
    max_retries=6,
)
def transfer_execute_task(self, transfer_id: int) -> str:
    from .transfers import TransferRetry, transfer_execute

    try:
        return transfer_execute(transfer_id=transfer_id)
    except TransferRetry as exc:
        raise self.retry(exc=exc, countdown=min(5 * 2**self.request.retries, 120)) from exc


@shared_task(acks_late=True, time_limit=120, soft_time_limit=110)
def transfers_sweep_task() -> int:
    from .transfers import transfers_sweep

    return transfers_sweep()
