"""How partners join: the public sign-up (a partner-to-be awaiting approval, told apart from a
client's), the applications queue, the versioned agreement, and invitations of sub-IBs."""

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from brokerage.errors import InvalidInput
from brokerage.models import AuditEvent, User
from clients.models import Client
from ib.models import (
    AgreementAcceptance,
    ParentLink,
    Partner,
    PartnerAgreement,
    PartnerApplication,
    PartnerInvitation,
    PartnerPlan,
    Programme,
)
from ib.onboarding import (
    agreement_accept,
    agreement_publish,
    application_approve,
    application_reject,
    invitation_create,
)
from ib.plans import partner_plan_set, plan_create, plan_version_create
from leads.models import Lead
from tests.conftest import login, make_client_user, make_partner_user, make_staff
from tests.ib.conftest import confirm_email

pytestmark = pytest.mark.django_db
AGREEMENT = "The partner introduces clients fairly and never promises returns."


@pytest.fixture
def programme():
    programme = Programme.objects.create(name="Open IB", registration="public")
    plan = plan_create(programme=programme, name="Open plan", actor="test")
    plan_version_create(
        plan=plan,
        valid_from=timezone.now() - timedelta(days=1),
        rules=[{"rate": "5"}],
        actor="test",
        publish=True,
    )
    agreement_publish(programme=programme, text=AGREEMENT, actor="test")
    return programme


def partner_form(email, programme, **overrides):
    form = {
        "programme": programme.pk if programme else "",
        "company_name": "Ada Media",
        "first_name": "Ada",
        "last_name": "Lo",
        "email": email,
        "country": "ES",
        "language": "es",
        "website": "ada.example.com",
        "message": "A trading blog with 20,000 readers.",
        "password1": "a-long-pass-phrase",
        "password2": "a-long-pass-phrase",
        "shown": ",".join(str(a.pk) for a in programme.agreements.all()) if programme else "",
        "accept": "on",
    }
    form.update(overrides)
    return form


def apply(client, email, programme, **overrides):
    return client.post(
        "/partners/signup/",
        partner_form(email, programme, **overrides),
        HTTP_USER_AGENT="Mozilla/5.0 (Test)",
        REMOTE_ADDR="203.0.113.7",
    )


def test_a_visitor_applies_as_a_partner_and_waits_for_approval(client, programme):
    page = client.get("/partners/signup/")
    assert page.status_code == 200 and AGREEMENT.encode() in page.content
    response = apply(client, "ada@example.com", programme)
    assert response.status_code == 302, response.content[:3000]
    user = User.objects.get(email="ada@example.com")
    partner = Partner.objects.get(user=user)
    assert partner.status == "pending" and partner.company_name == "Ada Media"
    application = PartnerApplication.objects.get(partner=partner)
    assert application.programme == programme and application.via == "public"
    assert application.website == "https://ada.example.com"
    acceptance = AgreementAcceptance.objects.get(partner=partner)
    assert acceptance.agreement.version == 1 and acceptance.ip == "203.0.113.7"
    assert acceptance.user_agent == "Mozilla/5.0 (Test)"
    # a partner-to-be: its own account holder, never a trading client or a lead
    assert partner.holder.holder == Client.Holder.PARTNER and partner.holder.language == "es"
    assert not Client.objects.filter(user=user, holder=Client.Holder.CLIENT).exists()
    assert not Lead.objects.filter(email="ada@example.com").exists()
    assert AuditEvent.objects.filter(action="partner.applied", target_id=str(partner.pk)).exists()
    confirm_email(client, "ada@example.com")
    home = client.get("/partners/")
    assert home.status_code == 302 and home["Location"] == "/partners/application/"
    waiting = client.get("/partners/application/")
    assert b'data-application="pending"' in waiting.content
    assert client.get("/partners/commissions/")["Location"] == "/partners/application/"


def test_bad_applications_are_form_errors_and_make_nothing(client, programme):
    no_accept = apply(client, "a@example.com", programme, accept="")
    assert no_accept.status_code == 200 and b"Accept the partner agreement" in no_accept.content
    v1 = programme.agreements.get()
    agreement_publish(programme=programme, text=AGREEMENT + " Version two.", actor="test")
    stale = apply(client, "b@example.com", programme, shown=str(v1.pk))  # v2 is in force now
    assert stale.status_code == 200 and b"new version of the agreement" in stale.content
    closed = Programme.objects.create(name="Managed", registration="manager")
    wrong = apply(client, "c@example.com", closed)
    assert wrong.status_code == 200 and b"Select a valid choice" in wrong.content
    bad_site = apply(client, "d@example.com", programme, website="not a url at all")
    assert bad_site.status_code == 200
    assert not User.objects.filter(email__endswith="@example.com").exists()
    assert not Partner.objects.exists()


