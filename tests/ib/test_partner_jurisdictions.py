"""Jurisdiction rules reach IB partners through their account holder's country: a resident of a
blocked country cannot sign up, join through an invitation, be added in admin or be approved,
the refusal naming the rule; a partner a restricting rule reaches later keeps earning and is
paid out (withdraw only), is told in its partner area's words, and invites no sub-IBs."""

import pytest
from django.core import mail

from brokerage.errors import InvalidInput, NotAllowed
from brokerage.models import CountryRule, User
from clients.registration import RegistrationNotAllowed
from clients.standing import Purpose, client_standing
from compliance.jurisdictions import country_rule_add, country_rule_end
from compliance.models import RuleApplication
from ib.models import AgreementAcceptance, Partner, PartnerApplication
from ib.onboarding import application_approve, invitation_create, invitation_find
from ib.services import partner_create
from tests.compliance.rules import worker_runs_it
from tests.conftest import PASSWORD, login, make_staff, shipped_defaults
from tests.ib import test_onboarding
from tests.ib.test_onboarding import apply, invite, join_path, partner_form, plan_partner

pytestmark = pytest.mark.django_db
programme = test_onboarding.programme  # the public programme with its plan and agreement


@pytest.fixture(autouse=True)
def shipped_rules():
    shipped_defaults()  # Iran and the USA blocked, as a new installation has them


@pytest.fixture
def officer():
    return make_staff("compliance_officer")


def iran():
    return CountryRule.objects.get(country="IR", kind="blocked")


def test_a_resident_of_a_blocked_country_cannot_sign_up_as_a_partner(client, programme):
    response = apply(client, "ada@example.com", programme, country="IR")
    assert response.status_code == 200
    assert f"jurisdiction rule {iran().pk}".encode() in response.content
    assert not User.objects.filter(email="ada@example.com").exists()
    assert not Partner.objects.exists()
    assert apply(client, "ada@example.com", programme).status_code == 302  # Spain is fine


def test_the_service_refuses_a_blocked_resident_naming_the_rule():
    user = User.objects.create_user(email="ib@example.com", password=PASSWORD)
    with pytest.raises(RegistrationNotAllowed) as refused:
        partner_create(actor="test", user=user, country="IR")
    assert f"jurisdiction rule {iran().pk}" in refused.value.message
    assert refused.value.fields["country"] and refused.value.code == "jurisdiction_blocked"
    assert not Partner.objects.filter(user=user).exists()


def test_an_invitation_cannot_bring_in_a_blocked_resident(client, programme):
    inviter = plan_partner(programme)
    AgreementAcceptance.objects.create(
        partner=inviter.partner, agreement=programme.agreements.get(), accepted_at=iran().created_at
    )
    login(client, inviter)
    path = join_path(invite(client))
    client.logout()
    form = partner_form("bob@example.com", None, country="IR")
    form["shown"] = str(programme.agreements.get().pk)
    refused = client.post(path, form)
    assert refused.status_code == 200 and b"is blocked under jurisdiction rule" in refused.content
    assert not Partner.objects.filter(user__email="bob@example.com").exists()
    form["country"] = "ES"
    assert client.post(path, form).status_code == 302  # the invitation was not used up


def test_admin_asks_for_the_country_and_refuses_a_blocked_one(root_admin):
    user = User.objects.create_user(email="new.ib@test.example", password=PASSWORD)
    form = {"user": user.pk, "company_name": "New IB", "referral_code": "NEWIB001", "parent": ""}
    refused = root_admin.post("/admin/ib/partner/add/", {**form, "country": "US"})
    assert refused.status_code == 200 and b"is blocked under jurisdiction rule" in refused.content
    assert not Partner.objects.filter(user=user).exists()
    missing = root_admin.post("/admin/ib/partner/add/", form)
    assert missing.status_code == 200 and not Partner.objects.filter(user=user).exists()
    added = root_admin.post("/admin/ib/partner/add/", {**form, "country": "ES"})
    assert added.status_code == 302, added.content[:3000]
    assert Partner.objects.get(user=user).holder.country == "ES"
    change = root_admin.get(f"/admin/ib/partner/{Partner.objects.get(user=user).pk}/change/")
    assert change.status_code == 200 and b'name="country"' not in change.content


def test_a_manager_cannot_approve_an_applicant_whose_country_was_blocked_since(
    client, programme, officer
):
    apply(client, "ada@example.com", programme, country="GB")
    client.logout()
    application = PartnerApplication.objects.get(partner__user__email="ada@example.com")
    rule = country_rule_add(actor=officer, country="GB", kind="blocked", basis="Test ban")
    manager = make_staff("ib_manager")
    with pytest.raises(InvalidInput) as refused:
        application_approve(application=application, actor=manager)
    assert f"jurisdiction rule {rule.pk}" in refused.value.message
    assert Partner.objects.get(pk=application.partner_id).status == "pending"
    login(client, manager)
    page = client.post(
        f"/backoffice/ib/applications/{application.pk}/",
        {"action": "approve", "approve-plan": "", "approve-reason": ""},
    )
    assert page.status_code == 400 and f"jurisdiction rule {rule.pk}".encode() in page.content
    country_rule_end(actor=officer, rule=rule, reason="Lifted")
    assert application_approve(application=application, actor=manager).status == "active"


def test_a_restricted_partner_keeps_withdrawing_invites_nobody_and_is_told(programme, officer):
    user = plan_partner(programme)
    partner = user.partner
    partner.holder.country = "GB"
    partner.holder.save(update_fields=["country"])
    _, token = invitation_create(inviter=partner, actor=user)
    mail.outbox.clear()
    with worker_runs_it():
        rule = country_rule_add(actor=officer, country="GB", kind="restricted", basis="FCA")
    application = RuleApplication.objects.get(client=partner.holder, lifted_at=None)
    assert application.rule == rule
    holder = partner.holder
    payout = client_standing(holder, Purpose.WITHDRAW).reasons  # payouts go on (KYC aside)
    assert not [r for r in payout if r.code.startswith("jurisdiction")]
    assert client_standing(holder, Purpose.DEPOSIT).refusal().code == "jurisdiction_restricted"
    [sent] = [m for m in mail.outbox if m.to == [user.email]]
    assert "partner area" in sent.body and "/partners/" in sent.body
    assert "client portal" not in sent.body
    with pytest.raises(NotAllowed) as refused:
        invitation_create(inviter=partner, actor=user)
    assert refused.value.code == "jurisdiction_restricted"
    assert f"jurisdiction rule {rule.pk}" in refused.value.message
    assert invitation_find(token) is None  # its open invitations stop working
    with worker_runs_it():
        country_rule_end(actor=officer, rule=rule, reason="Lifted")
    assert invitation_find(token) is not None
    invitation_create(inviter=partner, actor=user)
