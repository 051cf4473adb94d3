"""How partners join: the versioned partner agreement, public applications approved or
rejected by an IB manager, and a parent partner's invitations of sub-IBs.

- An agreement version is published once and never changed; the newest is in force. A
  partner accepts the version in force (time, IP address, browser recorded once per version)
  at sign-up, and again when a newer one is published, before it uses its dashboard
  (`partner_gate`).
- A public applicant is a partner-to-be: a `Partner` awaiting approval (its own login, never a
  trading client), with the application it sent. An IB manager approves it (optionally with a
  plan) or rejects it with a reason; either way the applicant is emailed in its language.
- A partner's invitation is a link with a token shown once (stored as its SHA-256 digest),
  valid for `INVITATION_DAYS`, used once; the sub-IB who joins through it sits under the
  inviter from that moment (the tree's history kept), active at once or awaiting approval as
  the programme says.
- Jurisdiction rules reach partners as they reach clients, through the account holder's
  country: a resident of a blocked country cannot sign up, join through an invitation, be
  added by staff or be approved. A partner a blocked or restricted rule reaches later keeps
  earning and is paid out (withdraw only), but invites no sub-IBs and its open invitations
  stop working.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from brokerage.country_rules import client_country_rules, strictest
from brokerage.errors import InvalidInput, NotAllowed
from brokerage.models import CountryRule
from brokerage.services import Actor, audit_record, client_ip
from clients.notify import client_notify
from clients.registration import registration_blocked

from . import audit_events
from .models import (
    AgreementAcceptance,
    Partner,
    PartnerAgreement,
    PartnerApplication,
    PartnerInvitation,
    PartnerPlan,
    Plan,
    Programme,
)
from .permissions import actor_label, require_manager
from .plans import partner_plan_set
from .services import partner_create
from .wallets import wallet_currency_check

INVITATION_DAYS = 14
AGREEMENT_MAX = 50_000


# --- The agreement -------------------------------------------------------------------------


def agreement_in_force(programme: Programme) -> PartnerAgreement | None:
    return PartnerAgreement.objects.filter(programme=programme).order_by("-version").first()


def _programme_of(partner_id):
    """The programme a partner belongs to (a subquery): the one it applied to, else the one
    of the plan it is paid by."""
    applied = PartnerApplication.objects.filter(partner_id=partner_id).values("programme_id")
    planned = (
        PartnerPlan.objects.filter(partner_id=partner_id)
        .order_by("-valid_from")
        .values("plan__programme_id")[:1]
    )
    return Coalesce(Subquery(applied), Subquery(planned))


def agreement_due(partner: Partner) -> PartnerAgreement | None:
    """The agreement version in force for the partner's programme if the partner has not
    accepted it yet (one query)."""
    newest = (
        PartnerAgreement.objects.annotate(
            mine=_programme_of(partner.pk),
            accepted=Exists(
                AgreementAcceptance.objects.filter(partner_id=partner.pk, agreement=OuterRef("pk"))
            ),
        )
        .filter(programme_id=F("mine"))
        .select_related("programme")
        .order_by("-version")
        .first()
    )
    return None if newest is None or newest.accepted else newest


def partner_gate(partner: Partner) -> str | None:
    """Where a partner goes before its dashboard, if anywhere: an applicant to its
    application's page, a partner with an agreement version to accept to the agreement."""
    if partner.status in (Partner.Status.PENDING, Partner.Status.REJECTED):
        return reverse("partners:application")
    if agreement_due(partner) is not None:
        return reverse("partners:agreement")
    return None


@transaction.atomic
def agreement_publish(*, programme: Programme, text: str, actor: Actor) -> PartnerAgreement:
    """A new version of the programme's partner agreement, in force at once: every partner of
    the programme accepts it before using its dashboard again."""
    require_manager(actor)
    text = (text or "").strip()
    if len(text) < 20:
        raise InvalidInput(
            "Write the agreement (at least 20 characters).", fields={"text": ["Too short."]}
        )
    if len(text) > AGREEMENT_MAX:
        raise InvalidInput(
            f"An agreement is at most {AGREEMENT_MAX:,} characters.", fields={"text": ["Too long."]}
        )
    programme = Programme.objects.select_for_update().get(pk=programme.pk)
    current = agreement_in_force(programme)
    if current is not None and current.text == text:
        raise InvalidInput("This is the version in force already.", fields={"text": ["Unchanged."]})
    agreement = PartnerAgreement.objects.create(
        programme=programme,
        version=(current.version if current else 0) + 1,
        text=text,
        published_at=timezone.now(),
        published_by=actor_label(actor),
    )
    audit_record(
        actor=actor,
        action=audit_events.AGREEMENT_PUBLISHED,
        target=agreement,
        evidence={"programme": programme.name, "version": agreement.version},
    )
    return agreement


