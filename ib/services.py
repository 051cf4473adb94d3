"""Writes on IB partners, their referred clients and the leads credited to them."""

from django.db import transaction
from django.utils import timezone

from brokerage.errors import InvalidInput, NotAllowed
from brokerage.models import User
from brokerage.roles import role_of
from brokerage.services import Actor, audit_record
from clients.selectors import client_for_user
from clients.services import partner_holder_open
from ib import audit_events
from leads.selectors import lead_for_person

from .links import link_for_code
from .models import (
    Attribution,
    CampaignLink,
    CommissionLine,
    Partner,
    PendingReferral,
    Referral,
    ReferralLink,
)
from .permissions import require_manager
from .plans import moment_check, paid_since_check, parent_link_record, referral_link_record


@transaction.atomic
def partner_create(
    *,
    actor: Actor,
    user,
    company_name: str = "",
    referral_code: str | None = None,
    parent: Partner | None = None,
    status: str = Partner.Status.ACTIVE,
    country: str = "",
    language: str = "en",
) -> Partner:
    """Make a (non-staff, non-client) user an IB partner (`status` pending: an applicant)."""
    partner_user_check(user)
    fields = {"company_name": company_name, "parent": parent, "status": status}
    if referral_code:
        taken = Partner.objects.filter(referral_code=referral_code).exclude(user=user).exists()
        if taken or CampaignLink.objects.filter(code=referral_code).exists():
            raise InvalidInput(
                "That referral code is taken.", fields={"referral_code": ["Already in use."]}
            )
        fields["referral_code"] = referral_code
    partner, created = Partner.objects.get_or_create(user=user, defaults=fields)
    holder = partner_holder_open(
        user=user,
        actor=actor,
        legal_name=partner.company_name,
        country=country,
        language=language or "en",
    )
    if partner.holder_id != holder.pk:
        partner.holder = holder
        partner.save(update_fields=["holder"])
    if created and parent is not None:
        parent_link_record(partner=partner, parent=parent, actor=actor, at=partner.created_at)
    if created:
        audit_record(
            actor=actor,
            action=audit_events.PARTNER_CREATED,
            target=partner,
            evidence={
                "referral_code": partner.referral_code,
                "parent": parent.pk if parent else None,
                "status": partner.status,
            },
        )
    return partner


def partner_user_check(user) -> None:
    """Raise InvalidInput unless `user` may become an IB partner."""
    if user.is_staff:
        raise InvalidInput("Staff users cannot be IB partners.")
    if client_for_user(user) is not None:
        raise InvalidInput("This user is a client; an IB needs a partner login of its own.")


@transaction.atomic
def partner_status_set(*, partner: Partner, status: str, actor: Actor, reason: str) -> Partner:
    """Suspend a partner (their referral codes and links credit nobody) or reactivate them."""
    if status not in Partner.Status.values:
        raise InvalidInput("Unknown partner status.", fields={"status": ["Choose one."]})
    reason = " ".join(reason.split())[:200]
    if not reason:
        raise InvalidInput("Say why.", fields={"reason": ["Needed."]})
    partner = Partner.objects.select_for_update().get(pk=partner.pk)
    decided = {Partner.Status.ACTIVE, Partner.Status.SUSPENDED}
    if status not in decided or partner.status not in decided:
        raise InvalidInput(
            "An application is approved or rejected in the applications queue.",
            fields={"status": ["Not for applicants."]},
        )
    if partner.status != status:
        before, partner.status = partner.status, status
        partner.save(update_fields=["status"])
        audit_record(
            actor=actor,
            action=audit_events.PARTNER_STATUS_CHANGED,
            target=partner,
            reason=reason,
            evidence={"from": before, "to": status},
        )
    return partner


def _active_partner(code: str) -> Partner | None:
    code = (code or "").strip().upper()
    if not code:
        return None
    return Partner.objects.filter(referral_code=code, status=Partner.Status.ACTIVE).first()


def _active_referrer(code: str) -> tuple[Partner | None, CampaignLink | None]:
    """The active partner a code credits: its own referral code, or one of its campaign links
    (then the link too)."""
    partner = _active_partner(code)
    if partner is not None:
        return partner, None
    link = link_for_code(code)
    return (link.partner, link) if link is not None else (None, None)


def _made_by(actor: Actor) -> dict:
    if isinstance(actor, str):
        return {"made_by": None, "made_by_label": actor}
    return {"made_by": actor, "made_by_label": actor.email}