def test_sign_up_is_closed_without_a_public_programme(client):
    Programme.objects.create(name="Managed", registration="manager")
    page = client.get("/partners/signup/")
    assert page.status_code == 404 and b"data-closed" in page.content
    assert client.post("/partners/signup/", {}).status_code == 404


def applied(client, programme, email="ada@example.com"):
    apply(client, email, programme)
    client.logout()
    return PartnerApplication.objects.get(partner__user__email=email)


def test_a_manager_approves_with_a_plan_and_the_partner_is_told_in_its_language(
    client, programme, django_capture_on_commit_callbacks
):
    application = applied(client, programme)
    manager = make_staff("ib_manager")
    login(client, manager)
    queue = client.get("/backoffice/ib/applications/")
    assert queue.status_code == 200 and list(queue.context["page"]) == [application]
    page = client.get(f"/backoffice/ib/applications/{application.pk}/")
    assert page.status_code == 200 and b"A trading blog" in page.content
    plan = programme.plans.get()
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/backoffice/ib/applications/{application.pk}/",
            {"action": "approve", "approve-plan": plan.pk, "approve-reason": ""},
        )
    assert response.status_code == 302
    partner = application.partner
    partner.refresh_from_db()
    assert partner.status == "active"
    assert PartnerPlan.objects.get(partner=partner).plan == plan
    application.refresh_from_db()
    assert application.decided_by == manager.email and application.decided_at
    assert AuditEvent.objects.filter(action="partner.approved", actor=manager).exists()
    [sent] = [m for m in mail.outbox if m.to == ["ada@example.com"]]
    assert "Open IB" in sent.subject
    again = client.post(
        f"/backoffice/ib/applications/{application.pk}/",
        {"action": "reject", "reject-reason": "too late now"},
    )
    assert again.status_code == 400 and b"decided already" in again.content
    login(client, partner.user)
    assert client.get("/partners/").status_code == 200


def test_a_manager_rejects_with_a_reason_the_applicant_reads(
    client, programme, django_capture_on_commit_callbacks
):
    application = applied(client, programme)
    login(client, make_staff("ib_manager"))
    short = client.post(
        f"/backoffice/ib/applications/{application.pk}/",
        {"action": "reject", "reject-reason": "no"},
    )
    assert short.status_code == 400
    other_plan = plan_create(
        programme=Programme.objects.create(name="Other"), name="Other plan", actor="test"
    )
    wrong_plan = client.post(
        f"/backoffice/ib/applications/{application.pk}/",
        {"action": "approve", "approve-plan": other_plan.pk},
    )
    assert wrong_plan.status_code == 400
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/backoffice/ib/applications/{application.pk}/",
            {"action": "reject", "reject-reason": "We could not verify the website."},
        )
    assert response.status_code == 302
    partner = Partner.objects.get(pk=application.partner_id)
    assert partner.status == "rejected"
    [sent] = [m for m in mail.outbox if m.to == ["ada@example.com"]]
    assert "could not verify the website" in sent.body
    login(client, partner.user)
    assert client.get("/partners/network/")["Location"] == "/partners/application/"
    page = client.get("/partners/application/")
    assert b'data-application="rejected"' in page.content and b"could not verify" in page.content


def test_a_rejected_applicant_applies_again_after_the_waiting_days(client, programme, settings):
    application = applied(client, programme)
    manager = make_staff("ib_manager")
    application_reject(application=application, actor=manager, reason="No website to check.")
    partner = Partner.objects.get(pk=application.partner_id)
    login(client, partner.user)
    page = client.get("/partners/application/")
    assert b"data-reapply-from" in page.content and b'data-form="reapply"' not in page.content
    # too soon: a POST changes nothing
    assert client.post("/partners/application/", {"message": "x" * 30}).status_code == 302
    assert Partner.objects.get(pk=partner.pk).status == "rejected"
    PartnerApplication.objects.filter(pk=application.pk).update(
        decided_at=timezone.now() - timedelta(days=settings.PARTNER_REAPPLY_DAYS + 1)
    )
    # a new agreement version meanwhile: applying again accepts it
    agreement_publish(programme=programme, text=AGREEMENT + " Version two.", actor="test")
    page = client.get("/partners/application/")
    assert b'data-form="reapply"' in page.content and b"Version two." in page.content
    short = client.post("/partners/application/", {"message": "again", "accept": "on"})
    assert short.status_code == 400 and Partner.objects.get(pk=partner.pk).status == "rejected"
    sent = client.post(
        "/partners/application/",
        {
            "website": "https://ada-trading.example",
            "message": "We now run a trading school with 400 students a month.",
            "agreement": PartnerAgreement.objects.get(version=2).pk,
            "accept": "on",
        },
    )
    assert sent.status_code == 302
    partner.refresh_from_db()
    application.refresh_from_db()
    assert partner.status == "pending" and application.decided_at is None
    assert application.earlier[0]["reason"] == "No website to check."
    assert application.website == "https://ada-trading.example"
    assert AgreementAcceptance.objects.filter(partner=partner, agreement__version=2).exists()
    assert AuditEvent.objects.filter(action="partner.reapplied", target_id=str(partner.pk)).exists()
    # the manager sees the earlier round and decides again
    login(client, manager)
    page = client.get(f"/backoffice/ib/applications/{application.pk}/")
    assert b"data-earlier" in page.content and b"No website to check." in page.content
    application_approve(application=application, actor=manager)
    assert Partner.objects.get(pk=partner.pk).status == "active"


