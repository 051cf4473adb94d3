"""Django admin on clients: the standing is read-only; changes go through audited services."""

import pytest

from brokerage.models import AuditEvent
from clients.models import Client
from tests.conftest import make_client_user

pytestmark = pytest.mark.django_db


def test_the_change_form_cannot_change_a_clients_standing(root_admin):
    client = make_client_user().client
    page = root_admin.get(f"/admin/clients/client/{client.pk}/change/")
    assert page.status_code == 200
    standing = ("kyc_level", "restricted", "restriction_reason", "aml_case_open", "risk_flags")
    standing += ("nationality", "category", "risk_rating", "enhanced_due_diligence")
    for field in standing:
        assert f'name="{field}"' not in page.content.decode()
    response = root_admin.post(
        f"/admin/clients/client/{client.pk}/change/",
        {
            "country": "DE",
            "language": "de",
            "phone": "",
            "kyc_level": "1",
            "restricted": "on",
            "restriction_reason": "edited in admin",
            "aml_case_open": "on",
            "risk_flags": '["chargeback"]',
            "first_deposit_at_0": "2024-01-01",
            "first_deposit_at_1": "10:00",
            "category": "professional",
            "risk_rating": "low",
            "enhanced_due_diligence": "",
        },
    )
    assert response.status_code == 302, response.content[:3000]
    client = Client.objects.get(pk=client.pk)
    assert client.country == "DE"  # the profile is still edited here
    assert client.kyc_level == 0 and not client.restricted and not client.aml_case_open
    assert client.risk_flags == [] and client.first_deposit_at is None
    assert client.category == "retail" and client.risk_rating == ""


def test_restricting_in_admin_is_audited_with_the_reason_and_the_admin(root_admin):
    client = make_client_user().client
    response = root_admin.post(
        "/admin/clients/client/",
        {"action": "restrict", "_selected_action": [client.pk], "reason": "chargeback fraud"},
    )
    assert response.status_code == 302
    client = Client.objects.get(pk=client.pk)
    assert client.restricted and client.restriction_reason == "chargeback fraud"
    event = AuditEvent.objects.get(action="client.restricted", target_id=str(client.pk))
    assert event.actor_id == root_admin.user.pk and event.reason == "chargeback fraud"


def test_an_action_without_a_reason_changes_nothing(root_admin):
    client = make_client_user().client
    root_admin.post(
        "/admin/clients/client/", {"action": "restrict", "_selected_action": [client.pk]}
    )
    assert not Client.objects.get(pk=client.pk).restricted
    assert not AuditEvent.objects.filter(action="client.restricted").exists()


def test_requiring_verification_again_lowers_the_kyc_level_audited(root_admin):
    client = make_client_user().client
    Client.objects.filter(pk=client.pk).update(kyc_level=1)
    root_admin.post(
        "/admin/clients/client/",
        {
            "action": "verify_again",
            "_selected_action": [client.pk],
            "reason": "document reported stolen",
        },
    )
    assert Client.objects.get(pk=client.pk).kyc_level == 0
    event = AuditEvent.objects.get(action="client.kyc_level_changed", target_id=str(client.pk))
    assert event.actor_id == root_admin.user.pk and event.evidence["to"] == 0


def test_clients_are_not_added_in_admin(root_admin):
    assert root_admin.get("/admin/clients/client/add/").status_code == 403  # clients sign up
