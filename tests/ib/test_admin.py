"""Django admin on IB partners: added through `partner_create`; hierarchy and status read-only,
suspension an audited action."""

import pytest

from brokerage.models import AuditEvent, User
from ib.models import Partner
from tests.conftest import PASSWORD, make_client_user, make_partner_user

pytestmark = pytest.mark.django_db


def test_the_change_form_cannot_move_or_suspend_a_partner(root_admin):
    master = make_partner_user("master@test.example", "MASTER01").partner
    partner = make_partner_user().partner
    response = root_admin.post(
        f"/admin/ib/partner/{partner.pk}/change/",
        {
            "company_name": "Renamed Ltd",
            "referral_code": partner.referral_code,
            "parent": master.pk,
            "status": "suspended",
        },
    )
    assert response.status_code == 302, response.content[:3000]
    partner = Partner.objects.get(pk=partner.pk)
    assert partner.company_name == "Renamed Ltd"
    assert partner.parent_id is None and partner.status == "active"


def test_suspending_and_reactivating_are_audited(root_admin):
    partner = make_partner_user().partner
    changelist = "/admin/ib/partner/"
    root_admin.post(
        changelist,
        {"action": "suspend", "_selected_action": [partner.pk], "reason": "fake referrals"},
    )
    assert Partner.objects.get(pk=partner.pk).status == "suspended"
    root_admin.post(changelist, {"action": "reactivate", "_selected_action": [partner.pk]})
    assert Partner.objects.get(pk=partner.pk).status == "suspended"  # no reason, no change
    root_admin.post(
        changelist,
        {"action": "reactivate", "_selected_action": [partner.pk], "reason": "cleared"},
    )
    assert Partner.objects.get(pk=partner.pk).status == "active"
    events = AuditEvent.objects.filter(action="partner.status_changed", target_id=str(partner.pk))
    assert [(e.evidence["to"], e.reason, e.actor_id) for e in events.order_by("id")] == [
        ("suspended", "fake referrals", root_admin.user.pk),
        ("active", "cleared", root_admin.user.pk),
    ]


def test_a_partner_added_in_admin_is_created_by_the_service_audited(root_admin):
    master = make_partner_user("master@test.example", "MASTER01").partner
    user = User.objects.create_user(email="new.ib@test.example", password=PASSWORD)
    response = root_admin.post(
        "/admin/ib/partner/add/",
        {
            "user": user.pk,
            "company_name": "New IB",
            "referral_code": "NEWIB001",
            "parent": master.pk,
            "country": "ES",
        },
    )
    assert response.status_code == 302, response.content[:3000]
    partner = Partner.objects.get(user=user)
    assert partner.parent == master and partner.status == "active"
    event = AuditEvent.objects.get(action="partner.created", target_id=str(partner.pk))
    assert event.actor_id == root_admin.user.pk and event.evidence["parent"] == master.pk


def test_a_client_cannot_be_added_as_a_partner_in_admin(root_admin):
    user = make_client_user()
    response = root_admin.post(
        "/admin/ib/partner/add/",
        {"user": user.pk, "company_name": "", "referral_code": "CLIENT01", "parent": ""},
    )
    assert response.status_code == 200 and b"partner login of its own" in response.content
    assert not Partner.objects.filter(user=user).exists()