def _referral_create(
    *,
    client,
    partner: Partner,
    code: str,
    actor: Actor,
    request,
    evidence,
    at=None,
    reason="",
    link=None,
):
    referral = Referral.objects.create(
        partner=partner, client=client, code=code, campaign_link=link
    )
    # from the client's registration unless told: the deals before the attribution are the
    # IB's too
    at = at or min(client.created_at, timezone.now())
    referral_link_record(client=client, partner=partner, actor=actor, at=at, reason=reason)
    audit_record(
        actor=actor,
        action=audit_events.REFERRAL_ATTRIBUTED,
        target=client,
        evidence={
            "partner": partner.pk,
            "code": code,
            **({"campaign_link": link.pk} if link is not None else {}),
            **evidence,
        },
        request=request,
    )
    return referral


@transaction.atomic
def referral_attribute(*, client, code: str, actor: Actor, request=None) -> Referral | None:
    """Attribute a newly registered client to the active partner owning `code` (its referral
    code, or one of its campaign links', which the referral then records).

    An unknown or suspended code, or a client already attributed, attributes nothing.
    """
    partner, link = _active_referrer(code)
    if partner is None or Referral.objects.filter(client=client).exists():
        return None
    return _referral_create(
        client=client,
        partner=partner,
        code=link.code if link is not None else partner.referral_code,
        actor=actor,
        request=request,
        evidence={},
        link=link,
    )


@transaction.atomic
def lead_attribute(
    *, lead, code: str, source: str, actor: Actor, request=None
) -> Attribution | None:
    """Credit a lead nobody has yet to the active partner owning `code`.

    The first credit stands: a later code, API post or sign-up never replaces it, and one an
    IB manager made (`lead_attribution_set`) least of all. An unknown or suspended code
    credits nothing.
    """
    partner, link = _active_referrer(code)
    if partner is None:
        return None
    attribution, created = Attribution.objects.get_or_create(
        lead=lead,
        defaults={
            "partner": partner,
            "source": source,
            "code": link.code if link is not None else partner.referral_code,
            "made_at": timezone.now(),
            **_made_by(actor),
        },
    )
    if not created:
        return None
    audit_record(
        actor=actor,
        action=audit_events.LEAD_ATTRIBUTED,
        target=lead,
        evidence={"partner": partner.pk, "code": attribution.code, "source": source},
        request=request,
    )
    return attribution


@transaction.atomic
def lead_attribution_set(*, lead, partner: Partner, actor: User, reason: str) -> Attribution:
    """An IB manager credits the lead to `partner` by hand, or moves its credit there.

    From then on no referral link, code or sign-up replaces it. If the lead's person has
    registered, the client is referred by the same partner (their referral follows).
    """
    if role_of(actor) != "ib_manager":
        raise NotAllowed("Only IB managers credit leads to partners by hand.")
    reason = " ".join(reason.split())[:200]
    if not reason:
        raise InvalidInput("Say why the lead is credited.", fields={"reason": ["Needed."]})
    if partner.status != Partner.Status.ACTIVE:
        raise InvalidInput(
            "A suspended partner cannot be credited.", fields={"partner": ["Suspended."]}
        )
    attribution = Attribution.objects.select_for_update().filter(lead=lead).first()
    _attribution_put(
        attribution or Attribution(lead=lead), partner=partner, actor=actor, reason=reason
    )
    if lead.client_id:
        _referral_follow(client=lead.client, partner=partner, actor=actor, reason=reason)
    return attribution


def _attribution_put(attribution: Attribution, *, partner: Partner, actor, reason: str) -> None:
    """The lead is credited to `partner` by an IB manager's hand (nothing automatic replaces it)."""
    before = attribution.partner_id if attribution.pk else None
    attribution.partner = partner
    attribution.source = Attribution.Source.MANUAL
    attribution.code = ""
    attribution.made_at = timezone.now()
    for field, value in _made_by(actor).items():
        setattr(attribution, field, value)
    attribution.save()
    audit_record(
        actor=actor,
        action=audit_events.LEAD_ATTRIBUTED,
        target=attribution.lead,
        reason=reason,
        evidence={"partner": partner.pk, "source": Attribution.Source.MANUAL, "from": before},
    )


