import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile

from brokerage.errors import InvalidInput, NotAllowed
from brokerage.models import AuditEvent
from clients.models import Client
from clients.standing import Purpose, client_standing
from kyc import specimens
from kyc.models import KycDocument, KycSubmission
from kyc.services import (
    kyc_document_upload,
    kyc_expiry_sweep,
    kyc_questionnaire_save,
    kyc_review_approve,
    kyc_review_request_resubmission,
    kyc_submission_autocheck,
    kyc_submission_submit,
)
from tests.conftest import make_staff
from tests.kyc.conftest import prepared

pytestmark = pytest.mark.django_db


def submit_and_check(submission, user):
    kyc_submission_submit(submission=submission, actor=user)
    return kyc_submission_autocheck(submission_id=submission.pk)


def test_a_clean_submission_is_approved_without_a_human(django_capture_on_commit_callbacks):
    user, submission = prepared()
    client = Client.objects.get(pk=user.client.pk)
    assert client_standing(client, Purpose.DEPOSIT, amount_usd=5000).codes == ["kyc_deposit_limit"]
    assert client_standing(client, Purpose.WITHDRAW).codes == ["kyc_not_verified"]
    kyc_submission_submit(submission=submission, actor=user)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        submission = kyc_submission_autocheck(submission_id=submission.pk)
        kyc_submission_autocheck(submission_id=submission.pk)  # a second copy of the task
    # The client is told, once (the portal promises it).
    assert [(m.to, m.subject) for m in mail.outbox] == [([user.email], "Your identity is verified")]
    assert submission.state == "approved" and submission.decided_by is None
    client = Client.objects.get(pk=user.client.pk)
    assert client.kyc_level == 1 and client.id_document_expires_on is not None
    assert client_standing(client, Purpose.DEPOSIT, amount_usd=50000).clear
    assert client_standing(client, Purpose.WITHDRAW).clear
    event = AuditEvent.objects.get(action="kyc.auto_approved")
    assert event.actor_label == "rule:kyc_autocheck" and event.evidence["flags"] == []
    assert submission.checks.filter(passed=False).count() == 0


def test_a_blurred_passport_goes_to_review_flagged_blurry():
    user, submission = prepared(id_kwargs={"blur": 3})
    submission = submit_and_check(submission, user)
    assert submission.state == "in_review"
    flags = set(submission.checks.filter(passed=False).values_list("flag", flat=True))
    assert "blurry" in flags
    assert Client.objects.get(pk=user.client.pk).kyc_level == 0


def test_checking_twice_changes_nothing():
    user, submission = prepared()
    submit_and_check(submission, user)
    checks = submission.checks.count()
    kyc_submission_autocheck(submission_id=submission.pk)
    assert submission.checks.count() == checks


def test_incomplete_submissions_say_what_is_missing():
    user, submission = prepared(poa=False)
    with pytest.raises(InvalidInput) as missing:
        kyc_submission_submit(submission=submission, actor=user)
    assert "proof_of_address" in missing.value.fields
    assert KycSubmission.objects.get(pk=submission.pk).state == "draft"


def test_a_refused_file_stores_nothing():
    user, submission = prepared(poa=False)
    before = KycDocument.objects.count()
    with pytest.raises(InvalidInput):
        kyc_document_upload(
            submission=submission,
            actor=user,
            kind="proof_of_address",
            side="front",
            uploaded_file=SimpleUploadedFile("bill.pdf", b"MZ\x90\x00" * 50),
        )
    assert KycDocument.objects.count() == before


def test_questionnaire_outcomes_and_cooling_off():
    user, submission = prepared()
    weak = {
        "cfd_knowledge": "unsure",
        "leverage": "unsure",
        "margin_call": "unsure",
        "experience": "never",
        "education": "no",
    }
    submission = kyc_questionnaire_save(submission=submission, actor=user, answers=weak)
    assert submission.questionnaire_outcome == "fail" and submission.cooling_off_until
    with pytest.raises(InvalidInput, match="questionnaire again"):
        kyc_questionnaire_save(submission=submission, actor=user, answers=weak)


def test_the_same_document_for_two_clients_is_a_fraud_flag():
    user, submission = prepared()
    submit_and_check(submission, user)
    other, second = prepared(email="other@example.com")  # the same generated files
    second = submit_and_check(second, other)
    assert second.state == "in_review"
    assert second.checks.filter(flag="duplicate_document").exists()


