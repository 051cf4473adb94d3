"""The double-entry ledger: accounts, postings, holds and the verifier.

`ledger_post` is the only way money moves. It writes one transaction and its postings in one
statement each; the database (migration 0002) locks the accounts in primary-key order, applies
the balances, refuses an overdrawn wallet and, at commit, an unbalanced transaction. A repeated
idempotency key returns the first transaction and posts nothing.

Services that also change holds lock every account they touch first, with `lock_accounts`, so
the lock order is primary-key order everywhere.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from decimal import Decimal

import psycopg
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from brokerage.errors import DomainError, InvalidInput
from brokerage.models import User
from brokerage.money import quantum
from brokerage.services import Actor

from .models import Hold, LedgerAccount, LedgerTransaction

Kind = LedgerAccount.Kind


class InsufficientFunds(DomainError):
    """Not enough available in the wallet."""

    code = "insufficient_funds"
    status = 409


class IdempotencyConflict(DomainError):
    """The idempotency key was used before for a different movement."""

    code = "idempotency_conflict"
    status = 409


@dataclass(frozen=True)
class Leg:
    account: LedgerAccount
    amount: Decimal  # credit-positive: + increases the account's balance


# --- Accounts ----------------------------------------------------------------------------------


def account_get(*, kind: str, currency: str, client=None, psp: str = "") -> LedgerAccount:
    """The account for (kind, currency, client, psp), opened at zero on first use."""
    lookup = {"kind": kind, "currency": currency, "client": client, "psp": psp}
    account = LedgerAccount.objects.filter(**lookup).first()
    if account is not None:
        return account
    try:
        with transaction.atomic():
            return LedgerAccount.objects.create(**lookup)
    except IntegrityError:  # opened concurrently
        return LedgerAccount.objects.get(**lookup)


def wallet_for(client, currency: str) -> LedgerAccount:
    return account_get(kind=Kind.CLIENT_WALLET, currency=currency, client=client)


def clearing_for(psp: str, currency: str) -> LedgerAccount:
    return account_get(kind=Kind.PSP_CLEARING, currency=currency, psp=psp)


def system_account(kind: str, currency: str) -> LedgerAccount:
    return account_get(kind=kind, currency=currency)


def lock_accounts(accounts: Iterable[LedgerAccount]) -> dict[int, LedgerAccount]:
    """Lock the accounts FOR UPDATE in primary-key order; fresh rows by id."""
    ids = sorted({a.pk for a in accounts})
    rows = LedgerAccount.objects.select_for_update().filter(pk__in=ids).order_by("pk")
    return {a.pk: a for a in rows}


# --- Posting -----------------------------------------------------------------------------------


def _actor_parts(actor: Actor) -> tuple[int | None, str]:
    if isinstance(actor, User):
        return actor.pk, actor.email
    if not actor:
        raise ValueError("A ledger posting needs an actor (a user or a system rule).")
    return None, actor


def _validate(legs: Sequence[Leg]) -> None:
    if len(legs) < 2:
        raise InvalidInput("A ledger transaction needs at least two postings.")
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for leg in legs:
        amount = leg.amount
        if not isinstance(amount, Decimal) or not amount.is_finite() or amount == 0:
            raise InvalidInput(f"Posting amount {amount!r} must be a non-zero Decimal.")
        if amount != amount.quantize(quantum(leg.account.currency)):
            raise InvalidInput(f"{amount} has too many decimals for {leg.account.currency}.")
        totals[leg.account.currency] += amount
    unbalanced = {c: t for c, t in totals.items() if t != 0}
    if unbalanced:
        raise InvalidInput(f"The postings do not balance: {unbalanced}.", code="unbalanced")


def ledger_post(
    *,
    kind: str,
    idempotency_key: str,
    legs: Sequence[Leg],
    actor: Actor,
    client=None,
    psp: str = "",
    external_reference: str = "",
    description: str = "",
) -> tuple[LedgerTransaction, bool]:
    """Post one balanced transaction. Returns (transaction, created).

    A key seen before returns its transaction with created=False and posts nothing (the same
    movement asked twice); a key reused for different legs raises IdempotencyConflict.
    Raises InsufficientFunds when a client wallet would be overdrawn (chargebacks excepted).
    """
    _validate(legs)
    actor_id, actor_label = _actor_parts(actor)
    now = timezone.now()
    client_id = getattr(client, "pk", client)
    external_reference = external_reference[:100]
    actor_label = actor_label[:254]
    # One statement writes the transaction and its postings: at the top level it is its own
    # database transaction (one round trip; the deferred checks run at its commit); inside a
    # caller's transaction a savepoint lets the caller recover from a refusal.
    values, params = (
        [],
        [
            kind,
            idempotency_key,
            description[:255],
            client_id,
            psp,
            external_reference,
            actor_id,
            actor_label,
            now,
            external_reference,
            actor_label,
            now,
        ],
    )
    for leg in legs:
        values.append("(%s::bigint, %s::numeric, %s::text, %s::bigint, %s::text)")
        params += [
            leg.account.pk,
            leg.amount,
            leg.account.currency,
            leg.account.client_id or client_id,
            leg.account.psp or psp,
        ]
    sql = POST_SQL.format(values=", ".join(values))
    try:
        with _atomic_if_nested(), _prepared_cursor() as cur:
            cur.execute(sql, params, prepare=True)
            row = cur.fetchone()
        if row is None:
            return _existing(idempotency_key, legs), False
    except IntegrityError as exc:
        if "insufficient funds" in str(exc):
            raise InsufficientFunds(
                "There is not enough available in the wallet for this.",
                fields={"amount": ["More than the available balance."]},
            ) from exc
        raise
    txn = LedgerTransaction(
        pk=row[0],
        kind=kind,
        idempotency_key=idempotency_key,
        description=description[:255],
        client_id=client_id,
        psp=psp,
        external_reference=external_reference,
        actor_id=actor_id,
        actor_label=actor_label,
        posted_at=now,
    )
    txn._state.adding = False
    return txn, True


POST_SQL = """
WITH txn AS (
    INSERT INTO finance_ledgertransaction (kind, idempotency_key, description, client_id, psp,
                                           external_reference, actor_id, actor_label, posted_at)
    VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING id
)
INSERT INTO finance_posting (transaction_id, account_id, amount, currency, client_id, psp,
                             external_reference, actor_label, posted_at)
