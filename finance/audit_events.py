"""The audit event codes finance writes, with the labels staff read (one catalogue per app;
`brokerage.events` refuses a code no catalogue declares)."""

from brokerage.events import catalogue

event = catalogue("finance")

CHARGEBACK_EVIDENCE_ADDED = event("chargeback.evidence_added", "Chargeback evidence added")
CHARGEBACK_LOSS_RECOVERED = event("chargeback.loss_recovered", "Chargeback loss recovered")
CHARGEBACK_OPENED = event("chargeback.opened", "Chargeback opened")
CHARGEBACK_WON = event("chargeback.won", "Chargeback won: funds returned")
CHARGEBACK_LOST = event("chargeback.lost", "Chargeback lost")
DEPOSIT_COMPLETED = event("deposit.completed", "Deposit completed")
DEPOSIT_CREATED = event("deposit.created", "Deposit created")
DEPOSIT_FAILED = event("deposit.failed", "Deposit failed")
DEPOSIT_EXPIRED = event("deposit.expired", "Deposit expired unpaid")
DEPOSIT_OPENED = event("deposit.opened", "Deposit opened")
DEPOSIT_INSTRUMENT_RECORDED = event(
    "deposit.instrument_recorded", "Payment instrument recorded on a deposit"
)
FINANCE_THRESHOLD_LOWERED = event("finance.threshold_lowered", "Finance threshold lowered")
FINANCE_THRESHOLD_RAISE_APPROVED = event(
    "finance.threshold_raise_approved", "Finance threshold raise approved"
)
FINANCE_THRESHOLD_RAISE_PROPOSED = event(
    "finance.threshold_raise_proposed", "Finance threshold raise proposed"
)
FINANCE_THRESHOLD_RAISE_REJECTED = event(
    "finance.threshold_raise_rejected", "Finance threshold raise rejected"
)
FINANCE_THRESHOLD_RAISE_SUPERSEDED = event(
    "finance.threshold_raise_superseded", "Finance threshold raise superseded"
)
RECONCILIATION_FINISHED = event("reconciliation.finished", "Reconciliation finished")
RECONCILIATION_ITEM_RESOLVED = event("reconciliation.item_resolved", "Reconciliation item resolved")
RECONCILIATION_PERIOD_CLOSED = event("reconciliation.period_closed", "Reconciliation period closed")
RECONCILIATION_STARTED = event("reconciliation.started", "Reconciliation started")
REFUND_REQUESTED = event("refund.requested", "Refund requested")
REFUND_SUCCEEDED = event("refund.succeeded", "Refund paid by the PSP")
REFUND_FAILED = event("refund.failed", "Refund refused by the PSP")
TRANSFER_COMPLETED = event("transfer.completed", "Transfer completed")
TRANSFER_FAILED = event("transfer.failed", "Transfer failed")
TRANSFER_REQUESTED = event("transfer.requested", "Transfer requested")
WITHDRAWAL_APPROVED = event("withdrawal.approved", "Withdrawal approved")
WITHDRAWAL_AUTO_APPROVED = event("withdrawal.auto_approved", "Withdrawal auto approved")
WITHDRAWAL_CANCELLED = event("withdrawal.cancelled", "Withdrawal cancelled")
WITHDRAWAL_FIRST_APPROVAL = event("withdrawal.first_approval", "Withdrawal first approval")
WITHDRAWAL_PAID = event("withdrawal.paid", "Withdrawal paid")
WITHDRAWAL_PAYOUT_FAILED = event("withdrawal.payout_failed", "Withdrawal payout failed")
WITHDRAWAL_PAYOUT_RESUMED = event("withdrawal.payout_resumed", "Withdrawal payout resumed")
WITHDRAWAL_PAYOUT_STARTED = event("withdrawal.payout_started", "Withdrawal payout started")
WITHDRAWAL_REJECTED = event("withdrawal.rejected", "Withdrawal rejected")
WITHDRAWAL_REQUESTED = event("withdrawal.requested", "Withdrawal requested")
WITHDRAWAL_SENT_TO_REVIEW = event("withdrawal.sent_to_review", "Withdrawal sent to review")
BANK_STATEMENT_IMPORTED = event("bank_statement.imported", "Bank statement imported")
BANK_STATEMENT_MATCHED = event("bank_statement.matched", "Bank statement matched in the background")
BANK_ENTRY_CREDITED = event("bank_entry.credited", "Bank wire credited to the client")
BANK_ENTRY_QUEUED = event("bank_entry.queued", "Bank wire waiting for finance")
BANK_ENTRY_ASSIGNED = event("bank_entry.assigned", "Bank wire assigned to a client by hand")
BANK_ENTRY_DISMISSED = event("bank_entry.dismissed", "Bank wire dismissed")
WIRE_BATCH_CREATED = event("wire_batch.created", "Wire payment file created")
WITHDRAWAL_SENT_TO_BANK = event("withdrawal.sent_to_bank", "Withdrawal sent to the bank")
WITHDRAWAL_RETURNED = event("withdrawal.returned", "Withdrawal returned by the bank")