def agreement_accept(
    *, partner: Partner, agreement: PartnerAgreement, actor: Actor, request=None
) -> AgreementAcceptance:
    """The partner accepts `agreement`, which must be the version in force of its programme."""
    with transaction.atomic():
        current = agreement_in_force(agreement.programme)
        if current is None or current.pk != agreement.pk:
            raise InvalidInput(
                "A newer version of the agreement is in force: read it and accept that one.",
                code="agreement_outdated",
            )
        acceptance, created = AgreementAcceptance.objects.get_or_create(
            partner=partner,
            agreement=agreement,
            defaults={
                "accepted_at": timezone.now(),
                "ip": client_ip(request),
                "user_agent": (request.META.get("HTTP_USER_AGENT", "") if request else "")[:300],
            },
        )
        if created:
            audit_record(
                actor=actor,
                action=audit_events.AGREEMENT_ACCEPTED,
                target=partner,
                evidence={
                    "programme": agreement.programme.name,
                    "version": agreement.version,
                    "user_agent": acceptance.user_agent,
                },
                request=request,
            )
        return acceptance


# --- Applications --------------------------------------------------------------------------


def public_programmes():
    return Programme.objects.filter(registration=Programme.Registration.PUBLIC).order_by("name")


def _application_check(programme: Programme, agreement_id) -> PartnerAgreement | None:
    agreement = agreement_in_force(programme)
    if agreement is not None and str(agreement.pk) != str(agreement_id or ""):
        raise InvalidInput(
            "Accept the partner agreement in force to join.",
            fields={"accept": ["Read and accept the agreement shown."]},
            code="agreement_outdated",
        )
    return agreement


@transaction.atomic
def partner_apply(*, user, profile: dict, request=None) -> PartnerApplication:
    """A visitor signed up as a partner: a partner-to-be awaiting approval, in a programme open
    to public sign-up (or, with an invitation, under its inviter: `invitation_join`)."""
    if profile.get("invitation"):
        return invitation_join(user=user, profile=profile, request=request)
    programme = public_programmes().filter(pk=profile.get("programme") or 0).first()
    if programme is None:
        raise InvalidInput(
            "This programme is not open to sign-up.", fields={"programme": ["Closed."]}
        )
    agreement = _application_check(programme, profile.get("agreement"))
    return _applicant_make(
        user=user,
        profile=profile,
        programme=programme,
        agreement=agreement,
        status=Partner.Status.PENDING,
        request=request,
    )


def _applicant_make(
    *, user, profile, programme, agreement, status, request, parent=None, invitation=None
):
    partner = partner_create(
        actor=user,
        user=user,
        company_name=(profile.get("company_name") or "")[:200],
        parent=parent,
        status=status,
        country=profile.get("country", ""),
        language=profile.get("language", "en"),
    )
    wallet = wallet_currency_check(profile.get("wallet_currency", ""))
    if wallet != partner.wallet_currency:
        partner.wallet_currency = wallet
        partner.save(update_fields=["wallet_currency"])
    application = PartnerApplication.objects.create(
        partner=partner,
        programme=programme,
        via=PartnerApplication.Via.INVITATION if invitation else PartnerApplication.Via.PUBLIC,
        invitation=invitation,
        website=(profile.get("website") or "")[:200],
        message=(profile.get("message") or "")[:1000],
    )
    if agreement is not None:
        agreement_accept(partner=partner, agreement=agreement, actor=user, request=request)
    audit_record(
        actor=user,
        action=audit_events.PARTNER_APPLIED,
        target=partner,
        evidence={
            "programme": programme.name,
            "via": application.via,
            "status": status,
            "parent": parent.referral_code if parent else None,
            "wallet_currency": partner.wallet_currency or "programme's",
        },
        request=request,
    )
    return application


