"""Writes on leads: capture (with dedup and scoring), routing, sales work, nurture."""

import logging
from datetime import timedelta

from allauth.account.models import EmailAddress
from django.core import signing
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone
from django_fsm import can_proceed

from brokerage.country_rules import country_rules_for, strictest
from brokerage.errors import InvalidInput, NotAllowed
from brokerage.mail import email_send
from brokerage.models import CountryRule, Desk, StaffProfile, User
from brokerage.roles import ROLES
from brokerage.services import Actor, audit_record
from clients.selectors import client_for_email
from clients.services import client_assign
from leads import audit_events

from . import rules
from .models import (
    Callback,
    Channel,
    Lead,
    LeadActivity,
    LeadTouch,
    NurtureEnrollment,
    NurtureSend,
    NurtureSequence,
    NurtureStep,
    RoutingRule,
)
from .scoring import condition_matches, describe, score_lead
from .signals import lead_captured

log = logging.getLogger(__name__)
ROUTING_ACTOR = "rule:lead_routing"
NURTURE_ACTOR = "rule:nurture"
UNSUBSCRIBE_SALT = "leads.unsubscribe"
PROFILE_FIELDS = [
    "first_name",
    "last_name",
    "phone",
    "phone_valid",
    "phone_invalid_reason",
    "country",
    "language",
    "experience",
    "net_worth_usd",
    "annual_income_usd",
    "source",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "referral_code",
]
TOUCH_FIELDS = ["source", "utm_source", "utm_medium", "utm_campaign"]


def _actor_label(actor: Actor) -> str:
    return actor if isinstance(actor, str) else actor.email


CONTACT_KINDS = (LeadActivity.Kind.CALL, LeadActivity.Kind.EMAIL, LeadActivity.Kind.STATUS)


def _activity(lead, kind, actor: Actor, body="", **data) -> LeadActivity:
    """Add to the lead's timeline. The first call, email or status change that a person logs
    is the first contact: it meets the SLA (rules' emails and status changes do not)."""
    activity = LeadActivity.objects.create(
        lead=lead,
        kind=kind,
        actor=None if isinstance(actor, str) else actor,
        actor_label=_actor_label(actor),
        body=body,
        data=data,
    )
    if kind in CONTACT_KINDS and not isinstance(actor, str) and lead.first_contact_at is None:
        lead.first_contact_at = activity.created_at
        Lead.objects.filter(pk=lead.pk, first_contact_at__isnull=True).update(
            first_contact_at=activity.created_at
        )
    return activity


def _find_existing(data: dict):
    if data["email"]:
        found = Lead.objects.select_for_update().filter(email=data["email"]).first()
        if found:
            return found
    if data["phone"]:
        return Lead.objects.select_for_update().filter(phone=data["phone"]).order_by("pk").first()
    return None


def _enqueue_routing(lead_id: int) -> None:
    from .tasks import lead_route_task

    lead_route_task.delay_on_commit(lead_id)


@transaction.atomic
def lead_capture(
    *,
    data: dict,
    channel: str,
    actor: Actor,
    client=None,
    request=None,
    route: bool = True,
    api_key=None,
    new_only: bool = False,
) -> tuple[Lead | None, bool]:
    """Record a lead from cleaned input (see validation.clean_lead_input).

    A person already known by email or phone is not created twice: the touch is recorded on
    the existing lead, blank details are filled in, and `created` is False. An integration
    (`api_key`) fills in and credits only a lead it sent itself; on anyone else's it records
    the touch and changes nothing. With `new_only` (a sign-up whose email address is not
    proven yet) a person already known is left untouched and `(None, False)` comes back.
    """
    touch = {f: data.get(f, "") for f in TOUCH_FIELDS}
    payload = {k: str(v) for k, v in data.items() if v not in (None, "")}
    for attempt in range(2):
        existing = _find_existing(data)
        if existing is not None:
            if new_only:
                return None, False
            owned = api_key is None or existing.api_key_id == api_key.pk
            return _record_duplicate(
                existing, data, channel, actor, client, touch, payload, may_update=owned
            ), False
        if client is None:
            # Someone who already has an account (with that address proven): the lead is them,
            # not a new person.
            client = _verified_client_for_email(data["email"])
        try:
            with transaction.atomic():
                lead = Lead(
                    channel=channel,
                    client=client,
                    email=data["email"],
                    api_key=api_key,
                    **{f: data[f] for f in PROFILE_FIELDS if f in data},
                )
                lead.score, lead.score_breakdown = score_lead(lead, _active_scoring_rules())
                lead.save()
        except IntegrityError:
            if attempt:
                raise
            continue  # the same email arrived at the same moment: it is a duplicate now
        LeadTouch.objects.create(lead=lead, channel=channel, payload=payload, **touch)
        _activity(
            lead,
            LeadActivity.Kind.TOUCH,
            actor,
            f"Captured via {lead.get_channel_display()}",
            channel=channel,
            score=lead.score,
        )
        lead_captured.send(
            sender=Lead,
            lead=lead,
            created=True,
            referral_code=data.get("referral_code", ""),
            channel=channel,
            actor=actor,
        )
        if route:
            _enqueue_routing(lead.pk)
        return lead, True
    raise AssertionError("unreachable")


