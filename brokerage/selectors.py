"""Reads of the shared kernel, scoped by the requesting user."""

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone

from .errors import NotAllowed
from .models import AuditEvent, Desk, User


def audit_event_list(
    *,
    user: User,
    q: str = "",
    action: str = "",
    target_type: str = "",
    actor: str = "",
    subject: str | int = "",
) -> QuerySet[AuditEvent]:
    """The audit log, newest first; `subject` narrows it to one client's whole trail."""
    if not user.has_perm("brokerage.view_auditevent"):
        raise NotAllowed("Only compliance and ops can read the audit log.")
    qs = AuditEvent.objects.order_by("-id")
    subject = str(subject)
    if subject:
        wellformed = subject.isascii() and subject.isdigit()
        qs = qs.filter(subject_client_id=int(subject)) if wellformed else qs.none()
    if action:
        qs = qs.filter(action=action)
    if target_type:
        qs = qs.filter(target_type=target_type)
    if actor == "system":
        qs = qs.filter(actor__isnull=True)
    elif actor:
        qs = qs.filter(actor_label__iexact=actor)
    if q:
        qs = qs.filter(
            Q(action__icontains=q)
            | Q(target_repr__icontains=q)
            | Q(target_id=q)
            | Q(actor_label__icontains=q)
            | Q(reason__icontains=q)
        )
    return qs


def audit_events_per_day(*, days: int = 14) -> list[dict]:
    since = timezone.now() - timezone.timedelta(days=days - 1)
    since = since.replace(hour=0, minute=0, second=0, microsecond=0)
    rows = (
        AuditEvent.objects.filter(occurred_at__gte=since)
        .annotate(day=TruncDate("occurred_at"))
        .values("day")
        .annotate(n=Count("id"))
        .order_by("day")
    )
    counts = {r["day"]: r["n"] for r in rows}
    out = []
    for i in range(days):
        day = (since + timezone.timedelta(days=i)).date()
        out.append({"day": day.isoformat(), "count": counts.get(day, 0)})
    return out


def desk_list(*, user: User) -> QuerySet[Desk]:
    if not user.has_perm("brokerage.view_team"):
        raise NotAllowed("Only desk managers and ops can see the team.")
    qs = Desk.objects.all()
    if not user.has_perm("brokerage.view_system_status") and not user.is_superuser:
        # Scope by a subquery, not a join: joining members would multiply the counts below.
        mine = Desk.objects.filter(Q(manager=user) | Q(members__user=user)).values("pk")
        qs = qs.filter(pk__in=mine)
    return qs.annotate(
        member_count=Count("members", filter=Q(members__user__is_active=True))
    ).select_related("manager")


def staff_list(*, user: User, desk: Desk | None = None, q: str = "") -> QuerySet[User]:
    if not user.has_perm("brokerage.view_team"):
        raise NotAllowed("Only desk managers and ops can see the team.")
    qs = (
        User.objects.filter(is_staff=True)
        .select_related("staff_profile__desk")
        .prefetch_related("groups")
        .order_by("email")
    )
    visible_desks = desk_list(user=user)
    if not user.has_perm("brokerage.view_system_status") and not user.is_superuser:
        qs = qs.filter(staff_profile__desk__in=visible_desks)
    if desk is not None:
        qs = qs.filter(staff_profile__desk=desk)
    if q:
        qs = qs.filter(
            Q(email__icontains=q) | Q(first_name__icontains=q) | Q(last_name__icontains=q)
        )
    return qs


def audit_trail_for(obj, *, limit: int = 20) -> QuerySet[AuditEvent]:
    """The newest audit events about one object (its own trail on its page)."""
    return AuditEvent.objects.filter(
        target_type=obj._meta.label_lower, target_id=str(obj.pk)
    ).order_by("-id")[:limit]