def _referral_follow(*, client, partner: Partner, actor: Actor, reason: str, at=None) -> None:
    """The client's IB becomes `partner` from `at` (now): its referral and its IB through
    time; earlier deals stay paid by the IB of their close time."""
    referral = Referral.objects.select_for_update().filter(client=client).first()
    if referral is None:
        _referral_create(
            client=client,
            partner=partner,
            code=partner.referral_code,
            actor=actor,
            request=None,
            evidence={"source": Attribution.Source.MANUAL},
            at=at,
            reason=reason,
        )
    elif referral.partner_id != partner.pk:
        evidence = {"partner": partner.pk, "from": referral.partner_id}
        if at is not None:
            evidence["valid_from"] = at.isoformat()
        referral.partner, referral.code = partner, partner.referral_code
        referral.save(update_fields=["partner", "code"])
        at = at or timezone.now()
        referral_link_record(client=client, partner=partner, actor=actor, at=at, reason=reason)
        audit_record(
            actor=actor,
            action=audit_events.REFERRAL_MOVED,
            target=client,
            reason=reason,
            evidence=evidence,
        )


@transaction.atomic
def referral_move(
    *, client, partner: Partner, actor: Actor, reason: str, valid_from=None
) -> Referral:
    """An IB manager re-attributes a client to `partner` from `valid_from`: now unless the
    manager gives a date (never back in time silently, never into the future). Deals that
    closed before it stay the previous IB's; the client's lead follows, as if credited by hand.
    """
    require_manager(actor)
    reason = " ".join((reason or "").split())[:200]
    if len(reason) < 5:
        raise InvalidInput("Say why the client moves.", fields={"reason": ["Required."]})
    at = moment_check(valid_from)
    if partner.status != Partner.Status.ACTIVE:
        raise InvalidInput(
            "Only an active partner can be credited.", fields={"partner": ["Not active."]}
        )
    current = Referral.objects.filter(client=client).values_list("partner_id", flat=True).first()
    if current == partner.pk:
        raise InvalidInput(
            "The client is already this partner's.", fields={"partner": ["Already its IB."]}
        )
    newest = (
        ReferralLink.objects.filter(client=client)
        .order_by("-valid_from")
        .values_list("valid_from", flat=True)
        .first()
    )
    if newest and at <= newest:
        raise InvalidInput(
            f"The client's IB last changed on {newest:%Y-%m-%d %H:%M} UTC: a move starts after it.",
            fields={"valid_from": ["Before the client's last change."]},
        )
    # the client's lines through its deals: the lines' unique key leads with the deal
    paid_since_check(at, CommissionLine.objects.filter(deal__client=client, deal__time__gte=at))
    attribution = Attribution.objects.select_for_update().filter(lead__client=client).first()
    if attribution is not None and attribution.partner_id != partner.pk:
        _attribution_put(attribution, partner=partner, actor=actor, reason=reason)
    _referral_follow(client=client, partner=partner, actor=actor, reason=reason, at=at)
    return Referral.objects.get(client=client)


def signup_referral_hold(*, user, code: str) -> PendingReferral | None:
    """Keep the referral code a visitor signed up with until their email address is proven
    (nothing is credited before: see `signup_attribute`)."""
    code = (code or "").strip().upper()
    if not code:
        return None
    pending, _ = PendingReferral.objects.update_or_create(user=user, defaults={"code": code})
    return pending


@transaction.atomic
def signup_attribute(*, user, email: str, request=None) -> Referral | None:
    """A client who signed up proved their email address: credit them, and their lead, to the
    IB whose referral link they signed up through.

    Their lead is the one linked to their client record or carrying the proven address. If an
    IB manager credited that lead by hand, the manager's partner refers the client and the link
    changes nothing. The held code is used once.
    """
    pending = PendingReferral.objects.select_for_update().filter(user=user).first()
    code = pending.code if pending else ""
    if pending is not None:
        pending.delete()
    client = client_for_user(user)
    if client is None:
        return None
    lead = lead_for_person(client=client, email=email)
    manual = (
        Attribution.objects.filter(lead=lead, source=Attribution.Source.MANUAL)
        .select_related("partner")
        .first()
        if lead is not None
        else None
    )
    if manual is not None:
        if Referral.objects.filter(client=client).exists():
            return None
        return _referral_create(
            client=client,
            partner=manual.partner,
            code=manual.partner.referral_code,
            actor=user,
            request=request,
            evidence={"source": Attribution.Source.MANUAL, "link_code": code},
        )
    if not code:
        return None
    referral = referral_attribute(client=client, code=code, actor=user, request=request)
    if lead is not None:
        lead_attribute(
            lead=lead, code=code, source=Attribution.Source.LINK, actor=user, request=request
        )
    return referral
