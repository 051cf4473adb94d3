"""Bank wires: the brokerage's bank statement credits clients and settles wire withdrawals;
finance works what matched no one, and pays approved wire withdrawals by a pain.001 file.

Contract:
- `bank_statement_import` (finance, `manage_wires`): reads a camt.053 or MT940 file whole
  (a bad file changes nothing), stores it privately and inserts each booked entry once: the
  key (statement account, bank reference, booking date, amount) is unique in the database,
  so a statement uploaded twice or two overlapping statements add nothing. Only the entries
  this upload added are then applied, in the same transaction:
  - a credit carrying a client's payment reference (`clients.payment_reference`, anywhere in
    the remittance text), or else from an IBAN a client used before (a wire withdrawal's, a
    credited wire's) under that client's name, is a deposit by "bank wire" of that client:
    `deposits.deposit_create` (the method's limits, the client's standing, the KYC and AML
    thresholds every deposit meets) then `deposits.deposit_credit` (the ledger, once). A
    credit that matches no one or several clients, that the client may not deposit, or that
    carries one of our own wires' end-to-end ids (a return) waits in finance's queue;
  - a debit carrying a sent wire's end-to-end id (else its amount to its IBAN, when only one
    sent wire fits) settles that withdrawal (`withdrawals.withdrawal_finish`: paid); any other
    debit is not a client wire.
- `bank_entry_assign` / `bank_entry_dismiss` (finance): a queued credit is credited to the
  client finance names, or dismissed; either with a reason, audited.
- `wire_batch_create` (finance): the approved wire withdrawals chosen go into one pain.001
  file; each is marked sent to the bank (processing) in the same transaction, and one already
  sent cannot be chosen again. Transfers are booked one by one (no batch booking) so each
  comes back on the statement with its own end-to-end id.
- `wire_return` (finance): a wire the bank rejected (sent, not yet paid: the hold is
  released) or returned after paying it (the debit is reversed through the ledger).
Every change the client waits for (credited, sent, paid, returned) reaches them by email and
their communication history (`finance.notices.client_tell`): a credited wire is told by
`deposits.deposit_credit` and a paid one by `withdrawals.withdrawal_finish`, as any deposit and
withdrawal; sent to the bank and returned here.
"""

from __future__ import annotations

import hashlib
from datetime import date
from decimal import Decimal

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from brokerage.errors import DomainError, InvalidInput
from brokerage.money import format_money
from brokerage.services import Actor, audit_record
from clients.models import Client
from clients.payment_reference import references_in
from finance import audit_events

from ..bank_details import brokerage_account, same_person
from ..ledger import Leg, clearing_for, ledger_post, wallet_for
from ..locks import lock_in_order, lock_withdrawal
from ..models import LedgerTransaction, PaymentMethod, Withdrawal, new_reference
from ..models_wires import BANK_WIRE, BankEntry, BankStatement, WireBatch, WireInstruction
from ..notices import client_tell
from ..pain001 import Transfer, build_pain001
from ..psp import OperationResult
from ..psp.base import bank_instrument
from ..reconciliation.base import StatementError
from ..reconciliation.readers import read_bank_statement
from .common import need
from .deposits import deposit_create, deposit_credit
from .withdrawals import withdrawal_finish

WIRE_ACTOR = "rule:bank_wires"
MAX_STATEMENT_BYTES = 50 * 1024 * 1024
# Up to this many new entries are matched in the upload's request; more are matched by a task
# (`bank_statement_apply`), each entry in its own transaction.
INLINE_ENTRIES = 200
OUTCOMES = ("credited", "queued", "settled", "not_client")
Status, Why, Rule = BankEntry.Status, BankEntry.Why, BankEntry.Rule


def wire_method(currency: str) -> PaymentMethod:
    """The "bank wire" payment method of a currency, which wire deposits are made with (ops
    can set its limits and countries in admin; deactivated, wires in it wait for finance)."""
    method, _ = PaymentMethod.objects.get_or_create(
        psp=BANK_WIRE,
        currency=currency,
        defaults={
            "name": f"Bank wire {currency}",
            "min_amount": Decimal("0.01"),
            "max_amount": Decimal("100000000"),
            "sort_order": 900,
        },
    )
    return method


# --- The bank statement --------------------------------------------------------------------------


