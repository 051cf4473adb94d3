"""Callbacks: an agent plans a call back on the lead page, sees it on the inbox (overdue
first), is reminded once when it is due, and marks it done."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from brokerage.celery import app
from brokerage.models import AuditEvent
from leads.callbacks import callback_schedule, callbacks_remind_due
from leads.models import Callback, Lead
from leads.services import lead_call_log
from tests.conftest import login

pytestmark = pytest.mark.django_db


def _uae(floor, **extra):
    return floor.capture(country="AE", language="ar", experience="some", **extra)


def _local(moment):
    return moment.strftime("%Y-%m-%dT%H:%M")


def test_an_agent_schedules_a_callback_on_the_lead_page(client, floor):
    lead = _uae(floor, first_name="Zaid")
    login(client, floor.dubai_ar)
    due = timezone.now() + timedelta(hours=2)
    url = f"/backoffice/leads/{lead.pk}/"
    assert b"Schedule callback" in client.get(url).content
    response = client.post(
        url + "callback/", {"due_at": _local(due), "note": "After Friday prayers"}
    )
    assert response.status_code == 302
    callback = Callback.objects.get()
    assert callback.agent == floor.dubai_ar and callback.lead == lead
    assert callback.due_at.replace(second=0) == due.replace(second=0, microsecond=0)
    assert callback.note == "After Friday prayers" and callback.done_at is None
    event = AuditEvent.objects.get(action="lead.callback_scheduled")
    assert event.evidence["callback"] == callback.pk
    page = client.get(url)
    assert f'data-callback="{callback.pk}"'.encode() in page.content
    assert lead.activities.filter(kind="callback").exists()
    inbox = client.get("/backoffice/leads/")
    assert [cb.pk for cb in inbox.context["callbacks"]] == [callback.pk]
    assert b"After Friday prayers" in inbox.content


# The times are taken when the test runs, not when it is collected: each test process collects
# on its own, and ids made of the minute would differ between them across a minute's turn.
BAD_TIMES = {
    "not a time": lambda: "not a time",
    "empty": lambda: "",
    "an hour ago": lambda: _local(timezone.now() - timedelta(hours=1)),
    "in 120 days": lambda: _local(timezone.now() + timedelta(days=120)),
}


@pytest.mark.parametrize("what", list(BAD_TIMES))
def test_a_bad_callback_time_is_a_form_error(client, floor, what):
    due_at = BAD_TIMES[what]()
    lead = _uae(floor)
    login(client, floor.dubai_ar)
    response = client.post(f"/backoffice/leads/{lead.pk}/callback/", {"due_at": due_at})
    assert response.status_code == 400
    assert b'data-field-error="due_at"' in response.content
    assert not Callback.objects.exists()


def test_a_closed_lead_takes_no_callback(floor):
    from brokerage.errors import InvalidInput
    from leads.services import lead_status_change

    lead = _uae(floor)
    lead_status_change(lead=lead, actor=floor.dubai_ar, to=Lead.Status.LOST, reason="no money")
    with pytest.raises(InvalidInput, match="needs no callback"):
        callback_schedule(
            lead=lead, actor=floor.dubai_ar, due_at=timezone.now() + timedelta(hours=1)
        )


def test_someone_elses_lead_or_callback_is_refused(client, floor):
    lead = _uae(floor)
    callback = callback_schedule(
        lead=lead, actor=floor.dubai_ar, due_at=timezone.now() + timedelta(hours=1)
    )
    login(client, floor.global_en)
    due = _local(timezone.now() + timedelta(hours=3))
    assert client.post(f"/backoffice/leads/{lead.pk}/callback/", {"due_at": due}).status_code == 403
    assert client.post(f"/backoffice/leads/callbacks/{callback.pk}/done/").status_code == 403
    assert client.post("/backoffice/leads/callbacks/99999999/done/").status_code == 404
    assert Callback.objects.count() == 1 and Callback.objects.get().done_at is None


def test_the_agent_marks_it_done_once(client, floor):
    lead = _uae(floor)
    callback = callback_schedule(
        lead=lead, actor=floor.dubai_ar, due_at=timezone.now() + timedelta(minutes=5)
    )
    login(client, floor.dubai_ar)
    url = f"/backoffice/leads/callbacks/{callback.pk}/done/"
    response = client.post(url, {"next": "inbox"})
    assert response.status_code == 302 and response["Location"] == "/backoffice/leads/"
    assert Callback.objects.get().done_at is not None
    assert AuditEvent.objects.filter(action="lead.callback_completed").count() == 1
    again = client.post(url, follow=True)
    assert again.status_code == 200 and b"already done" in again.content
    assert AuditEvent.objects.filter(action="lead.callback_completed").count() == 1
    assert client.get("/backoffice/leads/").context["callbacks"] == []


def test_the_agent_is_reminded_once_when_it_is_due(floor, django_capture_on_commit_callbacks):
    lead = _uae(floor, first_name="Zaid")
    now = timezone.now()
    due = callback_schedule(lead=lead, actor=floor.dubai_ar, due_at=now + timedelta(minutes=1))
    later = callback_schedule(lead=lead, actor=floor.dubai_ar, due_at=now + timedelta(hours=5))
    done = callback_schedule(lead=lead, actor=floor.dubai_ar, due_at=now + timedelta(minutes=2))
    Callback.objects.filter(pk=done.pk).update(done_at=now)
    with django_capture_on_commit_callbacks(execute=True):
        assert callbacks_remind_due(now=now + timedelta(minutes=10)) == 1
    [message] = mail.outbox
    assert message.to == [floor.dubai_ar.email] and "Zaid" in message.subject
    assert f"/backoffice/leads/{lead.pk}/" in message.body
    with django_capture_on_commit_callbacks(execute=True):
        assert callbacks_remind_due(now=now + timedelta(minutes=10)) == 0  # a re-run sends nothing
    assert len(mail.outbox) == 1
    assert Callback.objects.get(pk=due.pk).reminded_at is not None
    assert Callback.objects.get(pk=later.pk).reminded_at is None
    assert AuditEvent.objects.filter(action="lead.callback_reminded").count() == 1


def test_the_reminder_runs_every_minute_from_the_one_schedule():
    entry = app.conf.beat_schedule["leads-callbacks-remind"]
    assert entry["task"] == "leads.tasks.callbacks_remind_task" and entry["schedule"] <= 60
    from leads.tasks import callbacks_remind_task

    assert callbacks_remind_task.name == entry["task"]


def test_the_inbox_puts_overdue_callbacks_then_the_nearest_sla_first(
    client, floor, django_assert_max_num_queries
):
    now = timezone.now()
    contacted_old, overdue, sla_soon, breached, contacted_new = (
        _uae(floor, first_name=name)
        for name in ("ContactedOld", "Overdue", "SlaSoon", "Breached", "ContactedNew")
    )
    for lead in (contacted_old, overdue, contacted_new):
        lead_call_log(lead=lead, actor=floor.dubai_ar, outcome="no_answer")
    callback_schedule(lead=overdue, actor=floor.dubai_ar, due_at=now + timedelta(minutes=1))
    Callback.objects.filter(lead=overdue).update(due_at=now - timedelta(minutes=30))
    Lead.objects.filter(pk=sla_soon.pk).update(assigned_at=now - timedelta(minutes=12))
    Lead.objects.filter(pk=breached.pk).update(assigned_at=now - timedelta(minutes=40))
    Lead.objects.filter(pk=contacted_old.pk).update(created_at=now - timedelta(days=2))
    for i in range(10):  # more contacted leads, with future callbacks: after the urgent ones
        extra = _uae(floor, first_name=f"Extra{i}")
        lead_call_log(lead=extra, actor=floor.dubai_ar, outcome="no_answer")
        callback_schedule(lead=extra, actor=floor.dubai_ar, due_at=now + timedelta(days=1))
    login(client, floor.dubai_ar)
    with django_assert_max_num_queries(16):
        page = client.get("/backoffice/leads/")
    names = [row["lead"].first_name for row in page.context["rows"]]
    assert names[:3] == ["Overdue", "Breached", "SlaSoon"]
    assert names[3] == "Extra9" and names[-1] == "ContactedOld"
    rows = {row["lead"].first_name: row for row in page.context["rows"]}
    assert rows["Breached"]["breached"] and not rows["SlaSoon"]["breached"]
    assert rows["SlaSoon"]["sla_left"] in (2, 3)
    assert b"overdue</span>" in page.content and b"First contact in" in page.content


def test_open_callbacks_follow_the_lead_to_its_new_agent(floor):
    from leads.services import lead_reassign

    lead = _uae(floor)
    now = timezone.now()
    open_one = callback_schedule(lead=lead, actor=floor.dubai_ar, due_at=now + timedelta(hours=1))
    done_one = callback_schedule(lead=lead, actor=floor.dubai_ar, due_at=now + timedelta(hours=2))
    Callback.objects.filter(pk=done_one.pk).update(done_at=now)
    lead_reassign(lead=lead, actor=floor.manager, to_user=floor.dubai_en, reason="leave")
    assert Callback.objects.get(pk=open_one.pk).agent == floor.dubai_en
    assert Callback.objects.get(pk=done_one.pk).agent == floor.dubai_ar
