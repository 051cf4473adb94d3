from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from bench.kycdata import ANSWERS
from bench.kycdata import FINANCES as BENCH_FINANCES
from kyc import specimens
from kyc.financial_profile import financial_profile_save
from kyc.services import (
    kyc_details_save,
    kyc_document_upload,
    kyc_questionnaire_save,
    kyc_submission_current,
)
from tests.conftest import make_client_user

# The answers and finances of a salaried client who passes: the same as the benchmarks submit.
GOOD_ANSWERS, FINANCES = ANSWERS, BENCH_FINANCES


def details(person=None, **overrides):
    person = person or specimens.Person()
    first, last = person.given_names.title(), person.surname.title()
    data = {
        "first_name": first,
        "last_name": last,
        "date_of_birth": person.birth,
        "nationality": "GB",
        "address_line": "14 Harbour Street",
        "city": "Bristol",
        "postcode": "BS1 4DJ",
        "country": "GB",
    }
    data.update(overrides)
    return data


def prepared(
    person=None,
    *,
    id_kwargs=None,
    email="olivia@example.com",
    answers=None,
    poa=True,
    **detail_overrides,
):
    """A client whose wizard is complete up to submission."""
    person = person or specimens.Person()
    user = make_client_user(email)
    submission = kyc_submission_current(client=user.client)
    kyc_details_save(submission=submission, actor=user, data=details(person, **detail_overrides))
    kyc_questionnaire_save(submission=submission, actor=user, answers=answers or GOOD_ANSWERS)
    financial_profile_save(client=user.client, actor=user, data=FINANCES)
    kyc_document_upload(
        submission=submission,
        actor=user,
        kind="passport",
        side="front",
        uploaded_file=SimpleUploadedFile(
            "passport.jpg", specimens.passport(person, **(id_kwargs or {}))
        ),
    )
    if poa:
        kyc_document_upload(
            submission=submission,
            actor=user,
            kind="proof_of_address",
            side="front",
            uploaded_file=SimpleUploadedFile("bill.pdf", specimens.proof_of_address_pdf(person)),
        )
    return user, submission


@pytest.fixture
def today():
    return date.today()
