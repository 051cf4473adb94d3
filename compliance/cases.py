"""AML case work: the one way a case is opened, worked and decided (`compliance.models_cases`).

Every function here is keyword-only with an explicit `actor=` (a compliance officer; a named
compliance rule may open a case, never decide one), runs in one transaction, locks the case
and then the client (`clients.locks`: the client's row last), changes the case through its
state machine and records an `AuditEvent` with the client as subject in that transaction.

The client's standing follows their cases: the first case to open sets the AML case reason
(`clients.services.client_aml_case_set`: no deposit, withdrawal, transfer or new trading
account, and trading disabled on the platform) and the last to be reported or closed lifts it.
Nothing else sets or lifts it, so the reason stands exactly while a case is active. The
client is never told: their pages and refusals say only that the account is under review.

An escalated case is decided by a second officer: whoever escalated it can neither close it
nor report it (four eyes).

A case ends (closed or reported) with its screening hits decided: the officer says of each
undecided hit whether it is a true match (the client's standing is blocked, as confirming a
hit on its own page does) or a false positive (remembered, not raised again); a case with a
hit left undecided does not end. A false positive at or above the four-eyes score needs a
second officer, as on the hit's page: one officer proposes it there, another ends the case.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from brokerage.errors import InvalidInput, NotAllowed
from brokerage.services import Actor, audit_record
from brokerage.uploads import check_upload
from clients.locks import lock_client
from clients.services import client_aml_case_set

from . import audit_events
from .models import UNDECIDED, Alert, AlertStatus, Case, CaseAttachment, CaseNote, CaseStatus
from .models_cases import ACTIVE_CASE
from .monitoring.models import Alert as AmlAlert
from .monitoring.models import AlertStatus as AmlAlertStatus
from .permissions import PERM, require_officer
from .services import alert_confirm, alert_dismiss

MESSAGE = "Only compliance officers work AML cases."


def _text(value: str, what: str, field: str = "reason") -> str:
    value = " ".join((value or "").split())
    if not value:
        raise InvalidInput(f"Say {what}.", fields={field: ["This is required."]})
    return value


def _officer(actor) -> None:
    """A decision on a case is a compliance officer's, in person."""
    require_officer(actor, MESSAGE)
    if isinstance(actor, str):
        raise NotAllowed("A compliance officer decides a case, not a rule.")


def _locked(case: Case | int, *, aml_alerts=()) -> Case:
    """The client, the case, then its AML alerts (and `aml_alerts` about to join it), locked
    in that order: compliance's own rows come after the client's (`clients.locks`), as AML
    monitoring locks a client's alerts after the client."""
    client_id = Case.objects.values_list("client_id", flat=True).get(pk=getattr(case, "pk", case))
    client = lock_client(client_id)
    case = Case.objects.select_for_update().get(pk=getattr(case, "pk", case))
    _lock_aml_alerts([*case.aml_alerts.values_list("pk", flat=True), *aml_alerts])
    case.client = client
    return case


def _lock_aml_alerts(pks) -> None:
    if pks:
        list(AmlAlert.objects.select_for_update().filter(pk__in=pks).order_by("pk").values("pk"))


def _record(case: Case, *, actor: Actor, action: str, reason: str = "", **evidence) -> None:
    audit_record(
        actor=actor,
        action=action,
        target=case,
        subject=case.client,
        reason=reason,
        evidence={"case": case.reference, "status": case.status, **evidence},
    )


def _standing_follow(case: Case, *, actor: Actor, reason: str) -> None:
    """Set or lift the client's AML case reason to what their cases say now."""
    active = Case.objects.filter(client_id=case.client_id, status__in=ACTIVE_CASE).exists()
    if case.client.aml_case_open != active:
        case.client = client_aml_case_set(
            client=case.client, is_open=active, actor=actor, reason=f"{case.reference}: {reason}"
        )


def _alert_name(alert) -> str:
    return f"AML alert {alert.pk}" if isinstance(alert, AmlAlert) else f"Screening alert {alert.pk}"


def _same_client(client_id: int, alerts) -> list:
    alerts = list(alerts or [])
    for alert in alerts:
        if alert.client_id != client_id:
            raise InvalidInput(
                f"{_alert_name(alert)} is about another client; a case is about one client."
            )
        if isinstance(alert, AmlAlert) and alert.status == AmlAlertStatus.CLOSED:
            raise InvalidInput(f"{_alert_name(alert)} is closed.")
    return alerts


def _aml_alerts_take(case: Case, alerts, actor) -> None:
    """The AML alerts join the case and are worked in it (`Alert.move_to_case`)."""
    for alert in alerts:
        alert.move_to_case(actor=actor, case=case)
    case.aml_alerts.add(*alerts)


