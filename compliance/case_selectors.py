"""Reads of AML cases for compliance officers (the role sees every case; nothing below it).

`case_list` is the searchable, filtered list; `case_get` one case with what its page shows;
`client_case_summary` a client's cases for the 360 and the dossier; `officer_list` who a case
can be assigned to."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from brokerage.models import AuditEvent
from brokerage.statements import Statement

from .models import Case, CaseStatus
from .models_cases import ACTIVE_CASE, SlaState

STATUS_FILTERS = [
    ("active", "Active (open, investigating, escalated)"),
    *CaseStatus.choices,
    ("all", "All"),
]
SLA_FILTERS = [
    ("", "Any deadline"),
    (SlaState.BREACHED, "Past its deadline"),
    (SlaState.DUE_SOON, "Due soon"),
    (SlaState.ON_TIME, "On time"),
]


def _sla_filter(queryset: QuerySet[Case], sla: str) -> QuerySet[Case]:
    now = timezone.now()
    soon = now + timedelta(days=settings.COMPLIANCE_CASE_DUE_SOON_DAYS)
    active = queryset.filter(status__in=ACTIVE_CASE)
    if sla == SlaState.BREACHED:
        return active.filter(due_at__lte=now)
    if sla == SlaState.DUE_SOON:
        return active.filter(due_at__gt=now, due_at__lte=soon)
    if sla == SlaState.ON_TIME:
        return active.filter(due_at__gt=soon)
    return queryset


def case_list(
    *, q: str = "", status: str = "active", assigned: str = "", sla: str = "", user=None
) -> QuerySet[Case]:
    """Cases, the soonest deadline first: searched by reference, client id, name or email;
    filtered by status, by officer (`me`, `none` or an officer's id) and by deadline."""
    cases = Case.objects.select_related("client__user", "assigned_to").annotate(
        alert_count=Count("screening_alerts", distinct=True) + Count("aml_alerts", distinct=True)
    )
    if status == "active":
        cases = cases.filter(status__in=ACTIVE_CASE)
    elif status in CaseStatus.values:
        cases = cases.filter(status=status)
    if assigned == "me" and user is not None:
        cases = cases.filter(assigned_to=user)
    elif assigned == "none":
        cases = cases.filter(assigned_to__isnull=True)
    elif assigned.isdigit():
        cases = cases.filter(assigned_to_id=int(assigned))
    cases = _sla_filter(cases, sla)
    q = (q or "").strip()
    if q:
        reference = q.upper().startswith("CASE-")
        number = q.upper().removeprefix("CASE-").lstrip("0") or "0"
        if reference:  # a case's reference: that case only
            pk = int(number) if number.isdigit() and len(number) < 10 else 0
            return cases.filter(pk=pk).order_by("due_at", "pk")
        match = (
            Q(client__user__email__icontains=q)
            | Q(client__user__first_name__icontains=q)
            | Q(client__user__last_name__icontains=q)
            | Q(client__legal_name__icontains=q)
        )
        if number.isdigit() and len(number) < 10:  # a case's or a client's number
            match |= Q(pk=int(number)) | Q(client_id=int(number))
        cases = cases.filter(match)
    return cases.order_by("due_at", "pk")


def case_get(pk: int) -> Case:
    return (
        Case.objects.select_related(
            "client__user", "assigned_to", "opened_by", "escalated_by", "decided_by"
        )
        .prefetch_related("screening_alerts__source")
        .get(pk=pk)
    )


def case_history(case: Case) -> QuerySet[AuditEvent]:
    """The case's audit trail, oldest first."""
    return AuditEvent.objects.filter(
        target_type="compliance.case", target_id=str(case.pk)
    ).order_by("pk")


def officer_list():
    """Active staff who hold the compliance officers' permission."""
    perm = Permission.objects.get(content_type__app_label="compliance", codename="manage_screening")
    return (
        get_user_model()
        .objects.filter(is_active=True, is_staff=True)
        .filter(Q(groups__permissions=perm) | Q(user_permissions=perm) | Q(is_superuser=True))
        .distinct()
        .order_by("email")
    )


_CLIENT_CASES = Statement(
    lambda v: (
        Case.objects.filter(client_id=v.client_id)
        .select_related("assigned_to")
        .order_by("-opened_at", "-pk")
    )
)


def client_case_summary(client) -> dict:
    """The client's cases, newest first, and how many are active (compiled once,
    brokerage.statements)."""
    cases = _CLIENT_CASES(client_id=client.pk)
    return {"cases": cases, "active": sum(1 for c in cases if c.active)}


def active_case_lift_refusal(client) -> str | None:
    """Why the client's AML case reason cannot be lifted now: a case of theirs is still active
    (the reason ends with the last case, `compliance.cases`). Contributed to the kernel's
    `client.aml_case_lift_refusals`."""
    pks = list(
        Case.objects.filter(client_id=client.pk, status__in=ACTIVE_CASE)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if not pks:
        return None
    references = ", ".join(Case(pk=pk).reference for pk in pks)
    return (
        f"{references} {'is' if len(pks) == 1 else 'are'} still active: the AML case reason "
        "is lifted when the client's last case is closed or reported."
    )
