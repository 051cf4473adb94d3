"""The client's row lock: the last lock any transaction takes.

A change to a client's money locks, in this order and never otherwise: the ledger accounts (in
primary-key order), then the object the change is about (a deposit, a withdrawal, a transfer;
a KYC submission; an account opening), then the client. Finance states and takes the whole
order in `finance.locks`; clients and the apps below finance only ever add the client's row,
last, through `lock_client` (the one `select_for_update` on clients). Compliance's own rows
about a client (its AML cases, then its monitoring alerts) are locked after the client's, by
case work and by AML monitoring alike. The audit log takes no lock: `audit_record` only inserts.
"""

from __future__ import annotations

from .models import Client


def lock_client(client: Client | int) -> Client:
    """Lock the client's row FOR UPDATE and return it fresh (its standing as committed now)."""
    return Client.objects.select_for_update(of=("self",)).get(pk=getattr(client, "pk", client))


def lock_clients(client_ids) -> list[Client]:
    """Lock many clients' rows FOR UPDATE, in primary-key order (so two sweeps never deadlock),
    and return them fresh, with their users (read, not locked: what names them)."""
    return list(
        Client.objects.select_for_update(of=("self",))
        .select_related("user")
        .filter(pk__in=list(client_ids))
        .order_by("pk")
    )