def _record_duplicate(
    lead, data, channel, actor, client, touch, payload, *, may_update: bool = True
) -> Lead:
    """Record the touch. Blank details are filled in, unless the touch comes from an
    integration other than the one that sent the lead (it may not change or credit it)."""
    filled = []
    for field in PROFILE_FIELDS if may_update else ():
        new = data.get(field)
        if new not in (None, "", False) and getattr(lead, field) in (None, "", False):
            setattr(lead, field, new)
            filled.append(field)
    if "phone" in filled:  # a valid number now: the invalid one given before no longer counts
        lead.phone_invalid_reason = ""
    elif "phone_invalid_reason" in filled and lead.phone:
        filled.remove("phone_invalid_reason")
        lead.phone_invalid_reason = ""
    if (
        may_update
        and data["email"]
        and not lead.email
        and not Lead.objects.filter(email=data["email"]).exists()
    ):
        lead.email = data["email"]
        filled.append("email")
    if client is not None and lead.client_id is None:
        lead.client = client
        filled.append("client")
        _client_owner_sync(lead, actor)
    if filled:
        lead.score, lead.score_breakdown = score_lead(lead, _active_scoring_rules())
        try:
            with transaction.atomic():
                lead.save()
        except IntegrityError:  # the email was taken by another lead a moment ago
            lead = Lead.objects.select_for_update().get(pk=lead.pk)
    LeadTouch.objects.create(
        lead=lead, channel=channel, payload=payload, is_duplicate=True, **touch
    )
    _activity(
        lead,
        LeadActivity.Kind.TOUCH,
        actor,
        f"Came back via {Channel(channel).label} (duplicate, not a new person)",
        channel=channel,
        filled=filled,
    )
    lead_captured.send(
        sender=Lead,
        lead=lead,
        created=False,
        referral_code=data.get("referral_code", "") if may_update else "",
        channel=channel,
        actor=actor,
    )
    return lead


def _verified_client_for_email(email: str):
    """The client with this email address, if they proved it and have no lead yet."""
    client = client_for_email(email)
    if client is None or Lead.objects.filter(client=client).exists():
        return None
    proven = EmailAddress.objects.filter(
        user_id=client.user_id, email__iexact=email, verified=True
    ).exists()
    return client if proven else None


def _active_scoring_rules():
    return rules.scoring_rules()


# --- Routing -----------------------------------------------------------------------------------


def _rule_matches(rule: RoutingRule, lead: Lead) -> bool:
    return all(
        condition_matches(lead, c["field"], c["op"], c.get("value")) for c in rule.conditions
    )


def _candidates(*, role: str, desk: Desk | None, language: str) -> tuple[list, str]:
    """Staff of `role` (on `desk`, if given), active and on shift, locked in primary-key
    order (the same order everywhere, so concurrent routings take turns, never deadlock).
    Those speaking the lead's language come first; if none does, anyone fitting (fallback)."""
    base = StaffProfile.objects.select_for_update(of=("self",)).filter(
        user__groups__name=ROLES[role].label, user__is_active=True, is_on_shift=True
    )
    if desk is not None:
        base = base.filter(desk=desk)
    base = base.select_related("user", "desk").order_by("pk")
    speaking = list(base.filter(languages__contains=[language]))
    return (speaking, "speaks the lead's language") if speaking else (list(base), "fallback")


