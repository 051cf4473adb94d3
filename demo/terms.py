"""The demo's clients accepted the terms in force when they signed up: one acceptance per
client and document (at their registration), each audited, written in bulk."""

from django.db import transaction
from django.db.models import Exists, OuterRef

from brokerage.services import audit_record_many
from clients import audit_events
from clients.models import Client, TermsAcceptance
from clients.terms import terms_in_force

ACTOR = "system:seed_demo"
BATCH = 5000


@transaction.atomic
def install_terms_accepted() -> int:
    """Every client without an acceptance of a version in force accepts it; returns how many
    acceptances were written."""
    written = 0
    for version in terms_in_force():
        accepted = TermsAcceptance.objects.filter(client_id=OuterRef("pk"), terms=version)
        clients = (
            Client.objects.filter(holder=Client.Holder.CLIENT)
            .filter(~Exists(accepted))
            .values_list("pk", "created_at")
        )
        rows = [
            TermsAcceptance(
                client_id=pk,
                terms=version,
                accepted_at=max(created_at, version.effective_at),
                text_sha256=version.text_sha256,
            )
            for pk, created_at in clients.iterator(chunk_size=BATCH)
        ]
        for start in range(0, len(rows), BATCH):
            made = TermsAcceptance.objects.bulk_create(rows[start : start + BATCH])
            audit_record_many(
                actor=ACTOR,
                action=audit_events.TERMS_ACCEPTED,
                entries=[
                    (
                        a,
                        "",
                        {
                            "document": version.document,
                            "version": version.version,
                            "text_sha256": version.text_sha256,
                        },
                    )
                    for a in made
                ],
            )
            written += len(made)
    return written