@pytest.mark.parametrize("audience", ["sales_agent", "compliance_officer", "partner", "client"])
def test_only_ib_managers_see_and_decide_applications(client, programme, audience):
    application = applied(client, programme)
    user = {
        "partner": lambda: make_partner_user("p2@test.example", "P2CODE01"),
        "client": lambda: make_client_user("c2@test.example"),
    }.get(audience, lambda: make_staff(audience))()
    login(client, user)
    assert client.get("/backoffice/ib/applications/").status_code == 403
    assert client.get("/backoffice/ib/agreements/").status_code == 403
    decide = client.post(
        f"/backoffice/ib/applications/{application.pk}/",
        {"action": "approve", "approve-plan": ""},
    )
    assert decide.status_code == 403
    assert Partner.objects.get(pk=application.partner_id).status == "pending"


def test_the_applications_queue_does_not_grow_in_queries(
    client, programme, django_assert_max_num_queries
):
    for n in range(6):
        applied(client, programme, f"app{n}@example.com")
    login(client, make_staff("ib_manager"))
    with django_assert_max_num_queries(12):
        page = client.get("/backoffice/ib/applications/")
    assert len(page.context["page"]) == 6
    with django_assert_max_num_queries(12):
        assert client.get("/backoffice/ib/agreements/").status_code == 200


def plan_partner(programme, email="ib@test.example", code="IBTEST01"):
    user = make_partner_user(email, code)
    partner_plan_set(
        partner=user.partner,
        plan=programme.plans.get(),
        actor="test",
        valid_from=timezone.now() - timedelta(hours=1),
    )
    return user


def test_a_new_agreement_version_is_accepted_before_the_dashboard(client, programme):
    user = plan_partner(programme)
    login(client, user)
    assert client.get("/partners/")["Location"] == "/partners/agreement/"
    page = client.get("/partners/agreement/")
    assert page.status_code == 200 and AGREEMENT.encode() in page.content
    assert client.post("/partners/agreement/", {}).status_code == 400
    assert client.post("/partners/agreement/", {"accept": "on"}).status_code == 302
    assert client.get("/partners/").status_code == 200
    manager = make_staff("ib_manager")
    login(client, manager)
    published = client.post(
        "/backoffice/ib/agreements/",
        {"programme": programme.pk, "text": AGREEMENT + " Commissions are paid monthly."},
    )
    assert published.status_code == 302
    same = client.post("/backoffice/ib/agreements/", {"programme": programme.pk, "text": "short"})
    assert same.status_code == 400
    login(client, user)
    assert client.get("/partners/network/")["Location"] == "/partners/agreement/"
    client.post("/partners/agreement/", {"accept": "on"})
    assert client.get("/partners/network/").status_code == 200
    versions = list(
        AgreementAcceptance.objects.filter(partner=user.partner)
        .order_by("accepted_at")
        .values_list("agreement__version", flat=True)
    )
    assert versions == [1, 2]
    login(client, manager)
    listing = client.get("/backoffice/ib/agreements/")
    assert [a.agreement.version for a in listing.context["page"]] == [2, 1]
    partner_page = client.get(f"/backoffice/ib/partners/{user.partner.pk}/")
    assert [a.agreement.version for a in partner_page.context["acceptances"]] == [2, 1]


def test_only_the_version_in_force_can_be_accepted(programme):
    partner = plan_partner(programme).partner
    old = programme.agreements.get(version=1)
    agreement_publish(programme=programme, text=AGREEMENT + " And more.", actor="test")
    with pytest.raises(InvalidInput, match="newer version"):
        agreement_accept(partner=partner, agreement=old, actor="test")


# --- Invitations ------------------------------------------------------------------------------


def invite(client, **fields):
    page = client.post("/partners/invitations/", fields)
    assert page.status_code == 200, page.content[:2000]
    return page.context["made"]["url"].split("testserver")[-1].replace("http://", "")


