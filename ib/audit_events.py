"""The audit event codes ib writes, with the labels staff read (one catalogue per app;
`brokerage.events` refuses a code no catalogue declares)."""

from brokerage.events import catalogue

event = catalogue("ib")

LEAD_ATTRIBUTED = event("lead.attributed", "Lead attributed")
PARTNER_CREATED = event("partner.created", "Partner created")
PARTNER_STATUS_CHANGED = event("partner.status_changed", "Partner status changed")
REFERRAL_ATTRIBUTED = event("referral.attributed", "Referral attributed")
REFERRAL_MOVED = event("referral.moved", "Referral moved")
