"""The one lock order, and the one function that takes locks in it.

A transaction that locks more than one row takes them in this order, always:

1. ledger accounts, in primary-key order (`finance.ledger.lock_accounts`; `ledger_post` locks
   the accounts it posts to in the same order inside the database);
2. the money objects the change is about: a deposit before its refunds and chargebacks and
   before the client's withdrawals; several of a kind in primary-key order;
3. the client (`clients.locks.lock_client`), whose standing is then read from the locked row.

The audit log is not part of the order: `audit_record` only inserts (`brokerage.audit`), so it
may be called at any point. A service that locks more than one of these rows names them and
`lock_in_order` takes them (the helpers below are the common sets); a single row locked after
them (a refund or a chargeback after its deposit) keeps the order by coming last. So two
transactions that share rows queue in the same order and cannot deadlock
(tests/finance/test_reliability.py runs a hundred concurrent withdrawals on one wallet).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import Model, QuerySet

from clients.locks import lock_client
from clients.models import Client

from .ledger import clearing_for, lock_accounts, system_account, wallet_for
from .models import Deposit, LedgerAccount, Transfer, Withdrawal


@dataclass
class Locked:
    accounts: dict[int, LedgerAccount] = field(default_factory=dict)
    rows: list[list[Model]] = field(default_factory=list)
    client: Client | None = None


def lock_in_order(
    *,
    accounts: Iterable[LedgerAccount] = (),
    rows: Iterable[QuerySet] = (),
    client: Client | int | None = None,
) -> Locked:
    """Lock `accounts` (key order), then each queryset of `rows` (money objects, in the order
    given, each in key order), then `client`; the locked rows are returned fresh."""
    locked = Locked()
    accounts = list(accounts)
    if accounts:
        locked.accounts = lock_accounts(accounts)
    for qs in rows:
        locked.rows.append(list(qs.select_for_update(of=("self",)).order_by("pk")))
    if client is not None:
        locked.client = lock_client(client)
    return locked


def _one(found: list, model):
    if not found:
        raise model.DoesNotExist(f"{model.__name__} not found.")
    return found[0]


def lock_deposit_accounts(deposit: Deposit, *extra: LedgerAccount) -> Deposit:
    """The deposit's wallet and clearing accounts (and `extra`), then the deposit; returned
    fresh, with its client."""
    accounts = [
        wallet_for(deposit.client, deposit.currency),
        clearing_for(deposit.psp, deposit.currency),
        *extra,
    ]
    qs = Deposit.objects.filter(pk=deposit.pk).select_related("client__user")
    return _one(lock_in_order(accounts=accounts, rows=[qs]).rows[0], Deposit)


def lock_withdrawal(
    withdrawal_id: int, *, with_losses: bool = False, with_client: bool = False
) -> Withdrawal:
    """The wallet and clearing accounts (and the chargeback losses account, when a loss may be
    recovered), then the withdrawal, then (`with_client`) its client, as `withdrawal.client`."""
    w = Withdrawal.objects.get(pk=withdrawal_id)
    accounts = [wallet_for(w.client, w.currency), clearing_for(w.psp, w.currency)]
    if with_losses:
        accounts.append(system_account(LedgerAccount.Kind.CHARGEBACK_LOSSES, w.currency))
    qs = Withdrawal.objects.filter(pk=withdrawal_id).select_related("hold", "funding_deposit")
    locked = lock_in_order(
        accounts=accounts, rows=[qs], client=w.client_id if with_client else None
    )
    withdrawal = _one(locked.rows[0], Withdrawal)
    if locked.client is not None:
        withdrawal.client = locked.client
    return withdrawal


def lock_transfer(transfer_id: int, accounts: Iterable[LedgerAccount]) -> Transfer:
    """The transfer's wallet and omnibus accounts, then the transfer."""
    qs = Transfer.objects.filter(pk=transfer_id).select_related("client", "hold", "trading_account")
    return _one(lock_in_order(accounts=accounts, rows=[qs]).rows[0], Transfer)


def lock_client_money(client: Client, accounts: Iterable[LedgerAccount]) -> Client:
    """The client's ledger accounts, then the client (a new withdrawal or transfer: its money
    object does not exist yet); the client is returned fresh, to read its standing from."""
    return lock_in_order(accounts=accounts, client=client).client