@transaction.atomic
def bank_statement_import(*, fmt: str, uploaded_file, actor) -> BankStatement:
    """Store the statement, add its entries not seen before, and apply those."""
    need(actor, "finance.manage_wires", "Only finance officers import bank statements.")
    if fmt not in BankStatement.Format.values:
        raise InvalidInput("Choose the file's format.", fields={"format": ["Unknown format."]})
    if not uploaded_file.size or uploaded_file.size > MAX_STATEMENT_BYTES:
        message = "The file is empty." if not uploaded_file.size else "At most 50 MB."
        raise InvalidInput(message, fields={"file": [message]})
    statement = BankStatement(
        format=fmt, original_name=(uploaded_file.name or "statement")[:200], uploaded_by=actor
    )
    digest = hashlib.sha256()
    statement.file.save("statement.dat", ContentFile(b""), save=False)
    with statement.file.storage.open(statement.file.name, "wb") as out:
        for chunk in uploaded_file.chunks():
            digest.update(chunk)
            out.write(chunk)
    statement.sha256 = digest.hexdigest()
    try:
        with statement.file.storage.open(statement.file.name, "rb") as fh:
            read = read_bank_statement(fh, fmt)
    except StatementError as exc:
        raise InvalidInput(
            f"This statement cannot be imported: {exc.message}.", code=exc.code
        ) from None
    statement.accounts = sorted({_account(header.account) for header, _ in read})
    statement.save()
    rows = [
        _entry(statement, header, row) for header, statement_rows in read for row in statement_rows
    ]
    BankEntry.objects.bulk_create(rows, ignore_conflicts=True)
    added = list(statement.entries.order_by("pk"))
    counts = {"entries": len(rows), "added": len(added), "seen_before": len(rows) - len(added)}
    counts.update(dict.fromkeys(OUTCOMES, 0))
    if len(added) <= INLINE_ENTRIES:
        for entry in added:
            counts[_apply(entry)] += 1
    else:
        counts["matching"] = len(added)
        from ..tasks import bank_statement_apply_task

        bank_statement_apply_task.delay_on_commit(statement.pk)
    statement.counts = counts
    statement.save(update_fields=["counts"])
    audit_record(
        actor=actor,
        action=audit_events.BANK_STATEMENT_IMPORTED,
        target=statement,
        evidence={"file": statement.original_name, "sha256": statement.sha256, **counts},
    )
    return statement


def bank_statement_apply(*, statement_id: int) -> dict:
    """Match the entries of a large statement still being matched, each once in its own
    transaction (a repeated task, or two at once, apply nothing twice), then add the outcomes
    to the statement's counts."""
    done = dict.fromkeys(OUTCOMES, 0)
    ids = BankEntry.objects.filter(statement_id=statement_id, status=Status.NEW).order_by("pk")
    for entry_id in list(ids.values_list("pk", flat=True)):
        with transaction.atomic():
            entry = (
                BankEntry.objects.select_for_update(skip_locked=True)
                .filter(pk=entry_id, status=Status.NEW)
                .first()
            )
            if entry is not None:
                done[_apply(entry)] += 1
    with transaction.atomic():
        statement = BankStatement.objects.select_for_update().get(pk=statement_id)
        counts = statement.counts
        for outcome, n in done.items():
            counts[outcome] = counts.get(outcome, 0) + n
        counts["matching"] = statement.entries.filter(status=Status.NEW).count()
        statement.save(update_fields=["counts"])
        if any(done.values()):
            audit_record(
                actor=WIRE_ACTOR,
                action=audit_events.BANK_STATEMENT_MATCHED,
                target=statement,
                evidence=done,
            )
    return done


def _account(text: str) -> str:
    return "".join((text or "").split()).upper()[:64]


def _entry(statement: BankStatement, header, row) -> BankEntry:
    reference = row.reference.strip()
    if not reference:  # no id at all: what the payer wrote stands in for one
        seed = f"{row.counterparty_iban}|{row.remittance}|{row.description}"
        reference = "H:" + hashlib.sha256(seed.encode()).hexdigest()[:32]
    return BankEntry(
        statement=statement,
        line_no=row.line_no,
        account=_account(header.account),
        bank_reference=reference[:100],
        booked_on=row.booked_on,
        amount=row.amount,
        currency=row.currency,
        counterparty_name=row.counterparty_name[:140],
        counterparty_iban=_account(row.counterparty_iban)[:34],
        remittance=row.remittance[:500],
        end_to_end_id=row.end_to_end_id[:35],
        description=row.description[:255],
        status=Status.NEW,
    )


