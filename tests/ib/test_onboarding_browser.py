"""In the browser, at a phone's width and a desktop's: a visitor applies as a partner (and
accepts the agreement), waits, an IB manager approves it from the queue; a partner invites a
sub-IB whose link opens the sign-up under it; the IB manager moves the new sub-IB to the top
of the network from the partner page. Screenshots in test-artifacts/ (partners-signup-*,
partners-application-*, ib-applications-*, ib-application-*, partners-invitations-*,
ib-partner-actions-*)."""

import pytest
from allauth.account.models import EmailAddress
from django.test import Client as DjangoClient
from django.utils import timezone

from ib.models import AgreementAcceptance, Partner, Programme
from ib.onboarding import agreement_publish
from tests.conftest import (
    ARTIFACTS,
    browser_session,
    layout_problems,
    login,
    make_staff,
    open_from_menu,
)
from tests.ib.test_commissions import network  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def shot(page, name, width):
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}-{width}.png"), full_page=True)
    problems = layout_problems(page)
    if width == 390:
        problems = [p for p in problems if not p.startswith("a table scrolls sideways")]
    assert not problems, (name, problems)


def signed_in(browser, live_server, user, width):
    session = DjangoClient()
    login(session, user)
    context = browser.new_context(viewport={"width": width, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    browser_session(context, session, live_server)
    return context, context.new_page()


def fill_signup(page, email, company):
    page.fill("#id_company_name", company)
    page.fill("#id_first_name", "Ada")
    page.fill("#id_last_name", "Lo")
    page.fill("#id_email", email)
    page.select_option("#id_country", "ES")
    page.fill("#id_website", "ada-media.example")
    page.fill("#id_message", "A trading blog with 20,000 readers.")
    page.fill("#id_password1", "a-long-pass-phrase")
    page.fill("#id_password2", "a-long-pass-phrase")


@pytest.mark.parametrize("width", [390, 1440])
def test_a_partner_applies_is_approved_invites_a_sub_ib_and_a_manager_moves_it(
    live_server,
    browser,
    network,  # noqa: F811
    width,
):
    programme = Programme.objects.get(name="Standard")
    Programme.objects.filter(pk=programme.pk).update(registration="public")
    agreement = agreement_publish(
        programme=programme, text="Introduce clients fairly; never promise returns.", actor="test"
    )
    leaf = network["leaf"]
    AgreementAcceptance.objects.create(
        partner=leaf, agreement=agreement, accepted_at=timezone.now()
    )

    # A visitor applies: its own form, the agreement shown and accepted.
    visitor = browser.new_context(viewport={"width": width, "height": 900})
    page = visitor.new_page()
    page.goto(f"{live_server.url}/partners/signup/")
    assert "never promise returns" in page.inner_text(f"[data-agreement='{agreement.pk}']")
    fill_signup(page, "ada@example.com", "Ada Media")
    page.click("button[type=submit]:has-text('Apply')")
    page.wait_for_selector("[data-field-error=accept]")  # the agreement is not accepted yet
    page.fill("#id_password1", "a-long-pass-phrase")
    page.fill("#id_password2", "a-long-pass-phrase")
    page.check("#id_accept")
    shot(page, "partners-signup", width)
    page.click("button[type=submit]:has-text('Apply')")
    page.wait_for_url("**/accounts/confirm-email/")
    visitor.close()
    applicant = Partner.objects.get(user__email="ada@example.com")
    assert applicant.status == "pending" and applicant.holder.holder == "partner"
    EmailAddress.objects.filter(user=applicant.user).update(verified=True)
    context, page = signed_in(browser, live_server, applicant.user, width)
    page.goto(f"{live_server.url}/partners/")
    page.wait_for_url("**/partners/application/")
    assert "Awaiting approval" in page.inner_text("[data-application]")
    shot(page, "partners-application", width)

    # The IB manager approves it from the queue, with the programme's plan.
    manager = make_staff("ib_manager")
    staff, desk = signed_in(browser, live_server, manager, width)
    desk.goto(f"{live_server.url}/backoffice/ib/applications/")
    shot(desk, "ib-applications", width)
    desk.click("a:has-text('Ada Media')")
    desk.wait_for_selector("[data-form=approve]")
    desk.select_option("#id_approve-plan", label="Leaf")
    shot(desk, "ib-application", width)
    desk.click("[data-action=approve]")
    desk.wait_for_selector("text=Approved: the partner is active")
    page.goto(f"{live_server.url}/partners/")
    page.wait_for_selector("[data-referral-code]")
    context.close()

    # The leaf partner invites a sub-IB; the link opens the sign-up under it.
    context, page = signed_in(browser, live_server, leaf.user, width)
    page.goto(f"{live_server.url}/partners/")
    open_from_menu(page, width, "/partners/invitations/")
    page.fill("#id_note", "Bob from the forum")
    page.click("[data-action=invite]")
    page.wait_for_selector("[data-invitation-made]")
    link = page.input_value("#invitation-url")
    shot(page, "partners-invitations", width)
    context.close()
    invited = browser.new_context(viewport={"width": width, "height": 900})
    join = invited.new_page()
    join.goto(live_server.url + link[link.index("/partners/join/") :])
    assert "network" in join.inner_text("h1")
    fill_signup(join, "bob@example.com", "Bob Trades")
    join.check("#id_accept")
    join.click("button[type=submit]:has-text('Join as a sub-IB')")
    join.wait_for_url("**/accounts/confirm-email/")
    invited.close()
    sub = Partner.objects.get(user__email="bob@example.com")
    assert sub.parent == leaf and sub.status == "active"

    # The IB manager moves the new sub-IB to the top, with a reason; the history shows it.
    desk.goto(f"{live_server.url}/backoffice/ib/partners/{sub.pk}/")
    desk.fill("#id_move-reason", "Works on its own, not through the leaf")
    desk.click("[data-action=move]")
    desk.wait_for_selector("text=The partner is moved.")
    history = desk.inner_text("[data-parent-history]")
    assert "top partner" in history and "Works on its own" in history
    shot(desk, "ib-partner-actions", width)
    sub.refresh_from_db()
    assert sub.parent is None
    staff.close()


@pytest.mark.parametrize("width", [390, 1440])
def test_a_rejected_applicant_applies_again(live_server, browser, width, settings):
    """Screenshots partners-reapply-*: the rejected applicant's page with its form, then
    pending again."""
    from datetime import timedelta

    from ib.models import PartnerApplication
    from ib.onboarding import application_reject
    from tests.conftest import make_partner_user

    programme = Programme.objects.create(name="Open IB", registration="public")
    agreement_publish(
        programme=programme, text="Introduce clients fairly; never promise returns.", actor="test"
    )
    user = make_partner_user("ada@example.com", "ADAMEDIA")
    application = PartnerApplication.objects.create(
        partner=user.partner, programme=programme, via="public", message="A blog."
    )
    Partner.objects.filter(pk=user.partner.pk).update(status="pending")
    application_reject(
        application=application, actor=make_staff("ib_manager"), reason="No website to check."
    )
    PartnerApplication.objects.filter(pk=application.pk).update(
        decided_at=timezone.now() - timedelta(days=settings.PARTNER_REAPPLY_DAYS + 1)
    )
    context, page = signed_in(browser, live_server, user, width)
    page.goto(f"{live_server.url}/partners/")
    page.wait_for_url("**/partners/application/")
    assert "No website to check." in page.inner_text("[data-application=rejected]")
    page.fill("#id_website", "ada-school.example")
    page.fill("#id_message", "We now run a trading school with 400 students a month.")
    page.check("#id_accept")
    shot(page, "partners-reapply", width)
    page.click("[data-action=reapply]")
    page.wait_for_selector("[data-application=pending]")
    assert "1, not approved" in page.inner_text("[data-earlier]")
    shot(page, "partners-reapplied", width)
    context.close()
    assert Partner.objects.get(user=user).status == "pending"
