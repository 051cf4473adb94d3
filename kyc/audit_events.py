"""The audit event codes kyc writes, with the labels staff read (one catalogue per app;
`brokerage.events` refuses a code no catalogue declares)."""

from brokerage.events import catalogue

event = catalogue("kyc")

KYC_APPROVED = event("kyc.approved", "Kyc approved")
KYC_AUTO_APPROVED = event("kyc.auto_approved", "Kyc auto approved")
KYC_DOCUMENT_UPLOADED = event("kyc.document_uploaded", "Kyc document uploaded")
KYC_EXPIRY_WARNING = event("kyc.expiry_warning", "Kyc expiry warning")
KYC_FIRST_APPROVAL = event("kyc.first_approval", "Kyc first approval")
KYC_QUESTIONNAIRE_SCORED = event("kyc.questionnaire_scored", "Kyc questionnaire scored")
KYC_REJECTED = event("kyc.rejected", "Kyc rejected")
KYC_RESUBMISSION_REQUESTED = event("kyc.resubmission_requested", "Kyc resubmission requested")
KYC_SENT_TO_REVIEW = event("kyc.sent_to_review", "Kyc sent to review")
KYC_SUBMITTED = event("kyc.submitted", "Kyc submitted")
