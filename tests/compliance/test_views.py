"""The compliance officer's list pages and name screening page, over HTTP."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from brokerage.errors import NotAllowed
from brokerage.models import AuditEvent
from compliance import audit_events
from compliance.imports import list_import_queue, list_import_run
from compliance.models import CsvMapping, ListEntry, ListSnapshot, ScreeningJob
from tests.conftest import login, make_user

from .test_lists import EU_SAMPLE, PEP_CSV, PEP_MAPPING

pytestmark = pytest.mark.django_db

PAGES = ["/backoffice/compliance/lists/", "/backoffice/compliance/screening/"]


@pytest.fixture
def officer(client):
    login(client, make_user("compliance_officer"))
    return client


@pytest.mark.parametrize("role", ["finance_officer", "ops_admin", "sales_agent", "ib_manager"])
def test_other_roles_get_403(client, role):
    login(client, make_user(role))
    for url in PAGES:
        assert client.get(url).status_code == 403
    response = client.post(
        PAGES[0], {"format": "eu", "files": SimpleUploadedFile("eu.xml", EU_SAMPLE)}
    )
    assert response.status_code == 403
    assert not ListSnapshot.objects.exists()


@pytest.mark.parametrize("role", ["sales_agent", "ib_manager"])
def test_only_compliance_officers_queue_a_list_import_whoever_calls(role):
    with pytest.raises(NotAllowed):
        list_import_queue(fmt="eu", files=[("eu.xml", EU_SAMPLE)], actor=make_user(role))
    assert not ScreeningJob.objects.exists()


@pytest.mark.parametrize("audience", ["client", "partner"])
def test_clients_and_partners_get_403(client, audience):
    login(client, make_user(audience))
    assert client.get(PAGES[0]).status_code == 403


def test_anonymous_is_sent_to_login(client):
    response = client.get(PAGES[1])
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def imported(response) -> ScreeningJob:
    """The upload's import, run as the compliance worker runs it once the request commits."""
    job = ScreeningJob.objects.get(kind="import")
    assert response.status_code == 302
    assert response["Location"] == f"/backoffice/compliance/lists/?import={job.pk}"
    assert (job.status, job.done, job.total) == ("queued", 0, 2)
    list_import_run(job_id=job.pk)
    job.refresh_from_db()
    return job


def test_officer_uploads_a_list_imported_in_the_background(officer):
    response = officer.post(
        PAGES[0], {"format": "eu", "files": SimpleUploadedFile("eu.xml", EU_SAMPLE)}
    )
    assert not ListSnapshot.objects.exists()  # nothing read in the request
    job = imported(response)
    snapshot = ListSnapshot.objects.get()
    assert (job.status, job.done, job.snapshot) == ("done", 2, snapshot)
    assert job.message == "3 entries: 3 added, 0 changed, 0 removed"
    event = AuditEvent.objects.get(action=audit_events.LIST_IMPORTED)
    assert event.actor_label == "compliance_officer@test.example"
    lists = officer.get(response["Location"]).content.decode()
    assert f'href="/backoffice/compliance/lists/{snapshot.pk}/"' in lists
    assert f'data-job="{job.pk}" data-job-kind="import" data-job-status="done"' in lists
    page = officer.get(f"/backoffice/compliance/lists/{snapshot.pk}/")
    text = page.content.decode()
    assert page.status_code == 200
    assert "Saddam Hussein Al-Tikriti" in text and "Example Shipping Company LLC" in text
    assert "Person" in text and "Entity" in text  # labels, not codes
    searched = officer.get(page.request["PATH_INFO"], {"q": "shipping"}).content.decode()
    assert "Example Shipping Company LLC" in searched and "Saddam" not in searched
    assert "EU financial sanctions" in lists and 'data-snapshot="' in lists


def test_a_malformed_upload_fails_its_import_where_it_broke_and_changes_nothing(officer):
    broken = EU_SAMPLE.replace(b'<subjectType code="enterprise" classificationCode="E"/>', b"")
    response = officer.post(
        PAGES[0], {"format": "eu", "files": SimpleUploadedFile("eu.xml", broken)}
    )
    job = imported(response)
    assert job.status == "failed" and "sanctionEntity[2] (logicalId 14)" in job.message
    assert not ListSnapshot.objects.exists() and not ListEntry.objects.exists()
    refused = AuditEvent.objects.get(action=audit_events.LIST_IMPORT_REFUSED)
    assert "sanctionEntity[2] (logicalId 14)" in refused.reason
    lists = officer.get(PAGES[0]).content.decode()
    assert "data-job-error" in lists and "sanctionEntity[2] (logicalId 14)" in lists


def test_a_csv_upload_needs_a_mapping_and_a_code(officer):
    response = officer.post(
        PAGES[0], {"format": "csv", "files": SimpleUploadedFile("pep.csv", PEP_CSV.encode())}
    )
    assert response.status_code == 400
    text = response.content.decode()
    assert "A CSV list is read through a saved column mapping." in text
    mapping = CsvMapping.objects.create(name="vendor", mapping=PEP_MAPPING)
    response = officer.post(
        PAGES[0],
        {
            "format": "csv",
            "files": SimpleUploadedFile("pep.csv", PEP_CSV.encode()),
            "mapping": mapping.pk,
            "list_code": "pep-vendor",
            "list_name": "Vendor PEPs",
        },
    )
    assert imported(response).status == "done"
    assert ListSnapshot.objects.get().source.name == "Vendor PEPs"


def test_a_snapshot_page_that_does_not_exist_is_404(officer):
    assert officer.get("/backoffice/compliance/lists/999999/").status_code == 404


def test_entries_page_queries_do_not_grow_with_rows(officer, django_assert_max_num_queries):
    imported(
        officer.post(PAGES[0], {"format": "eu", "files": SimpleUploadedFile("eu.xml", EU_SAMPLE)})
    )
    snapshot = ListSnapshot.objects.get()
    with django_assert_max_num_queries(14):
        assert officer.get(f"/backoffice/compliance/lists/{snapshot.pk}/").status_code == 200


def test_screening_page_shows_hits_with_their_breakdown(officer):
    imported(
        officer.post(PAGES[0], {"format": "eu", "files": SimpleUploadedFile("eu.xml", EU_SAMPLE)})
    )
    response = officer.get(PAGES[1], {"name": "Sadam Husein Al Tikriti", "kind": "person"})
    text = response.content.decode()
    assert response.status_code == 200
    assert 'data-hit="eu:13"' in text
    assert "Close spelling" in text or "Sounds alike" in text
    assert "Example Shipping" not in text  # a person is never matched to a company
    lowered = officer.get(
        PAGES[1], {"name": "Saddam Hussein Al-Tikriti", "kind": "person", "dob": "1980-01-01"}
    ).content.decode()
    assert "data-no-hits" in lowered  # a different date of birth: below the threshold
    nothing = officer.get(PAGES[1], {"name": "Jane Smith", "kind": "person"}).content.decode()
    assert "No hit on the current lists." in nothing


def test_screening_page_refuses_a_bad_date(officer):
    response = officer.get(PAGES[1], {"name": "A B", "dob": "31/31/1999"})
    assert response.status_code == 400
