"""Scheduled reports (brokerage.reports): staff subscribe to a dashboard they may open, daily or
weekly, and get its PDF by email once per period; a worker that dies mid-send is taken over, a
sent report never goes twice; the PDF holds the dashboard's figures for the period."""

import io
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime, timedelta

import pytest
from django.core import mail
from django.utils import timezone
from pypdf import PdfReader

from brokerage import reports
from brokerage.errors import InvalidInput, NotAllowed
from brokerage.models import AuditEvent, Desk, ReportSend, ReportSubscription
from brokerage.rollups import Chart
from tests.brokerage.test_leadership import make_book
from tests.conftest import login, make_staff

pytestmark = pytest.mark.django_db


def at(y, m, d, h=0, minute=0):
    return datetime(y, m, d, h, minute, tzinfo=UTC)


# 7 Dec 2026 is a Monday.
MONDAY = date(2026, 12, 7)


@pytest.fixture(autouse=True)
def send_hour(settings):
    settings.REPORTS_SEND_HOUR = 6


def pdf_text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def events(action: str) -> int:
    return AuditEvent.objects.filter(action=action).count()


def subscribe(user, dashboard="leadership", frequency="daily", **filters):
    sub = reports.report_subscribe(actor=user, dashboard=dashboard, frequency=frequency, **filters)
    return sub


def made_at(sub, when):
    ReportSubscription.objects.filter(pk=sub.pk).update(created_at=when)
    sub.refresh_from_db()
    return sub


# --- When a report is due ------------------------------------------------------------------------


def test_a_day_is_due_from_the_configured_hour_the_next_day():
    assert reports.period_due("daily", at(2026, 12, 9, 6)) == (date(2026, 12, 8),) * 2
    assert reports.period_due("daily", at(2026, 12, 9, 5, 59)) == (date(2026, 12, 7),) * 2
    assert reports.period_due("daily", at(2026, 12, 9, 23, 59)) == (date(2026, 12, 8),) * 2


def test_a_week_is_due_on_monday_from_the_configured_hour(settings):
    week = (date(2026, 11, 30), date(2026, 12, 6))  # Monday to Sunday just ended
    assert reports.period_due("weekly", at(2026, 12, 7, 6)) == week
    assert reports.period_due("weekly", at(2026, 12, 9, 12)) == week  # a Wednesday: still it
    assert reports.period_due("weekly", at(2026, 12, 13, 23)) == week  # Sunday
    assert reports.period_due("weekly", at(2026, 12, 7, 5)) == (
        date(2026, 11, 23),
        date(2026, 11, 29),
    )
    settings.REPORTS_SEND_HOUR = 9
    assert reports.period_due("daily", at(2026, 12, 9, 8)) == (date(2026, 12, 7),) * 2


def test_the_first_report_is_for_the_first_period_ending_after_subscribing():
    boss = make_staff("executive", email="boss@rep.test")
    daily = made_at(subscribe(boss), at(2026, 12, 8, 10))  # a Tuesday morning
    assert reports.subscription_due(daily, at(2026, 12, 9, 5)) is None
    assert reports.subscription_due(daily, at(2026, 12, 9, 7)) == (date(2026, 12, 8),) * 2
    weekly = made_at(subscribe(boss, frequency="weekly"), at(2026, 12, 8, 10))
    assert reports.subscription_due(weekly, at(2026, 12, 12, 12)) is None  # this week runs
    assert reports.subscription_due(weekly, at(2026, 12, 14, 6)) == (MONDAY, date(2026, 12, 13))


# --- Once per period -----------------------------------------------------------------------------


