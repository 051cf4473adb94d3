"""Compliance's background work, on the `compliance` queue: screening a client or partner once
their registration commits, and the sweeper that screens whoever was never screened."""

from celery import shared_task
from django.db import transaction

from . import services
from .models import ScreeningReason


@shared_task(acks_late=True, time_limit=120, soft_time_limit=110)
def client_screen_task(client_id: int) -> int:
    return services.client_screen(client_id=client_id, reason=ScreeningReason.REGISTRATION).pk


@shared_task(acks_late=True, time_limit=600, soft_time_limit=590)
def never_screened_sweep_task() -> int:
    return services.never_screened_sweep()


def screen_registered(client_id: int) -> None:
    """A client or partner was registered (the kernel's `client.registered` hook): screen them
    once that commits. A broker that cannot be reached never fails the registration (robust):
    the sweeper screens whoever was never screened."""
    transaction.on_commit(lambda: client_screen_task.delay(client_id), robust=True)
