import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from brokerage.errors import InvalidInput
from leads.imports import (
    guess_mapping,
    lead_import_apply,
    lead_import_check,
    lead_import_start,
    lead_import_upload,
    progress,
)
from leads.models import Lead, LeadImport, LeadTouch
from tests.conftest import login, make_staff

pytestmark = pytest.mark.django_db

HEADER = "First Name,Surname,E-mail,Mobile,Country,Experience,Campaign\n"
GOOD_ROWS = [
    "Ali,Hassan,ali@example.com,+971501112233,AE,some,q4",
    "Beth,Jones,beth@example.com,+447911123456,GB,experienced,q4",
    "Carl,Berg,carl@example.com,+4915123456700,DE,none,q4",
]


def csv_file(rows, name="leads.csv", header=HEADER):
    return SimpleUploadedFile(name, (header + "\n".join(rows) + "\n").encode(), "text/csv")


@pytest.fixture
def manager(floor):
    return floor.manager


def upload_and_check(manager, rows, mode="all_or_nothing"):
    imp = lead_import_upload(actor=manager, uploaded_file=csv_file(rows))
    imp.mode = mode
    imp.state = LeadImport.State.CHECKING
    imp.save()
    return lead_import_check(import_id=imp.pk)


def test_columns_are_guessed_from_headers():
    headers = ["First Name", "Surname", "E-mail", "Mobile", "Country", "Experience", "Campaign"]
    assert guess_mapping(headers) == {
        "first_name": "First Name",
        "last_name": "Surname",
        "email": "E-mail",
        "phone": "Mobile",
        "country": "Country",
        "experience": "Experience",
        "utm_campaign": "Campaign",
    }


def test_dry_run_reports_row_by_row_and_imports_nothing(manager):
    imp = upload_and_check(manager, [*GOOD_ROWS, "Dan,X,not-an-email,123,XX,guru,q4"])
    assert (imp.valid_rows, imp.error_rows) == (3, 1)
    assert imp.errors[0]["row"] == 5
    assert set(imp.errors[0]["fields"]) == {"email", "phone", "country", "experience"}
    assert imp.preview[0]["email"] == "ali@example.com"
    assert not Lead.objects.exists()


def test_all_or_nothing_refuses_a_file_with_errors(manager):
    imp = upload_and_check(manager, [*GOOD_ROWS, "Dan,X,bad,,,,"])
    with pytest.raises(InvalidInput, match="rows have errors"):
        lead_import_start(lead_import=imp, actor=manager)
    assert not Lead.objects.exists()


def test_apply_imports_routes_and_dedups(manager, django_capture_on_commit_callbacks):
    rows = [*GOOD_ROWS, "Ali,Hassan,ALI@example.com,,AE,some,q4-retarget"]
    imp = upload_and_check(manager, rows)
    lead_import_start(lead_import=imp, actor=manager)
    imp = lead_import_apply(import_id=imp.pk)
    assert imp.state == "done" and (imp.created_count, imp.duplicate_count) == (3, 1)
    assert Lead.objects.count() == 3 and LeadTouch.objects.count() == 4
    assert set(Lead.objects.values_list("channel", flat=True)) == {"import"}
    assert progress(imp) == 100
    assert lead_import_apply(import_id=imp.pk).created_count == 3  # a repeated task: no-op


def test_skip_invalid_imports_the_good_rows(manager):
    imp = upload_and_check(manager, [*GOOD_ROWS, "Dan,X,bad,,,,"], mode="skip_invalid")
    lead_import_start(lead_import=imp, actor=manager)
    imp = lead_import_apply(import_id=imp.pk)
    assert imp.state == "done" and Lead.objects.count() == 3


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"\x7fELF\x02\x01\x01\x00\x00\x00binary", "not a CSV"),
        (b"email\n", "no rows"),
        (b"email,email\na@b.co,c@d.co\n", "same name"),
    ],
)
def test_bad_files_are_refused_with_a_reason(manager, content, message):
    with pytest.raises(InvalidInput, match=f"(?i){message}"):
        lead_import_upload(
            actor=manager, uploaded_file=SimpleUploadedFile("x.csv", content, "text/csv")
        )
    assert not LeadImport.objects.exists()


def test_the_import_pages_end_to_end(client, manager, django_capture_on_commit_callbacks):
    login(client, manager)
    response = client.post("/backoffice/leads/imports/", {"file": csv_file(GOOD_ROWS)})
    assert response.status_code == 302
    imp = LeadImport.objects.get()
    page = client.get(response["Location"])
    assert page.status_code == 200 and page.context["form"]["map_email"].initial == "E-mail"
    form = {f"map_{f}": c for f, c in imp.mapping.items()} | {
        "mode": "all_or_nothing",
        "source": "trade-show",
    }
    assert client.post(response["Location"], form).status_code == 302
    lead_import_check(import_id=imp.pk)  # what the queued task runs
    progress_page = client.get(f"/backoffice/leads/imports/{imp.pk}/progress/")
    assert progress_page.status_code == 200
    assert client.post(response["Location"], {"action": "start"}).status_code == 302
    lead_import_apply(import_id=imp.pk)
    assert Lead.objects.filter(source="trade-show").count() == 3
    report = client.get(f"/backoffice/leads/imports/{imp.pk}/errors.csv")
    assert report["Content-Type"] == "text/csv; charset=utf-8"


def test_an_upload_that_is_not_a_csv_shows_the_problem(client, manager):
    login(client, manager)
    response = client.post(
        "/backoffice/leads/imports/", {"file": SimpleUploadedFile("x.csv", b"", "text/csv")}
    )
    assert response.status_code == 400


def test_others_imports_are_private(client, manager):
    imp = lead_import_upload(actor=manager, uploaded_file=csv_file(GOOD_ROWS))
    other = make_staff("desk_manager", email="other.manager@test.example")
    login(client, other)
    assert client.get(f"/backoffice/leads/imports/{imp.pk}/").status_code == 404


def test_headers_with_spaces_and_overlong_emails(manager):
    long_email = "a" * 250 + "@example.com"
    imp = lead_import_upload(
        actor=manager,
        uploaded_file=csv_file(
            [
                "Ali,Hassan,ali@example.com,+971501112233,AE,some,q4",
                f"Long,Mail,{long_email},,GB,some,q4",
            ],
            header=" First Name , Surname , E-mail ,Mobile,Country,Experience,Campaign\n",
        ),
    )
    imp.state = LeadImport.State.CHECKING
    imp.save()
    imp = lead_import_check(import_id=imp.pk)
    assert imp.valid_rows == 1 and imp.errors[0]["fields"] == {"email": ["At most 254 characters."]}


def test_the_error_report_cannot_carry_a_formula(client, manager):
    imp = lead_import_upload(actor=manager, uploaded_file=csv_file(GOOD_ROWS))
    LeadImport.objects.filter(pk=imp.pk).update(
        errors=[{"row": 3, "fields": {"=cmd": ['@SUM(1+1) "is not an email"', "-2+3"]}}]
    )
    login(client, manager)
    report = client.get(f"/backoffice/leads/imports/{imp.pk}/errors.csv")
    assert b"".join(report.streaming_content).decode().splitlines() == [
        "row,field,problem",
        '3,\'=cmd,"\'@SUM(1+1) ""is not an email"""',
        "3,'=cmd,'-2+3",
    ]
