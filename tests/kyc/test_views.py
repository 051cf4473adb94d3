import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from kyc import specimens
from kyc.models import KycDocument, KycSubmission
from kyc.services import kyc_submission_autocheck
from tests.conftest import login, make_client_user, make_staff
from tests.kyc.conftest import FINANCES, GOOD_ANSWERS, details, prepared

pytestmark = pytest.mark.django_db


def test_the_wizard_end_to_end_over_http(client, django_capture_on_commit_callbacks):
    user = make_client_user("olivia@example.com")
    login(client, user)
    assert client.get("/portal/verify/").status_code == 200
    form = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in details().items()}
    assert client.post("/portal/verify/", {"step": "details", **form}).status_code == 302
    assert (
        client.post("/portal/verify/", {"step": "questionnaire", **GOOD_ANSWERS}).status_code == 302
    )
    assert KycSubmission.objects.get(client=user.client).step == "finances"
    assert client.post("/portal/verify/", {"step": "finances", **FINANCES}).status_code == 302
    assert KycSubmission.objects.get(client=user.client).step == "documents"
    person = specimens.Person()
    for kind, name, data in [
        ("passport", "p.jpg", specimens.passport(person)),
        ("proof_of_address", "bill.pdf", specimens.proof_of_address_pdf(person)),
    ]:
        response = client.post(
            "/portal/verify/",
            {
                "step": "documents",
                "kind": kind,
                "side": "front",
                "file": SimpleUploadedFile(name, data),
            },
        )
        assert response.status_code == 302
    with django_capture_on_commit_callbacks():  # the worker's job, run below
        assert client.post("/portal/verify/", {"step": "submit"}).status_code == 302
    submission = KycSubmission.objects.get(client=user.client)
    kyc_submission_autocheck(submission_id=submission.pk)
    page = client.get("/portal/verify/")
    assert b'data-kyc-state="approved"' in page.content


def test_a_bad_upload_is_explained_and_nothing_is_stored(client):
    user, submission = prepared(poa=False)
    login(client, user)
    response = client.post(
        "/portal/verify/",
        {
            "step": "documents",
            "kind": "proof_of_address",
            "side": "front",
            "file": SimpleUploadedFile("bill.jpg", b"<svg><script>alert(1)</script></svg>"),
        },
    )
    assert response.status_code == 400
    assert b"Only JPEG or PNG photos and PDF documents are accepted" in response.content
    assert not KycDocument.objects.filter(kind="proof_of_address").exists()


def test_bad_details_are_field_errors(client):
    login(client, make_client_user())
    response = client.post(
        "/portal/verify/", {"step": "details", "first_name": "", "date_of_birth": "2999-01-01"}
    )
    assert response.status_code == 400 and response.context["details_form"].errors


def test_documents_are_private(client):
    user, submission = prepared()
    document = submission.documents.first()
    url = f"/portal/verify/documents/{document.pk}/"
    login(client, user)
    response = client.get(url)
    assert response.status_code == 200 and response["Cache-Control"] == "private, no-store"
    login(client, make_client_user("someone.else@example.com"))
    assert client.get(url).status_code == 403
    login(client, make_staff("sales_agent"))
    assert client.get(f"/backoffice/kyc/documents/{document.pk}/").status_code == 403
    login(client, make_staff("compliance_officer"))
    assert client.get(f"/backoffice/kyc/documents/{document.pk}/").status_code == 200


def test_documents_are_served_as_downloads_or_plain_images(client):
    """A PDF is never opened in the browser's viewer: it is a download. A photo is shown
    inline. Neither can run anything (nosniff, a CSP that allows nothing, sandboxed)."""
    user, submission = prepared()
    pdf = submission.documents.get(kind="proof_of_address")
    photo = submission.documents.get(kind="passport")
    for who, prefix in [
        (user, "/portal/verify/documents"),
        (make_staff("compliance_officer"), "/backoffice/kyc/documents"),
    ]:
        login(client, who)
        response = client.get(f"{prefix}/{pdf.pk}/")
        assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
        assert response["Content-Disposition"] == 'attachment; filename="proof_of_address.pdf"'
        response = client.get(f"{prefix}/{photo.pk}/")
        assert response["Content-Type"] == "image/jpeg"
        assert response["Content-Disposition"].startswith("inline;")
        for response in (client.get(f"{prefix}/{pdf.pk}/"), response):
            assert response["X-Content-Type-Options"] == "nosniff"
            assert response["Cache-Control"] == "private, no-store"
            csp = response["Content-Security-Policy"]
            assert "default-src 'none'" in csp and "sandbox" in csp and "script" not in csp
    from kyc.services import kyc_submission_submit

    kyc_submission_submit(submission=submission, actor=user)
    kyc_submission_autocheck(submission_id=submission.pk)
    page = client.get(f"/backoffice/kyc/{submission.pk}/")
    assert page.status_code == 200 and b"Download the PDF" in page.content


