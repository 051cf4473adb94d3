"""The client's financial profile (a new version at each change, audited) and the
source-of-funds documents compliance reviews; a client under enhanced due diligence withdraws
only once one is approved."""

from decimal import Decimal

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile

from brokerage.errors import InvalidInput, NotAllowed
from brokerage.models import AuditEvent
from clients.models import ClientActivity
from clients.services import client_risk_rating_set
from kyc import specimens
from kyc.financial_profile import (
    financial_profile_current,
    financial_profile_save,
    sof_document_approve,
    sof_document_reject,
    sof_document_upload,
)
from kyc.models import FinancialProfile, SourceOfFundsDocument
from tests.conftest import login, make_client_user, make_staff
from tests.finance.conftest import deposit_paid, methods, verified_client  # noqa: F401
from tests.kyc.conftest import FINANCES

pytestmark = pytest.mark.django_db


def _pdf():
    return SimpleUploadedFile("payslips.pdf", specimens.proof_of_address_pdf(specimens.Person()))


def test_each_change_is_a_new_version_and_the_same_answers_record_nothing():
    user = make_client_user()
    first = financial_profile_save(client=user.client, actor=user, data=FINANCES)
    again = financial_profile_save(client=user.client, actor=user, data=dict(FINANCES))
    assert again.pk == first.pk
    second = financial_profile_save(
        client=user.client, actor=user, data={**FINANCES, "annual_income": "100k_250k"}
    )
    assert (first.version, second.version) == (1, 2)
    assert financial_profile_current(user.client) == second
    assert FinancialProfile.objects.get(pk=first.pk).annual_income == "25k_100k"  # kept
    events = AuditEvent.objects.filter(action="kyc.financial_profile_declared").order_by("pk")
    assert events.count() == 2
    assert events.last().evidence["changes"] == [
        {"field": "Annual income", "from": "25,000 to 100,000", "to": "100,000 to 250,000"}
    ]


@pytest.mark.parametrize(
    "change, field",
    [
        ({"annual_income": "lots"}, "annual_income"),
        ({"expected_deposits_amount": "-5"}, "expected_deposits_amount"),
        ({"expected_deposits_amount": "NaN"}, "expected_deposits_amount"),
        ({"source_of_funds": "other", "source_of_funds_detail": ""}, "source_of_funds_detail"),
        ({"employment_status": "employed", "occupation": " "}, "occupation"),
    ],
)
def test_a_bad_answer_is_named_and_nothing_is_recorded(change, field):
    user = make_client_user()
    with pytest.raises(InvalidInput) as refused:
        financial_profile_save(client=user.client, actor=user, data={**FINANCES, **change})
    assert field in refused.value.fields
    assert not FinancialProfile.objects.exists()


def test_the_finances_page_saves_a_version_and_shows_errors_by_field(client):
    user = make_client_user()
    login(client, user)
    assert client.get("/portal/finances/").status_code == 200
    bad = client.post("/portal/finances/", {**FINANCES, "annual_income": ""})
    assert bad.status_code == 400
    assert b'data-field-error="annual_income"' in bad.content
    assert client.post("/portal/finances/", FINANCES).status_code == 302
    assert financial_profile_current(user.client).occupation == "Nurse"


def test_a_document_is_reviewed_and_the_client_told_in_their_language(
    django_capture_on_commit_callbacks,
):
    user = make_client_user()
    user.client.language = "es"
    user.client.save()
    officer = make_staff("compliance_officer")
    document = sof_document_upload(
        client=user.client, actor=user, description="Payslips for May", uploaded_file=_pdf()
    )
    assert document.status == "in_review"
    with pytest.raises(InvalidInput):
        sof_document_reject(document=document, actor=officer, reason=" ")
    with django_capture_on_commit_callbacks(execute=True):
        sof_document_reject(document=document, actor=officer, reason="Older than 90 days.")
    assert SourceOfFundsDocument.objects.get(pk=document.pk).status == "rejected"
    assert (
        mail.outbox[-1].subject
        == "No hemos podido aceptar su documento sobre el origen de los fondos"
    )
    assert "Older than 90 days." in mail.outbox[-1].body
    entry = ClientActivity.objects.get(template="sof_rejected")
    assert entry.client == user.client
    with pytest.raises(InvalidInput) as again:
        sof_document_approve(document=document, actor=officer, reason="Fine")
    assert again.value.code == "already_decided"
    assert AuditEvent.objects.filter(
        action="kyc.sof_rejected", reason="Older than 90 days."
    ).exists()


