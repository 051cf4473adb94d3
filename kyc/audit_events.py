"""The audit event codes kyc writes, with the labels staff read (one catalogue per app;
`brokerage.events` refuses a code no catalogue declares)."""

from brokerage.events import catalogue

event = catalogue("kyc")

KYC_ADDRESS_CHANGED = event("kyc.address_changed", "KYC address changed by the client")
KYC_APPROVED = event("kyc.approved", "KYC approved")
KYC_AUTO_APPROVED = event("kyc.auto_approved", "KYC auto approved")
KYC_DOCUMENT_UPLOADED = event("kyc.document_uploaded", "KYC document uploaded")
KYC_EXPIRY_WARNING = event("kyc.expiry_warning", "KYC expiry warning")
KYC_FIRST_APPROVAL = event("kyc.first_approval", "KYC first approval")
KYC_QUESTIONNAIRE_SCORED = event("kyc.questionnaire_scored", "KYC questionnaire scored")
KYC_REJECTED = event("kyc.rejected", "KYC rejected")
KYC_RESUBMISSION_REQUESTED = event("kyc.resubmission_requested", "KYC resubmission requested")
KYC_SENT_TO_REVIEW = event("kyc.sent_to_review", "KYC sent to review")
KYC_SUBMITTED = event("kyc.submitted", "KYC submitted")
FINANCIAL_PROFILE_DECLARED = event(
    "kyc.financial_profile_declared", "Financial profile declared or changed"
)
SOF_DOCUMENT_UPLOADED = event("kyc.sof_uploaded", "Source-of-funds document uploaded")
SOF_DOCUMENT_APPROVED = event("kyc.sof_approved", "Source-of-funds document approved")
SOF_DOCUMENT_REJECTED = event("kyc.sof_rejected", "Source-of-funds document rejected")
