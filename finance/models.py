"""Finance: ledger, deposits, withdrawals, PSPs, reconciliation."""
