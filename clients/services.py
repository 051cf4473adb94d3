"""Writes on clients. Every change is audited in the same transaction."""

from django.db import transaction

from brokerage.services import Actor, audit_record

from .models import Client


@transaction.atomic
def client_register(*, user, actor: Actor, request=None, **profile) -> Client:
    """Give a signed-up user their client record (once; a repeat returns the same record)."""
    if user.is_staff:
        raise ValueError("Staff users cannot be clients.")
    client, created = Client.objects.get_or_create(user=user, defaults=profile)
    if created:
        audit_record(
            actor=actor,
            action="client.registered",
            target=client,
            evidence={"email": user.email, **profile},
            request=request,
        )
    return client
