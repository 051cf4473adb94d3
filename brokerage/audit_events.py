"""The audit event codes brokerage writes, with the labels staff read (one catalogue per app;
`brokerage.events` refuses a code no catalogue declares)."""

from brokerage.events import catalogue

event = catalogue("brokerage")

API_KEY_CHANGED = event("api_key.changed", "Api key changed")
API_KEY_CREATED = event("api_key.created", "Api key created")
API_KEY_REVOKED = event("api_key.revoked", "Api key revoked")
API_KEY_ROTATED = event("api_key.rotated", "Api key rotated")
COUNTRY_RULE_ADDED = event("countryrule.added", "Jurisdiction rule added")
COUNTRY_RULE_END_SET = event("countryrule.ended", "Jurisdiction rule's end scheduled")
LEVERAGE_LIMIT_SET = event("leverage_limit.set", "Leverage limit set")
LEVERAGE_LIMIT_REMOVED = event("leverage_limit.removed", "Leverage limit removed")
REGION_SAVED = event("region.saved", "Region saved")
DESK_CREATED = event("desk.created", "Desk created")
DESK_MANAGER_SET = event("desk.manager_set", "Desk manager set")
MFA_TOTP_ENROLLED = event("mfa.totp_enrolled", "Mfa totp enrolled")
STAFF_CREATED = event("staff.created", "Staff created")
STAFF_DEACTIVATED = event("staff.deactivated", "Staff deactivated")
STAFF_UPDATED = event("staff.updated", "Staff updated")
USER_CHANGED_IN_ADMIN = event("user.changed_in_admin", "User changed in admin")
USER_CREATED_IN_ADMIN = event("user.created_in_admin", "User created in admin")
EXPORT_DOWNLOADED = event("export.downloaded", "Table exported")
ALERT_BREACH_OPENED = event("alert.breach_opened", "Alert limit crossed")
ALERT_BREACH_RESOLVED = event("alert.breach_resolved", "Alert back under its limit")
ALERT_THRESHOLD_SET = event("alert.threshold_set", "Alert limit changed")
REPORT_SUBSCRIBED = event("report.subscribed", "Report subscribed to")
REPORT_UNSUBSCRIBED = event("report.unsubscribed", "Report subscription ended")
REPORT_SENT = event("report.sent", "Scheduled report sent")
REPORT_SKIPPED = event("report.skipped", "Scheduled report not sent (no longer open)")
REPORT_FAILED = event("report.failed", "Scheduled report could not be sent")
REPORT_PREVIEW_SENT = event("report.preview_sent", "Report preview sent")
