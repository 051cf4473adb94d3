"""Sign-up and IB credit: nothing on record is linked or credited before the new client proves
their email address; what an IB manager set is never replaced; leads and ib each handle the
sign-up on their own."""

import pytest
from django.test import Client as Browser

from brokerage.errors import InvalidInput, NotAllowed
from brokerage.models import AuditEvent
from clients.models import Client
from clients.signals import signed_up, signup_verified
from ib.models import Attribution, Partner, PendingReferral, Referral
from ib.services import lead_attribution_set
from leads.models import Channel, Lead
from leads.services import lead_capture
from leads.validation import clean_lead_input
from tests.conftest import make_partner_user, make_staff
from tests.ib.conftest import confirm_email, signup, signup_confirmed

pytestmark = pytest.mark.django_db


def api_lead(email, code="", **fields):
    lead, _ = lead_capture(
        data=clean_lead_input({"email": email, "referral_code": code, **fields}),
        channel=Channel.API,
        actor="integration:Landing",
        route=False,
    )
    return lead


def test_an_unproven_signup_with_someone_elses_email_claims_nothing(client):
    partner = make_partner_user().partner
    vera = api_lead("vera@example.com", first_name="Vera")
    client.get("/r/IBTEST01")
    signup(client, "Vera@Example.com", first_name="Mallory", phone="+447911123456")

    vera = Lead.objects.get(pk=vera.pk)
    assert Lead.objects.count() == 1  # no second lead for the same address either
    assert vera.client_id is None and vera.phone == "" and vera.first_name == "Vera"
    assert vera.touches.count() == 1
    assert not Attribution.objects.exists() and not Referral.objects.exists()
    assert not AuditEvent.objects.filter(action__in=["lead.attributed", "referral.attributed"])

    # Whoever follows the link mailed to that address owns it: now the lead is theirs.
    confirm_email(client, "vera@example.com")
    vera = Lead.objects.get(pk=vera.pk)
    assert vera.client == Client.objects.get(user__email="vera@example.com")
    assert vera.phone == "+447911123456" and vera.first_name == "Vera"  # blanks filled only
    attribution = Attribution.objects.get(lead=vera)
    assert attribution.partner == partner and attribution.source == Attribution.Source.LINK
    assert Referral.objects.get().partner == partner


def test_a_new_persons_signup_is_a_lead_at_once_but_credited_only_once_proven(client):
    partner = make_partner_user().partner
    client.get("/r/IBTEST01")
    signup(client, "nadia@example.com", first_name="Nadia")

    lead = Lead.objects.get(email="nadia@example.com")
    assert lead.channel == Channel.PORTAL and lead.client.user.email == "nadia@example.com"
    assert not Attribution.objects.exists() and not Referral.objects.exists()
    assert PendingReferral.objects.get().code == "IBTEST01"

    confirm_email(client, "nadia@example.com")
    attribution = Attribution.objects.get(lead=lead)
    assert attribution.partner == partner and attribution.made_by == lead.client.user
    assert Referral.objects.get().client == lead.client
    assert not PendingReferral.objects.exists()


def test_the_code_holds_when_the_email_is_confirmed_in_another_browser(client):
    partner = make_partner_user().partner
    client.get("/r/IBTEST01")
    signup(client, "omar@example.com")
    phone = Browser()  # the mail app's browser: no referral cookie, no session
    confirm_email(phone, "omar@example.com")
    assert Referral.objects.get().partner == partner
    assert Attribution.objects.get(lead__email="omar@example.com").partner == partner


def test_a_later_signup_never_overrides_what_an_ib_manager_set(client):
    first = make_partner_user("first@test.example", "FIRST001").partner
    chosen = make_partner_user("chosen@test.example", "CHOSEN01").partner
    make_partner_user("late@test.example", "LATE0001")
    lena = api_lead("lena@example.com", code="FIRST001")
    assert Attribution.objects.get(lead=lena).partner == first
    manager = make_staff("ib_manager")
    lead_attribution_set(lead=lena, partner=chosen, actor=manager, reason="Met at the expo")

    client.get("/r/LATE0001")
    signup_confirmed(client, "lena@example.com")

    attribution = Attribution.objects.get(lead=lena)
    assert attribution.partner == chosen and attribution.source == Attribution.Source.MANUAL
    assert attribution.made_by == manager
    referral = Referral.objects.get()
    assert referral.partner == chosen  # the client follows the manager's choice, not the link
    event = AuditEvent.objects.get(action="referral.attributed")
    assert event.evidence["link_code"] == "LATE0001"


def test_a_manual_credit_moves_a_registered_clients_referral(client):
    first = make_partner_user().partner
    chosen = make_partner_user("chosen@test.example", "CHOSEN01").partner
    client.get("/r/IBTEST01")
    signup_confirmed(client, "sami@example.com")
    lead = Lead.objects.get(email="sami@example.com")
    assert Referral.objects.get().partner == first

    lead_attribution_set(
        lead=lead, partner=chosen, actor=make_staff("ib_manager"), reason="Wrong link used"
    )
    assert Attribution.objects.get(lead=lead).partner == chosen
    assert Referral.objects.get().partner == chosen
    moved = AuditEvent.objects.get(action="referral.moved")
    assert moved.evidence == {"partner": chosen.pk, "from": first.pk}


def test_only_an_ib_manager_credits_a_lead_by_hand_with_a_reason_to_an_active_partner():
    partner = make_partner_user().partner
    lead = api_lead("tom@example.com")
    with pytest.raises(NotAllowed):
        lead_attribution_set(
            lead=lead, partner=partner, actor=make_staff("sales_agent"), reason="Mine"
        )
    manager = make_staff("ib_manager")
    with pytest.raises(InvalidInput):
        lead_attribution_set(lead=lead, partner=partner, actor=manager, reason="  ")
    Partner.objects.filter(pk=partner.pk).update(status=Partner.Status.SUSPENDED)
    partner.refresh_from_db()
    with pytest.raises(InvalidInput):
        lead_attribution_set(lead=lead, partner=partner, actor=manager, reason="Expo")
    assert not Attribution.objects.exists()


@pytest.fixture(params=["as connected", "reversed"])
def receiver_order(request):
    """Run the sign-up signals' receivers in their order, then the other way round."""
    saved = {s: list(s.receivers) for s in (signed_up, signup_verified)}
    if request.param == "reversed":
        for signal in saved:
            signal.receivers.reverse()
            signal.sender_receivers_cache.clear()
    yield request.param
    for signal, receivers in saved.items():
        signal.receivers[:] = receivers
        signal.sender_receivers_cache.clear()


def test_leads_and_ib_each_handle_the_signup_in_any_order(client, receiver_order):
    partner = make_partner_user().partner
    known = api_lead("known@example.com")
    client.get("/r/IBTEST01")
    signup_confirmed(client, "known@example.com", phone="+447911123456")
    client.get("/r/IBTEST01")
    signup_confirmed(client, "fresh@example.com", phone="+447911123457")

    for email in ("known@example.com", "fresh@example.com"):
        lead = Lead.objects.get(email=email)
        assert lead.client.user.email == email, receiver_order
        assert Attribution.objects.get(lead=lead).partner == partner, receiver_order
        assert Referral.objects.get(client=lead.client).partner == partner, receiver_order
    assert Lead.objects.get(pk=known.pk).phone == "+447911123456"
