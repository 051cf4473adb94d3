"""Through the API and the portal form, with a real Celery worker doing the routing."""

import json

import pytest

from brokerage.services import api_key_create
from leads.models import Lead
from tests.conftest import signup_form, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def assigned(lead_id):
    lead = Lead.objects.filter(pk=lead_id).select_related("assigned_to", "nurture").first()
    return lead if lead and lead.routed_at else None


def test_api_leads_are_routed_by_the_worker_within_seconds(client, floor, worker):
    key = api_key_create(actor="test", name="Landing", scopes=["leads:write"])[1]
    cases = {
        "uae": (
            {
                "email": "uae@example.com",
                "country": "AE",
                "language": "ar",
                "phone": "+971501234567",
                "experience": "some",
            },
            "dubai.ar@test.example",
        ),
        "rich": (
            {
                "email": "rich@example.com",
                "country": "GB",
                "net_worth_usd": 300000,
                "experience": "experienced",
            },
            "senior@test.example",
        ),
        "newbie": ({"email": "new@example.com", "country": "GB", "experience": "none"}, None),
    }
    ids = {}
    for name, (body, _agent) in cases.items():
        response = client.post(
            "/api/v1/leads/", json.dumps(body), content_type="application/json", HTTP_X_API_KEY=key
        )
        assert response.status_code == 201
        ids[name] = response.json()["id"]
    assert wait_for(lambda: all(assigned(i) for i in ids.values()), timeout=20)
    for name, (_body, agent) in cases.items():
        lead = assigned(ids[name])
        assert (lead.assigned_to.email if lead.assigned_to else None) == agent, name
    assert Lead.objects.get(pk=ids["newbie"]).nurture.sequence.name == "First-time trader"


def test_portal_registration_becomes_a_routed_lead(client, floor, worker):
    response = client.post(
        "/accounts/signup/",
        signup_form(
            "khalid@example.com",
            first_name="Khalid",
            country="AE",
            phone="+971509876543",
            language="ar",
        ),
    )
    assert response.status_code == 302
    lead = Lead.objects.get(email="khalid@example.com")
    assert lead.channel == "portal" and lead.client.user.email == "khalid@example.com"
    assert wait_for(lambda: assigned(lead.pk), timeout=20)
    assert assigned(lead.pk).assigned_to == floor.dubai_ar


def test_leads_of_an_agent_deactivated_in_admin_move_to_a_colleague(client, floor, worker):
    from tests.conftest import login, make_staff

    leads = [
        floor.capture(country="AE", language="ar", experience="some", email=f"dep{i}@example.com")
        for i in range(2)
    ]
    assert {lead.assigned_to for lead in leads} == {floor.dubai_ar}
    login(client, make_staff("ops_admin"))
    user = floor.dubai_ar
    response = client.post(
        f"/admin/brokerage/user/{user.pk}/change/",
        {
            "email": user.email,
            "first_name": user.first_name,
            "last_name": user.last_name,
            "is_staff": "on",
            "groups": [g.pk for g in user.groups.all()],
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
            "staff_profile-TOTAL_FORMS": "1",
            "staff_profile-INITIAL_FORMS": "1",
            "staff_profile-0-id": user.staff_profile.pk,
            "staff_profile-0-user": user.pk,
            "staff_profile-0-desk": floor.dubai.pk,
            "staff_profile-0-languages": '["ar", "en"]',
            "staff_profile-0-is_on_shift": "on",
        },
    )
    assert response.status_code == 302, response.content[:3000]
    assert wait_for(
        lambda: (
            set(
                Lead.objects.filter(pk__in=[x.pk for x in leads]).values_list(
                    "assigned_to", flat=True
                )
            )
            == {floor.dubai_en.pk}
        ),
        timeout=20,
    )
