"""The first-contact SLA: met by the first call, email or status change a person logs, within
the minutes its desk sets; the same answer on the inbox, the lead page and the desk view."""

from datetime import timedelta

import pytest
from django.utils import timezone

from brokerage.models import AuditEvent, Desk
from leads import sla
from leads.models import Lead
from leads.services import lead_call_log, lead_note_add, lead_status_change
from tests.conftest import login, make_staff

pytestmark = pytest.mark.django_db


def _assigned_ago(lead, minutes):
    Lead.objects.filter(pk=lead.pk).update(assigned_at=timezone.now() - timedelta(minutes=minutes))
    return Lead.objects.select_related("desk").get(pk=lead.pk)


def _uae(floor, **extra):
    return floor.capture(country="AE", language="ar", experience="some", **extra)


def _breached_everywhere(client, floor, lead) -> tuple[bool, bool, bool]:
    login(client, floor.dubai_ar)
    rows = {r["lead"].pk: r for r in client.get("/backoffice/leads/").context["rows"]}
    detail = client.get(f"/backoffice/leads/{lead.pk}/")
    login(client, floor.manager)
    desk = client.get("/backoffice/leads/desk/")
    return (
        rows[lead.pk]["breached"],
        detail.context["breached"],
        lead.pk in {b.pk for b in desk.context["breaches"]},
    )


def test_a_lead_called_within_minutes_is_not_a_breach_an_hour_later(client, floor):
    lead = _uae(floor)
    assert lead.assigned_to == floor.dubai_ar and lead.first_contact_at is None
    lead_call_log(lead=lead, actor=floor.dubai_ar, outcome="no_answer", duration_seconds=30)
    lead = Lead.objects.get(pk=lead.pk)
    assert lead.first_contact_at is not None and lead.status == Lead.Status.NEW
    lead = _assigned_ago(lead, 60)
    assert not sla.sla_breached(lead)
    assert _breached_everywhere(client, floor, lead) == (False, False, False)


def test_a_lead_nobody_contacted_breaches_everywhere(client, floor):
    lead = _assigned_ago(_uae(floor), 16)
    assert _breached_everywhere(client, floor, lead) == (True, True, True)
    login(client, floor.manager)
    agents = {
        a.user_id: a.breaches for a in client.get("/backoffice/leads/desk/").context["agents"]
    }
    assert agents[floor.dubai_ar.pk] == 1


def test_a_status_change_is_contact_and_a_note_is_not(floor):
    noted, changed = _uae(floor), _uae(floor)
    lead_note_add(lead=noted, actor=floor.dubai_ar, text="Looked at their LinkedIn")
    lead_status_change(lead=changed, actor=floor.dubai_ar, to=Lead.Status.QUALIFIED)
    assert not sla.sla_breached(_assigned_ago(changed, 60))
    assert sla.sla_breached(_assigned_ago(noted, 60))
    first = Lead.objects.get(pk=changed.pk).first_contact_at
    lead_call_log(lead=changed, actor=floor.dubai_ar, outcome="no_answer")
    assert Lead.objects.get(pk=changed.pk).first_contact_at == first  # the first one stays


def test_the_sla_is_the_desks_setting(client, floor):
    lead = _assigned_ago(_uae(floor), 60)
    assert sla.sla_breached(lead)
    Desk.objects.filter(pk=floor.dubai.pk).update(sla_minutes=90)
    lead = Lead.objects.select_related("desk").get(pk=lead.pk)
    assert not sla.sla_breached(lead) and sla.sla_minutes_left(lead) in (29, 30)
    assert _breached_everywhere(client, floor, lead) == (False, False, False)
    Desk.objects.filter(pk=floor.dubai.pk).update(sla_minutes=30)
    assert _breached_everywhere(client, floor, lead) == (True, True, True)


def test_the_desk_manager_sets_the_sla_and_it_is_audited(client, floor):
    login(client, floor.manager)
    page = client.get("/backoffice/leads/desk/")
    assert [d.pk for d, _form in page.context["sla_forms"]] == [floor.dubai.pk]
    url = f"/backoffice/leads/desk/{floor.dubai.pk}/sla/"
    response = client.post(
        url, {f"desk{floor.dubai.pk}-minutes": "45", f"desk{floor.dubai.pk}-reason": "night shift"}
    )
    assert response.status_code == 302
    assert Desk.objects.get(pk=floor.dubai.pk).sla_minutes == 45
    event = AuditEvent.objects.get(action="desk.sla_changed")
    assert event.evidence == {"from_minutes": 15, "to_minutes": 45}
    assert b"45 min" in client.get("/backoffice/leads/desk/").content


@pytest.mark.parametrize("minutes", ["0", "1441", "-5", "ten", ""])
def test_a_bad_sla_is_a_form_error_and_changes_nothing(client, floor, minutes):
    login(client, floor.manager)
    prefix = f"desk{floor.dubai.pk}"
    response = client.post(
        f"/backoffice/leads/desk/{floor.dubai.pk}/sla/", {f"{prefix}-minutes": minutes}
    )
    assert response.status_code == 400
    assert b'data-field-error="' + prefix.encode() + b'-minutes"' in response.content
    assert Desk.objects.get(pk=floor.dubai.pk).sla_minutes == 15
    assert not AuditEvent.objects.filter(action="desk.sla_changed").exists()


def test_agents_and_other_desks_managers_cannot_set_the_sla(client, floor):
    other_manager = make_staff("desk_manager", email="global.head@test.example", desk=floor.global_)
    Desk.objects.filter(pk=floor.global_.pk).update(manager=other_manager)
    prefix = f"desk{floor.dubai.pk}"
    for user in (floor.dubai_ar, other_manager):
        login(client, user)
        response = client.post(
            f"/backoffice/leads/desk/{floor.dubai.pk}/sla/", {f"{prefix}-minutes": "5"}
        )
        assert response.status_code == 403
    login(client, other_manager)
    assert [d.pk for d, _f in client.get("/backoffice/leads/desk/").context["sla_forms"]] == [
        floor.global_.pk
    ]
    assert client.post("/backoffice/leads/desk/99999999999999999999/sla/").status_code in (403, 404)
    assert Desk.objects.get(pk=floor.dubai.pk).sla_minutes == 15


def test_admin_edits_the_sla_within_bounds(root_admin, floor):
    url = f"/admin/brokerage/desk/{floor.dubai.pk}/change/"
    form = {"name": "Dubai", "languages": '["ar", "en"]', "is_active": "on"}
    assert root_admin.post(url, form | {"sla_minutes": "0"}).status_code == 200  # re-shown
    assert Desk.objects.get(pk=floor.dubai.pk).sla_minutes == 15
    assert root_admin.post(url, form | {"sla_minutes": "20"}).status_code == 302
    assert Desk.objects.get(pk=floor.dubai.pk).sla_minutes == 20


def test_an_email_the_agent_logs_meets_the_sla(client, floor):
    lead = _uae(floor)
    login(client, floor.dubai_ar)
    url = f"/backoffice/leads/{lead.pk}/email/"
    assert client.post(url, {"subject": ""}).status_code == 400
    response = client.post(
        url, {"subject": "Your account\r\nmanager", "notes": "Sent the brochure"}
    )
    assert response.status_code == 302
    activity = lead.activities.get(kind="email")
    assert activity.actor == floor.dubai_ar and activity.data["subject"] == "Your account manager"
    assert not sla.sla_breached(_assigned_ago(lead, 60))
    login(client, floor.global_en)
    assert client.post(url, {"subject": "hi"}).status_code == 403