def test_officer_reviews_from_the_queue(client, django_assert_max_num_queries):
    user, submission = prepared(id_kwargs={"blur": 3})
    from kyc.services import kyc_submission_submit

    kyc_submission_submit(submission=submission, actor=user)
    kyc_submission_autocheck(submission_id=submission.pk)
    for i in range(5):
        other, extra = prepared(id_kwargs={"blur": 3}, email=f"c{i}@example.com")
        kyc_submission_submit(submission=extra, actor=other)
    login(client, make_staff("compliance_officer"))
    with django_assert_max_num_queries(12):
        queue = client.get("/backoffice/kyc/", {"state": "submitted"})
    assert queue.status_code == 200 and len(queue.context["rows"]) == 5
    page = client.get(f"/backoffice/kyc/{submission.pk}/")
    assert b'data-check="image_quality" data-passed="no"' in page.content
    assert b"blurry" in page.content
    assert b'<span class="badge text-bg-danger">Blurry</span>' in page.content  # a label
    assert b"<td>United Kingdom (GB)</td>" in page.content
    response = client.post(
        f"/backoffice/kyc/{submission.pk}/",
        {"action": "resubmit", "documents": ["passport"], "reason": "Blurry photo."},
    )
    assert response.status_code == 302
    assert KycSubmission.objects.get(pk=submission.pk).state == "resubmission"
    login(client, user)
    assert b"Blurry photo." in client.get("/portal/verify/").content


def test_reject_needs_a_reason(client):
    user, submission = prepared(id_kwargs={"blur": 3})
    from kyc.services import kyc_submission_submit

    kyc_submission_submit(submission=submission, actor=user)
    kyc_submission_autocheck(submission_id=submission.pk)
    login(client, make_staff("compliance_officer"))
    response = client.post(f"/backoffice/kyc/{submission.pk}/", {"action": "reject", "reason": ""})
    assert response.status_code == 400
    assert KycSubmission.objects.get(pk=submission.pk).state == "in_review"


def test_submitting_an_incomplete_case_lists_what_is_missing(client):
    user, submission = prepared(poa=False)
    login(client, user)
    response = client.post("/portal/verify/", {"step": "submit"})
    assert response.status_code == 400
    assert b"Upload a utility bill or bank statement." in response.content


def test_a_polyglot_photo_is_served_back_without_what_was_appended(client):
    import hashlib
    import io
    import zipfile

    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("x.html", "<script>alert(1)</script>")
    user, submission = prepared(poa=False)
    polyglot = specimens.passport(specimens.Person()) + archive.getvalue()
    from kyc.services import kyc_document_upload

    document = kyc_document_upload(
        submission=submission,
        actor=user,
        kind="passport",
        side="front",
        uploaded_file=SimpleUploadedFile("passport.jpg", polyglot),
    )
    assert document.sha256 == hashlib.sha256(polyglot).hexdigest()
    login(client, user)
    served = b"".join(client.get(f"/portal/verify/documents/{document.pk}/").streaming_content)
    assert served[:2] == b"\xff\xd8" and b"PK\x03\x04" not in served
    assert len(served) == document.size


def test_the_kyc_queue_reads_as_many_queries_with_30_submissions_as_with_3(client):
    from django.utils import timezone

    from kyc.models import KycCheck
    from kyc.services import kyc_submission_current
    from tests.conftest import page_queries

    def add(start, n):
        for i in range(start, start + n):
            user = make_client_user(f"queue{i}@example.com")
            submission = kyc_submission_current(client=user.client)
            KycSubmission.objects.filter(pk=submission.pk).update(
                state="in_review", submitted_at=timezone.now(), first_name="Q", last_name=f"N{i}"
            )
            KycCheck.objects.create(
                submission=submission, run=1, name="image_quality", passed=False,
                flag="blurry", explanation="Blurry",
            )  # fmt: skip

    officer = make_staff("compliance_officer")
    urls = ["/backoffice/kyc/", "/backoffice/kyc/?state="]
    add(0, 3)
    few = page_queries(client, officer, urls)
    add(3, 27)
    assert page_queries(client, officer, urls) == few
