import pytest

from brokerage.models import AuditEvent
from leads.models import Lead, LeadActivity
from tests.conftest import login, make_staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def uae_lead(floor):
    return floor.capture(
        country="AE",
        language="ar",
        experience="some",
        first_name="<b>Zaid</b>",
        email="zaid@example.com",
    )


def test_inbox_lists_only_my_leads_nearest_their_sla_first(
    client, floor, uae_lead, django_assert_max_num_queries
):
    for i in range(15):
        floor.capture(country="AE", language="ar", experience="some", email=f"m{i}@example.com")
    floor.capture(country="FR", experience="some", email="someone-else@example.com")
    login(client, floor.dubai_ar)
    with django_assert_max_num_queries(14):
        page = client.get("/backoffice/leads/")
    leads = [row["lead"] for row in page.context["rows"]]
    assert all(lead.assigned_to == floor.dubai_ar for lead in leads)
    assert page.context["page"].paginator.count == 16
    # none contacted yet: the one assigned first is nearest its SLA
    assert [lead.assigned_at for lead in leads] == sorted(lead.assigned_at for lead in leads)
    assert b"&lt;b&gt;Zaid&lt;/b&gt;" in page.content and b"<b>Zaid</b>" not in page.content


def test_inbox_search_and_filter(client, floor, uae_lead):
    login(client, floor.dubai_ar)
    assert client.get("/backoffice/leads/", {"q": "zaid"}).context["page"].paginator.count == 1
    assert client.get("/backoffice/leads/", {"status": "lost"}).context["page"].paginator.count == 0
    fragment = client.get("/backoffice/leads/", {"q": "zaid"}, HTTP_HX_REQUEST="true")
    assert b"<html" not in fragment.content


def test_an_agent_cannot_open_someone_elses_lead(client, floor, uae_lead):
    login(client, floor.global_en)
    assert client.get(f"/backoffice/leads/{uae_lead.pk}/").status_code == 403
    assert client.post(f"/backoffice/leads/{uae_lead.pk}/note/", {"text": "hi"}).status_code == 403
    assert not LeadActivity.objects.filter(kind="note").exists()


def test_agent_works_the_lead_notes_calls_status(client, floor, uae_lead):
    login(client, floor.dubai_ar)
    url = f"/backoffice/leads/{uae_lead.pk}/"
    page = client.get(url)
    assert page.status_code == 200 and b"Score" in page.content
    assert client.post(url + "note/", {"text": "Prefers WhatsApp"}).status_code == 302
    assert (
        client.post(
            url + "call/",
            {"outcome": "answered", "duration_minutes": 4, "notes": "Interested in gold"},
        ).status_code
        == 302
    )
    assert client.post(url + "status/", {"status": "contacted"}).status_code == 302
    assert client.post(url + "status/", {"status": "qualified"}).status_code == 302
    lead = Lead.objects.get(pk=uae_lead.pk)
    assert lead.status == "qualified"
    kinds = list(LeadActivity.objects.filter(lead=lead).values_list("kind", flat=True))
    assert {"note", "call", "status", "assignment", "touch"} <= set(kinds)
    changes = AuditEvent.objects.filter(action="lead.status_changed", target_id=str(lead.pk))
    assert [e.evidence["to"] for e in changes.order_by("id")] == ["contacted", "qualified"]


def test_lost_needs_a_reason_and_bad_transitions_are_explained(client, floor, uae_lead):
    login(client, floor.dubai_ar)
    url = f"/backoffice/leads/{uae_lead.pk}/status/"
    response = client.post(url, {"status": "lost", "reason": ""})
    assert response.status_code == 400 and b"Say why the lead is lost" in response.content
    assert client.post(url, {"status": "lost", "reason": "Not interested"}).status_code == 302
    response = client.post(url, {"status": "qualified"})
    assert response.status_code == 400 and b"cannot become qualified" in response.content
    assert Lead.objects.get(pk=uae_lead.pk).lost_reason == "Not interested"


def test_bad_call_input_is_a_form_error(client, floor, uae_lead):
    login(client, floor.dubai_ar)
    response = client.post(
        f"/backoffice/leads/{uae_lead.pk}/call/", {"outcome": "teleported", "duration_minutes": -3}
    )
    assert response.status_code == 400
    assert not LeadActivity.objects.filter(kind="call").exists()


def test_desk_manager_sees_the_desk_and_reassigns(client, floor, uae_lead):
    login(client, floor.manager)
    desk = client.get("/backoffice/leads/desk/")
    assert desk.status_code == 200
    loads = {a.user.email: a.open_leads for a in desk.context["agents"]}
    assert loads["dubai.ar@test.example"] == 1 and loads["dubai.en@test.example"] == 0
    response = client.post(
        f"/backoffice/leads/{uae_lead.pk}/reassign/",
        {"to_user": floor.dubai_en.pk, "reason": "Arabic agent off sick"},
    )
    assert response.status_code == 302
    assert Lead.objects.get(pk=uae_lead.pk).assigned_to == floor.dubai_en
    assert AuditEvent.objects.filter(action="lead.reassigned").exists()


def test_desk_manager_cannot_reassign_to_another_desks_agent(client, floor, uae_lead):
    login(client, floor.manager)
    response = client.post(
        f"/backoffice/leads/{uae_lead.pk}/reassign/", {"to_user": floor.global_en.pk}
    )
    assert response.status_code == 400  # not a choice for this manager
    assert Lead.objects.get(pk=uae_lead.pk).assigned_to == floor.dubai_ar


def test_agents_cannot_reassign(client, floor, uae_lead):
    login(client, floor.dubai_ar)
    response = client.post(
        f"/backoffice/leads/{uae_lead.pk}/reassign/", {"to_user": floor.dubai_en.pk}
    )
    assert response.status_code in (400, 403)
    assert Lead.objects.get(pk=uae_lead.pk).assigned_to == floor.dubai_ar


def test_sla_breaches_show_on_the_desk_view(client, floor, uae_lead):
    from datetime import timedelta

    from django.utils import timezone

    Lead.objects.filter(pk=uae_lead.pk).update(assigned_at=timezone.now() - timedelta(hours=1))
    login(client, floor.manager)
    desk = client.get("/backoffice/leads/desk/")
    assert desk.context["breach_count"] == 1
    login(client, floor.dubai_ar)
    row = client.get("/backoffice/leads/").context["rows"][0]
    assert row["breached"]


def test_all_leads_for_ops(client, floor, uae_lead):
    login(client, make_staff("ops_admin"))
    page = client.get("/backoffice/leads/all/")
    assert page.context["page"].paginator.count == 1


def test_desk_and_lead_pages_do_not_grow_queries_with_rows(
    client, floor, django_assert_max_num_queries
):
    leads = [
        floor.capture(country="AE", language="ar", experience="some", email=f"q{i}@example.com")
        for i in range(12)
    ]
    from leads.services import lead_note_add

    for i in range(10):
        lead_note_add(lead=leads[0], actor=floor.dubai_ar, text=f"note {i}")
    login(client, floor.manager)
    with django_assert_max_num_queries(20):
        assert client.get("/backoffice/leads/desk/").status_code == 200
    with django_assert_max_num_queries(24):
        assert client.get(f"/backoffice/leads/{leads[0].pk}/").status_code == 200