def _pick(locked: list[StaffProfile], distribution: str) -> StaffProfile | None:
    if not locked:
        return None
    if distribution == RoutingRule.Distribution.LEAST_LOADED:
        loads = dict(
            Lead.objects.filter(assigned_to__staff_profile__in=locked, status__in=Lead.OPEN)
            .values("assigned_to__staff_profile")
            .annotate(n=Count("id"))
            .values_list("assigned_to__staff_profile", "n")
        )
        far_past = timezone.now() - timedelta(days=36500)
        return min(
            locked, key=lambda p: (loads.get(p.pk, 0), p.last_lead_assigned_at or far_past, p.pk)
        )
    never = [p for p in locked if p.last_lead_assigned_at is None]
    if never:
        return never[0]
    return min(locked, key=lambda p: (p.last_lead_assigned_at, p.pk))


def _client_owner_sync(lead: Lead, actor: Actor) -> None:
    """A converted lead's desk and agent look after its client too."""
    if lead.client_id:
        client_assign(
            client=lead.client,
            desk=lead.desk,
            account_manager=lead.assigned_to,
            actor=actor,
            reason="from the client's lead",
        )


def _assign(
    lead: Lead, profile: StaffProfile | None, desk: Desk | None, actor: Actor, decision: dict
) -> None:
    now = timezone.now()
    lead.desk = desk
    lead.assigned_to = profile.user if profile else None
    lead.assigned_at = now if profile else None
    if profile:
        StaffProfile.objects.filter(pk=profile.pk).update(last_lead_assigned_at=now)
    who = (
        (profile.user.get_full_name() or profile.user.email)
        if profile
        else "nobody available: the desk's queue"
    )
    _client_owner_sync(lead, actor)
    _activity(
        lead,
        LeadActivity.Kind.ASSIGNMENT,
        actor,
        f"Assigned to {who}",
        desk=desk.name if desk else None,
        **decision,
    )


def _decide(lead: Lead, *, skip_nurture: bool):
    for rule in rules.routing_rules():
        if skip_nurture and rule.action == RoutingRule.Action.NURTURE:
            continue
        if _rule_matches(rule, lead):
            return rule
    return None


def _held_by_jurisdiction(lead: Lead, blocked, actor: Actor) -> Lead:
    """A lead from a blocked country is kept, never routed to sales: why is on its page."""
    decision = {
        "rule": None,
        "jurisdiction_rule": blocked.rule.pk,
        "why": f"{blocked.message} Its leads are kept but not routed to sales.",
        "score": lead.score,
    }
    lead.desk, lead.assigned_to, lead.assigned_at = None, None, None
    lead.routed_at, lead.routing = timezone.now(), decision
    lead.save()
    _activity(lead, LeadActivity.Kind.ASSIGNMENT, actor, decision["why"], **decision)
    audit_record(
        actor=actor,
        action=audit_events.LEAD_HELD_BY_JURISDICTION,
        target=lead,
        reason=decision["why"],
        evidence=decision,
    )
    return lead