def test_officer_requests_resubmission_then_the_clean_document_is_approved():
    user, submission = prepared(id_kwargs={"blur": 3})
    submission = submit_and_check(submission, user)
    officer = make_staff("compliance_officer")
    kyc_review_request_resubmission(
        submission=submission,
        actor=officer,
        documents=["passport"],
        message="The photo is blurry; take it in good light.",
    )
    submission = KycSubmission.objects.get(pk=submission.pk)
    assert submission.state == "resubmission" and submission.resubmit_documents == ["passport"]
    kyc_document_upload(
        submission=submission,
        actor=user,
        kind="passport",
        side="front",
        uploaded_file=SimpleUploadedFile("passport.jpg", specimens.passport(specimens.Person())),
    )
    submission = submit_and_check(submission, user)
    assert submission.state == "approved"
    assert submission.checks.filter(run=2, passed=False).count() == 0


def test_sales_staff_cannot_review():
    user, submission = prepared(id_kwargs={"blur": 3})
    submission = submit_and_check(submission, user)
    with pytest.raises(NotAllowed):
        kyc_review_approve(
            submission=submission, actor=make_staff("sales_agent"), reason="looks fine"
        )


def edd_rule(country="GB"):
    from compliance.jurisdictions import country_rule_add

    return country_rule_add(
        actor="system:test", country=country, kind="edd", basis="High-risk third country"
    )


def test_four_eyes_for_high_risk_countries():
    edd_rule()
    user, submission = prepared(id_kwargs={"blur": 3})
    submission = submit_and_check(submission, user)
    first = make_staff("compliance_officer")
    second = make_staff("compliance_officer", email="second.officer@test.example")
    submission = kyc_review_approve(submission=submission, actor=first, reason="photo legible")
    assert submission.state == "in_review" and submission.first_approval_by == first
    with pytest.raises(NotAllowed):
        kyc_review_approve(submission=submission, actor=first, reason="again")
    submission = kyc_review_approve(submission=submission, actor=second, reason="agree")
    assert submission.state == "approved"
    assert Client.objects.get(pk=user.client.pk).kyc_level == 1


