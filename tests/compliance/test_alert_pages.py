"""The alert queue and an alert's page over HTTP: filters, the subject beside the entry, the
decisions with their errors, four eyes, and the client 360's screening section."""

import pytest
from django.contrib.auth import get_user_model

from clients.services import client_register
from compliance.models import Alert
from compliance.services import client_screen
from tests.conftest import login, make_staff

from .test_alerts import register, watch_list

pytestmark = pytest.mark.django_db


@pytest.fixture
def alert():
    watch_list()
    client = register("Ivan", "Zlobnikov")
    client_screen(client_id=client.pk, reason="on_demand")
    return Alert.objects.get(client=client)


def test_the_queue_filters_by_status_list_band_and_name(client, alert):
    login(client, make_staff("compliance_officer"))
    page = client.get("/backoffice/compliance/alerts/")
    assert page.status_code == 200 and b"Ivan Zlobnikov" in page.content
    assert b"data-alert=" in page.content
    for query, shown in [
        ("?status=dismissed", False),
        ("?status=all&source=internal-watch&band=high", True),
        ("?band=low", False),
        ("?q=zlob", True),
        ("?q=nobody", False),
        ("?status=bogus", True),  # an unknown filter is ignored, never a 500
    ]:
        page = client.get(f"/backoffice/compliance/alerts/{query}")
        assert page.status_code == 200, query
        assert (f'data-alert="{alert.pk}"'.encode() in page.content) is shown, query


def test_an_alert_page_holds_the_client_beside_the_entry_and_confirms(client, alert):
    officer = make_staff("compliance_officer")
    login(client, officer)
    url = f"/backoffice/compliance/alerts/{alert.pk}/"
    page = client.get(url)
    text = page.content.decode()
    assert page.status_code == 200
    assert "Arms trading" in text and "Ivan Petrovich Zlobnikov" in text
    assert "Russian Federation" in text and "Same" in text  # labels, not codes
    refused = client.post(url, {"action": "confirm", "reason": ""})
    assert refused.status_code == 400 and b"Say why" in refused.content
    done = client.post(url, {"action": "confirm", "reason": "Passport matches"}, follow=True)
    assert b"blocked until compliance lifts it" in done.content
    alert.refresh_from_db()
    assert alert.blocking
    c360 = client.get(f"/backoffice/clients/{alert.client_id}/")
    assert b"data-sanctions-block" in c360.content
    client.post(url, {"action": "lift", "reason": "Delisted"})
    alert.refresh_from_db()
    assert not alert.blocking and alert.lift_reason == "Delisted"


def test_a_high_score_dismissal_waits_for_a_second_officer(client, alert):
    first = make_staff("compliance_officer", email="c1@test.example")
    second = make_staff("compliance_officer", email="c2@test.example")
    url = f"/backoffice/compliance/alerts/{alert.pk}/"
    login(client, first)
    page = client.post(url, {"action": "dismiss", "reason": "Born 1991"}, follow=True)
    assert b"a second compliance officer approves it" in page.content
    assert b"data-awaiting" in page.content
    again = client.post(url, {"action": "approve", "reason": ""})
    assert again.status_code == 400 and b"not the one who proposed it" in again.content
    login(client, second)
    client.post(url, {"action": "approve", "reason": ""})
    alert.refresh_from_db()
    assert alert.status == "dismissed" and alert.decided_by == second


@pytest.mark.parametrize("role", ["sales_agent", "finance_officer", "desk_manager"])
def test_only_compliance_officers_see_alerts_or_the_360_section(client, alert, role):
    login(client, make_staff(role))
    assert client.get("/backoffice/compliance/alerts/").status_code in (403, 404)
    assert client.post(
        f"/backoffice/compliance/alerts/{alert.pk}/", {"action": "confirm", "reason": "x"}
    ).status_code in (403, 404)
    alert.refresh_from_db()
    assert alert.status == "open"
    c360 = client.get(f"/backoffice/clients/{alert.client_id}/")
    assert b"data-screening-360" not in c360.content


def test_a_registered_client_never_screened_shows_so_in_the_360(client):
    user = make_staff("compliance_officer")
    member = get_user_model().objects.create_user(email="n@test.example", password="x-long-pass")
    registered = client_register(user=member, actor="test")
    login(client, user)
    page = client.get(f"/backoffice/clients/{registered.pk}/")
    assert b"Not screened yet." in page.content