def _apply(entry: BankEntry) -> str:
    if entry.amount < 0:
        return _settle(entry)
    if (
        entry.end_to_end_id
        and WireInstruction.objects.filter(end_to_end_id=entry.end_to_end_id).exists()
    ):
        return _queue(entry, Why.RETURNED_WIRE, f"End-to-end id {entry.end_to_end_id}.")
    client_ids, rule = match_clients(entry)
    if len(client_ids) != 1:
        why = Why.AMBIGUOUS if client_ids else Why.NO_MATCH
        return _queue(entry, why, "", candidates=client_ids)
    client = Client.objects.select_related("user").get(pk=client_ids[0])
    try:
        _credit(entry, client, rule, actor=WIRE_ACTOR)
    except DomainError as exc:
        return _queue(entry, Why.REFUSED, exc.message, candidates=client_ids)
    return "credited"


def match_clients(entry: BankEntry) -> tuple[list[int], str]:
    """The clients a credit is for, and by which rule: a payment reference of ours in the
    remittance text, else the name of a client who used the payer's IBAN before."""
    refs = references_in(f"{entry.remittance} {entry.description}", kind="C")
    if refs:
        ids = sorted(Client.objects.filter(payment_reference__in=refs).values_list("pk", flat=True))
        if ids:
            return ids, Rule.REFERENCE
    if not entry.counterparty_iban:
        return [], ""
    known = set(
        WireInstruction.objects.filter(iban=entry.counterparty_iban).values_list(
            "withdrawal__client_id", flat=True
        )
    ) | set(
        BankEntry.objects.filter(
            counterparty_iban=entry.counterparty_iban,
            status__in=[Status.CREDITED, Status.ASSIGNED],
        ).values_list("client_id", flat=True)
    )
    clients = Client.objects.filter(pk__in=known).select_related("user").order_by("pk")
    ids = [c.pk for c in clients if same_person(c.user.get_full_name(), entry.counterparty_name)]
    return ids, Rule.NAME_IBAN if ids else ""


def _credit(entry: BankEntry, client: Client, rule: str, *, actor: Actor) -> None:
    """The credit as the client's bank wire deposit, through the deposit services (their
    checks, the ledger once). A refusal raises and leaves nothing (a savepoint)."""
    method = wire_method(entry.currency)
    with transaction.atomic():
        lock_in_order(
            accounts=[wallet_for(client, entry.currency), clearing_for(BANK_WIRE, entry.currency)]
        )
        deposit = deposit_create(client=client, method=method, amount=entry.amount, actor=actor)
        deposit_credit(
            deposit=deposit,
            actor=actor,
            provider_reference=entry.bank_reference,
            evidence={"bank_entry": entry.pk, "rule": rule},
            instrument=bank_instrument(
                iban=entry.counterparty_iban, holder_name=entry.counterparty_name
            ),
        )
    entry.status = Status.ASSIGNED if rule == Rule.MANUAL else Status.CREDITED
    entry.client, entry.deposit, entry.rule = client, deposit, rule
    entry.why, entry.why_detail = "", ""
    entry.save()
    if rule != Rule.MANUAL:
        audit_record(
            actor=actor,
            action=audit_events.BANK_ENTRY_CREDITED,
            target=entry,
            subject=client,
            evidence={"deposit": deposit.reference, "rule": rule, "amount": str(entry.amount)},
        )


def _queue(entry: BankEntry, why: str, detail: str, *, candidates=()) -> str:
    entry.status, entry.why, entry.why_detail = Status.QUEUED, why, detail[:255]
    entry.candidates = list(candidates)
    entry.save()
    audit_record(
        actor=WIRE_ACTOR,
        action=audit_events.BANK_ENTRY_QUEUED,
        target=entry,
        reason=entry.get_why_display(),
        evidence={"detail": entry.why_detail, "candidates": entry.candidates},
    )
    return "queued"