def test_expiry_warns_then_restricts(today, django_capture_on_commit_callbacks):
    from datetime import timedelta

    user, submission = prepared()
    submit_and_check(submission, user)
    client = Client.objects.get(pk=user.client.pk)
    Client.objects.filter(pk=client.pk).update(id_document_expires_on=today + timedelta(days=30))
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert kyc_expiry_sweep(today=today) == {"warned": 1, "restricted": 0}
        assert kyc_expiry_sweep(today=today) == {"warned": 1, "restricted": 0}  # run again
    assert [m.subject for m in mail.outbox] == ["Your identity document expires soon"]
    Client.objects.filter(pk=client.pk).update(id_document_expires_on=today - timedelta(days=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert kyc_expiry_sweep(today=today) == {"warned": 0, "restricted": 1}
    assert mail.outbox[-1].subject == "Your identity document has expired"
    client = Client.objects.get(pk=client.pk)
    assert client.restricted and client.kyc_level == 0
    assert client_standing(client, Purpose.WITHDRAW).codes == ["restricted", "kyc_not_verified"]


def test_a_document_the_checks_cannot_read_goes_to_review_not_a_crash():
    user, submission = prepared()
    kyc_submission_submit(submission=submission, actor=user)
    document = submission.documents.get(kind="passport")
    with document.file.open("wb") as fh:  # damaged in storage after it was accepted
        fh.write(b"\xff\xd8\xff garbage")
    submission = kyc_submission_autocheck(submission_id=submission.pk)
    assert submission.state == "in_review"
    assert submission.checks.filter(flag="unreadable").exists()


def test_resubmission_resets_four_eyes():
    edd_rule()
    user, submission = prepared(id_kwargs={"blur": 3})
    submission = submit_and_check(submission, user)
    first = make_staff("compliance_officer")
    second = make_staff("compliance_officer", email="second.officer@test.example")
    kyc_review_approve(submission=submission, actor=first, reason="fine")
    kyc_review_request_resubmission(
        submission=submission,
        actor=second,
        documents=["passport"],
        message="Sharper photo, please.",
    )
    kyc_document_upload(
        submission=submission,
        actor=user,
        kind="passport",
        side="front",
        uploaded_file=SimpleUploadedFile("p.jpg", specimens.passport(specimens.Person())),
    )
    submission = submit_and_check(submission, user)
    assert submission.state == "in_review"  # high-risk residence: never automatic
    assert submission.checks.filter(flag="high_risk_country").exists()
    submission = kyc_review_approve(submission=submission, actor=second, reason="ok")
    assert submission.state == "in_review"  # one approval is not enough any more


def test_an_expired_client_can_verify_again():
    from datetime import date, timedelta

    from kyc.services import kyc_submission_current

    user, submission = prepared()
    submit_and_check(submission, user)
    Client.objects.filter(pk=user.client.pk).update(
        id_document_expires_on=date.today() - timedelta(days=1)
    )
    kyc_expiry_sweep()
    fresh = kyc_submission_current(client=Client.objects.get(pk=user.client.pk))
    assert fresh.pk != submission.pk and fresh.state == "draft"


@pytest.mark.django_db(transaction=True)
def test_the_checks_run_with_no_transaction_open(monkeypatch):
    from django.db import connection

    from kyc import ocr, quality

    seen = []

    def watched(real):
        def call(*args, **kwargs):
            seen.append((real.__name__, connection.in_atomic_block))
            return real(*args, **kwargs)

        return call

    monkeypatch.setattr(ocr, "mrz_crops", watched(ocr.mrz_crops))
    monkeypatch.setattr(quality, "measure", watched(quality.measure))
    user, submission = prepared()
    submission = submit_and_check(submission, user)
    assert {name for name, _ in seen} == {"mrz_crops", "measure"}
    assert not any(in_transaction for _, in_transaction in seen)  # so no row lock held either
    assert submission.state == "approved"
    assert AuditEvent.objects.filter(action="kyc.auto_approved").count() == 1


def _during_the_checks(monkeypatch, change):
    """Run `change` once, while the first OCR call of the checks is under way."""
    from kyc import ocr

    real, done = ocr.mrz_crops, []

    def ocr_then_change(*args, **kwargs):
        if not done:
            done.append(True)
            change()
        return real(*args, **kwargs)

    monkeypatch.setattr(ocr, "mrz_crops", ocr_then_change)


def test_a_submission_decided_during_the_checks_is_not_decided_again(monkeypatch):
    user, submission = prepared()
    kyc_submission_submit(submission=submission, actor=user)
    _during_the_checks(
        monkeypatch, lambda: kyc_submission_autocheck(submission_id=submission.pk)
    )  # another attempt (the sweeper's) records first
    submission = kyc_submission_autocheck(submission_id=submission.pk)
    assert submission.state == "approved"
    assert set(submission.checks.values_list("run", flat=True)) == {1}
    assert AuditEvent.objects.filter(action="kyc.auto_approved").count() == 1


def test_documents_replaced_during_the_checks_are_not_decided_on_stale_results(monkeypatch):
    user, submission = prepared(id_kwargs={"blur": 3})
    kyc_submission_submit(submission=submission, actor=user)
    blurred = submission.documents.get(kind="passport", is_current=True)

    def replace_passport():
        KycDocument.objects.filter(pk=blurred.pk).update(is_current=False)
        sharp = KycDocument(
            submission=submission,
            kind="passport",
            side="front",
            original_name="passport.jpg",
            content_type="image/jpeg",
            size=1,
            sha256="0" * 64,
        )
        sharp.file.save(
            "p.jpg", SimpleUploadedFile("p.jpg", specimens.passport(specimens.Person())), save=False
        )
        sharp.save()

    _during_the_checks(monkeypatch, replace_passport)
    submission = kyc_submission_autocheck(submission_id=submission.pk)
    assert submission.state == "submitted"  # the blurred photo's results were discarded
    assert not submission.checks.exists()
    assert not AuditEvent.objects.filter(action="kyc.sent_to_review").exists()
    submission = kyc_submission_autocheck(submission_id=submission.pk)  # the next task
    assert submission.state == "approved"  # decided on the passport it now holds
    assert set(submission.checks.values_list("run", flat=True)) == {1}


def test_the_sweeper_queues_a_submission_left_unchecked_past_its_setting(settings, monkeypatch):
    from datetime import timedelta

    from django.utils import timezone

    from kyc import tasks
    from kyc.services import kyc_unchecked_sweep

    queued = []
    monkeypatch.setattr(tasks.kyc_autocheck_task, "delay", queued.append)
    user, submission = prepared()
    kyc_submission_submit(submission=submission, actor=user)
    settings.KYC_UNCHECKED_SWEEP_SECONDS = 30
    KycSubmission.objects.filter(pk=submission.pk).update(
        submitted_at=timezone.now() - timedelta(seconds=20)
    )
    assert kyc_unchecked_sweep() == 0 and queued == []
    KycSubmission.objects.filter(pk=submission.pk).update(
        submitted_at=timezone.now() - timedelta(seconds=40)
    )
    assert kyc_unchecked_sweep() == 1 and queued == [submission.pk]
    kyc_submission_autocheck(submission_id=submission.pk)
    assert kyc_unchecked_sweep() == 0 and queued == [submission.pk]  # decided: not swept
