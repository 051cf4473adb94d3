"""A client's complete KYC submission as the onboarding wizard leaves it (details, the
questionnaire, a salaried client's finances, a passport and a proof of address), for the
benchmarks and fault scripts that need submissions to check. Not a benchmark itself."""

from __future__ import annotations

ANSWERS = {
    "cfd_knowledge": "loss",
    "leverage": "30pct",
    "margin_call": "close",
    "experience": "some",
    "education": "no",
}
# The wizard's finances step, as a salaried client declares it.
FINANCES = {
    "employment_status": "employed",
    "occupation": "Nurse",
    "industry": "health",
    "currency": "GBP",
    "annual_income": "25k_100k",
    "net_worth": "25k_100k",
    "expected_deposits_amount": "5000",
    "source_of_funds": "salary",
    "source_of_funds_detail": "",
    "source_of_wealth": "savings",
    "source_of_wealth_detail": "",
}


def submission_complete(
    email: str, *, person, passport: bytes, first_name: str = "Olivia May", last_name="Harris"
):
    """A verified-email client with a complete submission, not yet submitted; the passport's
    image is given (a specimen, perhaps with a defect). The details name `first_name`
    `last_name` (the specimen's own name unless a mismatch is wanted)."""
    from allauth.account.models import EmailAddress
    from django.core.files.uploadedfile import SimpleUploadedFile

    from brokerage.models import User
    from clients.services import client_register
    from kyc import specimens
    from kyc.financial_profile import financial_profile_save
    from kyc.services import (
        kyc_details_save,
        kyc_document_upload,
        kyc_questionnaire_save,
        kyc_submission_current,
    )

    user = User.objects.create_user(
        email, "bench-password-1", first_name="Olivia May", last_name="Harris"
    )
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    client = client_register(user=user, actor="bench")
    submission = kyc_submission_current(client=client)
    details = {
        "first_name": first_name,
        "last_name": last_name,
        "date_of_birth": person.birth,
        "nationality": "GB",
        "address_line": "14 Harbour Street",
        "city": "Bristol",
        "postcode": "BS1 4DJ",
        "country": "GB",
    }
    kyc_details_save(submission=submission, actor=user, data=details)
    kyc_questionnaire_save(submission=submission, actor=user, answers=ANSWERS)
    financial_profile_save(client=client, actor=user, data=FINANCES)
    for kind, name, data in (
        ("passport", "p.jpg", passport),
        ("proof_of_address", "b.pdf", specimens.proof_of_address_pdf(person)),
    ):
        kyc_document_upload(
            submission=submission,
            actor=user,
            kind=kind,
            side="front",
            uploaded_file=SimpleUploadedFile(name, data),
        )
    return submission