def _settle(entry: BankEntry) -> str:
    """A debit: the sent wire it pays (by end-to-end id, else amount and IBAN), or none."""
    sent = WireInstruction.objects.filter(
        withdrawal__status=Withdrawal.Status.PROCESSING, sent_at__isnull=False
    ).select_related("withdrawal")
    found, rule = None, ""
    if entry.end_to_end_id:
        found, rule = sent.filter(end_to_end_id=entry.end_to_end_id).first(), Rule.END_TO_END
    if found is None and entry.counterparty_iban:
        fits = list(
            sent.filter(
                iban=entry.counterparty_iban,
                withdrawal__amount=-entry.amount,
                withdrawal__currency=entry.currency,
            )[:2]
        )
        found, rule = (fits[0], Rule.AMOUNT_IBAN) if len(fits) == 1 else (None, "")
    if found is None or -entry.amount != found.withdrawal.amount:
        entry.status = Status.NOT_CLIENT
        if found is not None:  # our end-to-end id, another amount: the bank must say why
            w = found.withdrawal
            entry.why_detail = (
                f"Carries the end-to-end id of {w.reference} but is "
                f"{format_money(-entry.amount, entry.currency)}, not "
                f"{format_money(w.amount, w.currency)}: check it with the bank."
            )[:255]
        entry.save(update_fields=["status", "why_detail"])
        return "not_client"
    w = found.withdrawal
    withdrawal_finish(
        w.pk,
        OperationResult(status="succeeded", provider_reference=entry.bank_reference),
        WIRE_ACTOR,
    )
    found.settled_by = entry
    found.save(update_fields=["settled_by"])
    entry.status, entry.withdrawal, entry.client_id, entry.rule = (
        Status.SETTLED,
        w,
        w.client_id,
        rule,
    )
    entry.save()
    return "settled"


# --- The queue -----------------------------------------------------------------------------------


def _lock_queued(entry: BankEntry) -> BankEntry:
    entry = BankEntry.objects.select_for_update().get(pk=entry.pk)
    if entry.status != Status.QUEUED:
        raise InvalidInput(f"This bank entry is already {entry.get_status_display().lower()}.")
    return entry


def _reason(reason: str) -> str:
    reason = " ".join((reason or "").split())
    if len(reason) < 5:
        raise InvalidInput("Say why.", fields={"reason": ["A reason is needed."]})
    return reason


@transaction.atomic
def bank_entry_assign(*, entry: BankEntry, client: Client, reason: str, actor) -> BankEntry:
    """Credit a queued bank wire to the client finance names (the deposit checks apply)."""
    need(actor, "finance.manage_wires", "Only finance officers assign bank wires.")
    reason = _reason(reason)
    entry = _lock_queued(entry)
    before = entry.get_why_display()
    client = Client.objects.select_related("user").get(pk=client.pk)
    _credit(entry, client, Rule.MANUAL, actor=actor)
    entry.decided_by, entry.decided_at, entry.decision_reason = actor, timezone.now(), reason
    entry.save(update_fields=["decided_by", "decided_at", "decision_reason"])
    audit_record(
        actor=actor,
        action=audit_events.BANK_ENTRY_ASSIGNED,
        target=entry,
        subject=client,
        reason=reason,
        evidence={"deposit": entry.deposit.reference, "was": before, "amount": str(entry.amount)},
    )
    return entry


@transaction.atomic
def bank_entry_dismiss(*, entry: BankEntry, reason: str, actor) -> BankEntry:
    """Leave a queued credit off every wallet (e.g. sent back to the payer), with the reason."""
    need(actor, "finance.manage_wires", "Only finance officers dismiss bank wires.")
    reason = _reason(reason)
    entry = _lock_queued(entry)
    entry.status = Status.DISMISSED
    entry.decided_by, entry.decided_at, entry.decision_reason = actor, timezone.now(), reason
    entry.save()
    audit_record(
        actor=actor,
        action=audit_events.BANK_ENTRY_DISMISSED,
        target=entry,
        reason=reason,
        evidence={"was": entry.get_why_display(), "amount": str(entry.amount)},
    )
    return entry


# --- Paying wire withdrawals ---------------------------------------------------------------------


