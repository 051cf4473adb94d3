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
    *,
    holder,
    amount: Decimal,
    currency: str,
    key: str,
    actor: Actor,
    description: str,
    paid_amount: Decimal | None = None,
    paid_currency: str = "",
) -> LedgerTransaction:
    """Credit `amount` (> 0, in cents) of settled commissions to `holder`'s wallet, once. Paid
    in another currency (`paid_amount` in `paid_currency`, converted by the caller, who keeps
    the rate): the payable is debited in `currency` and the wallet credited in `paid_currency`
    through the broker's FX conversion account in each, so each currency's postings sum to
    zero."""
    if amount <= 0:
        raise ValueError("Only a positive commission is credited.")
    payable = Leg(system_account(LedgerAccount.Kind.IB_COMMISSIONS_PAYABLE, currency), -amount)
    if not paid_currency or paid_currency == currency:
        legs = [payable, Leg(wallet_for(holder, currency), amount)]
    else:
        if paid_amount is None or paid_amount <= 0:
            raise ValueError("A conversion credits a positive amount.")
        legs = [
            payable,
            Leg(system_account(LedgerAccount.Kind.FX_CONVERSION, currency), amount),
            Leg(system_account(LedgerAccount.Kind.FX_CONVERSION, paid_currency), -paid_amount),
            Leg(wallet_for(holder, paid_currency), paid_amount),
        ]
    txn, _ = ledger_post(
        kind=LedgerTransaction.Kind.COMMISSION,
        idempotency_key=key,
        legs=legs,
        actor=actor,
        client=holder,
        description=description,
    )
    return txn
