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


@transaction.atomic
def client_kyc_level_set(
    *,
    client: Client,
    level: int,
    actor: Actor,
    reason: str,
    evidence: dict | None = None,
    document_expires_on=None,
) -> Client:
    """Raise or lower the client's KYC level (KYC decisions and expiry call this)."""
    from django.utils import timezone

    client = Client.objects.select_for_update().get(pk=client.pk)
    before = client.kyc_level
    client.kyc_level = level
    client.kyc_verified_at = timezone.now() if level > 0 else None
    if document_expires_on is not None:
        client.id_document_expires_on = document_expires_on
    if level > 0 and client.restricted and client.restriction_reason.startswith("KYC"):
        client.restricted, client.restriction_reason = False, ""
    client.save()
    audit_record(
        actor=actor,
        action="client.kyc_level_changed",
        target=client,
        reason=reason,
        evidence={"from": before, "to": level, **(evidence or {})},
    )
    return client


@transaction.atomic
def client_restrict(*, client: Client, actor: Actor, reason: str) -> Client:
    client = Client.objects.select_for_update().get(pk=client.pk)
    if not client.restricted:
        client.restricted, client.restriction_reason = True, reason[:200]
        client.save(update_fields=["restricted", "restriction_reason"])
        audit_record(actor=actor, action="client.restricted", target=client, reason=reason)
    return client
