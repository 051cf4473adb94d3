"""The audit event codes compliance writes, with the labels staff read (one catalogue per app;
`brokerage.events` refuses a code no catalogue declares)."""

from brokerage.events import catalogue

event = catalogue("compliance")

LIST_IMPORTED = event("screening.list_imported", "Sanctions or PEP list imported")
CLIENT_SCREENED = event("screening.client_screened", "Client screened against the lists")
ALERT_CONFIRMED = event("screening.alert_confirmed", "Screening hit confirmed as a true match")
ALERT_DISMISSAL_PROPOSED = event(
    "screening.alert_dismissal_proposed", "Screening hit proposed for dismissal (four eyes)"
)
ALERT_DISMISSED = event("screening.alert_dismissed", "Screening hit dismissed as a false positive")
BLOCK_LIFTED = event("screening.block_lifted", "Sanctions block lifted")
JURISDICTION_APPLIED = event(
    "jurisdiction.applied", "Jurisdiction rule applied to a client (withdraw only)"
)
JURISDICTION_LIFTED = event("jurisdiction.lifted", "Jurisdiction rule lifted from a client")
COUNTRY_RISK_SET = event("risk.country_set", "Country risk set")
REVIEW_RESCHEDULED = event(
    "risk.review_rescheduled", "Periodic client review brought forward by a higher rating"
)
REVIEW_COMPLETED = event("risk.review_completed", "Periodic client review completed")
ALERT_CLEARED = event(
    "screening.alert_cleared", "Screening hit cleared by a list update (entry removed or changed)"
)
BOOK_RESCREENED = event("screening.book_rescreened", "Every client re-screened against the lists")
LIST_IMPORT_REFUSED = event(
    "screening.list_import_refused", "Sanctions or PEP list upload refused (nothing imported)"
)
DOSSIER_REQUESTED = event("dossier.requested", "Client dossier requested")
DOSSIER_BUILT = event("dossier.built", "Client dossier produced")
DOSSIER_DOWNLOADED = event("dossier.downloaded", "Client dossier downloaded")
CASE_OPENED = event("case.opened", "AML case opened")
CASE_ALERT_ADDED = event("case.alert_added", "Alert added to an AML case")
CASE_ASSIGNED = event("case.assigned", "AML case assigned to an officer")
CASE_NOTE_ADDED = event("case.note_added", "Note added to an AML case")
CASE_INVESTIGATING = event("case.investigating", "AML case investigation started")
CASE_ESCALATED = event("case.escalated", "AML case escalated to a second officer")
CASE_CLOSED = event("case.closed", "AML case closed")
CASE_REPORTED = event("case.reported", "Suspicious activity report filed for an AML case")
CASE_ATTACHMENT_ADDED = event("case.attachment_added", "File added to an AML case")
CASE_REPORT_DRAFTED = event("case.report_drafted", "Suspicious activity report drafted")
