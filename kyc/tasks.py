from celery import shared_task

from . import services


@shared_task(
    acks_late=True,
    time_limit=180,
    soft_time_limit=170,
    autoretry_for=(OSError,),
    retry_backoff=True,
    max_retries=3,
)
def kyc_autocheck_task(submission_id: int) -> None:
    services.kyc_submission_autocheck(submission_id=submission_id)


@shared_task(acks_late=True, time_limit=120, soft_time_limit=110)
def kyc_unchecked_sweep_task() -> int:
    return services.kyc_unchecked_sweep()


@shared_task(acks_late=True, time_limit=1800, soft_time_limit=1780)
def kyc_expiry_sweep_task() -> dict:
    return services.kyc_expiry_sweep()
