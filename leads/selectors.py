"""Reads on leads, scoped by the requesting user: agents their own, desk managers their desks'."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.db.models import (
    Case,
    Count,
    DateTimeField,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    When,
)
from django.db.models.functions import TruncDate
from django.utils import timezone

from brokerage.errors import NotAllowed
from brokerage.leadership import leadership_desks
from brokerage.models import Desk, StaffProfile, User

from . import sla
from .models import Callback, Lead, LeadActivity, LeadImport

OVERDUE_CALLBACK, SLA_RUNNING, OTHER = 0, 1, 2


def _managed_desks(user: User) -> QuerySet[Desk]:
    return Desk.objects.filter(Q(manager=user) | Q(members__user=user)).distinct()


@dataclass(frozen=True)
class LeadFilters:
    """What a list of leads can be narrowed by (each empty value: no filter)."""

    status: str = ""
    q: str = ""
    desk_id: int | None = None
    agent_id: int | None = None
    source: str = ""
    country: str = ""
    created_from: date | None = None
    created_to: date | None = None


def _scoped(user: User, scope: str) -> QuerySet[Lead]:
    qs = Lead.objects.all()
    if scope == "all":
        if not user.has_perm("leads.view_all_leads"):
            raise NotAllowed("You see your own leads only.")
    elif scope == "figures":  # the leads behind the leadership figures: read, never worked
        if not user.has_perm("brokerage.view_leadership"):
            raise NotAllowed("Only the roles that lead see the leads behind the figures.")
        desks = leadership_desks(user)
        if desks is not None:
            qs = qs.filter(desk__in=desks)
    elif scope == "desk":
        if user.has_perm("leads.view_all_leads"):
            pass
        elif user.has_perm("leads.manage_desk_leads"):
            qs = qs.filter(desk__in=_managed_desks(user))
        else:
            raise NotAllowed("Only desk managers see the desk's leads.")
    else:
        if not user.has_perm("leads.work_leads"):
            raise NotAllowed("Your role does not work leads.")
        qs = qs.filter(assigned_to=user)
    return qs


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def lead_list(
    *,
    user: User,
    scope: str = "mine",
    filters: LeadFilters | None = None,
) -> QuerySet[Lead]:
    """Leads `user` may see in `scope` ("mine", "desk", "all", or "figures": those behind the
    leadership figures, read only), narrowed by `filters`."""
    f = filters or LeadFilters()
    qs = _scoped(user, scope).select_related("desk", "assigned_to", "nurture")
    if f.desk_id:
        qs = qs.filter(desk_id=f.desk_id)
    if f.agent_id:
        qs = qs.filter(assigned_to_id=f.agent_id)
    if f.status:
        qs = qs.filter(status=f.status)
    if f.source:
        qs = qs.filter(source=f.source)
    if f.country:
        qs = qs.filter(country=f.country)
    if f.created_from:
        qs = qs.filter(created_at__gte=_day_start(f.created_from))
    if f.created_to and f.created_to < date.max:  # the last day there is: no end
        qs = qs.filter(created_at__lt=_day_start(f.created_to + timedelta(days=1)))
    if f.q:
        q = f.q
        qs = qs.filter(
            Q(first_name__icontains=q)
            | Q(last_name__icontains=q)
            | Q(email__icontains=q)
            | Q(phone__icontains=q)
        )
    return _with_next_action(qs, urgency=scope == "mine")


def _with_next_action(qs: QuerySet[Lead], *, urgency: bool) -> QuerySet[Lead]:
    """Each lead's next open callback and SLA deadline. With `urgency` (an agent's inbox):
    overdue callbacks first (longest overdue first), then leads whose first contact is due
    (least time left first, breached ones before), then the rest newest first."""
    next_callback = (
        Callback.objects.filter(lead=OuterRef("pk"), done_at__isnull=True)
        .order_by("due_at")
        .values("due_at")[:1]
    )
    qs = sla.with_sla_due(qs).annotate(next_callback_at=Subquery(next_callback))
    if not urgency:
        return qs.order_by("-created_at", "-pk")
    now = timezone.now()
    qs = qs.annotate(
        urgency=Case(
            When(next_callback_at__lte=now, then=OVERDUE_CALLBACK),
            When(sla.WAITING, then=SLA_RUNNING),
            default=OTHER,
            output_field=IntegerField(),
        ),
        urgency_at=Case(
            When(urgency=OVERDUE_CALLBACK, then=F("next_callback_at")),
            When(urgency=SLA_RUNNING, then=F("sla_due_at")),
            default=None,
            output_field=DateTimeField(),
        ),
    )
    return qs.order_by("urgency", F("urgency_at").asc(nulls_last=True), "-created_at", "-pk")


def lead_get(*, user: User, lead_id: int) -> Lead:
    from .services import can_work

    lead = (
        Lead.objects.select_related("desk__manager", "assigned_to", "client__user")
        .filter(pk=lead_id)
        .first()
    )
    if lead is None:
        raise Lead.DoesNotExist
    if not can_work(user, lead):
        raise NotAllowed("This lead is not yours.")
    return lead


def lead_for_person(*, client=None, email: str = "") -> Lead | None:
    """A person's lead: the one linked to their client record, else the one with their email.

    For apps that act on a person once their address is proven (ib credits a client's lead)."""
    if client is not None:
        lead = Lead.objects.filter(client=client).first()
        if lead is not None:
            return lead
    email = (email or "").strip().lower()
    return Lead.objects.filter(email=email).first() if email else None


def lead_timeline(*, lead: Lead) -> QuerySet[LeadActivity]:
    return lead.activities.select_related("actor").order_by("-created_at", "-id")


def desk_overview(*, user: User) -> dict:
    """For a desk manager: unassigned leads, SLA breaches and each agent's load."""
    if not (user.has_perm("leads.manage_desk_leads") or user.has_perm("leads.view_all_leads")):
        raise NotAllowed("Only desk managers see the desk view.")
    desks = Desk.objects.all() if user.has_perm("leads.view_all_leads") else _managed_desks(user)
    desk_ids = list(desks.values_list("pk", flat=True))
    if user.has_perm("leads.view_all_leads"):
        in_scope = Lead.objects.all()  # includes leads no rule could place (no desk)
    else:
        in_scope = Lead.objects.filter(desk__in=desk_ids)
    unassigned = in_scope.filter(
        assigned_to__isnull=True, status__in=Lead.OPEN, routed_at__isnull=False
    ).exclude(nurture__state="active")
    breaches = sla.breaches(in_scope)
    agents = (
        StaffProfile.objects.filter(
            desk__in=desk_ids,
            user__is_active=True,
            user__groups__permissions__codename="work_leads",
        )
        .select_related("user", "desk")
        .annotate(
            open_leads=Count(
                "user__assigned_leads",
                filter=Q(user__assigned_leads__status__in=Lead.OPEN),
                distinct=True,
            ),
        )
        .order_by("desk__name", "user__email")
        .distinct()
    )
    per_agent = dict(
        breaches.order_by()
        .values("assigned_to")
        .annotate(n=Count("id"))
        .values_list("assigned_to", "n")
    )
    agents = list(agents)
    for agent in agents:
        agent.breaches = per_agent.get(agent.user_id, 0)
    return {
        "desks": desks,
        "unassigned": unassigned.select_related("desk")[:100],
        "unassigned_count": unassigned.count(),
        "breaches": breaches.select_related("desk", "assigned_to").order_by("sla_due_at")[:100],
        "breach_count": breaches.count(),
        "agents": agents,
    }


def reassign_targets(*, user: User, lead: Lead | None = None) -> QuerySet[User]:
    """Who `user` may hand leads to: active agents, of the desks they manage or sit on."""
    qs = User.objects.filter(
        is_active=True, is_staff=True, groups__permissions__codename="work_leads"
    ).distinct()
    if not user.has_perm("leads.view_all_leads"):
        qs = qs.filter(staff_profile__desk__in=_managed_desks(user))
    return qs.select_related("staff_profile__desk").order_by("first_name", "last_name", "email")


def lead_filter_options(*, user: User, scope: str) -> dict:
    """The choices a list's filters offer: desks, agents, sources and countries in scope."""
    if scope == "mine":
        return {"desks": [], "agents": [], "sources": [], "countries": []}
    in_scope = _scoped(user, scope)
    everything = user.has_perm("leads.view_all_leads") or (
        scope == "figures" and user.has_perm("brokerage.view_all_figures")
    )
    desks = Desk.objects.all() if everything else _managed_desks(user)
    agents = User.objects.filter(
        pk__in=in_scope.exclude(assigned_to=None).values("assigned_to")
    ).order_by("first_name", "last_name", "email")
    sources = (
        in_scope.exclude(source="").order_by("source").values_list("source", flat=True).distinct()
    )
    countries = (
        in_scope.exclude(country="")
        .order_by("country")
        .values_list("country", flat=True)
        .distinct()
    )
    return {
        "desks": list(desks.order_by("name")),
        "agents": list(agents),
        "sources": list(sources[:200]),
        "countries": list(countries),
    }


def lead_import_list(*, user: User) -> QuerySet[LeadImport]:
    if not user.has_perm("leads.import_leads"):
        raise NotAllowed("Your role does not import leads.")
    qs = LeadImport.objects.select_related("uploaded_by")
    if not user.has_perm("leads.view_all_leads"):
        qs = qs.filter(uploaded_by=user)
    return qs


def _dashboard_leads(user: User) -> QuerySet[Lead]:
    """The leads a user's home figures count: all of them, their desks', or their own."""
    base = Lead.objects.all()
    if not user.has_perm("leads.view_all_leads"):
        if user.has_perm("leads.manage_desk_leads"):
            base = base.filter(desk__in=_managed_desks(user))
        else:
            base = base.filter(assigned_to=user)
    return base


def lead_summary(*, user: User) -> dict:
    """The home tiles: leads captured today (the last bar of `lead_counts_per_day`, the same
    leads and the same day), open and converted leads."""
    counts = _dashboard_leads(user).aggregate(
        open=Count("id", filter=Q(status__in=Lead.OPEN)),
        converted=Count("id", filter=Q(status=Lead.Status.CONVERTED)),
    )
    return {"today": lead_counts_per_day(user=user, days=1)[-1][1], **counts}


def lead_counts_per_day(*, user: User, days: int) -> list[tuple[date, int]]:
    """Leads captured on each of the last `days` days (today last), in the site's time zone."""
    today = timezone.localdate()
    start = today - timedelta(days=days - 1)
    since = timezone.make_aware(datetime.combine(start, time.min))
    rows = dict(
        _dashboard_leads(user)
        .filter(created_at__gte=since)
        .annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(n=Count("id"))
        .values_list("day", "n")
    )
    return [
        (start + timedelta(days=i), rows.get(start + timedelta(days=i), 0)) for i in range(days)
    ]


def lead_counts_by_status(*, user: User) -> dict[str, int]:
    return dict(
        _dashboard_leads(user).values("status").annotate(n=Count("id")).values_list("status", "n")
    )
