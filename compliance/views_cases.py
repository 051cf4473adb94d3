"""AML case pages for compliance officers: the case list (search, filters, pagination), opening
a case (from a screening alert or for a client), one case with its alerts, notes, files,
history and decisions, its files (private downloads) and its draft report."""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from brokerage.errors import DomainError, InvalidInput
from brokerage.permissions import staff_required
from brokerage.uploads import stored_document_response
from brokerage.views import add_domain_error, paginate
from clients.access import personal_data_viewed
from clients.models import Client, PersonalDataView

from . import case_selectors as selectors
from .case_report import FORMATS, case_report_draft
from .cases import (
    case_alert_add,
    case_assign,
    case_attachment_add,
    case_close,
    case_escalate,
    case_hits_undecided,
    case_investigate,
    case_note_add,
    case_open,
    case_report,
)
from .forms_cases import (
    AddAlertForm,
    AssignForm,
    AttachmentForm,
    CaseFilterForm,
    CaseOpenForm,
    CloseForm,
    HitDecisionsForm,
    NoteForm,
    ReasonForm,
    ReportForm,
)
from .models import Alert, Case, CaseAttachment
from .monitoring.models import Alert as AmlAlert
from .permissions import PERM


@staff_required(PERM)
def cases(request):
    form = CaseFilterForm(request.GET or None, initial={"status": "active"})
    data = form.cleaned_data if form.is_valid() else {}
    page, query = paginate(
        request,
        selectors.case_list(
            q=data.get("q", ""),
            status=data.get("status") or "active",
            assigned=data.get("assigned", ""),
            sla=data.get("sla", ""),
            user=request.user,
        ),
    )
    return render(
        request,
        "compliance/cases.html",
        {"form": form, "page": page, "query": query},
        status=400 if form.errors else 200,
    )


def _number(source, key: str) -> int | None:
    value = source.get(key, "")
    return int(value) if value.isdigit() and len(value) < 10 else None


def _opening_for(request):
    """What a new case is opened for: a screening alert (`?alert=`), an AML alert
    (`?aml_alert=`) or a client (`?client=`); 404 for anything else."""
    source = request.POST if request.method == "POST" else request.GET
    if (pk := _number(source, "alert")) is not None:
        alert = Alert.objects.select_related("client__user", "source").filter(pk=pk).first()
        if alert:
            return alert.client, alert
    elif (pk := _number(source, "aml_alert")) is not None:
        alert = AmlAlert.objects.select_related("client__user", "scenario").filter(pk=pk).first()
        if alert:
            return alert.client, alert
    elif (pk := _number(source, "client")) is not None:
        client = Client.objects.select_related("user").filter(pk=pk).first()
        if client:
            return client, None
    raise Http404("Open a case from an alert or a client.")


def _opening_summary(alert) -> str:
    if isinstance(alert, AmlAlert):
        return f"AML alert {alert.pk}, {alert.scenario.name}: {alert.explanation}"
    return (
        f"Screening alert {alert.pk}: {alert.screened_name} met {alert.source.name} "
        f"entry {alert.list_id} ({alert.matched_name})."
    )


