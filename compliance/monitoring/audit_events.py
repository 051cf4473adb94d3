"""The audit event codes AML monitoring writes, with the labels staff read."""

from brokerage.events import catalogue

event = catalogue("aml")

ALERT_RAISED = event("aml.alert_raised", "AML monitoring alert raised")
ALERT_EVIDENCE_ADDED = event("aml.alert_evidence_added", "AML alert given more evidence")
ALERT_MOVED_TO_CASE = event("aml.alert_moved_to_case", "AML alert moved into a case")
ALERT_CLOSED = event("aml.alert_closed", "AML alert closed")
ALERT_REOPENED = event(
    "aml.alert_reopened", "AML alert reopened: more evidence inside its window after it closed"
)
WITHDRAWAL_HELD = event("aml.withdrawal_held", "Withdrawal held for a compliance officer by AML")
NIGHTLY_RUN = event("aml.nightly_run", "Nightly AML monitoring run over the book")
VERSION_DRAFTED = event("aml.version_drafted", "AML scenario version drafted")
VERSION_CHANGED = event("aml.version_changed", "AML scenario draft changed")
VERSION_BACKTEST_REQUESTED = event(
    "aml.version_backtest_requested", "AML scenario version's backtest asked for"
)
VERSION_BACKTESTED = event("aml.version_backtested", "AML scenario version backtested")
VERSION_BACKTEST_FAILED = event("aml.version_backtest_failed", "AML scenario backtest failed")
VERSION_PUBLISHED = event("aml.version_published", "AML scenario version published (live)")
VERSION_DISCARDED = event("aml.version_discarded", "AML scenario draft discarded")