def reapply_from(application: PartnerApplication):
    """When a rejected applicant may apply again (None: it is not rejected)."""
    if application.partner.status != Partner.Status.REJECTED or application.decided_at is None:
        return None
    return application.decided_at + timedelta(days=settings.PARTNER_REAPPLY_DAYS)


@transaction.atomic
def partner_reapply(*, partner: Partner, profile: dict, request=None) -> PartnerApplication:
    """A rejected applicant applies again, once `PARTNER_REAPPLY_DAYS` have passed since the
    decision, to the same programme (and parent, if invited), with what it has to add: the
    application is pending again, its earlier round kept on it, the agreement in force accepted
    if it is not yet. Audited."""
    partner = Partner.objects.select_for_update(of=("self",)).get(pk=partner.pk)
    application = PartnerApplication.objects.select_for_update().get(partner=partner)
    application.partner = partner
    since = reapply_from(application)
    if since is None:
        raise InvalidInput("Only a rejected application can be sent again.", code="not_rejected")
    if timezone.now() < since:
        raise InvalidInput(f"You can apply again from {since:%d %B %Y}.", code="too_soon")
    message = " ".join((profile.get("message") or "").split())
    if len(message) < 20:
        raise InvalidInput(
            "Tell us what has changed since (at least 20 characters).",
            fields={"message": ["Tell us what has changed since."]},
        )
    agreement = agreement_in_force(application.programme)
    if agreement is not None and agreement_due(partner) is not None:
        _application_check(application.programme, profile.get("agreement"))
    application.earlier = [
        *application.earlier,
        {
            "submitted_at": application.submitted_at.isoformat(),
            "decided_at": application.decided_at.isoformat(),
            "decided_by": application.decided_by,
            "reason": application.decision_reason,
            "website": application.website,
            "message": application.message,
        },
    ]
    application.website = (profile.get("website") or application.website)[:200]
    application.message = message[:1000]
    application.submitted_at = timezone.now()
    application.decided_at, application.decided_by, application.decision_reason = None, "", ""
    application.save()
    partner.status = Partner.Status.PENDING
    partner.save(update_fields=["status"])
    if agreement is not None and agreement_due(partner) is not None:
        agreement_accept(partner=partner, agreement=agreement, actor=partner.user, request=request)
    audit_record(
        actor=partner.user,
        action=audit_events.PARTNER_REAPPLIED,
        target=partner,
        evidence={"programme": application.programme.name, "round": len(application.earlier) + 1},
        request=request,
    )
    return application


def _decide(application: PartnerApplication, actor: Actor) -> tuple[PartnerApplication, Partner]:
    require_manager(actor)
    application = PartnerApplication.objects.select_for_update().get(pk=application.pk)
    partner = (
        Partner.objects.select_for_update(of=("self",))
        .select_related("holder")
        .get(pk=application.partner_id)
    )
    if partner.status != Partner.Status.PENDING:
        raise InvalidInput("This application is decided already.", code="already_decided")
    return application, partner


@transaction.atomic
def application_approve(
    *, application: PartnerApplication, actor: Actor, plan: Plan | None = None, reason: str = ""
) -> Partner:
    """The applicant becomes an active partner (paid by `plan` from now, if one is given).
    Refused, naming the rule, while a blocked jurisdiction rule is in force on the country the
    applicant lives in (one that started after it applied): the manager rejects it instead."""
    application, partner = _decide(application, actor)
    blocked = registration_blocked(partner.holder.country if partner.holder else "")
    if blocked is not None:
        raise InvalidInput(
            f"This applicant cannot become a partner: {blocked.message} Reject the application.",
            code="jurisdiction_blocked",
        )
    if plan is not None and plan.programme_id != application.programme_id:
        raise InvalidInput(
            "Choose a plan of the programme applied to.", fields={"plan": ["Other programme."]}
        )
    partner.status = Partner.Status.ACTIVE
    partner.save(update_fields=["status"])
    _decided(application, actor, reason)
    if plan is not None:
        partner_plan_set(partner=partner, plan=plan, actor=actor, reason="Application approved")
    audit_record(
        actor=actor,
        action=audit_events.PARTNER_APPROVED,
        target=partner,
        reason=application.decision_reason,
        evidence={"programme": application.programme.name, "plan": plan.name if plan else None},
    )
    _tell(application, partner, actor, approved=True)
    return partner