def test_each_subscription_gets_one_report_per_period(settings):
    make_book()
    boss = make_staff("executive", email="boss@rep.test")
    sub = made_at(subscribe(boss, country="GB"), at(2026, 12, 7, 9))
    mail.outbox.clear()
    assert reports.reports_send_due(at(2026, 12, 8, 6, 5)) == {"sent": 1}
    (message,) = mail.outbox
    assert message.to == ["boss@rep.test"]
    assert "Leadership workspace" in message.subject and "7 Dec 2026" in message.subject
    ((name, pdf, mimetype),) = message.attachments
    assert name == "leadership-daily-2026-12-07.pdf" and mimetype == "application/pdf"
    assert pdf.startswith(b"%PDF")
    assert "Country United Kingdom" in message.body
    send = ReportSend.objects.get()
    assert (send.status, send.period_start, send.attempts) == ("sent", date(2026, 12, 7), 1)
    assert send.recipient == "boss@rep.test" and send.pdf_bytes == len(pdf)
    assert events("report.sent") == 1
    # Every later run of the same period, and a second worker, sends nothing again.
    for later in (at(2026, 12, 8, 6, 10), at(2026, 12, 8, 23)):
        assert reports.reports_send_due(later) == {}
    assert reports.report_send(send.pk, now=at(2026, 12, 9, 0)) == "taken"
    assert len(mail.outbox) == 1 and events("report.sent") == 1
    # The next day is a new period.
    assert reports.reports_send_due(at(2026, 12, 9, 6, 5)) == {"sent": 1}
    assert len(mail.outbox) == 2
    assert ReportSend.objects.filter(subscription=sub, status="sent").count() == 2


def test_a_worker_killed_mid_send_is_taken_over_and_a_sent_report_never_goes_twice():
    boss = make_staff("executive", email="boss@rep.test")
    sub = made_at(subscribe(boss), at(2026, 12, 1, 9))
    now = at(2026, 12, 8, 7)

    def row(day, status, **fields):
        return ReportSend.objects.create(
            subscription=sub,
            period_start=date(2026, 12, day),
            period_end=date(2026, 12, day),
            status=status,
            attempts=1,
            created_at=now - timedelta(hours=1),
            **fields,
        )

    # A worker claimed Monday's report and died before the mail went: the claim is stale.
    died = row(7, "sending", claimed_at=now - reports.CLAIM_STALE - timedelta(seconds=1))
    # Another worker is sending Sunday's right now: not taken from it.
    busy = row(6, "sending", claimed_at=now - timedelta(minutes=1))
    # Saturday's went out and was marked sent.
    sent = row(5, "sent", sent_at=now - timedelta(days=2))
    mail.outbox.clear()
    assert reports.reports_send_due(now) == {"sent": 1}
    assert [m.attachments[0][0] for m in mail.outbox] == ["leadership-daily-2026-12-07.pdf"]
    died.refresh_from_db(), busy.refresh_from_db(), sent.refresh_from_db()
    assert (died.status, died.attempts) == ("sent", 2)
    assert busy.status == "sending" and sent.status == "sent"
    assert reports.reports_send_due(now + timedelta(minutes=5)) == {}
    assert len(mail.outbox) == 1


def test_a_refused_email_is_tried_again_and_given_up_after_the_last_attempt(monkeypatch):
    boss = make_staff("executive", email="boss@rep.test")
    made_at(subscribe(boss), at(2026, 12, 1, 9))

    def refused(**kwargs):
        raise ConnectionRefusedError("the mail server is down")

    monkeypatch.setattr(reports, "email_send", refused)
    now = at(2026, 12, 8, 7)
    assert reports.reports_send_due(now) == {"retry": 1}
    send = ReportSend.objects.get()
    assert (send.status, send.attempts, send.claimed_at) == ("pending", 1, None)
    assert "mail server is down" in send.error
    for n in range(2, reports.MAX_ATTEMPTS):
        assert reports.reports_send_due(now + timedelta(minutes=5 * n)) == {"retry": 1}
    assert reports.reports_send_due(now + timedelta(hours=1)) == {"failed": 1}
    assert ReportSend.objects.get().status == "failed" and events("report.failed") == 1
    monkeypatch.undo()
    mail.outbox.clear()
    assert reports.reports_send_due(now + timedelta(hours=2)) == {}
    assert mail.outbox == []


# --- Who may have which report -------------------------------------------------------------------


