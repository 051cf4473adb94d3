"""The provider's fees on a statement, booked to the fee account by day.

A PSP keeps its fees out of what it owes the brokerage: Stripe itemizes them per balance
transaction (its fee column), banks and other providers write a fee line of their own (category
fee: MT940 NCHG/NCOM, camt.053 CHRG/COMM/FEES, a CSV's category). A fee is not a client money
movement, so it is never a difference; it is a cost, and the ledger must carry it, or the PSP
clearing account would claim money the provider never pays out.

`fees_book` sums the run's fees by currency and booking day and books each day once: one
ledger transaction (kind fee) that debits the fee account and credits the PSP's clearing
account, keyed by (PSP, currency, day). A later run covering the same day finds that booking:
the same amount is "already booked" (matched), a different one is a difference to explain
(`fee_mismatch`, statement fees against booked fees), never a second booking. The fee postings
carry `fees:<day>` as their reference, which the matching never takes into reach.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.db import connection

from brokerage.money import quantum

from .. import psp as psp_registry
from ..ledger import IdempotencyConflict, Leg, clearing_for, ledger_post, system_account
from ..models import LedgerAccount, LedgerTransaction, ReconciliationItem, ReconciliationRun

FEE_REFERENCE_PREFIX = "fees:"
ACTOR = "rule:reconciliation"

# Fees of the run by currency and day: the itemized fee column plus the fee lines (whose
# amounts are money out of the merchant account, so negative for a fee charged).
FEES_SQL = """
SELECT currency, booked_on,
       coalesce(sum(fee), 0) - coalesce(sum(amount) FILTER (WHERE category = 'fee'), 0)
  FROM finance_statementline
 WHERE run_id = %s AND (fee IS NOT NULL OR category = 'fee')
 GROUP BY currency, booked_on
 ORDER BY booked_on, currency
"""


def fee_key(psp: str, currency: str, day: date) -> str:
    return f"psp-fees:{psp}:{currency}:{day.isoformat()}"


def fees_book(run: ReconciliationRun) -> list[dict]:
    """Book the run's fees by day (inside the run's transaction); what happened to each day:
    {day, currency, amount, status: booked | already_booked | differs, transaction}."""
    with connection.cursor() as cur:
        cur.execute(FEES_SQL, [run.pk])
        days = cur.fetchall()
    name = psp_registry.PSP_NAMES.get(run.psp, run.psp)
    done = []
    for currency, day, amount in days:
        amount = Decimal(amount).quantize(quantum(currency))
        if not amount:
            continue
        entry = {"day": day.isoformat(), "currency": currency, "amount": str(amount)}
        key = fee_key(run.psp, currency, day)
        legs = [
            Leg(clearing_for(run.psp, currency), amount),
            Leg(system_account(LedgerAccount.Kind.FEES, currency), -amount),
        ]
        try:
            txn, created = ledger_post(
                kind=LedgerTransaction.Kind.FEE,
                idempotency_key=key,
                legs=legs,
                actor=ACTOR,
                psp=run.psp,
                external_reference=f"{FEE_REFERENCE_PREFIX}{day.isoformat()}",
                description=f"{name} fees {day.isoformat()}",
            )
        except IdempotencyConflict:
            txn = LedgerTransaction.objects.get(idempotency_key=key)
            booked = txn.postings.get(account__kind=LedgerAccount.Kind.PSP_CLEARING).amount
            ReconciliationItem.objects.create(
                run=run,
                kind=ReconciliationItem.Kind.FEE_MISMATCH,
                reference=f"{name} fees {day.isoformat()}",
                statement_amount=-amount,
                ledger_amount=-booked,
                currency=currency,
            )
            done.append({**entry, "status": "differs", "transaction": txn.pk})
            continue
        done.append(
            {**entry, "status": "booked" if created else "already_booked", "transaction": txn.pk}
        )
    return done
