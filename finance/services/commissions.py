"""IB commissions into partners' wallets: a settled period's amount, posted once.

The ledger side of `ib.periods`: IB commissions payable -> the partner's (account holder's)
wallet, under an idempotency key per period, partner and currency, so a repeated close posts
nothing twice. The partner then withdraws through the one withdrawal workflow.
"""

from __future__ import annotations

from decimal import Decimal

from brokerage.services import Actor

from ..ledger import Leg, ledger_post, system_account, wallet_for
from ..models import LedgerAccount, LedgerTransaction


def commission_credit(
    *, holder, amount: Decimal, currency: str, key: str, actor: Actor, description: str
) -> LedgerTransaction:
    """Credit `amount` (> 0, in cents) of settled commissions to `holder`'s wallet, once."""
    if amount <= 0:
        raise ValueError("Only a positive commission is credited.")
    txn, _ = ledger_post(
        kind=LedgerTransaction.Kind.COMMISSION,
        idempotency_key=key,
        legs=[
            Leg(system_account(LedgerAccount.Kind.IB_COMMISSIONS_PAYABLE, currency), -amount),
            Leg(wallet_for(holder, currency), amount),
        ],
        actor=actor,
        client=holder,
        description=description,
    )
    return txn