@staff_required(PERM)
def case_new(request):
    client, alert = _opening_for(request)
    monitoring = isinstance(alert, AmlAlert)
    initial = {"summary": _opening_summary(alert)} if alert is not None else {}
    form = CaseOpenForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            case = case_open(
                client=client,
                actor=request.user,
                summary=form.cleaned_data["summary"],
                screening_alerts=[alert] if alert and not monitoring else [],
                aml_alerts=[alert] if monitoring else [],
                assigned_to=form.cleaned_data["assigned_to"],
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(
                request,
                f"{case.reference} opened: the client's deposits, withdrawals, transfers, new "
                "accounts and trading are blocked while it is active.",
            )
            return redirect("compliance:case", case.pk)
    return render(
        request,
        "compliance/case_new.html",
        {
            "form": form,
            "client": client,
            "alert": alert,
            "monitoring": monitoring,
            "aml_alert_url": aml_alert_url(alert.pk) if monitoring else "",
        },
        status=400 if form.errors else 200,
    )


def _act(request, case, action, data):
    user = request.user
    if action == "investigate":
        case_investigate(case=case, actor=user)
        return "Investigation started."
    if action == "escalate":
        case_escalate(case=case, actor=user, reason=data["reason"])
        return "Escalated: a second compliance officer reports or closes it."
    if action == "close":
        case_close(
            case=case, actor=user, reason=data["reason"], hit_decisions=data["hit_decisions"]
        )
        return "Case closed."
    if action == "report":
        case_report(
            case=case,
            actor=user,
            reference=data["sar_reference"],
            filed_on=data["sar_filed_on"],
            hit_decisions=data["hit_decisions"],
        )
        return "The filed report is recorded and the case ended."
    if action == "assign":
        case_assign(case=case, actor=user, officer=data["assigned_to"])
        return "Case assigned."
    if action == "note":
        case_note_add(case=case, actor=user, text=data["text"])
        return "Note added."
    if action == "attach":
        case_attachment_add(
            case=case,
            actor=user,
            uploaded_file=data["file"],
            description=data["description"],
        )
        return "File added."
    if action == "add_alert":
        model = AmlAlert if data["kind"] == "aml" else Alert
        alert = model.objects.filter(pk=data["alert"]).first()
        if alert is None:
            raise InvalidInput(
                f"There is no such alert ({data['alert']}).",
                fields={"alert": ["No such alert."]},
            )
        case_alert_add(case=case, alert=alert, actor=user)
        return "Alert added to the case."
    raise Http404("No such action.")


FORMS = {
    "investigate": None,
    "escalate": ReasonForm,
    "close": CloseForm,
    "report": ReportForm,
    "assign": AssignForm,
    "note": NoteForm,
    "attach": AttachmentForm,
    "add_alert": AddAlertForm,
}


@staff_required(PERM)
def case_detail(request, case_id: int):
    try:
        case = selectors.case_get(case_id)
    except Case.DoesNotExist:
        raise Http404("No such case.") from None
    bound, action, error = None, "", ""
    hits = case_hits_undecided(case) if case.active else []
    if request.method == "POST":
        action = request.POST.get("action", "")
        if action not in FORMS:
            raise Http404("No such action.")
        form_class = FORMS[action]
        bound = _bind(form_class, request, hits)
        if bound is None or bound.is_valid():
            data = bound.cleaned_data if bound else {}
            if isinstance(bound, HitDecisionsForm):
                data = {**data, "hit_decisions": bound.hit_decisions()}
            try:
                done = _act(request, case, action, data)
            except DomainError as exc:
                if bound is not None:
                    add_domain_error(bound, exc)
                error = exc.message
            else:
                messages.success(request, done)
                return redirect("compliance:case", case.pk)
        case = selectors.case_get(case_id)
        hits = case_hits_undecided(case) if case.active else []

    def form(name, form_class):
        if action == name and bound is not None:
            return bound
        return form_class(hits=hits) if issubclass(form_class, HitDecisionsForm) else form_class()

    escalated_by_me = case.escalated_by_id == request.user.pk
    _viewed(request, case, case.reference)
    return render(
        request,
        "compliance/case.html",
        {
            "case": case,
            "action": action,
            "error": error,
            "escalate_form": form("escalate", ReasonForm),
            "close_form": form("close", CloseForm),
            "report_form": form("report", ReportForm),
            "assign_form": form("assign", AssignForm),
            "note_form": form("note", NoteForm),
            "attach_form": form("attach", AttachmentForm),
            "alert_form": form("add_alert", AddAlertForm),
            "notes": case.notes.select_related("author"),
            "attachments": case.attachments.select_related("uploaded_by"),
            "history": selectors.case_history(case),
            "aml_alerts": [
                (a, aml_alert_url(a.pk)) for a in case.aml_alerts.select_related("scenario")
            ],
            "four_eyes_blocked": case.status == "escalated" and escalated_by_me,
            "four_eyes_score": f"{settings.COMPLIANCE_FOUR_EYES_SCORE:.0%}",
        },
        status=400 if error or (bound is not None and bound.errors) else 200,
    )


def _bind(form_class, request, hits):
    if form_class is None:
        return None
    if issubclass(form_class, HitDecisionsForm):
        return form_class(request.POST, request.FILES, hits=hits)
    return form_class(request.POST, request.FILES)


def _viewed(request, case, detail: str) -> None:
    personal_data_viewed(
        request=request,
        client_id=case.client_id,
        what=PersonalDataView.What.AML_CASE,
        detail=detail,
    )


def aml_alert_url(pk: int) -> str:
    return reverse("compliance:aml_alert", args=[pk])


@staff_required(PERM)
def case_attachment(request, case_id: int, attachment_id: int):
    attachment = get_object_or_404(
        CaseAttachment.objects.select_related("case"), pk=attachment_id, case_id=case_id
    )
    _viewed(request, attachment.case, f"{attachment.case.reference} file {attachment.pk}")
    return stored_document_response(
        attachment.file, content_type=attachment.content_type, filename=attachment.name
    )


@staff_required(PERM)
def case_report_file(request, case_id: int, fmt: str):
    if fmt not in FORMATS:
        raise Http404("No such format.")
    case = get_object_or_404(Case, pk=case_id)
    if request.method != "POST":
        return redirect(reverse("compliance:case", args=[case.pk]))
    try:
        body, name = case_report_draft(case=case, actor=request.user, fmt=fmt)
    except DomainError as exc:
        raise PermissionDenied(exc.message) from exc
    _viewed(request, case, f"{case.reference} report draft ({fmt})")
    response = HttpResponse(
        body, content_type="application/json" if fmt == "json" else "application/pdf"
    )
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "private, no-store"
    return response