def _assignable(officer) -> None:
    if officer is None:
        return
    if not (officer.is_active and officer.is_staff and officer.has_perm(PERM)):
        raise InvalidInput(
            "Cases are assigned to compliance officers only.",
            fields={"assigned_to": ["Choose a compliance officer."]},
        )


@transaction.atomic
def case_open(
    *,
    client,
    actor: Actor,
    summary: str,
    screening_alerts=(),
    aml_alerts=(),
    assigned_to=None,
) -> Case:
    """Open a case on `client` for `summary`, grouping the given screening hits and AML
    alerts (each moved into the case), due in COMPLIANCE_CASE_DUE_DAYS; the client's standing
    gets the AML case reason."""
    require_officer(actor, MESSAGE)
    summary = _text(summary, "why the case is opened", "summary")
    _assignable(assigned_to)
    client = lock_client(client)
    _lock_aml_alerts([a.pk for a in aml_alerts])
    alerts = _same_client(client.pk, screening_alerts)
    monitoring = _same_client(client.pk, AmlAlert.objects.filter(pk__in=[a.pk for a in aml_alerts]))
    now = timezone.now()
    user = None if isinstance(actor, str) else actor
    case = Case.objects.create(
        client=client,
        summary=summary,
        opened_by=user,
        actor_label=actor if isinstance(actor, str) else actor.email,
        opened_at=now,
        due_at=now + timedelta(days=settings.COMPLIANCE_CASE_DUE_DAYS),
        assigned_to=assigned_to or user,
    )
    case.screening_alerts.add(*alerts)
    _aml_alerts_take(case, monitoring, actor)
    _record(
        case,
        actor=actor,
        action=audit_events.CASE_OPENED,
        reason=summary,
        screening_alerts=[a.pk for a in alerts],
        aml_alerts=[a.pk for a in monitoring],
        assigned_to=case.assigned_to_id,
        due_at=case.due_at.isoformat(),
    )
    _standing_follow(case, actor=actor, reason=summary)
    return case


def _active(case: Case) -> None:
    if not case.active:
        raise InvalidInput(f"{case.reference} is {case.get_status_display().lower()}.")


@transaction.atomic
def case_alert_add(*, case: Case, alert: Alert | AmlAlert, actor: Actor) -> Case:
    """Add a screening hit or an AML alert on the case's client to the case (an AML alert is
    moved into it)."""
    _officer(actor)
    monitoring = isinstance(alert, AmlAlert)
    case = _locked(case, aml_alerts=[alert.pk] if monitoring else [])
    _active(case)
    if monitoring:
        alert = AmlAlert.objects.get(pk=alert.pk)
    _same_client(case.client_id, [alert])
    related = case.aml_alerts if monitoring else case.screening_alerts
    if related.filter(pk=alert.pk).exists():
        raise InvalidInput(f"{_alert_name(alert)} is already in {case.reference}.")
    if monitoring:
        _aml_alerts_take(case, [alert], actor)
    else:
        case.screening_alerts.add(alert)
    _record(
        case,
        actor=actor,
        action=audit_events.CASE_ALERT_ADDED,
        **{"aml_alert" if monitoring else "screening_alert": alert.pk},
    )
    return case


@transaction.atomic
def case_assign(*, case: Case, actor: Actor, officer) -> Case:
    """Give the case to `officer` (a compliance officer)."""
    _officer(actor)
    if officer is None:
        raise InvalidInput("Choose an officer.", fields={"assigned_to": ["Choose an officer."]})
    _assignable(officer)
    case = _locked(case)
    _active(case)
    if case.assigned_to_id == officer.pk:
        raise InvalidInput(f"{case.reference} is already assigned to {officer.email}.")
    previous = case.assigned_to_id
    case.assigned_to = officer
    case.save(update_fields=["assigned_to"])
    _record(
        case,
        actor=actor,
        action=audit_events.CASE_ASSIGNED,
        assigned_to=officer.pk,
        previously=previous,
    )
    return case


@transaction.atomic
def case_note_add(*, case: Case, actor: Actor, text: str) -> CaseNote:
    _officer(actor)
    text = (text or "").strip()
    if not text:
        raise InvalidInput("Write the note.", fields={"text": ["The note is empty."]})
    if len(text) > 10_000:
        raise InvalidInput(
            "A note is at most 10,000 characters.", fields={"text": ["Too long: shorten it."]}
        )
    case = _locked(case)
    note = CaseNote.objects.create(case=case, author=actor, text=text)
    _record(case, actor=actor, action=audit_events.CASE_NOTE_ADDED, note=note.pk, text=text)
    return note


