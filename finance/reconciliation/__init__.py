"""Reconciliation: a PSP's or bank's statement file against the ledger.

Reading a file (pure: no database):
- `readers`: `read_statement`, `read_statement_headers`, `read_camt053_header`, `detect_format`;
  the streaming contract and the format check.
- one module per format: `stripe_csv` (Stripe's itemized payout reconciliation or balance
  report, CSV), `camt053` (ISO 20022 camt.053 XML), `mt940` (SWIFT MT940, with
  `mt940_details` for the :86: field), `generic_csv` (any CSV through a saved
  `ColumnMapping`, and `suggest_mapping`).
- shared by them: `base` (`FORMATS`, `StatementRow`, `StatementHeader`, `StatementError`, the
  upload as a stream), `values` (amounts, currencies, dates), `csvfile` (the CSV plumbing).

Reconciling (the database):
- `services`: start and execute a run, explain a difference, close a month (audited writes).
- `matching`: the engine a run executes: load the file's rows, match them in SQL.
- `selectors`: a run's progress, closed months, month bounds.
"""
