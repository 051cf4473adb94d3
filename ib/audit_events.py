"""The audit event codes ib writes, with the labels staff read (one catalogue per app;
`brokerage.events` refuses a code no catalogue declares)."""

from brokerage.events import catalogue

event = catalogue("ib")

LEAD_ATTRIBUTED = event("lead.attributed", "Lead attributed")
PARTNER_CREATED = event("partner.created", "Partner created")
PARTNER_STATUS_CHANGED = event("partner.status_changed", "Partner status changed")
REFERRAL_ATTRIBUTED = event("referral.attributed", "Referral attributed")
REFERRAL_MOVED = event("referral.moved", "Referral moved")
PROGRAMME_CREATED = event("programme.created", "Partner programme created")
PLAN_CREATED = event("plan.created", "Commission plan created")
PLAN_VERSION_CREATED = event("plan.version_created", "Commission plan version drafted")
PLAN_VERSION_PUBLISHED = event("plan.version_published", "Commission plan version published")
PARTNER_PLAN_SET = event("partner.plan_set", "Partner's commission plan set")
PARTNER_PARENT_MOVED = event("partner.parent_moved", "Partner moved in the network")
PERIOD_CLOSED = event("period.closed", "Commission period closed and settled")
FRAUD_THRESHOLDS_CHANGED = event("fraud.thresholds_changed", "IB fraud thresholds changed")
SUB_IB_RATES_SET = event("partner.sub_rates_set", "Sub-IB rates set by its parent")
DISPUTE_OPENED = event("commission_dispute.opened", "Commission dispute opened")
DISPUTE_REJECTED = event("commission_dispute.rejected", "Commission dispute rejected")
DISPUTE_ADJUSTMENT_PROPOSED = event(
    "commission_dispute.adjustment_proposed", "Commission adjustment proposed (awaiting approval)"
)
DISPUTE_ADJUSTED = event("commission_dispute.adjusted", "Commission dispute adjusted")
DEAL_REVISION_PAID = event(
    "deal_revision.paid", "Commissions of a deal corrected or removed on the platform reversed"
)
LINE_RELEASED = event("commission_line.released", "Withheld commission line released")
LINE_CANCELLED = event("commission_line.cancelled", "Withheld commission line cancelled")
PARTNER_TOKEN_CREATED = event("partner.token_created", "Partner API token created")
PARTNER_TOKEN_REVOKED = event("partner.token_revoked", "Partner API token revoked")
CAMPAIGN_LINK_CREATED = event("campaign_link.created", "Partner campaign link created")
AGREEMENT_PUBLISHED = event("agreement.published", "Partner agreement version published")
AGREEMENT_ACCEPTED = event("agreement.accepted", "Partner agreement accepted")
PARTNER_APPLIED = event("partner.applied", "Partner application submitted")
PARTNER_APPROVED = event("partner.approved", "Partner application approved")
PARTNER_REJECTED = event("partner.rejected", "Partner application rejected")
PARTNER_REAPPLIED = event("partner.reapplied", "Rejected partner applied again")
INVITATION_CREATED = event("invitation.created", "Sub-IB invitation made")
INVITATION_WITHDRAWN = event("invitation.withdrawn", "Sub-IB invitation withdrawn")
PARTNER_REBATE_SET = event("partner.rebate_set", "Partner rebate to clients set")
PARTNER_WALLET_CURRENCY_SET = event(
    "partner.wallet_currency_set", "Partner's commissions wallet currency set"
)
DISPUTE_RECOMPUTED = event(
    "commission_dispute.recomputed", "Disputed commission recomputed on an IB manager's demand"
)
FRAUD_THRESHOLDS_RESET = event(
    "fraud.thresholds_reset", "Programme's IB fraud thresholds back to the global ones"
)