@transaction.atomic
def case_investigate(*, case: Case, actor: Actor) -> Case:
    """An officer starts the investigation (and takes the case if nobody has it)."""
    _officer(actor)
    case = _locked(case)
    if case.status != CaseStatus.OPEN:
        raise InvalidInput(f"{case.reference} is {case.get_status_display().lower()}.")
    case.investigate()
    case.investigating_at = timezone.now()
    if case.assigned_to_id is None:
        case.assigned_to = actor
    case.save()
    _record(
        case, actor=actor, action=audit_events.CASE_INVESTIGATING, assigned_to=case.assigned_to_id
    )
    return case


@transaction.atomic
def case_escalate(*, case: Case, actor: Actor, reason: str) -> Case:
    """The investigating officer escalates: a second officer reports or closes it."""
    _officer(actor)
    reason = _text(reason, "why you escalate")
    case = _locked(case)
    if case.status != CaseStatus.INVESTIGATING:
        raise InvalidInput(
            f"{case.reference} is {case.get_status_display().lower()}: only a case under "
            "investigation is escalated."
        )
    case.escalate()
    case.escalated_by, case.escalated_at, case.escalation_reason = actor, timezone.now(), reason
    case.save()
    _record(case, actor=actor, action=audit_events.CASE_ESCALATED, reason=reason)
    return case


def _aml_alerts_close(case: Case, *, actor, reason: str) -> list[int]:
    """The case's AML alerts still worked in it close with it, unless another active case
    still holds them."""
    closed = []
    for alert in case.aml_alerts.filter(status=AmlAlertStatus.IN_CASE).order_by("pk"):
        if alert.cases.exclude(pk=case.pk).filter(status__in=ACTIVE_CASE).exists():
            continue
        alert.close(reason, actor)
        closed.append(alert.pk)
    return closed


class HitDecision:
    """What the officer ending a case says of each undecided screening hit it carries."""

    TRUE_MATCH = "true_match"
    FALSE_POSITIVE = "false_positive"
    CHOICES = [
        (TRUE_MATCH, "Confirm as a true match"),
        (FALSE_POSITIVE, "Dismiss as a false positive"),
    ]


def case_hits_undecided(case: Case) -> list[Alert]:
    """The case's screening hits nobody has decided yet (open, or a dismissal awaiting a
    second officer): the officer ending the case decides each."""
    return list(
        case.screening_alerts.filter(status__in=UNDECIDED).select_related("source").order_by("pk")
    )


def _hits_check(case: Case, decisions) -> dict[int, str]:
    """Every undecided hit of the case has a decision, and each decision names one of them
    with a known choice; refused with a field per hit otherwise, before anything changes."""
    decisions = {int(pk): value for pk, value in (decisions or {}).items()}
    undecided = {a.pk for a in case_hits_undecided(case)}
    fields = {}
    for pk, value in decisions.items():
        if pk not in undecided:
            fields[f"hit_{pk}"] = [f"Screening alert {pk} is not an undecided hit of this case."]
        elif value not in (HitDecision.TRUE_MATCH, HitDecision.FALSE_POSITIVE):
            fields[f"hit_{pk}"] = ["Choose true match or false positive."]
    for pk in sorted(undecided - set(decisions)):
        fields[f"hit_{pk}"] = ["Choose true match or false positive."]
    if fields:
        raise InvalidInput(
            f"Decide each screening hit of {case.reference} before it ends: a true match or "
            "a false positive.",
            code="hits_undecided",
            fields=fields,
        )
    return decisions


def _hits_decide(case: Case, decisions: dict[int, str], *, actor, reason: str) -> dict:
    """Decide the case's hits as the officer said (through the screening decisions, so a true
    match blocks the client and a false positive is remembered); a dismissal that needs a
    second officer (at or above the four-eyes score) and has none refuses the whole step."""
    decided = {}
    for pk, value in sorted(decisions.items()):
        alert = Alert.objects.get(pk=pk)
        if value == HitDecision.TRUE_MATCH:
            alert = alert_confirm(alert=alert, actor=actor, reason=reason)
        else:
            alert = alert_dismiss(alert=alert, actor=actor, reason=reason)
            if alert.status == AlertStatus.DISMISSAL_PROPOSED:
                raise NotAllowed(
                    f"Four eyes: screening alert {pk} scores {alert.score:.0%}, so its dismissal "
                    "needs a second compliance officer. Propose it on the hit's page (or call it "
                    "a true match); another officer then ends the case, approving it.",
                    code="four_eyes",
                    fields={f"hit_{pk}": ["A second officer approves this dismissal."]},
                )
        decided[str(pk)] = alert.status
    return decided


def _four_eyes(case: Case, actor) -> None:
    if case.status == CaseStatus.ESCALATED and case.escalated_by_id == actor.pk:
        raise NotAllowed(
            "Four eyes: a second compliance officer decides an escalated case, not the one who "
            "escalated it.",
            code="four_eyes",
        )


