"""Reads of the shared kernel, scoped by the requesting user."""

from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone

from .errors import NotAllowed
from .models import AuditChainHead, AuditEvent, Desk, User


@dataclass
class ChainVerification:
    ok: bool
    checked: int
    broken_seq: int | None = None
    broken_id: int | None = None
    problem: str = ""


def audit_chain_verify() -> ChainVerification:
    """Walk the whole chain in order; report the first row that does not hold.

    One REPEATABLE READ snapshot for the head and the rows, so events written while it runs
    are neither half-seen nor mistaken for deleted ones.
    """
    if connection.in_atomic_block:  # inside a caller's transaction: its isolation applies
        return _verify_snapshot(snapshot=False)
    with transaction.atomic():
        with connection.cursor() as cur:
            cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        return _verify_snapshot(snapshot=True)


def _verify_snapshot(*, snapshot: bool) -> ChainVerification:
    head = AuditChainHead.objects.filter(pk=1).first()
    head_seq, head_hash = (head.seq, head.last_hash) if head else (0, "0" * 64)
    expected_seq, prev_hash, checked = 1, "0" * 64, 0
    # Only rows up to the head as read: later ones belong to transactions committed since.
    rows = AuditEvent.objects.filter(seq__lte=head_seq).order_by("seq").iterator(chunk_size=5000)
    for event in rows:
        problem = ""
        if event.seq != expected_seq:
            problem = f"row(s) missing before it: expected seq {expected_seq}, found {event.seq}"
        elif event.prev_hash != prev_hash:
            problem = "prev_hash does not match the hash of the row before it"
        elif event.compute_hash() != event.hash:
            problem = "content altered: stored hash does not match the row's content"
        if problem:
            return ChainVerification(False, checked, event.seq, event.pk, problem)
        checked += 1
        expected_seq, prev_hash = event.seq + 1, event.hash
    if head_seq != checked or head_hash != prev_hash:
        return ChainVerification(
            False,
            checked,
            checked + 1,
            None,
            f"chain ends at seq {checked} but the head records seq {head_seq}: "
            "rows at the end were deleted",
        )
    # In one snapshot every legitimately written row is covered by the head (both change in the
    # same transaction), so a row past it was inserted around the chain.
    if snapshot and AuditEvent.objects.filter(seq__gt=head_seq).exists():
        forged = AuditEvent.objects.filter(seq__gt=head_seq).order_by("seq").first()
        return ChainVerification(
            False,
            checked,
            forged.seq,
            forged.pk,
            "row past the chain head: not written by the chain",
        )
    return ChainVerification(True, checked)


def audit_event_list(
    *, user: User, q: str = "", action: str = "", target_type: str = "", actor: str = ""
) -> QuerySet[AuditEvent]:
    if not user.has_perm("brokerage.view_auditevent"):
        raise NotAllowed("Only compliance and ops can read the audit log.")
    qs = AuditEvent.objects.order_by("-seq")
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


def audit_action_choices() -> list[str]:
    return list(AuditEvent.objects.order_by().values_list("action", flat=True).distinct())


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
    ).order_by("-seq")[:limit]