@transaction.atomic
def application_reject(*, application: PartnerApplication, actor: Actor, reason: str) -> Partner:
    """The applicant is refused, with the reason it reads in the email and on its page."""
    reason = " ".join((reason or "").split())
    if len(reason) < 5:
        raise InvalidInput("Say why the application is rejected.", fields={"reason": ["Required."]})
    application, partner = _decide(application, actor)
    partner.status = Partner.Status.REJECTED
    partner.save(update_fields=["status"])
    _decided(application, actor, reason)
    audit_record(
        actor=actor,
        action=audit_events.PARTNER_REJECTED,
        target=partner,
        reason=application.decision_reason,
        evidence={"programme": application.programme.name},
    )
    _tell(application, partner, actor, approved=False)
    return partner


def _decided(application: PartnerApplication, actor: Actor, reason: str) -> None:
    application.decided_at = timezone.now()
    application.decided_by = actor_label(actor)
    application.decision_reason = " ".join((reason or "").split())[:500]
    application.save(update_fields=["decided_at", "decided_by", "decision_reason"])


def _tell(application: PartnerApplication, partner: Partner, actor: Actor, *, approved: bool):
    if partner.holder is None:
        return
    client_notify(
        partner.holder,
        email="partner_application_decided",
        key=f"ib.application:{application.pk}:decided",
        actor=actor,
        url_name="partners:home",
        context={
            "approved": approved,
            "programme": application.programme.name,
            "reason": application.decision_reason,
            "partner_area": True,
        },
        data={"application": application.pk},
    )


# --- Invitations ---------------------------------------------------------------------------


def invitation_digest(token: str) -> str:
    return hashlib.sha256((token or "").encode()).hexdigest()


def invitation_find(token: str) -> PartnerInvitation | None:
    """The open invitation a link's token names (None if unknown, used, withdrawn, expired)."""
    if not token or len(token) > 100:
        return None
    invitation = (
        PartnerInvitation.objects.filter(digest=invitation_digest(token))
        .select_related("inviter__user")
        .first()
    )
    if invitation is None or invitation.state(timezone.now()) != "open":
        return None
    if invitation.inviter.status != Partner.Status.ACTIVE:
        return None
    if _jurisdiction_limited(invitation.inviter) is not None:
        return None
    return invitation


def partner_programme(partner: Partner) -> Programme | None:
    """The programme the partner applied to, else the one of the plan it is paid by."""
    found = (
        Partner.objects.filter(pk=partner.pk)
        .annotate(programme=_programme_of(partner.pk))
        .values_list("programme", flat=True)
        .first()
    )
    return Programme.objects.filter(pk=found).first() if found else None


MAX_OPEN_INVITATIONS = 20


def _jurisdiction_limited(partner: Partner):
    """The blocked or restricted jurisdiction rule reaching the partner's account holder (by
    residence or nationality), or None. Such a partner keeps earning on its network and is
    paid out (a payout is a withdrawal: withdraw only), but brings no new sub-IBs."""
    holder = partner.holder
    if holder is None:
        return None
    kinds = (CountryRule.Kind.BLOCKED, CountryRule.Kind.RESTRICTED)
    return strictest(client_country_rules(holder), *kinds)