@transaction.atomic
def lead_route(
    *, lead_id: int, actor: Actor = ROUTING_ACTOR, skip_nurture: bool = False, force: bool = False
) -> Lead:
    """Decide where the lead goes and assign it. Idempotent: a routed lead is left alone
    unless `force` (re-routing after nurture, or when its agent leaves)."""
    lead = Lead.objects.select_for_update().get(pk=lead_id)
    if lead.routed_at is not None and not force:
        return lead
    blocked = strictest(country_rules_for(residence=lead.country), CountryRule.Kind.BLOCKED)
    if blocked is not None:
        return _held_by_jurisdiction(lead, blocked, actor)
    rule = _decide(lead, skip_nurture=skip_nurture)
    decision = {
        "rule": rule.name if rule else None,
        "why": " and ".join(describe(c["field"], c["op"], c.get("value")) for c in rule.conditions)
        or "matches every lead"
        if rule
        else "no routing rule matched",
        "score": lead.score,
    }
    action = audit_events.LEAD_ASSIGNED
    if rule is None:
        _assign(lead, None, None, actor, decision)
        action = audit_events.LEAD_UNROUTED
    elif rule.action == RoutingRule.Action.NURTURE:
        decision["sequence"] = rule.sequence.name
        _nurture_start(lead, rule.sequence, actor)
        lead.desk, lead.assigned_to, lead.assigned_at = None, None, None
        action = audit_events.LEAD_NURTURE_STARTED
    else:
        if rule.action == RoutingRule.Action.SENIOR:
            candidates, fit = _candidates(
                role="senior_account_manager", desk=None, language=lead.language
            )
        else:
            candidates, fit = _candidates(
                role="sales_agent", desk=rule.desk, language=lead.language
            )
        profile = _pick(candidates, rule.distribution)
        desk = (
            rule.desk
            if rule.action == RoutingRule.Action.DESK
            else (profile.desk if profile else None)
        )
        decision.update(
            distribution=rule.distribution,
            candidates=len(candidates),
            fit=fit,
            agent=profile.user.email if profile else None,
        )
        _assign(lead, profile, desk, actor, decision)
        if profile is None:
            action = audit_events.LEAD_QUEUED
    lead.routed_at = timezone.now()
    lead.routing = decision
    lead.save()
    audit_record(
        actor=actor,
        action=action,
        target=lead,
        reason=decision["why"] if rule else "no rule matched",
        evidence=decision,
    )
    return lead


