"""The AML case pages over HTTP: opening a case from a screening alert, the list's search and
filters, the case page's decisions with their errors and four eyes, private files through the
upload checks, the draft report (PDF and JSON, audited), the client 360 and the dossier."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from brokerage.models import AuditEvent
from clients.models import PersonalDataView
from compliance import audit_events
from compliance.cases import case_attachment_add, case_escalate, case_investigate, case_open
from compliance.dossier_sections import cases_section
from compliance.models import Case, CaseAttachment
from tests.conftest import login, make_staff
from tests.kyc.test_uploads import png_bytes

from .test_alerts import listed_client, watch_list

pytestmark = pytest.mark.django_db


@pytest.fixture
def ana(db):
    return make_staff("compliance_officer", email="ana@test.example")


@pytest.fixture
def ben(db):
    return make_staff("compliance_officer", email="ben@test.example")


@pytest.fixture
def alert():
    watch_list()
    return listed_client()[1]


def url(case, rest=""):
    return f"/backoffice/compliance/cases/{case.pk}/{rest}"


def test_an_officer_opens_a_case_from_a_screening_alert(client, ana, alert):
    login(client, ana)
    page = client.get(f"/backoffice/compliance/alerts/{alert.pk}/")
    assert b"data-open-case" in page.content
    form = client.get(f"/backoffice/compliance/cases/new/?alert={alert.pk}")
    assert form.status_code == 200 and b"Ivan Zlobnikov" in form.content
    refused = client.post("/backoffice/compliance/cases/new/", {"alert": alert.pk, "summary": ""})
    assert refused.status_code == 400 and not Case.objects.exists()
    done = client.post(
        "/backoffice/compliance/cases/new/",
        {"alert": alert.pk, "summary": "Listed name, same date of birth"},
    )
    case = Case.objects.get()
    assert done.status_code == 302 and done["Location"] == url(case)
    assert list(case.screening_alerts.all()) == [alert] and case.assigned_to == ana
    assert case.client.aml_case_open
    page = client.get(f"/backoffice/compliance/alerts/{alert.pk}/")
    assert b"data-alert-case" in page.content and case.reference.encode() in page.content
    assert client.get("/backoffice/compliance/cases/new/?alert=999999").status_code == 404
    assert client.get("/backoffice/compliance/cases/new/?client=abc").status_code == 404


def test_the_list_searches_filters_and_pages_in_a_fixed_number_of_queries(
    client, ana, ben, alert, django_assert_max_num_queries
):
    mine = case_open(client=alert.client, actor=ana, summary="Mine")
    theirs = case_open(client=alert.client, actor=ben, summary="Theirs")
    Case.objects.filter(pk=theirs.pk).update(due_at=timezone.now() - timezone.timedelta(days=1))
    login(client, ana)
    for query, shown in [
        ("", {mine, theirs}),
        ("?assigned=me", {mine}),
        (f"?assigned={ben.pk}", {theirs}),
        ("?sla=breached", {theirs}),
        ("?sla=on_time", {mine}),
        (f"?q={mine.reference}", {mine}),
        (f"?q={theirs.reference.lower()}", {theirs}),
        ("?q=CASE-abc", set()),
        ("?q=CASE-99999999999999", set()),
        ("?q=zlobnikov", {mine, theirs}),
        ("?q=nobody", set()),
        ("?status=closed", set()),
        ("?status=bogus&sla=bogus", {mine, theirs}),  # unknown filters ignored, never a 500
    ]:
        page = client.get(f"/backoffice/compliance/cases/{query}")
        assert page.status_code in (200, 400), query
        for case in (mine, theirs):
            assert (f'data-case="{case.pk}"'.encode() in page.content) is (case in shown), query
    page = client.get("/backoffice/compliance/cases/?sla=breached")
    assert b'data-sla="breached"' in page.content and b"Past its deadline" in page.content
    for n in range(30):
        case_open(client=alert.client, actor=ana, summary=f"More {n}")
    with django_assert_max_num_queries(14):
        page = client.get("/backoffice/compliance/cases/?page=2")
    assert page.status_code == 200 and b"Page 2 of 2" in page.content


def test_a_case_is_worked_on_its_page_and_a_second_officer_closes_it(client, ana, ben, alert):
    case = case_open(client=alert.client, actor=ana, summary="Listed name")
    login(client, ana)
    page = client.get(url(case))
    assert page.status_code == 200 and b"Start investigating" in page.content
    view = PersonalDataView.objects.get(what="aml_case")  # the access log has the view
    assert (view.user_id, view.client_id, view.detail) == (ana.pk, case.client_id, case.reference)
    assert b"Blocked: AML case" in page.content
    assert client.post(url(case), {"action": "bogus"}).status_code == 404
    assert client.post(url(case), {"action": "investigate"}).status_code == 302
    assert client.post(url(case), {"action": "note", "text": "Called the bank"}).status_code == 302
    refused = client.post(url(case), {"action": "escalate", "reason": " "})
    assert refused.status_code == 400
    client.post(url(case), {"action": "escalate", "reason": "Same passport number"})
    page = client.get(url(case))
    assert b"data-four-eyes-wait" in page.content and b"Close the case" not in page.content
    refused = client.post(url(case), {"action": "close", "reason": "Fine"})
    assert refused.status_code == 400 and b"second compliance officer" in refused.content
    assert Case.objects.get(pk=case.pk).status == "escalated"

    login(client, ben)
    page = client.get(url(case))
    assert b"data-four-eyes-note" in page.content and b"Record the filed report" in page.content
    bad_date = client.post(
        url(case), {"action": "report", "sar_reference": "R1", "sar_filed_on": "2999-01-01"}
    )
    assert bad_date.status_code == 400 and b"between" in bad_date.content
    done = client.post(url(case), {"action": "close", "reason": "Not the listed person"})
    assert done.status_code == 302
    page = client.get(url(case))
    assert b"data-four-eyes" in page.content and b"Not blocked by a case" in page.content
    assert b"Called the bank" in page.content and b"AML case escalated" in page.content
    case = Case.objects.get(pk=case.pk)
    assert case.status == "closed" and case.decided_by == ben and not case.client.aml_case_open


def test_files_go_through_the_upload_checks_and_are_served_privately(client, ana, alert):
    case = case_open(client=alert.client, actor=ana, summary="Files")
    login(client, ana)
    text = SimpleUploadedFile("statement.pdf", b"just text, not a PDF")
    refused = client.post(url(case), {"action": "attach", "file": text, "description": "x"})
    assert refused.status_code == 400 and b"Only JPEG or PNG" in refused.content
    assert not CaseAttachment.objects.exists()
    photo = SimpleUploadedFile("../../bank slip.png", png_bytes((300, 200)))
    done = client.post(url(case), {"action": "attach", "file": photo, "description": "Slip"})
    assert done.status_code == 302
    attachment = CaseAttachment.objects.get()
    assert attachment.name == "bank slip.png" and "bank" not in attachment.file.name
    again = client.post(
        url(case),
        {"action": "attach", "file": SimpleUploadedFile("b.png", png_bytes((300, 200)))},
    )
    assert again.status_code == 400 and b"already on" in again.content
    served = client.get(url(case, f"files/{attachment.pk}/"))
    assert served.status_code == 200 and served["Cache-Control"] == "private, no-store"
    assert served["Content-Security-Policy"].startswith("default-src 'none'")
    assert (
        client.get(f"/backoffice/compliance/cases/{case.pk + 1}/files/{attachment.pk}/").status_code
        == 404
    )
    assert PersonalDataView.objects.filter(
        what="aml_case", detail=f"{case.reference} file {attachment.pk}"
    ).exists()
    event = AuditEvent.objects.get(action=audit_events.CASE_ATTACHMENT_ADDED)
    assert event.evidence["sha256"] == attachment.sha256


def test_the_draft_report_comes_as_pdf_and_json_and_each_draft_is_audited(client, ana, alert):
    case = case_open(
        client=alert.client, actor=ana, summary="Listed name", screening_alerts=[alert]
    )
    case_investigate(case=case, actor=ana)
    case_escalate(case=case, actor=ana, reason="Needs a report")
    login(client, ana)
    assert client.get(url(case, "report.json")).status_code == 302  # a draft is drawn by POST
    assert client.post(url(case, "report.xml")).status_code == 404
    drawn = client.post(url(case, "report.json"))
    assert drawn.status_code == 200 and drawn["Content-Type"] == "application/json"
    report = json.loads(drawn.content)
    assert set(report) >= {
        "subject",
        "accounts",
        "transactions",
        "deals",
        "narrative",
        "alerts",
        "officer",
    }
    assert report["subject"]["name"] == "Ivan Zlobnikov" and report["case"] == case.reference
    assert report["alerts"][0]["id"] == alert.pk and "Needs a report" in report["narrative"]
    assert report["officer"]["email"] == "ana@test.example"
    pdf = client.post(url(case, "report.pdf"))
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    drafts = AuditEvent.objects.filter(action=audit_events.CASE_REPORT_DRAFTED).order_by("pk")
    assert [e.evidence["format"] for e in drafts] == ["json", "pdf"]
    details = PersonalDataView.objects.filter(what="aml_case").values_list("detail", flat=True)
    assert f"{case.reference} report draft (pdf)" in set(details)
    assert all(e.subject_client_id == alert.client_id for e in drafts)


def test_only_compliance_officers_reach_cases(client, ana, alert):
    case = case_open(client=alert.client, actor=ana, summary="Private")
    login(client, make_staff("finance_officer", email="fin@test.example"))
    for path in [
        "/backoffice/compliance/cases/",
        f"/backoffice/compliance/cases/new/?alert={alert.pk}",
        url(case),
        url(case, "report.pdf"),
    ]:
        assert client.get(path).status_code in (403, 404), path
    assert client.post(url(case), {"action": "close", "reason": "x"}).status_code in (403, 404)
    assert client.post(url(case, "report.json")).status_code in (403, 404)
    assert Case.objects.get(pk=case.pk).status == "open"
    c360 = client.get(f"/backoffice/clients/{alert.client_id}/")
    assert b"data-cases-360" not in c360.content


def test_the_client_360_and_the_dossier_show_the_cases(client, ana, alert):
    case = case_open(
        client=alert.client, actor=ana, summary="Seen in the 360", screening_alerts=[alert]
    )
    login(client, ana)
    c360 = client.get(f"/backoffice/clients/{alert.client_id}/")
    assert b"data-cases-360" in c360.content and case.reference.encode() in c360.content
    assert b"data-case-block" in c360.content
    section = cases_section(alert.client)
    tables = {t.key: t for t in section.tables}
    assert [r["id"] for r in tables["cases"].rows] == [case.pk]
    assert tables["case_alerts"].rows == [{"case_id": case.pk, "alert_id": alert.pk}]
    data = png_bytes((120, 80))
    attachment = case_attachment_add(
        case=case, actor=ana, uploaded_file=SimpleUploadedFile("slip.png", data)
    )
    (shipped,) = cases_section(alert.client).files
    assert shipped.name == f"cases/case-{case.pk}-file-{attachment.pk}.png"
    assert shipped.sha256 == attachment.sha256 and shipped.note == "slip.png"
    with shipped.open() as stored:
        assert stored.read()[:4] == b"\x89PNG"


def test_the_draft_holds_the_accounts_trades_and_money_of_the_period_exactly(ana, alert):
    from datetime import timedelta

    from clients.models import Deal
    from compliance.case_report import report_data
    from tests.clients.factories import make_account, make_deal
    from tests.clients.test_client360 import deposits

    person = alert.client
    account = make_account(person, balance="1234.56")
    make_deal(account, action=Deal.Action.SELL, entry=Deal.Entry.IN, volume=25000)
    make_deal(account, profit="-12.34")
    make_deal(account, action=18, entry=Deal.Entry.IN)  # an agent (IB) payment: not a trade
    make_deal(account, days_ago=800)  # before the period
    deposits(person, 2, amount="9500.10")
    case = case_open(client=person, actor=ana, summary="Structuring", screening_alerts=[alert])
    report = report_data(case, officer=ana)
    assert report["accounts"] == [
        {
            "login": account.login,
            "server": account.server.name,
            "currency": "USD",
            "leverage": 100,
            "status": "active",
            "opened_at": account.opened_at.isoformat(),
            "balance": {"amount": "1234.56", "currency": "USD"},
        }
    ]
    assert report["deal_count"] == 2 and len(report["deals"]) == 2
    assert {d["action"] for d in report["deals"]} == {"Buy", "Sell"}
    assert {d["lots"] for d in report["deals"]} == {"2.5", "1"}
    assert {d["profit"]["amount"] for d in report["deals"]} == {"0.00", "-12.34"}
    money = [t for t in report["transactions"] if t["kind"] == "deposit"]
    assert [t["amount"] for t in money] == ["9500.10", "9500.10"]
    assert "2 deposits" in report["narrative"]
    since = timezone.now() - timedelta(days=366)
    assert report["period"]["from"] > since.isoformat()


def test_closing_on_the_page_asks_a_decision_for_each_screening_hit(client, ana, alert):
    from compliance.models import Alert

    Alert.objects.filter(pk=alert.pk).update(score="0.85")  # below the four-eyes score
    case = case_open(
        client=alert.client, actor=ana, summary="Listed name", screening_alerts=[alert]
    )
    login(client, ana)
    page = client.get(url(case))
    field = f"hit_{alert.pk}".encode()
    assert b"data-hit-decisions" in page.content and b'name="' + field + b'"' in page.content
    assert b"Confirm as a true match" in page.content
    assert b"Dismiss as a false positive" in page.content
    refused = client.post(url(case), {"action": "close", "reason": "Namesake"})
    assert refused.status_code == 400 and b'data-field-error="' + field + b'"' in refused.content
    assert Case.objects.get(pk=case.pk).status == "open"
    bad = client.post(url(case), {"action": "close", "reason": "Namesake", field.decode(): "x"})
    assert bad.status_code == 400
    done = client.post(
        url(case), {"action": "close", "reason": "Namesake", field.decode(): "false_positive"}
    )
    assert done.status_code == 302
    assert Alert.objects.get(pk=alert.pk).status == "dismissed"
    assert Case.objects.get(pk=case.pk).status == "closed"


def test_cases_show_read_only_in_django_admin_to_a_superuser_only(client, ana, alert):
    from tests.conftest import make_superuser

    case = case_open(
        client=alert.client, actor=ana, summary="Listed name", screening_alerts=[alert]
    )
    login(client, make_staff("ops_admin", email="ops@test.example"))
    assert client.get("/admin/compliance/case/").status_code == 403  # no role has cases here
    login(client, make_superuser())
    listing = client.get("/admin/compliance/case/")
    assert listing.status_code == 200 and case.reference.encode() in listing.content
    page = client.get(f"/admin/compliance/case/{case.pk}/change/")
    assert page.status_code == 200 and b'name="_save"' not in page.content
    assert url(case).encode() in page.content  # changes are made on the case's page
    assert client.get("/admin/compliance/case/add/").status_code == 403
    assert client.get(f"/admin/compliance/case/{case.pk}/delete/").status_code == 403
    before = Case.objects.get(pk=case.pk).status
    client.post(f"/admin/compliance/case/{case.pk}/change/", {"status": "closed"})
    assert Case.objects.get(pk=case.pk).status == before