SELECT txn.id, leg.account_id, leg.amount, leg.currency, leg.client_id, leg.psp, %s, %s, %s
  FROM txn CROSS JOIN (VALUES {values}) AS leg (account_id, amount, currency, client_id, psp)
RETURNING transaction_id
"""


@contextmanager
def _prepared_cursor():
    """A server-side-binding cursor on Django's connection: the posting statement is prepared
    once per connection and then only executed (Django's own cursors bind on the client)."""
    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cur:
        yield cur


def _atomic_if_nested():
    return transaction.atomic() if connection.in_atomic_block else nullcontext()


def _existing(idempotency_key: str, legs: Sequence[Leg]) -> LedgerTransaction:
    txn = LedgerTransaction.objects.get(idempotency_key=idempotency_key)
    posted = sorted(txn.postings.values_list("account_id", "amount"))
    wanted = sorted((leg.account.pk, leg.amount) for leg in legs)
    if posted != wanted:
        raise IdempotencyConflict(
            f"Idempotency key {idempotency_key!r} was used for a different movement."
        )
    return txn


# --- Holds -------------------------------------------------------------------------------------


def hold_place(*, account: LedgerAccount, amount: Decimal, reference: str) -> Hold:
    """Set `amount` aside on a wallet. The caller holds the account's lock (lock_accounts)."""
    account.refresh_from_db(fields=["balance_amount", "held_amount"])
    if account.available_amount < amount:
        raise InsufficientFunds(
            f"Only {account.currency} {account.available_amount:,.2f} is available.",
            fields={"amount": ["More than the available balance."]},
        )
    return Hold.objects.create(
        account=account, amount=amount, currency=account.currency, reference=reference
    )


def hold_close(*, hold: Hold, status: str) -> Hold:
    """Settle (the debit is being posted) or release a hold. The caller holds the lock."""
    if status not in (Hold.Status.SETTLED, Hold.Status.RELEASED):
        raise ValueError(status)
    hold.status, hold.closed_at = status, timezone.now()
    hold.save(update_fields=["status", "closed_at"])
    return hold


# --- Verification ------------------------------------------------------------------------------

CHECKS = [
    (
        "balance",
        """SELECT a.id, a.balance_amount, coalesce(p.total, 0)
             FROM finance_ledgeraccount a
             LEFT JOIN (SELECT account_id, sum(amount) AS total FROM finance_posting
                        GROUP BY account_id) p ON p.account_id = a.id
            WHERE a.balance_amount <> coalesce(p.total, 0) ORDER BY a.id LIMIT 1""",
        "ledger account {0}: balance {1} but its postings sum to {2}",
    ),
    (
        "zero_sum",
        """SELECT transaction_id, currency, sum(amount) FROM finance_posting
            GROUP BY transaction_id, currency HAVING sum(amount) <> 0
            ORDER BY transaction_id LIMIT 1""",
        "ledger transaction {0}: {1} postings sum to {2}, not zero",
    ),
    (
        "has_postings",
        """SELECT t.id FROM finance_ledgertransaction t
            WHERE NOT EXISTS (SELECT 1 FROM finance_posting p WHERE p.transaction_id = t.id)
            ORDER BY t.id LIMIT 1""",
        "ledger transaction {0} has no postings",
    ),
    (
        "currency",
        """SELECT p.id, p.currency, a.id, a.currency FROM finance_posting p
             JOIN finance_ledgeraccount a ON a.id = p.account_id
            WHERE p.currency <> a.currency ORDER BY p.id LIMIT 1""",
        "posting {0} in {1} on ledger account {2} held in {3}",
    ),
    (
        "holds",
        """SELECT a.id, a.held_amount, coalesce(h.total, 0)
             FROM finance_ledgeraccount a
             LEFT JOIN (SELECT account_id, sum(amount) AS total FROM finance_hold
                        WHERE status = 'active' GROUP BY account_id) h ON h.account_id = a.id
            WHERE a.held_amount <> coalesce(h.total, 0) ORDER BY a.id LIMIT 1""",
        "ledger account {0}: {1} held but its active holds sum to {2}",
    ),
]


def ledger_verify() -> tuple[dict, str | None]:
    """Prove every balance is the sum of its postings and every transaction sums to zero.

    Reads one REPEATABLE READ snapshot. Returns (counts, first discrepancy or None).
    """
    outer = connection.in_atomic_block  # inside a caller's transaction: its isolation applies
    with transaction.atomic(), connection.cursor() as cur:
        if not outer:
            cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        cur.execute(
            "SELECT (SELECT count(*) FROM finance_ledgeraccount),"
            " (SELECT count(*) FROM finance_ledgertransaction),"
            " (SELECT count(*) FROM finance_posting)"
        )
        accounts, transactions, postings = cur.fetchone()
        counts = {"accounts": accounts, "transactions": transactions, "postings": postings}
        for _name, sql, message in CHECKS:
            cur.execute(sql)
            row = cur.fetchone()
            if row is not None:
                return counts, message.format(*row)
    return counts, None