def leads_unrouted_route(*, older_than_seconds: int = 10, limit: int = 500) -> int:
    """The sweeper: route every lead left unrouted (worker or Redis was down). Returns count."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    ids = list(
        Lead.objects.filter(routed_at__isnull=True, created_at__lte=cutoff)
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )
    for lead_id in ids:
        lead_route(lead_id=lead_id, actor="rule:lead_routing_sweeper")
    return len(ids)


# --- Sales work ---------------------------------------------------------------------------------


def can_work(user: User, lead: Lead) -> bool:
    if user.has_perm("leads.view_all_leads"):
        return True
    if (
        user.has_perm("leads.manage_desk_leads")
        and lead.desk_id
        and (lead.desk.manager_id == user.pk or lead.desk.members.filter(user=user).exists())
    ):
        return True
    return user.has_perm("leads.work_leads") and lead.assigned_to_id == user.pk


def _check(user: User, lead: Lead) -> None:
    if not can_work(user, lead):
        raise NotAllowed("This lead is not yours.")


def _status_move(before: str, lead: Lead) -> str:
    return f"{Lead.Status(before).label} → {lead.get_status_display()}"


STATUS_TRANSITIONS = {
    Lead.Status.CONTACTED: "mark_contacted",
    Lead.Status.QUALIFIED: "mark_qualified",
    Lead.Status.CONVERTED: "mark_converted",
    Lead.Status.LOST: "mark_lost",
    Lead.Status.NEW: "reopen",
}


@transaction.atomic
def lead_status_change(*, lead: Lead, actor: User, to: str, reason: str = "") -> Lead:
    lead = Lead.objects.select_for_update().get(pk=lead.pk)
    _check(actor, lead)
    method_name = STATUS_TRANSITIONS.get(to)
    if method_name is None:
        raise InvalidInput(f"Unknown status {to!r}.", fields={"status": ["Unknown status."]})
    method = getattr(lead, method_name)
    if not can_proceed(method):
        raise InvalidInput(
            f"A {lead.get_status_display().lower()} lead cannot become {to}.",
            code="transition_not_allowed",
            fields={"status": ["Not allowed from here."]},
        )
    reason = " ".join(reason.split())[:200]
    if to == Lead.Status.LOST and not reason:
        raise InvalidInput("Say why the lead is lost.", fields={"reason": ["A reason is needed."]})
    before = lead.status
    method(reason) if to == Lead.Status.LOST else method()
    lead.save()
    _activity(lead, LeadActivity.Kind.STATUS, actor, _status_move(before, lead), reason=reason)
    audit_record(
        actor=actor,
        action=audit_events.LEAD_STATUS_CHANGED,
        target=lead,
        reason=reason,
        evidence={"from": before, "to": lead.status},
    )
    nurture_stop(
        lead=lead,
        reason="converted" if to == Lead.Status.CONVERTED else "an agent took over",
        actor=actor,
    )
    return lead


@transaction.atomic
def lead_note_add(*, lead: Lead, actor: User, text: str) -> LeadActivity:
    _check(actor, lead)
    text = text.strip()
    if not text:
        raise InvalidInput("The note is empty.", fields={"text": ["Write something."]})
    if len(text) > 5000:
        raise InvalidInput("Notes are at most 5,000 characters.", fields={"text": ["Too long."]})
    return _activity(lead, LeadActivity.Kind.NOTE, actor, text)


@transaction.atomic
def lead_call_log(
    *, lead: Lead, actor: User, outcome: str, duration_seconds: int = 0, notes: str = ""
) -> LeadActivity:
    _check(actor, lead)
    if outcome not in LeadActivity.CallOutcome.values:
        raise InvalidInput("Unknown call outcome.", fields={"outcome": ["Choose an outcome."]})
    if not 0 <= duration_seconds <= 24 * 3600:
        raise InvalidInput("Call length out of range.", fields={"duration_seconds": ["0-86400."]})
    activity = _activity(
        lead,
        LeadActivity.Kind.CALL,
        actor,
        notes.strip()[:5000],
        outcome=outcome,
        duration_seconds=duration_seconds,
    )
    nurture_stop(lead=lead, reason="an agent took over", actor=actor)
    return activity


@transaction.atomic
def lead_email_log(*, lead: Lead, actor: User, subject: str, notes: str = "") -> LeadActivity:
    """Record an email the agent sent the lead from their own mailbox (a first contact)."""
    _check(actor, lead)
    subject = " ".join(subject.split())
    if not subject or len(subject) > 200:
        raise InvalidInput("Give the email's subject.", fields={"subject": ["1-200 characters."]})
    activity = _activity(
        lead, LeadActivity.Kind.EMAIL, actor, notes.strip()[:5000], subject=subject
    )
    nurture_stop(lead=lead, reason="an agent took over", actor=actor)
    return activity


@transaction.atomic
def lead_reassign(*, lead: Lead, actor: Actor, to_user: User, reason: str = "") -> Lead:
    lead = Lead.objects.select_for_update(of=("self",)).select_related("desk").get(pk=lead.pk)
    if isinstance(actor, User) and not (
        actor.has_perm("leads.view_all_leads")
        or (actor.has_perm("leads.manage_desk_leads") and can_work(actor, lead))
    ):
        raise NotAllowed("Only the desk's manager can reassign its leads.")
    profile = getattr(to_user, "staff_profile", None)
    if not (
        to_user.is_active and to_user.is_staff and to_user.has_perm("leads.work_leads") and profile
    ):
        raise InvalidInput("That person cannot take leads.", fields={"to_user": ["Not an agent."]})
    if (
        isinstance(actor, User)
        and not actor.has_perm("leads.view_all_leads")
        and not Desk.objects.filter(pk=profile.desk_id)
        .filter(Q(manager=actor) | Q(members__user=actor))
        .exists()
    ):
        raise NotAllowed("Leads go to agents of your own desks only.")
    before = lead.assigned_to.email if lead.assigned_to else None
    decision = {
        "rule": "manual",
        "why": reason or "reassigned",
        "from": before,
        "agent": to_user.email,
    }
    _assign(lead, profile, profile.desk or lead.desk, actor, decision)
    lead.routed_at = lead.routed_at or timezone.now()
    lead.save()
    # the lead's planned callbacks go with it: the new agent is the one to call back
    Callback.objects.filter(lead=lead, done_at__isnull=True).update(agent=to_user)
    audit_record(
        actor=actor,
        action=audit_events.LEAD_REASSIGNED,
        target=lead,
        reason=reason,
        evidence=decision,
    )
    nurture_stop(lead=lead, reason="an agent took over", actor=actor)
    return lead


@transaction.atomic
def leads_bulk_reassign(
    *, lead_ids: list[int], actor: User, to_user: User, reason: str = ""
) -> list[Lead]:
    """Hand several leads to one agent at once: all of them or, if any may not be, none."""
    ids = sorted(set(lead_ids))
    if not ids or len(ids) > 100:
        raise InvalidInput("Reassign 1 to 100 leads at a time.", fields={"leads": ["1-100."]})
    found = list(Lead.objects.select_related("desk").filter(pk__in=ids).order_by("pk"))
    if len(found) != len(ids):
        raise InvalidInput("Some of these leads no longer exist.", fields={"leads": ["Gone."]})
    refused = [lead.pk for lead in found if not can_work(actor, lead)]
    if refused:
        raise NotAllowed(f"Leads {', '.join(map(str, refused))} are not on your desks.")
    reason = " ".join(reason.split())[:200] or f"bulk reassignment of {len(ids)} leads"
    return [lead_reassign(lead=lead, actor=actor, to_user=to_user, reason=reason) for lead in found]


def leads_of_departed_agent_reroute(*, user: User, actor: Actor) -> int:
    """An agent was deactivated: route each of their open leads again, within the rules."""
    ids = list(
        Lead.objects.filter(assigned_to=user, status__in=Lead.OPEN).values_list("pk", flat=True)
    )
    for lead_id in ids:
        with transaction.atomic():
            Lead.objects.filter(pk=lead_id).update(assigned_to=None, assigned_at=None)
            lead_route(lead_id=lead_id, actor=actor, skip_nurture=True, force=True)
    return len(ids)


# --- Nurture -------------------------------------------------------------------------------------


def _step(sequence: NurtureSequence, position: int, language: str) -> NurtureStep | None:
    steps = {s.language: s for s in sequence.steps.filter(position=position)}
    return steps.get(language) or steps.get("en") or next(iter(steps.values()), None)


def _nurture_start(lead: Lead, sequence: NurtureSequence, actor: Actor) -> None:
    first = _step(sequence, 1, lead.language)
    delay = timedelta(minutes=first.delay_minutes) if first else timedelta(0)
    enrollment, _ = NurtureEnrollment.objects.update_or_create(
        lead=lead,
        defaults={
            "sequence": sequence,
            "state": NurtureEnrollment.State.ACTIVE,
            "next_position": 1,
            "next_send_at": timezone.now() + delay,
            "stopped_reason": "",
        },
    )
    _activity(lead, LeadActivity.Kind.NURTURE, actor, f"Started nurture sequence {sequence}")


def nurture_stop(*, lead: Lead, reason: str, actor: Actor) -> bool:
    stopped = NurtureEnrollment.objects.filter(
        lead=lead, state=NurtureEnrollment.State.ACTIVE
    ).update(state=NurtureEnrollment.State.STOPPED, stopped_reason=reason[:100], next_send_at=None)
    if stopped:
        _activity(lead, LeadActivity.Kind.NURTURE, actor, f"Nurture stopped: {reason}")
        audit_record(
            actor=actor, action=audit_events.LEAD_NURTURE_STOPPED, target=lead, reason=reason
        )
    return bool(stopped)


def unsubscribe_token(lead: Lead) -> str:
    return signing.dumps({"lead": lead.pk}, salt=UNSUBSCRIBE_SALT)


def unsubscribe_url(lead: Lead) -> str:
    from django.conf import settings

    path = reverse("lead_unsubscribe", kwargs={"token": unsubscribe_token(lead)})
    return f"{settings.SITE_URL.rstrip('/')}{path}"


@transaction.atomic
def lead_unsubscribe(*, token: str) -> Lead:
    try:
        lead_id = signing.loads(token, salt=UNSUBSCRIBE_SALT)["lead"]
    except (signing.BadSignature, KeyError, TypeError) as exc:
        raise InvalidInput("This unsubscribe link is not valid.", code="bad_token") from exc
    lead = Lead.objects.select_for_update().filter(pk=lead_id).first()
    if lead is None:
        raise InvalidInput("This unsubscribe link is not valid.", code="bad_token")
    if not lead.email_opt_out:
        lead.email_opt_out = True
        lead.save(update_fields=["email_opt_out", "updated_at"])
        audit_record(
            actor="rule:unsubscribe_link", action=audit_events.LEAD_UNSUBSCRIBED, target=lead
        )
        nurture_stop(lead=lead, reason="unsubscribed", actor="rule:unsubscribe_link")
    return lead


class _Blank(dict):
    def __missing__(self, key):
        return ""


def render_step(template: str, lead: Lead) -> str:
    """The step's text with {first_name} and {unsubscribe_url} filled; unknown placeholders
    are left empty and stray braces kept, so an edit in admin can never stop the sequence."""
    values = _Blank(first_name=lead.first_name or "there", unsubscribe_url=unsubscribe_url(lead))
    try:
        return template.format_map(values)
    except (ValueError, IndexError, AttributeError):
        return template.replace("{first_name}", values["first_name"]).replace(
            "{unsubscribe_url}", values["unsubscribe_url"]
        )


def _send_step(enrollment: NurtureEnrollment) -> None:
    lead = enrollment.lead
    step = _step(enrollment.sequence, enrollment.next_position, lead.language)
    if step is None:  # no more steps: done, hand the lead to the sales floor
        enrollment.state = NurtureEnrollment.State.COMPLETED
        enrollment.next_send_at = None
        enrollment.save()
        _activity(lead, LeadActivity.Kind.NURTURE, NURTURE_ACTOR, "Nurture sequence completed")
        lead_route(lead_id=lead.pk, actor=NURTURE_ACTOR, skip_nurture=True, force=True)
        return
    already_sent = NurtureSend.objects.filter(
        enrollment=enrollment, position=step.position
    ).exists()
    if not already_sent:  # a retried run skips the send, and only reschedules
        NurtureSend.objects.create(enrollment=enrollment, position=step.position)
    body = render_step(step.body, lead)
    if lead.email and not lead.email_opt_out and not already_sent:
        # After commit: the send is recorded first, so a crash can lose an email, never send
        # one twice.
        transaction.on_commit(
            lambda subject=step.subject, body=body, to=lead.email: email_send(
                subject=subject, body=body, to=[to]
            )
        )
        _activity(
            lead,
            LeadActivity.Kind.EMAIL,
            NURTURE_ACTOR,
            body,
            subject=step.subject,
            to=lead.email,
            sequence=enrollment.sequence.name,
            step=step.position,
        )
    following = _step(enrollment.sequence, step.position + 1, lead.language)
    enrollment.next_position = step.position + 1
    enrollment.next_send_at = timezone.now() + timedelta(
        minutes=following.delay_minutes if following else 0
    )
    enrollment.save()


def nurture_send_due(*, now=None, limit: int = 200) -> int:
    """Send every nurture email that is due. Safe to run on many workers at once."""
    now = now or timezone.now()
    sent = 0
    for _ in range(limit):
        with transaction.atomic():
            enrollment = (
                NurtureEnrollment.objects.select_for_update(skip_locked=True)
                .select_related("lead", "sequence")
                .filter(state=NurtureEnrollment.State.ACTIVE, next_send_at__lte=now)
                .order_by("next_send_at")
                .first()
            )
            if enrollment is None:
                break
            _send_step(enrollment)
            sent += 1
    return sent


@transaction.atomic
def lead_convert_on_ftd(*, client_id: int, actor: Actor) -> Lead | None:
    """The client behind a lead made their first deposit: the lead is converted (once)."""
    lead = Lead.objects.select_for_update().filter(client_id=client_id).first()
    if lead is None or lead.status not in Lead.OPEN:
        return lead
    before = lead.status
    lead.mark_converted()
    lead.save()
    _activity(lead, LeadActivity.Kind.STATUS, actor, _status_move(before, lead), reason="FTD")
    audit_record(
        actor=actor,
        action=audit_events.LEAD_STATUS_CHANGED,
        target=lead,
        reason="First deposit (FTD).",
        evidence={"from": before, "to": lead.status, "rule": "ftd"},
    )
    nurture_stop(lead=lead, reason="converted", actor=actor)
    return lead