def test_staff_subscribe_only_to_the_dashboards_their_role_opens():
    book = make_book()
    manager = make_staff("desk_manager", email="dm@rep.test", desk=book["london"])
    Desk.objects.filter(pk=book["london"].pk).update(manager=manager)
    assert [slug for slug, _ in reports.dashboards_for(manager)] == [
        "leadership",
        "sales",
        "retention",
    ]
    with pytest.raises(NotAllowed):
        subscribe(manager, "finance")
    with pytest.raises(InvalidInput) as refused:  # a desk they do not lead
        subscribe(manager, desk=book["dubai"].pk)
    assert "desk" in refused.value.fields
    with pytest.raises(InvalidInput) as refused:  # retention has no PSP filter
        subscribe(manager, "retention", psp="stripe")
    assert refused.value.fields == {"psp": ["The Retention dashboard has no PSP filter."]}
    sub = subscribe(manager, desk=book["london"].pk)
    with pytest.raises(InvalidInput, match="already receive"):
        subscribe(manager, desk=book["london"].pk)
    assert events("report.subscribed") == 1
    assert reports.dashboards_for(make_staff("sales_agent", email="sa@rep.test")) == []
    finance = make_staff("finance_officer", email="fo@rep.test")
    assert [slug for slug, _ in reports.dashboards_for(finance)] == ["finance"]
    # Another's subscription is not theirs to end.
    with pytest.raises(InvalidInput):
        reports.report_unsubscribe(actor=finance, subscription_id=sub.pk)
    reports.report_unsubscribe(actor=manager, subscription_id=sub.pk)
    assert events("report.unsubscribed") == 1
    assert reports.subscription_list(user=manager).count() == 0


def test_a_subscriber_who_lost_the_dashboard_or_the_desk_is_sent_nothing():
    book = make_book()
    manager = make_staff("desk_manager", email="dm@rep.test", desk=book["london"])
    Desk.objects.filter(pk=book["london"].pk).update(manager=manager)
    by_desk = made_at(subscribe(manager, desk=book["london"].pk), at(2026, 12, 1))
    sales = made_at(subscribe(manager, "sales"), at(2026, 12, 1))
    # Moved to another desk: London's report no longer holds; then the role changes.
    from brokerage.models import StaffProfile

    StaffProfile.objects.filter(user=manager).update(desk=book["dubai"])
    Desk.objects.filter(pk=book["london"].pk).update(manager=None)
    mail.outbox.clear()
    assert reports.reports_send_due(at(2026, 12, 8, 7)) == {"skipped": 1, "sent": 1}
    skipped = ReportSend.objects.get(subscription=by_desk)
    assert skipped.status == "skipped" and "filters no longer hold" in skipped.error
    assert ReportSend.objects.get(subscription=sales).status == "sent"
    make_staff("retention_agent", email="dm@rep.test", totp=False)  # the same person, a new role
    assert reports.reports_send_due(at(2026, 12, 9, 7)) == {"skipped": 2}
    assert ReportSend.objects.get(subscription=sales, period_start=date(2026, 12, 8)).error
    assert events("report.skipped") == 3 and len(mail.outbox) == 1


# --- What the PDF holds --------------------------------------------------------------------------


def test_the_pdf_holds_the_period_the_filters_the_cards_and_the_tables(settings):
    settings.BROKERAGE_NAME = "Acme Markets Ltd"
    book = make_book()
    manager = make_staff("desk_manager", email="dm@rep.test", desk=book["london"])
    Desk.objects.filter(pk=book["london"].pk).update(manager=manager)
    sub = subscribe(manager, country="GB")
    today = timezone.now().date()
    rendered = reports.report_render(sub, today, today)
    text = pdf_text(rendered.pdf)
    assert "Acme Markets Ltd" in text and "Leadership workspace" in text
    assert today.strftime("%-d %b %Y") in text
    assert "Country United Kingdom" in text
    for words in ("FTDs", "Net deposits", "Funnel by country", "Agents by FTDs", "before"):
        assert words in text, words
    # London's one British client deposited 100 today: the FTD card says so.
    assert 'data-figure="ftds"' in rendered.html
    ftd_card = rendered.html.split('data-figure="ftds"', 1)[1].split("</td>", 1)[0]
    assert '<div class="card-value">1</div>' in ftd_card
    assert "<svg" in rendered.html and "<script" not in rendered.html
    assert "<th>Agent</th>" in rendered.html
    # An executive's copy names nobody: the agent column gives ids.
    boss = make_staff("executive", email="boss@rep.test")
    rendered = reports.report_render(subscribe(boss), today, today)
    assert "<th>Agent id</th>" in rendered.html and "<th>Agent</th>" not in rendered.html
    assert "Figures only" in pdf_text(rendered.pdf)


