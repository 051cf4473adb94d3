"""Who paid: the payment instrument a PSP reports for a deposit, kept once per client.

Contract:
- `deposit_instrument_record` files the PSP's `InstrumentInfo` as the client's
  `PaymentInstrument` (one per client, kind and key: a card seen again is the same instrument,
  its last sighting moved on) and links the deposit to it, in the caller's transaction. A
  deposit keeps the first instrument it was linked to; another report of it changes nothing.
  The payer's name, when the PSP gives one, is reported for screening (`client.name_reported`).
Called by `deposits.deposit_complete` with the verified event; imports no sibling module.
"""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction

from brokerage.services import audit_record
from clients.services import client_name_report
from finance import audit_events

from ..models import Deposit, PaymentInstrument
from ..psp import InstrumentInfo

FIELDS = ("label", "brand", "bin", "last4", "email", "address", "holder_name", "country")


def deposit_instrument_record(
    *, deposit: Deposit, info: InstrumentInfo | None, at: datetime, actor: str
) -> PaymentInstrument | None:
    """File `info` for the deposit's client and link the deposit (locked by the caller)."""
    if info is None or deposit.instrument_id is not None:
        return None
    known = {f: getattr(info, f) for f in FIELDS if getattr(info, f)}
    try:
        with transaction.atomic():
            instrument, created = PaymentInstrument.objects.select_for_update().get_or_create(
                client_id=deposit.client_id,
                kind=info.kind,
                key=info.key,
                defaults={
                    **known,
                    "provider": deposit.psp,
                    "first_seen_at": at,
                    "last_seen_at": at,
                },
            )
    except IntegrityError:  # filed by a concurrent event a moment ago
        instrument = PaymentInstrument.objects.select_for_update().get(
            client_id=deposit.client_id, kind=info.kind, key=info.key
        )
        created = False
    if not created:
        changed = {f: v for f, v in known.items() if getattr(instrument, f) != v}
        changed["last_seen_at"] = max(instrument.last_seen_at, at)
        changed["first_seen_at"] = min(instrument.first_seen_at, at)
        for name, value in changed.items():
            setattr(instrument, name, value)
        instrument.save(update_fields=list(changed))
    Deposit.objects.filter(pk=deposit.pk).update(instrument=instrument)
    deposit.instrument = instrument
    audit_record(
        actor=actor,
        action=audit_events.DEPOSIT_INSTRUMENT_RECORDED,
        target=deposit,
        evidence={"instrument": instrument.pk, "kind": instrument.kind, "label": instrument.label},
    )
    if info.holder_name:
        # The payer as the PSP names them is screened like the client's own name.
        client_name_report(
            client_id=deposit.client_id,
            origin="deposit_payer",
            name=info.holder_name,
            reference=f"Deposit {deposit.reference}",
        )
    return instrument
