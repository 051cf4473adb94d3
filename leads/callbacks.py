"""Callbacks: an agent's next action on a lead, a call at a set time. Scheduled and done
through the services here (audited, on the lead's timeline); the agent sees them on the inbox,
which puts overdue ones first, and is reminded by email once one is due (`callbacks_remind_due`,
run every minute by beat; a callback is reminded once, whatever runs twice)."""

from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone

from brokerage.errors import InvalidInput, NotAllowed
from brokerage.mail import email_send
from brokerage.models import User
from brokerage.services import audit_record

from . import audit_events
from .models import Callback, Lead, LeadActivity
from .services import _activity, can_work

REMIND_ACTOR = "rule:callback_reminder"
MAX_AHEAD = timedelta(days=90)
GRACE = timedelta(minutes=1)  # a time "now" typed into the form is in the past on arrival


def _agent_for(lead: Lead, actor: User) -> User:
    """The lead's agent if it has one, else whoever schedules it."""
    return lead.assigned_to if lead.assigned_to_id else actor


@transaction.atomic
def callback_schedule(
    *, lead: Lead, actor: User, due_at: datetime, note: str = "", now: datetime | None = None
) -> Callback:
    """Plan a call back to the lead at `due_at`, for the lead's agent."""
    lead = (
        Lead.objects.select_for_update(of=("self",))
        .select_related("desk", "assigned_to")
        .get(pk=lead.pk)
    )
    if not can_work(actor, lead):
        raise NotAllowed("This lead is not yours.")
    if not lead.is_open:
        raise InvalidInput(
            f"A {lead.get_status_display().lower()} lead needs no callback.",
            code="lead_closed",
            fields={"due_at": ["The lead is closed."]},
        )
    now = now or timezone.now()
    if timezone.is_naive(due_at):
        raise InvalidInput("Give the time with its time zone.", fields={"due_at": ["No zone."]})
    if due_at < now - GRACE:
        raise InvalidInput(
            "A callback is planned for later, not the past.",
            fields={"due_at": ["This time has passed."]},
        )
    if due_at > now + MAX_AHEAD:
        raise InvalidInput(
            "A callback is at most 90 days ahead.", fields={"due_at": ["At most 90 days ahead."]}
        )
    note = " ".join(note.split())
    if len(note) > 500:
        raise InvalidInput("A note is at most 500 characters.", fields={"note": ["Too long."]})
    agent = _agent_for(lead, actor)
    callback = Callback.objects.create(
        lead=lead, agent=agent, due_at=due_at, note=note, created_by=actor
    )
    due = due_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
    _activity(
        lead,
        LeadActivity.Kind.CALLBACK,
        actor,
        note,
        due_at=due_at.isoformat(),
        summary=f"Callback planned for {due} UTC",
    )
    audit_record(
        actor=actor,
        action=audit_events.LEAD_CALLBACK_SCHEDULED,
        target=lead,
        reason=note,
        evidence={"callback": callback.pk, "due_at": due_at.isoformat(), "agent": agent.email},
    )
    return callback


@transaction.atomic
def callback_complete(*, callback: Callback, actor: User, note: str = "") -> Callback:
    """Mark a callback done (by its agent, or by whoever may work the lead)."""
    callback = (
        Callback.objects.select_for_update(of=("self",))
        .select_related("lead__desk")
        .get(pk=callback.pk)
    )
    if callback.agent_id != actor.pk and not can_work(actor, callback.lead):
        raise NotAllowed("This callback is not yours.")
    if callback.done_at is not None:
        raise InvalidInput("This callback is already done.", code="already_done")
    callback.done_at = timezone.now()
    callback.save(update_fields=["done_at"])
    note = " ".join(note.split())[:500]
    _activity(
        callback.lead,
        LeadActivity.Kind.CALLBACK,
        actor,
        note,
        callback=callback.pk,
        summary="Callback done",
    )
    audit_record(
        actor=actor,
        action=audit_events.LEAD_CALLBACK_COMPLETED,
        target=callback.lead,
        reason=note,
        evidence={"callback": callback.pk, "due_at": callback.due_at.isoformat()},
    )
    return callback


def _remind(callback: Callback, now: datetime) -> None:
    callback.reminded_at = now
    callback.save(update_fields=["reminded_at"])
    audit_record(
        actor=REMIND_ACTOR,
        action=audit_events.LEAD_CALLBACK_REMINDED,
        target=callback.lead,
        evidence={"callback": callback.pk, "agent": callback.agent.email},
    )
    url = settings.SITE_URL.rstrip("/") + reverse(
        "leads:detail", kwargs={"lead_id": callback.lead_id}
    )
    due = callback.due_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
    body = (
        f"Hello {callback.agent.first_name or callback.agent.email},\n\n"
        f"You planned to call {callback.lead} back at {due} UTC.\n"
        + (f"Your note: {callback.note}\n" if callback.note else "")
        + f"\nOpen the lead: {url}\n"
    )
    subject = f"Callback due: {callback.lead}"
    # After commit: the reminder is recorded first, so a crash can lose an email, never
    # send one twice.
    transaction.on_commit(
        lambda to=callback.agent.email: email_send(subject=subject, body=body, to=[to])
    )


def callbacks_remind_due(*, now: datetime | None = None, limit: int = 500) -> int:
    """Remind each agent of every callback now due, once. Safe to run on many workers at once."""
    now = now or timezone.now()
    sent = 0
    for _ in range(limit):
        with transaction.atomic():
            callback = (
                Callback.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("lead", "agent")
                .filter(done_at__isnull=True, reminded_at__isnull=True, due_at__lte=now)
                .order_by("due_at", "pk")
                .first()
            )
            if callback is None:
                break
            _remind(callback, now)
            sent += 1
    return sent


# --- Reads ---------------------------------------------------------------------------------------


def callbacks_open_for(*, user: User) -> QuerySet[Callback]:
    """The user's callbacks not done yet, soonest first (on their inbox)."""
    return (
        Callback.objects.filter(agent=user, done_at__isnull=True)
        .select_related("lead")
        .order_by("due_at", "pk")
    )


def callbacks_of_lead(*, lead: Lead) -> QuerySet[Callback]:
    return lead.callbacks.select_related("agent").order_by("done_at", "due_at", "pk")