def test_a_chart_becomes_static_svg_bars_with_negative_values():
    chart = Chart(
        "money",
        "FTDs & net <deposits>",
        "bar",
        ["12-01", "12-02", "12-03", "12-04", "12-05"],
        [
            {"label": "FTDs", "data": [1, 0, 3, 2, 5], "yAxisID": "y"},
            {"label": "Net", "data": [500.0, -1200.5, 0, 80, 2500], "type": "line"},
        ],
    )
    svg = reports.chart_svg(chart)
    root = ET.fromstring(svg)  # well-formed, the title escaped
    tag = "{http://www.w3.org/2000/svg}"
    assert len(root.findall(f"{tag}rect")) == 5 and len(root.findall(f"{tag}polyline")) == 1
    assert root.get("aria-label") == "FTDs & net <deposits>"
    labels = [t.text for t in root.findall(f"{tag}text")]
    assert "-1.2k" in labels and "2.5k" in labels and "12-01" in labels and "12-05" in labels
    assert [d["label"] for d in reports.chart_legend(chart)] == ["FTDs", "Net"]


# --- The Reports page ----------------------------------------------------------------------------


def test_the_reports_page_subscribes_previews_and_ends(client):
    book = make_book()
    manager = make_staff("desk_manager", email="dm@rep.test", desk=book["london"])
    Desk.objects.filter(pk=book["london"].pk).update(manager=manager)
    login(client, manager)
    page = client.get("/backoffice/reports/")
    assert page.status_code == 200
    offered = [v for v, _ in page.context["form"].fields["dashboard"].choices]
    assert offered == ["leadership", "sales", "retention"]
    assert b"You receive no scheduled report yet." in page.content
    # A desk that is not theirs: the form says so, nothing is made.
    refused = client.post(
        "/backoffice/reports/",
        {"dashboard": "sales", "frequency": "weekly", "desk": book["dubai"].pk},
    )
    assert refused.status_code == 400 and ReportSubscription.objects.count() == 0
    assert b'data-field-error="desk"' in refused.content
    # A dashboard the role does not open is not offered.
    refused = client.post("/backoffice/reports/", {"dashboard": "finance", "frequency": "daily"})
    assert refused.status_code == 400 and ReportSubscription.objects.count() == 0
    done = client.post(
        "/backoffice/reports/",
        {"dashboard": "sales", "frequency": "weekly", "desk": book["london"].pk, "country": "GB"},
    )
    assert done.status_code == 302
    sub = ReportSubscription.objects.get()
    assert (sub.dashboard, sub.frequency, sub.desk_id, sub.country) == (
        "sales",
        "weekly",
        book["london"].pk,
        "GB",
    )
    mail.outbox.clear()
    assert client.post(f"/backoffice/reports/{sub.pk}/preview/").status_code == 302
    (preview,) = mail.outbox
    assert preview.to == ["dm@rep.test"] and preview.attachments[0][2] == "application/pdf"
    assert "Sales dashboard" in preview.subject
    assert events("report.preview_sent") == 1 and ReportSend.objects.count() == 0
    # A preview of a choice not subscribed to.
    client.post(
        "/backoffice/reports/", {"dashboard": "retention", "frequency": "daily", "preview": "1"}
    )
    assert len(mail.outbox) == 2 and ReportSubscription.objects.count() == 1
    page = client.get("/backoffice/reports/")
    assert b"Sales dashboard" in page.content and b"Desk London" in page.content
    # Another person's subscription: 404 to them.
    other = make_staff("executive", email="boss@rep.test")
    client.logout()
    login(client, other)
    assert client.post(f"/backoffice/reports/{sub.pk}/end/").status_code == 404
    assert client.post(f"/backoffice/reports/{sub.pk}/preview/").status_code == 404
    client.logout()
    login(client, manager)
    assert client.post(f"/backoffice/reports/{sub.pk}/end/").status_code == 302
    sub.refresh_from_db()
    assert sub.ended_at is not None and events("report.unsubscribed") == 1


def test_roles_without_a_dashboard_have_no_reports_page(client):
    login(client, make_staff("sales_agent", email="sa@rep.test"))
    assert client.get("/backoffice/reports/").status_code == 403
    assert client.post("/backoffice/reports/", {"dashboard": "sales"}).status_code == 403