@transaction.atomic
def case_close(*, case: Case, actor: Actor, reason: str, hit_decisions=None) -> Case:
    """Close the case with a reason (an escalated case: by another officer than the one who
    escalated it), deciding each undecided screening hit it carries (`hit_decisions`: the
    hit's pk -> true match or false positive). The last active case of the client lifts their
    AML case reason."""
    _officer(actor)
    reason = _text(reason, "why the case is closed")
    case = _locked(case)
    _active(case)
    _four_eyes(case, actor)
    decisions = _hits_check(case, hit_decisions)
    escalated = case.status == CaseStatus.ESCALATED
    case.close()
    case.decided_by, case.decided_at, case.close_reason = actor, timezone.now(), reason
    case.save()
    hits = _hits_decide(case, decisions, actor=actor, reason=f"{case.reference} closed: {reason}")
    closed = _aml_alerts_close(case, actor=actor, reason=f"{case.reference} closed: {reason}")
    _record(
        case,
        actor=actor,
        action=audit_events.CASE_CLOSED,
        reason=reason,
        four_eyes=escalated,
        escalated_by=case.escalated_by_id,
        aml_alerts_closed=closed,
        screening_hits_decided=hits,
    )
    _standing_follow(case, actor=actor, reason=f"closed: {reason}")
    return case


@transaction.atomic
def case_report(
    *, case: Case, actor: Actor, reference: str, filed_on: date, hit_decisions=None
) -> Case:
    """Record the suspicious activity report filed with the authority for an escalated case
    (by another officer than the one who escalated it): its reference and filing date,
    deciding each undecided screening hit it carries, as closing does."""
    _officer(actor)
    reference = _text(reference, "the report's reference", "sar_reference")
    if len(reference) > 100:
        raise InvalidInput(
            "A reference is at most 100 characters.", fields={"sar_reference": ["Too long."]}
        )
    if filed_on is None:
        raise InvalidInput("Give the filing date.", fields={"sar_filed_on": ["Required."]})
    case = _locked(case)
    if filed_on > timezone.localdate() or filed_on < case.opened_at.date():
        raise InvalidInput(
            "The filing date is between the case's opening and today.",
            fields={"sar_filed_on": ["Not a date the report can have been filed."]},
        )
    if case.status != CaseStatus.ESCALATED:
        raise InvalidInput(
            f"{case.reference} is {case.get_status_display().lower()}: a report is recorded on "
            "an escalated case."
        )
    _four_eyes(case, actor)
    decisions = _hits_check(case, hit_decisions)
    case.report()
    case.decided_by, case.decided_at = actor, timezone.now()
    case.sar_reference, case.sar_filed_on = reference, filed_on
    case.save()
    hits = _hits_decide(
        case, decisions, actor=actor, reason=f"{case.reference} reported as {reference}"
    )
    closed = _aml_alerts_close(
        case, actor=actor, reason=f"{case.reference} reported to the authority as {reference}"
    )
    _record(
        case,
        actor=actor,
        action=audit_events.CASE_REPORTED,
        reason=f"Report {reference} filed on {filed_on.isoformat()}",
        sar_reference=reference,
        sar_filed_on=filed_on.isoformat(),
        escalated_by=case.escalated_by_id,
        aml_alerts_closed=closed,
        screening_hits_decided=hits,
    )
    _standing_follow(case, actor=actor, reason=f"reported as {reference}")
    return case


@transaction.atomic
def case_attachment_add(
    *, case: Case, actor: Actor, uploaded_file, description: str = ""
) -> CaseAttachment:
    """Add a file to the case: checked as every upload is (`brokerage.uploads`: JPEG, PNG or
    PDF, size- and page-limited, active content refused), stored privately under a random
    name. The same file twice on one case is refused."""
    _officer(actor)
    if uploaded_file is None:
        raise InvalidInput("Choose a file.", fields={"file": ["Choose a file."]})
    checked = check_upload(uploaded_file)
    description = " ".join((description or "").split())
    if len(description) > 300:
        raise InvalidInput(
            "A description is at most 300 characters.", fields={"description": ["Too long."]}
        )
    case = _locked(case)
    if case.attachments.filter(sha256=checked.sha256).exists():
        raise InvalidInput(
            f"This file is already on {case.reference}.", fields={"file": ["Already added."]}
        )
    attachment = CaseAttachment(
        case=case,
        name=checked.original_name[:200] or f"file.{checked.extension}",
        content_type=checked.content_type,
        size=len(checked.data),
        sha256=checked.sha256,
        description=description,
        uploaded_by=actor,
    )
    attachment.file.save(
        f"{uuid.uuid4().hex}.{checked.extension}", ContentFile(checked.data), save=False
    )
    attachment.save()
    _record(
        case,
        actor=actor,
        action=audit_events.CASE_ATTACHMENT_ADDED,
        attachment=attachment.pk,
        name=attachment.name,
        sha256=attachment.sha256,
        size=attachment.size,
    )
    return attachment