def join_path(url):
    return re.search(r"(/partners/join/[^/]+/)", url).group(1)


def test_a_partner_invites_a_sub_ib_who_joins_under_it(client, programme):
    inviter = plan_partner(programme)
    AgreementAcceptance.objects.create(
        partner=inviter.partner,
        agreement=programme.agreements.get(),
        accepted_at=timezone.now(),
    )
    login(client, inviter)
    path = join_path(invite(client, note="Bob from the forum"))
    client.logout()
    page = client.get(path)
    assert page.status_code == 200 and b"network" in page.content
    form = partner_form("bob@example.com", None)
    form["shown"] = str(programme.agreements.get().pk)
    response = client.post(path, form, REMOTE_ADDR="198.51.100.4")
    assert response.status_code == 302, response.content[:3000]
    sub = Partner.objects.get(user__email="bob@example.com")
    assert sub.status == "active" and sub.parent == inviter.partner
    assert ParentLink.objects.get(partner=sub).parent == inviter.partner
    application = PartnerApplication.objects.get(partner=sub)
    assert application.via == "invitation" and application.programme == programme
    invitation = PartnerInvitation.objects.get()
    assert invitation.used_by == sub and invitation.used_at
    assert AgreementAcceptance.objects.get(partner=sub).ip == "198.51.100.4"
    # used once
    assert client.get(path).status_code == 404
    assert client.post(path, partner_form("eve@example.com", None)).status_code == 404
    assert not User.objects.filter(email="eve@example.com").exists()
    login(client, inviter)
    rows = client.get("/partners/invitations/").context["rows"]
    assert [state for _, state in rows] == ["used"]


def test_an_invitation_may_need_approval_expires_and_can_be_withdrawn(client, programme):
    Programme.objects.filter(pk=programme.pk).update(invited_need_approval=True)
    inviter = plan_partner(programme).partner
    _, token = invitation_create(inviter=inviter, actor=inviter.user)
    form = partner_form("kim@example.com", None, shown=str(programme.agreements.get().pk))
    assert client.post(f"/partners/join/{token}/", form).status_code == 302
    assert Partner.objects.get(user__email="kim@example.com").status == "pending"
    expired, token2 = invitation_create(inviter=inviter, actor=inviter.user)
    PartnerInvitation.objects.filter(pk=expired.pk).update(expires_at=timezone.now())
    assert client.get(f"/partners/join/{token2}/").status_code == 404
    withdrawn, token3 = invitation_create(inviter=inviter, actor=inviter.user)
    AgreementAcceptance.objects.create(
        partner=inviter, agreement=programme.agreements.get(), accepted_at=timezone.now()
    )
    login(client, inviter.user)
    assert client.post(f"/partners/invitations/{withdrawn.pk}/withdraw/").status_code == 302
    client.logout()
    assert client.get(f"/partners/join/{token3}/").status_code == 404
    assert client.get("/partners/join/not-a-token/").status_code == 404


def test_an_emailed_invitation_and_who_may_withdraw_it(
    client, programme, django_capture_on_commit_callbacks
):
    inviter = plan_partner(programme).partner
    with django_capture_on_commit_callbacks(execute=True):
        invitation, token = invitation_create(
            inviter=inviter, actor=inviter.user, email="Zoe@Example.com"
        )
    [sent] = mail.outbox
    assert sent.to == ["zoe@example.com"] and f"/partners/join/{token}/" in sent.body
    assert invitation.digest != token and token not in invitation.digest
    other = plan_partner(programme, "other@test.example", "OTHER001")
    AgreementAcceptance.objects.create(
        partner=other.partner, agreement=programme.agreements.get(), accepted_at=timezone.now()
    )
    login(client, other)
    assert client.post(f"/partners/invitations/{invitation.pk}/withdraw/").status_code == 404
    invitation.refresh_from_db()
    assert invitation.withdrawn_at is None
    bad = client.post("/partners/invitations/", {"email": "not an email"})
    assert bad.status_code == 400


def test_a_partner_without_a_programme_cannot_invite(client):
    user = make_partner_user()
    login(client, user)
    response = client.post("/partners/invitations/", {"note": "x"})
    assert response.status_code == 400 and b"no programme yet" in response.content
    assert not PartnerInvitation.objects.exists()
    client.logout()
    assert client.get("/partners/invitations/").status_code == 302  # to sign in


def test_suspend_and_reactivate_never_decide_an_application(client, programme):
    from ib.services import partner_status_set

    application = applied(client, programme)
    partner = application.partner
    for status in ("active", "suspended"):
        with pytest.raises(InvalidInput, match="applications queue"):
            partner_status_set(partner=partner, status=status, actor="test", reason="by hand")
    partner.refresh_from_db()
    assert partner.status == "pending"
