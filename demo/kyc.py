"""Demo KYC data: one client whose blurred passport waits in the compliance review queue, with
her financial profile and a source-of-funds document waiting for review."""

from allauth.account.models import EmailAddress
from django.core.files.uploadedfile import SimpleUploadedFile

from brokerage.models import User
from clients.services import client_register
from kyc import specimens
from kyc.financial_profile import financial_profile_save, sof_document_upload
from kyc.services import (
    kyc_details_save,
    kyc_document_upload,
    kyc_questionnaire_save,
    kyc_submission_autocheck,
    kyc_submission_current,
    kyc_submission_submit,
)

EMAIL = "kyc.review@demo.test"
DEMO_FINANCES = {
    "employment_status": "employed",
    "occupation": "Architect",
    "industry": "property",
    "currency": "GBP",
    "annual_income": "25k_100k",
    "net_worth": "100k_250k",
    "expected_deposits_amount": "10000",
    "source_of_funds": "salary",
    "source_of_wealth": "savings",
}


def install_demo_kyc(password: str) -> None:
    if User.objects.filter(email=EMAIL).exists():
        return
    person = specimens.Person(
        surname="NOVAK",
        given_names="EVA",
        number="612884031",
        address="14 Harbour Street, Bristol BS1 4DJ, United Kingdom",
    )
    user = User.objects.create_user(EMAIL, password, first_name="Eva", last_name="Novak")
    EmailAddress.objects.create(user=user, email=EMAIL, verified=True, primary=True)
    client = client_register(user=user, actor="system:seed_demo", country="GB")
    submission = kyc_submission_current(client=client)
    kyc_details_save(
        submission=submission,
        actor=user,
        data={
            "first_name": "Eva",
            "last_name": "Novak",
            "date_of_birth": person.birth,
            "nationality": "GB",
            "address_line": "14 Harbour Street",
            "city": "Bristol",
            "postcode": "BS1 4DJ",
            "country": "GB",
        },
    )
    kyc_questionnaire_save(
        submission=submission,
        actor=user,
        answers={
            "cfd_knowledge": "loss",
            "leverage": "30pct",
            "margin_call": "close",
            "experience": "some",
            "education": "no",
        },
    )
    financial_profile_save(client=client, actor=user, data=DEMO_FINANCES)
    kyc_document_upload(
        submission=submission,
        actor=user,
        kind="passport",
        side="front",
        uploaded_file=SimpleUploadedFile("passport.jpg", specimens.passport(person, blur=3)),
    )
    kyc_document_upload(
        submission=submission,
        actor=user,
        kind="proof_of_address",
        side="front",
        uploaded_file=SimpleUploadedFile("bill.pdf", specimens.proof_of_address_pdf(person)),
    )
    kyc_submission_submit(submission=submission, actor=user)
    kyc_submission_autocheck(submission_id=submission.pk)
    # A source-of-funds document waiting in compliance's queue (a bank statement as a PDF).
    sof_document_upload(
        client=client,
        actor=user,
        description="Bank statement showing salary payments, March to May",
        uploaded_file=SimpleUploadedFile("statement.pdf", specimens.proof_of_address_pdf(person)),
    )
