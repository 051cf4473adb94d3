"""Finance's one way to tell a client about a change of their money they wait for.

`client_tell(row, what, actor=...)` for a deposit, withdrawal, refund or transfer: the email
`<noun>_<what>` of the catalogue (`clients.emails`: deposit_credited, withdrawal_paid, ...),
recorded in the client's communication history once per row and change (the event key
`<noun>:<id>:<what>` is unique) and sent after commit (`clients.notify.client_notify`).
Called in the transaction that makes the change, after its audit event.
"""

from __future__ import annotations

from brokerage.money import format_money
from brokerage.services import Actor
from clients.models import Client
from clients.notify import client_notify


def client_tell(row, what: str, *, actor: Actor, url_name: str = "wallet:home", **context):
    """The context has the row's reference and amount, and `context` (plain values)."""
    noun = row._meta.model_name
    client_id = getattr(row, "client_id", None) or row.deposit.client_id  # a refund: its deposit's
    reference = getattr(row, "reference", "") or getattr(row, "comment", "")
    return client_notify(
        Client.objects.select_related("user").get(pk=client_id),
        email=f"{noun}_{what}",
        key=f"{noun}:{row.pk}:{what}",
        actor=actor,
        url_name=url_name,
        context={"reference": reference, "amount": format_money(row.amount, row.currency)}
        | context,
        data={noun: reference or row.pk},
    )
