"""Writes of finance, one module per noun:

- `deposits`: the intent, the PSP's hosted page, the credit exactly once (FTD).
- `withdrawals`: request, automatic checks, review (four eyes), the payout exactly once.
- `refunds`: refunds of completed deposits, sent exactly once.
- `chargebacks`: disputes, their losses and outcomes.
- `commissions`: settled IB commissions credited to partners' wallets, once.
- `thresholds`: money thresholds, lowered at once, raised with a second officer's approval.
- `wires`: bank statements credit clients' wires and settle wire withdrawals; finance's queue
  of wires that matched no one; pain.001 payment files; returned wires.
- `webhooks`: PSP deliveries verified and each event applied once, through a table from
  event kind to handler; `sweeps`: the sweeper of payouts and refunds left unfinished.
- Below them, shared: `common` (errors, actors, money out, the PSP call), `limits` (FX,
  methods, closed loop, the thresholds in force) and `losses` (chargeback losses made good).
  Locks are taken through `finance.locks`, which states the one lock order.

Import direction (to be checked by import-linter): webhooks, sweeps, wires -> deposits, withdrawals,
refunds, chargebacks, thresholds (independent of each other) -> common -> limits, losses ->
ledger.

Every movement of money goes through `finance.ledger.ledger_post` under an idempotency key
derived from the business object (`deposit:<id>`, `withdrawal:<id>`, …), so a retried task, a
repeated webhook or a double click posts once. Calls to a PSP never run inside a database
transaction: the intent is committed first (with a hold on the wallet), the call is made with
our reference as the provider's idempotency key, and the outcome is committed after; a crash in
between is recovered by looking the operation up by that reference (`brokerage.operations`).

The public services are re-exported here for other apps (`from finance.services import
withdrawal_request`); inside finance, import from the noun's module.
"""

from .chargebacks import chargeback_evidence_add, chargeback_open, chargeback_resolve
from .commissions import commission_credit
from .common import DepositNotAllowed, WithdrawalNotAllowed, withdrawal_cancel
from .deposits import deposit_create, deposit_open_session
from .limits import closed_loop_capacity, method_available, threshold_values, usd_value
from .refunds import refund_execute, refund_request
from .sweeps import payouts_sweep
from .thresholds import threshold_approve, threshold_propose, threshold_reject
from .webhooks import psp_event_apply, psp_webhook_receive
from .wires import (
    bank_entry_assign,
    bank_entry_dismiss,
    bank_statement_import,
    wire_batch_create,
    wire_return,
)
from .withdrawals import (
    withdrawal_approve,
    withdrawal_checks,
    withdrawal_payout,
    withdrawal_reject,
    withdrawal_request,
)

__all__ = [
    "bank_entry_assign",
    "bank_entry_dismiss",
    "bank_statement_import",
    "wire_batch_create",
    "wire_return",
    "DepositNotAllowed",
    "WithdrawalNotAllowed",
    "chargeback_evidence_add",
    "chargeback_open",
    "chargeback_resolve",
    "closed_loop_capacity",
    "commission_credit",
    "deposit_create",
    "deposit_open_session",
    "method_available",
    "payouts_sweep",
    "psp_event_apply",
    "psp_webhook_receive",
    "refund_execute",
    "refund_request",
    "threshold_approve",
    "threshold_propose",
    "threshold_reject",
    "threshold_values",
    "usd_value",
    "withdrawal_approve",
    "withdrawal_cancel",
    "withdrawal_checks",
    "withdrawal_payout",
    "withdrawal_reject",
    "withdrawal_request",
]