@transaction.atomic
def invitation_create(
    *, inviter: Partner, actor: Actor, email: str = "", note: str = ""
) -> tuple[PartnerInvitation, str]:
    """An invitation link for a sub-IB: (the invitation, its token, shown this once). With an
    `email`, the link is also emailed there after commit."""
    if isinstance(actor, str) or getattr(actor, "partner", None) != inviter:
        require_manager(actor)
    inviter = Partner.objects.select_for_update().get(pk=inviter.pk)
    if inviter.status != Partner.Status.ACTIVE:
        raise NotAllowed("Only an active partner invites sub-IBs.")
    limited = _jurisdiction_limited(inviter)
    if limited is not None:
        raise NotAllowed(
            f"You cannot invite sub-partners: {limited.message} Your commissions are still "
            "credited and you can request payouts.",
            code=f"jurisdiction_{limited.kind}",
        )
    if partner_programme(inviter) is None:
        raise InvalidInput("You have no programme yet: your IB manager sets your plan first.")
    now = timezone.now()
    open_count = PartnerInvitation.objects.filter(
        inviter=inviter, used_at=None, withdrawn_at=None, expires_at__gt=now
    ).count()
    if open_count >= MAX_OPEN_INVITATIONS:
        raise InvalidInput(
            f"At most {MAX_OPEN_INVITATIONS} open invitations: withdraw one first.",
            code="too_many_invitations",
        )
    token = secrets.token_urlsafe(24)
    invitation = PartnerInvitation.objects.create(
        inviter=inviter,
        digest=invitation_digest(token),
        email=(email or "").strip().lower()[:254],
        note=" ".join((note or "").split())[:100],
        expires_at=now + timedelta(days=INVITATION_DAYS),
    )
    audit_record(
        actor=actor,
        action=audit_events.INVITATION_CREATED,
        target=invitation,
        evidence={"inviter": inviter.referral_code, "emailed": bool(invitation.email)},
    )
    if invitation.email:
        transaction.on_commit(lambda: invitation_email(invitation.pk, token))
    return invitation, token


def invitation_url(token: str) -> str:
    from django.conf import settings

    return settings.SITE_URL.rstrip("/") + reverse("partners:join", args=[token])


def invitation_email(invitation_id: int, token: str) -> None:
    """The invitation link, emailed to the address the inviter gave (in the inviter's language:
    the invitee has none on record yet)."""
    from django.template.loader import render_to_string
    from django.utils import translation

    from brokerage.mail import email_send

    invitation = PartnerInvitation.objects.select_related("inviter__holder").get(pk=invitation_id)
    inviter = invitation.inviter
    language = inviter.holder.language if inviter.holder else "en"
    context = {
        "inviter": str(inviter),
        "link": invitation_url(token),
        "days": INVITATION_DAYS,
        "expires_at": invitation.expires_at,
    }
    with translation.override(language):
        subject = render_to_string("emails/partners/invitation/subject.txt", context)
        body = render_to_string("emails/partners/invitation/message.txt", context)
    email_send(subject=subject, body=body, to=[invitation.email])


@transaction.atomic
def invitation_withdraw(*, invitation: PartnerInvitation, actor: Actor) -> PartnerInvitation:
    """The inviter takes back an invitation nobody has used yet."""
    if isinstance(actor, str) or getattr(actor, "partner", None) != invitation.inviter:
        require_manager(actor)
    invitation = PartnerInvitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.used_at or invitation.withdrawn_at:
        raise InvalidInput("This invitation is used or withdrawn already.")
    invitation.withdrawn_at = timezone.now()
    invitation.save(update_fields=["withdrawn_at"])
    audit_record(actor=actor, action=audit_events.INVITATION_WITHDRAWN, target=invitation)
    return invitation


def invitation_join(*, user, profile: dict, request=None) -> PartnerApplication:
    """A sub-IB signed up through its parent's invitation: it joins the inviter's programme
    under the inviter (from now: the tree's history is kept), active at once or awaiting an IB
    manager's approval as the programme says. The invitation is used up."""
    digest = invitation_digest(profile.get("invitation", ""))
    invitation = PartnerInvitation.objects.select_for_update().filter(digest=digest).first()
    if (
        invitation is None
        or invitation.state(timezone.now()) != "open"
        or invitation.inviter.status != Partner.Status.ACTIVE
        or _jurisdiction_limited(invitation.inviter) is not None
    ):
        raise InvalidInput(
            "This invitation is no longer valid: ask your partner for a new link.",
            code="invitation_invalid",
        )
    programme = partner_programme(invitation.inviter)
    if programme is None:
        raise InvalidInput("The inviting partner has no programme.", code="invitation_invalid")
    agreement = _application_check(programme, profile.get("agreement"))
    pending = programme.invited_need_approval
    application = _applicant_make(
        user=user,
        profile=profile,
        programme=programme,
        agreement=agreement,
        status=Partner.Status.PENDING if pending else Partner.Status.ACTIVE,
        request=request,
        parent=invitation.inviter,
        invitation=invitation,
    )
    invitation.used_at = timezone.now()
    invitation.used_by = application.partner
    invitation.save(update_fields=["used_at", "used_by"])
    return application
