"""The audit event codes clients writes, with the labels staff read (one catalogue per app;
`brokerage.events` refuses a code no catalogue declares)."""

from brokerage.events import catalogue

event = catalogue("clients")

ACCOUNT_TYPE_CHANGED_IN_ADMIN = event(
    "account_type.changed_in_admin", "Account type changed in admin"
)
ACCOUNT_TYPE_CREATED_IN_ADMIN = event(
    "account_type.created_in_admin", "Account type created in admin"
)
DEAL_CORRECTED = event("deal.corrected", "Deal corrected on the platform")
DEAL_REMOVED = event("deal.removed", "Deal removed on the platform")
CLIENT_AML_CASE_CLOSED = event("client.aml_case_closed", "Client AML case closed")
CLIENT_AML_CASE_OPENED = event("client.aml_case_opened", "Client AML case opened")
CLIENT_ASSIGNED = event("client.assigned", "Client assigned")
CLIENT_CALL_LOGGED = event("client.call_logged", "Client call logged")
CLIENT_CATEGORY_CHANGED = event("client.category_changed", "Client category changed")
CATEGORY_REQUESTED = event("category_request.submitted", "Professional status requested")
CATEGORY_REQUEST_APPROVED = event("category_request.approved", "Professional status approved")
CATEGORY_REQUEST_REFUSED = event("category_request.refused", "Professional status refused")
CLIENT_CONTACT_CHANGED = event("client.contact_changed", "Client changed their contact details")
CLIENT_FLAGGED = event("client.flagged", "Client flagged")
CLIENT_FTD = event("client.ftd", "Client FTD")
CLIENT_KYC_LEVEL_CHANGED = event("client.kyc_level_changed", "Client KYC level changed")
CLIENT_LANGUAGE_CHANGED = event("client.language_changed", "Client's email language changed")
CLIENT_NATIONALITY_SET = event("client.nationality_set", "Client's nationality recorded")
CLIENT_NOTE_ADDED = event("client.note_added", "Client note added")
CLIENT_REGISTERED = event("client.registered", "Client registered")
CLIENT_RESIDENCE_CHANGED = event("client.residence_changed", "Client's residence changed")
CLIENT_RESTRICTED = event("client.restricted", "Client restricted")
INSTRUMENT_CHANGED_IN_ADMIN = event("instrument.changed_in_admin", "Instrument changed in admin")
INSTRUMENT_CREATED_IN_ADMIN = event("instrument.created_in_admin", "Instrument created in admin")
RETENTION_CALL_LOGGED = event("retention.call_logged", "Retention call logged")
RETENTION_CLEARED = event("retention.cleared", "Retention cleared")
RETENTION_EMAIL_SENT = event("retention.email_sent", "Retention email sent")
RETENTION_FLAGGED = event("retention.flagged", "Retention flagged")
RETENTION_POLICY_SET = event("retention.policy_set", "Retention policy set")
TICKET_ASSIGNED = event("ticket.assigned", "Ticket assigned")
TICKET_CLOSED = event("ticket.closed", "Ticket closed")
TICKET_OPENED = event("ticket.opened", "Ticket opened")
TICKET_PRIORITY_SET = event("ticket.priority_set", "Ticket priority set")
TICKET_REPLIED = event("ticket.replied", "Ticket replied")
TRADING_ACCOUNT_OPEN_FAILED = event("trading_account.open_failed", "Trading account open failed")
TRADING_ACCOUNT_OPEN_UNKNOWN = event("trading_account.open_unknown", "Trading account open unknown")
TRADING_ACCOUNT_OPENED = event("trading_account.opened", "Trading account opened")
TRADING_ACCOUNT_TRADING_DISABLED = event(
    "trading_account.trading_disabled", "Trading disabled on the platform"
)
TRADING_ACCOUNT_TRADING_RESTORED = event(
    "trading_account.trading_restored", "Trading restored on the platform"
)
TRADING_ACCOUNT_CLOSE_ONLY = event(
    "trading_account.close_only", "Moved to its close-only group on the platform"
)
TRADING_ACCOUNT_GROUP_RESTORED = event(
    "trading_account.group_restored", "Moved back from its close-only group on the platform"
)
TRADING_ACCOUNT_LEVERAGE_CHANGED = event(
    "trading_account.leverage_changed", "Trading account leverage changed"
)
TRADING_ACCOUNT_LEVERAGE_REQUESTED = event(
    "trading_account.leverage_requested", "Leverage change asked of the platform by staff"
)
TRADING_ACCOUNT_LEVERAGE_LOWERED = event(
    "trading_account.leverage_lowered", "Leverage lowered on the platform"
)
TRADING_ACCOUNT_LEVERAGE_RESTORED = event(
    "trading_account.leverage_restored", "Leverage restored on the platform"
)
TRADING_ACCOUNT_PASSWORD_RESET = event(
    "trading_account.password_reset", "Trading account password reset"
)
CLIENT_RISK_RATED = event("client.risk_rated", "Client risk rating changed")
TERMS_PUBLISHED = event("terms.published", "New version of the client terms published")
TERMS_ACCEPTED = event("terms.accepted", "Client terms accepted")