@transaction.atomic
def wire_batch_create(
    *, withdrawal_ids: list[int], actor, execution_date: date | None = None
) -> WireBatch:
    """One pain.001 file for the chosen approved wire withdrawals, each then sent to the bank."""
    need(actor, "finance.manage_wires", "Only finance officers send wires.")
    account = brokerage_account()
    if account is None:
        raise InvalidInput(
            "The brokerage's bank account is not configured (BANK_WIRE_IBAN).",
            code="no_bank_account",
        )
    if not withdrawal_ids:
        raise InvalidInput("Choose the withdrawals to pay.", fields={"withdrawals": ["None."]})
    qs = Withdrawal.objects.filter(pk__in=withdrawal_ids).select_related("wire", "client__user")
    rows = lock_in_order(rows=[qs]).rows[0]
    if len(rows) != len(set(withdrawal_ids)):
        raise InvalidInput("A chosen withdrawal does not exist.")
    for w in rows:
        wire = getattr(w, "wire", None)
        if wire is None or w.psp != BANK_WIRE:
            raise InvalidInput(f"{w.reference} is not a withdrawal by bank wire.")
        if w.status != Withdrawal.Status.APPROVED or wire.batch_id is not None:
            raise InvalidInput(
                f"{w.reference} is {w.get_status_display().lower()}: only approved wires not "
                "yet sent go in a payment file.",
                code="not_payable",
            )
    now = timezone.now()
    message_id = new_reference("B")
    document = build_pain001(
        message_id=message_id,
        created_at=now,
        execution_date=execution_date or now.date(),
        debtor_name=account.beneficiary,
        debtor_iban=account.iban,
        debtor_bic=account.bic,
        transfers=[
            Transfer(
                end_to_end_id=w.wire.end_to_end_id,
                amount=w.amount,
                currency=w.currency,
                name=w.wire.beneficiary_name,
                iban=w.wire.iban,
                bic=w.wire.bic,
                remittance=f"Withdrawal {w.reference}",
            )
            for w in rows
        ],
    )
    totals: dict[str, Decimal] = {}
    for w in rows:
        totals[w.currency] = totals.get(w.currency, Decimal(0)) + w.amount
    batch = WireBatch.objects.create(
        message_id=message_id,
        document=document.decode(),
        count=len(rows),
        totals={c: str(t) for c, t in sorted(totals.items())},
        created_by=actor,
    )
    for w in rows:
        w.start_payout()
        w.payout_started_at, w.payout_attempts = now, w.payout_attempts + 1
        w.save(update_fields=["status", "payout_started_at", "payout_attempts"])
        w.wire.batch, w.wire.sent_at = batch, now
        w.wire.save(update_fields=["batch", "sent_at"])
        audit_record(
            actor=actor,
            action=audit_events.WITHDRAWAL_SENT_TO_BANK,
            target=w,
            evidence={"batch": message_id, "end_to_end_id": w.wire.end_to_end_id},
        )
        client_tell(w, "sent_to_bank", actor=actor, account_end=w.wire.iban[-4:])
    audit_record(
        actor=actor,
        action=audit_events.WIRE_BATCH_CREATED,
        target=batch,
        evidence={"count": batch.count, "totals": batch.totals},
    )
    return batch


@transaction.atomic
def wire_return(*, withdrawal: Withdrawal, reason: str, actor) -> Withdrawal:
    """The bank rejected a sent wire (the hold is released) or the beneficiary's bank sent a
    paid one back (the debit is reversed): either way the money is the client's again."""
    need(actor, "finance.manage_wires", "Only finance officers record returned wires.")
    reason = _reason(reason)
    w = lock_withdrawal(withdrawal.pk)
    wire = WireInstruction.objects.filter(withdrawal=w).first()
    if wire is None or wire.sent_at is None:
        raise InvalidInput("Only a wire sent to the bank can come back.")
    if w.status == Withdrawal.Status.PROCESSING:
        withdrawal_finish(w.pk, OperationResult("failed", "", reason), actor)
        w = lock_withdrawal(w.pk)
    elif w.status == Withdrawal.Status.PAID:
        ledger_post(
            kind=LedgerTransaction.Kind.WITHDRAWAL,
            idempotency_key=f"withdrawal_return:{w.pk}",
            legs=[
                Leg(wallet_for(w.client, w.currency), w.amount),
                Leg(clearing_for(BANK_WIRE, w.currency), -w.amount),
            ],
            actor=actor,
            client=w.client,
            psp=BANK_WIRE,
            external_reference=wire.end_to_end_id,
            description=f"Withdrawal {w.reference} returned by the bank",
        )
        w.mark_returned()
        w.failure_reason = reason[:255]
        w.save()
    else:
        raise InvalidInput(f"This withdrawal is {w.get_status_display().lower()}.")
    wire.returned_at, wire.return_reason = timezone.now(), reason[:255]
    wire.save(update_fields=["returned_at", "return_reason"])
    audit_record(actor=actor, action=audit_events.WITHDRAWAL_RETURNED, target=w, reason=reason)
    client_tell(w, "returned", actor=actor, account_end=wire.iban[-4:], reason=reason)
    return w
