"""An IB manager on a partner's page: revokes its API tokens (with a reason, audited), reads
what was sent to the partner, and each view of the partner's record is in the access log."""

import pytest

from brokerage.models import AuditEvent
from clients.models import PersonalDataView
from clients.notify import client_notify
from ib import audit_events
from ib.models import PartnerToken
from ib.tokens import partner_token_create
from tests.conftest import login, make_staff

pytestmark = pytest.mark.django_db


def url(partner):
    return f"/backoffice/ib/partners/{partner.pk}/"


def test_an_ib_manager_revokes_a_partners_token_with_a_reason(client, network):
    leaf = network["leaf"]
    token, _ = partner_token_create(partner=leaf, name="Reporting", actor=leaf.user)
    other, _ = partner_token_create(partner=leaf, name="Other", actor=leaf.user)
    manager = make_staff("ib_manager")
    login(client, manager)
    page = client.get(url(leaf)).content.decode()
    assert "Reporting" in page and f'value="{token.pk}"' in page
    # no reason: refused with the field named, nothing revoked
    refused = client.post(url(leaf), {"action": "token", "token-token": token.pk})
    assert refused.status_code == 400 and "Reason" in refused.content.decode()
    assert not PartnerToken.objects.filter(revoked_at__isnull=False).exists()
    done = client.post(
        url(leaf),
        {"action": "token", "token-token": token.pk, "token-reason": "Posted in a ticket"},
    )
    assert done.status_code == 302
    token.refresh_from_db()
    other.refresh_from_db()
    assert token.revoked_at is not None and token.revoked_by == manager.email
    assert other.revoked_at is None
    event = AuditEvent.objects.get(action=audit_events.PARTNER_TOKEN_REVOKED)
    assert event.actor == manager and event.reason == "Posted in a ticket"
    # revoked already: a form error, not a 500, and nothing more audited
    again = client.post(
        url(leaf),
        {"action": "token", "token-token": token.pk, "token-reason": "Posted in a ticket"},
    )
    assert again.status_code == 400 and "revoked already" in again.content.decode()
    assert AuditEvent.objects.filter(action=audit_events.PARTNER_TOKEN_REVOKED).count() == 1


def refused_and_kept(http, page_of, token, reason) -> None:
    """A revoke posted on `page_of`'s page is forbidden and the token still works."""
    response = http.post(
        url(page_of), {"action": "token", "token-token": token.pk, "token-reason": reason}
    )
    assert response.status_code == 403
    token.refresh_from_db()
    assert token.revoked_at is None


def test_a_token_of_another_partner_is_not_revoked_from_this_page(client, network):
    mid, leaf = network["mid"], network["leaf"]
    token, _ = partner_token_create(partner=mid, name="Mid's", actor=mid.user)
    login(client, make_staff("ib_manager"))
    refused_and_kept(client, leaf, token, "wrong page")


@pytest.mark.parametrize("value", ["", "abc", "99999999999999999999", "\x00"])
def test_bad_token_ids_are_form_errors(client, network, value):
    login(client, make_staff("ib_manager"))
    response = client.post(
        url(network["leaf"]), {"action": "token", "token-token": value, "token-reason": "a reason"}
    )
    assert response.status_code == 400


def test_only_ib_managers_revoke_from_the_back_office(client, network):
    leaf = network["leaf"]
    token, _ = partner_token_create(partner=leaf, name="Reporting", actor=leaf.user)
    login(client, make_staff("sales_agent"))
    refused_and_kept(client, leaf, token, "Not mine to do")


def test_the_partner_page_shows_the_partners_emails_and_logs_the_view(client, network):
    leaf = network["leaf"]
    client_notify(
        leaf.holder,
        email="partner_application_decided",
        key="test-partner-email",
        actor="rule:test",
        url_name="partners:home",
        context={"approved": True, "programme": "Standard", "reason": "", "partner_area": True},
    )
    manager = make_staff("ib_manager")
    login(client, manager)
    page = client.get(url(leaf))
    assert page.status_code == 200
    sent = page.context["communications"]
    assert [c.kind for c in sent] == ["email"] and sent[0].subject
    assert sent[0].subject in page.content.decode()
    view = PersonalDataView.objects.get()
    assert (view.user, view.client_id, view.what) == (manager, leaf.holder_id, "partner")
    assert view.detail == "partner LEAFIB01"


def test_the_partner_page_reads_a_bounded_number_of_queries(
    client, network, django_assert_max_num_queries
):
    leaf = network["leaf"]
    login(client, make_staff("ib_manager"))
    client.get(url(leaf))
    for i in range(4):
        partner_token_create(partner=leaf, name=f"T{i}", actor=leaf.user)
        client_notify(
            leaf.holder,
            email="partner_application_decided",
            key=f"k{i}",
            actor="rule:test",
            url_name="partners:home",
            context={"approved": True, "programme": "Standard", "reason": "", "partner_area": True},
        )
    with django_assert_max_num_queries(60):
        assert client.get(url(leaf)).status_code == 200
