"""Lead tasks: thin, idempotent by database state (a routed lead is never routed twice)."""

from celery import shared_task

from . import services


@shared_task(
    acks_late=True,
    time_limit=60,
    soft_time_limit=50,
    autoretry_for=(Exception,),
    retry_backoff=True,
    max_retries=5,
)
def lead_route_task(lead_id: int) -> None:
    services.lead_route(lead_id=lead_id)


@shared_task(acks_late=True, time_limit=300, soft_time_limit=280)
def lead_route_sweeper_task() -> int:
    return services.leads_unrouted_route()


@shared_task(acks_late=True, time_limit=300, soft_time_limit=280)
def nurture_send_due_task() -> int:
    return services.nurture_send_due()


@shared_task(acks_late=True, time_limit=600, soft_time_limit=580)
def departed_agent_reroute_task(user_id: int, actor: str) -> int:
    from brokerage.models import User

    return services.leads_of_departed_agent_reroute(user=User.objects.get(pk=user_id), actor=actor)


@shared_task(acks_late=True, time_limit=3600, soft_time_limit=3500)
def lead_import_apply_task(import_id: int) -> None:
    from .imports import lead_import_apply

    lead_import_apply(import_id=import_id)


@shared_task(acks_late=True, time_limit=1800, soft_time_limit=1780)
def lead_import_check_task(import_id: int) -> None:
    from .imports import lead_import_check

    lead_import_check(import_id=import_id)


@shared_task(acks_late=True, time_limit=300, soft_time_limit=280)
def callbacks_remind_task() -> int:
    from .callbacks import callbacks_remind_due

    return callbacks_remind_due()
