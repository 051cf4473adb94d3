"""The first-contact SLA, defined once: a lead assigned to an agent is contacted (a call, an
email or a status change logged by a person, which sets `Lead.first_contact_at`) within its
desk's `sla_minutes`. The inbox, the lead page, the desk view and the agents' load all read it
from here; desk managers set the minutes per desk (`desk_sla_set`)."""

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import DateTimeField, ExpressionWrapper, F, Q, QuerySet, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from brokerage.errors import InvalidInput, NotAllowed
from brokerage.models import Desk, User
from brokerage.services import audit_record

from . import audit_events
from .models import Lead

DEFAULT_SLA_MINUTES = Desk._meta.get_field("sla_minutes").default
MIN_SLA_MINUTES, MAX_SLA_MINUTES = 1, 1440
WAITING = Q(
    status__in=Lead.OPEN,
    first_contact_at__isnull=True,
    assigned_to__isnull=False,
    assigned_at__isnull=False,
)


def sla_minutes(desk: Desk | None) -> int:
    return desk.sla_minutes if desk is not None else DEFAULT_SLA_MINUTES


def sla_due_at(lead: Lead) -> datetime | None:
    """When the lead must have been contacted by (None if it has no agent)."""
    if lead.assigned_at is None:
        return None
    return lead.assigned_at + timedelta(minutes=sla_minutes(lead.desk))


def is_waiting(lead: Lead) -> bool:
    """Assigned, open and not contacted yet: the SLA clock is running."""
    return (
        lead.status in Lead.OPEN
        and lead.first_contact_at is None
        and lead.assigned_to_id is not None
        and lead.assigned_at is not None
    )


def sla_breached(lead: Lead, now: datetime | None = None) -> bool:
    """Waiting for a first contact past the desk's SLA."""
    return is_waiting(lead) and (now or timezone.now()) > sla_due_at(lead)


def sla_minutes_left(lead: Lead, now: datetime | None = None) -> int | None:
    """Whole minutes until the SLA is breached (negative once it is), None when not waiting."""
    if not is_waiting(lead):
        return None
    return int((sla_due_at(lead) - (now or timezone.now())).total_seconds() // 60)


def due_at_expression():
    """`assigned_at` plus the lead's desk's SLA, in the database (default for no desk)."""
    minutes = Coalesce(F("desk__sla_minutes"), Value(DEFAULT_SLA_MINUTES))
    return ExpressionWrapper(
        F("assigned_at") + minutes * Value(timedelta(minutes=1)), output_field=DateTimeField()
    )


def with_sla_due(qs: QuerySet[Lead]) -> QuerySet[Lead]:
    return qs.annotate(sla_due_at=due_at_expression())


def breaches(qs: QuerySet[Lead], now: datetime | None = None) -> QuerySet[Lead]:
    """The leads of `qs` waiting for a first contact past their desk's SLA."""
    return with_sla_due(qs).filter(WAITING, sla_due_at__lt=now or timezone.now())


def desk_sla_editable(user: User, desk: Desk) -> bool:
    return user.has_perm("leads.view_all_leads") or (
        user.has_perm("leads.manage_desk_leads") and desk.manager_id == user.pk
    )


@transaction.atomic
def desk_sla_set(*, desk: Desk, actor: User, minutes: int, reason: str = "") -> Desk:
    """Set a desk's first-contact SLA: its manager, or whoever sees every lead."""
    desk = Desk.objects.select_for_update().get(pk=desk.pk)
    if not desk_sla_editable(actor, desk):
        raise NotAllowed("Only the desk's manager can change its SLA.")
    if isinstance(minutes, bool) or not isinstance(minutes, int):
        raise InvalidInput("The SLA is a whole number of minutes.", fields={"minutes": ["1-1440."]})
    if not MIN_SLA_MINUTES <= minutes <= MAX_SLA_MINUTES:
        raise InvalidInput(
            f"The SLA is between {MIN_SLA_MINUTES} and {MAX_SLA_MINUTES:,} minutes (a day).",
            fields={"minutes": [f"Between {MIN_SLA_MINUTES} and {MAX_SLA_MINUTES:,}."]},
        )
    before = desk.sla_minutes
    if before == minutes:
        return desk
    desk.sla_minutes = minutes
    desk.save(update_fields=["sla_minutes"])
    audit_record(
        actor=actor,
        action=audit_events.DESK_SLA_CHANGED,
        target=desk,
        reason=" ".join(reason.split())[:200],
        evidence={"from_minutes": before, "to_minutes": minutes},
    )
    return desk
