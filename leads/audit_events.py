"""The audit event codes leads writes, with the labels staff read (one catalogue per app;
`brokerage.events` refuses a code no catalogue declares)."""

from brokerage.events import catalogue

event = catalogue("leads")

LEAD_ASSIGNED = event("lead.assigned", "Lead assigned")
LEAD_NURTURE_STARTED = event("lead.nurture_started", "Lead nurture started")
LEAD_NURTURE_STOPPED = event("lead.nurture_stopped", "Lead nurture stopped")
LEAD_QUEUED = event("lead.queued", "Lead queued")
LEAD_HELD_BY_JURISDICTION = event(
    "lead.held_by_jurisdiction", "Lead kept from sales: a blocked country"
)
LEAD_RELEASED_BY_JURISDICTION = event(
    "lead.released_by_jurisdiction", "Lead released to sales: the country rule ended"
)
LEAD_REASSIGNED = event("lead.reassigned", "Lead reassigned")
LEAD_STATUS_CHANGED = event("lead.status_changed", "Lead status changed")
LEAD_UNROUTED = event("lead.unrouted", "Lead unrouted")
LEAD_UNSUBSCRIBED = event("lead.unsubscribed", "Lead unsubscribed")
LEAD_IMPORT_APPLIED = event("lead_import.applied", "Lead import applied")
LEAD_IMPORT_STARTED = event("lead_import.started", "Lead import started")
LEAD_IMPORT_UPLOADED = event("lead_import.uploaded", "Lead import uploaded")
DESK_SLA_CHANGED = event("desk.sla_changed", "Desk first-contact SLA changed")
LEAD_CALLBACK_SCHEDULED = event("lead.callback_scheduled", "Callback scheduled")
LEAD_CALLBACK_COMPLETED = event("lead.callback_completed", "Callback done")
LEAD_CALLBACK_REMINDED = event("lead.callback_reminded", "Agent reminded of a callback")
