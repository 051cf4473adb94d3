import re

import pytest

from brokerage.models import ApiKey, AuditEvent, User
from brokerage.services import api_key_authenticate
from tests.conftest import login, make_staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def ops(client):
    login(client, make_staff("ops_admin"))
    return client


def test_ops_admin_creates_an_api_key_shown_once(ops):
    response = ops.post(
        "/admin/brokerage/apikey/add/",
        {"name": "Affiliate X", "scopes": '["leads:write"]', "is_active": "on"},
        follow=True,
    )
    assert response.status_code == 200
    shown = re.search(r"is (bo_[A-Za-z0-9_-]+) — copy it now", response.content.decode())
    assert shown, "the new key is shown once"
    raw = shown.group(1)
    row = ApiKey.objects.get(name="Affiliate X")
    assert raw not in (row.key_hash, row.prefix) and api_key_authenticate(raw) == row
    assert AuditEvent.objects.filter(action="api_key.created", target_id=str(row.pk)).exists()
    # Never shown again.
    assert raw not in ops.get(f"/admin/brokerage/apikey/{row.pk}/change/").content.decode()


def test_api_keys_are_revoked_not_deleted(ops):
    ops.post("/admin/brokerage/apikey/add/", {"name": "K", "scopes": "[]", "is_active": "on"})
    key = ApiKey.objects.get()
    ops.post("/admin/brokerage/apikey/", {"action": "revoke", "_selected_action": [key.pk]})
    key.refresh_from_db()
    assert not key.is_active
    assert ops.get(f"/admin/brokerage/apikey/{key.pk}/delete/").status_code == 403


def test_ops_admin_adds_a_user_and_it_is_audited(ops):
    response = ops.post(
        "/admin/brokerage/user/add/",
        {
            "email": "New.Person@Example.com",
            "password1": "a-long-pass-phrase",
            "password2": "a-long-pass-phrase",
            "usable_password": "true",
            "staff_profile-TOTAL_FORMS": "0",
            "staff_profile-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    user = User.objects.get(email="new.person@example.com")
    assert AuditEvent.objects.filter(
        action="user.created_in_admin", target_id=str(user.pk)
    ).exists()


def test_audit_events_are_read_only_in_admin(ops):
    from brokerage.services import audit_record

    event = audit_record(actor="rule:test", action="x")
    assert ops.get("/admin/brokerage/auditevent/add/").status_code == 403
    page = ops.get(f"/admin/brokerage/auditevent/{event.pk}/change/")
    assert page.status_code == 200 and b'name="_save"' not in page.content
    assert ops.get(f"/admin/brokerage/auditevent/{event.pk}/delete/").status_code == 403


def test_other_staff_are_kept_out_of_admin(client):
    login(client, make_staff("compliance_officer"))
    assert client.get("/admin/", follow=True).status_code == 403
    assert client.get("/admin/brokerage/auditevent/", follow=True).status_code == 403