def test_only_compliance_officers_decide_documents():
    user = make_client_user()
    document = sof_document_upload(
        client=user.client, actor=user, description="Payslips", uploaded_file=_pdf()
    )
    with pytest.raises(NotAllowed):
        sof_document_approve(document=document, actor=make_staff("finance_officer"), reason="ok")


def test_a_refused_file_stores_nothing():
    user = make_client_user()
    with pytest.raises(InvalidInput):
        sof_document_upload(
            client=user.client,
            actor=user,
            description="Payslips",
            uploaded_file=SimpleUploadedFile("x.pdf", b"<svg></svg>"),
        )
    assert not SourceOfFundsDocument.objects.exists()


def test_the_queue_is_for_compliance_officers_and_its_queries_do_not_grow(
    client, django_assert_max_num_queries
):
    user = make_client_user()
    for n in range(3):
        sof_document_upload(
            client=user.client, actor=user, description=f"Statement {n}", uploaded_file=_pdf()
        )
    login(client, make_staff("sales_agent"))
    assert client.get("/backoffice/kyc/source-of-funds/").status_code == 403
    client.logout()
    login(client, make_staff("compliance_officer"))
    with django_assert_max_num_queries(12):
        page = client.get("/backoffice/kyc/source-of-funds/")
    assert page.content.count(b"data-sof=") == 3


def test_a_client_sees_only_their_own_documents(client):
    owner, other = make_client_user("a@test.example"), make_client_user("b@test.example")
    document = sof_document_upload(
        client=owner.client, actor=owner, description="Payslips", uploaded_file=_pdf()
    )
    login(client, other)
    assert client.get(f"/portal/finances/documents/{document.pk}/").status_code == 403


def test_an_edd_client_withdraws_only_once_a_source_of_funds_document_is_approved(methods):  # noqa: F811
    from finance.services import withdrawal_request

    client = verified_client()
    deposit_paid(client, methods["stripe"], "500.00")
    client_risk_rating_set(
        client=client, rating="high", score=70, actor="rule:risk_rating", reason="t", evidence={}
    )
    held = withdrawal_request(client=client, amount="50", currency="USD", psp="stripe", actor="t")
    assert held.status == "in_review"
    assert "source_of_funds_required" in [r["code"] for r in held.check_reasons]
    document = sof_document_upload(
        client=client, actor=client.user, description="Payslips", uploaded_file=_pdf()
    )
    held = withdrawal_request(client=client, amount="50", currency="USD", psp="stripe", actor="t")
    assert "source_of_funds_required" in [r["code"] for r in held.check_reasons]  # not yet
    sof_document_approve(document=document, actor=make_staff("compliance_officer"), reason="ok")
    paid = withdrawal_request(client=client, amount="50", currency="USD", psp="stripe", actor="t")
    assert paid.status == "approved"
    assert Decimal(paid.amount) == Decimal("50")


def test_a_jurisdiction_rule_of_enhanced_due_diligence_needs_a_source_of_funds_document(
    methods,  # noqa: F811
):
    from compliance.jurisdictions import country_rule_add
    from finance.services import withdrawal_request

    client = verified_client(country="PA")
    deposit_paid(client, methods["stripe"], "500.00")
    country_rule_add(
        actor=make_staff("compliance_officer"), country="PA", kind="edd", basis="FATF grey list"
    )
    held = withdrawal_request(client=client, amount="50", currency="USD", psp="stripe", actor="t")
    reason = next(r for r in held.check_reasons if r["code"] == "source_of_funds_required")
    assert "Panama (country of residence)" in reason["message"]
