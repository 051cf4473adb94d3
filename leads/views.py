"""Sales work in the back-office: inbox, lead page, desk view, CSV import; the unsubscribe page."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from brokerage import exports
from brokerage.db import reads_from_replica
from brokerage.errors import DomainError, NotAllowed
from brokerage.models import Desk
from brokerage.permissions import require, staff_required
from brokerage.views import form_action, paginate

from . import callbacks, imports, selectors, services, sla
from .forms import (
    BulkReassignForm,
    CallbackDoneForm,
    CallbackForm,
    CallForm,
    DeskSlaForm,
    EmailLogForm,
    LeadFilterForm,
    MappingForm,
    NoteForm,
    ReassignForm,
    StatusForm,
    UploadForm,
)
from .models import Callback, Lead, LeadImport
from .validation import FIELDS


def _lead_or_404(request, lead_id):
    try:
        return selectors.lead_get(user=request.user, lead_id=lead_id)
    except Lead.DoesNotExist as exc:
        raise Http404 from exc
    except NotAllowed as exc:
        raise PermissionDenied(str(exc)) from exc


LEAD_COLUMNS = [
    *exports.columns("lead_id=pk"),
    *exports.person_columns(),
    *exports.columns("phone", personal=True),
    *exports.columns("country", "status=get_status_display()", "score", "source"),
    *exports.columns("campaign=utm_campaign", "referral_code", "channel=get_channel_display()"),
    *exports.columns("desk=desk.name"),
    exports.staff_column("agent", "assigned_to"),
    *exports.columns("client_id", "created_at_utc=created_at"),
]


def _list(request, scope, title, template="leads/list.html", bulk_form=None, status=200):
    options = selectors.lead_filter_options(user=request.user, scope=scope)
    filter_form = LeadFilterForm(request.GET, options=options)
    filter_form.is_valid()  # a bad value is shown on the form, and not applied
    data = filter_form.cleaned_data
    filters = selectors.LeadFilters(
        status=data.get("status") or "",
        q=(data.get("q") or "").strip(),
        desk_id=data.get("desk"),
        agent_id=data.get("agent"),
        source=data.get("source") or "",
        country=data.get("country") or "",
        created_from=data.get("created_from"),
        created_to=data.get("created_to"),
    )
    leads = selectors.lead_list(user=request.user, scope=scope, filters=filters)
    if "export" in request.GET:
        return exports.list_export(
            request, exports.Listing(f"leads.{scope}", title, LEAD_COLUMNS), leads
        )
    page, query = paginate(request, leads)
    now = timezone.now()
    rows = []
    for lead in page:
        left = sla.sla_minutes_left(lead, now)
        breached = sla.sla_breached(lead, now)
        rows.append(
            {
                "lead": lead,
                "breached": breached,
                "sla_left": left,
                "sla_over": -left if breached and left is not None else None,
            }
        )
    ctx = {
        "export_query": exports.export_query(request.GET),
        "page": page,
        "rows": rows,
        "query": query,
        "title": title,
        "scope": scope,
        "filter_form": filter_form,
        "sla_minutes": sla.sla_minutes(
            getattr(getattr(request.user, "staff_profile", None), "desk", None)
        ),
        "now": now,
        "read_only": scope == "figures",
    }
    if scope == "mine" and not request.htmx:
        ctx["callbacks"] = list(callbacks.callbacks_open_for(user=request.user)[:20])
    if scope != "mine" and _may_reassign(request.user):
        ctx["bulk_form"] = bulk_form or BulkReassignForm(
            targets=selectors.reassign_targets(user=request.user)
        )
    if request.htmx:
        return render(request, "leads/_rows.html", ctx, status=status)
    return render(request, template, ctx, status=status)


def _may_reassign(user) -> bool:
    return user.has_perm("leads.manage_desk_leads") or user.has_perm("leads.view_all_leads")


@staff_required("leads.work_leads")
def inbox(request):
    return _list(request, "mine", "My leads")


@staff_required("leads.view_all_leads")
@reads_from_replica()
def all_leads(request):
    return _list(request, "all", "All leads")


@staff_required("brokerage.view_leadership")
@reads_from_replica()
def figures_leads(request):
    """The leads behind the leadership figures, for the roles that lead (an executive has no
    lead list of their own): filtered as the figures are, read only (no reassigning)."""
    return _list(request, "figures", "Leads behind the figures")


def _desk_page(request, sla_form=None, sla_desk=None, status=200):
    ctx = selectors.desk_overview(user=request.user)
    ctx["sla_forms"] = [
        (
            d,
            sla_form
            if sla_desk is not None and d.pk == sla_desk.pk
            else DeskSlaForm(initial={"minutes": d.sla_minutes}, prefix=f"desk{d.pk}"),
        )
        for d in ctx["desks"]
        if sla.desk_sla_editable(request.user, d)
    ]
    return render(request, "leads/desk.html", ctx, status=status)


@staff_required("leads.manage_desk_leads")
def desk(request):
    return _desk_page(request)


@staff_required("leads.manage_desk_leads")
@reads_from_replica()
def desk_leads(request):
    return _list(request, "desk", "Desk leads")


@require(lambda user: user.is_staff and _may_reassign(user), "Only desk managers reassign leads.")
@require_POST
def bulk_reassign(request):
    """Reassign the ticked leads of a list (desk managers: their desks'; ops: any)."""
    scope = "all" if request.user.has_perm("leads.view_all_leads") else "desk"
    back = reverse("leads:all" if scope == "all" else "leads:desk_leads")
    form = BulkReassignForm(request.POST, targets=selectors.reassign_targets(user=request.user))
    response = form_action(
        request,
        form,
        lambda d: services.leads_bulk_reassign(
            lead_ids=[lead.pk for lead in d["leads"]],
            actor=request.user,
            to_user=d["to_user"],
            reason=d["reason"],
        ),
        success_url=back + "?" + request.POST.get("query", "")[:1000],
    )
    if response is not None:
        messages.success(request, f"{len(form.cleaned_data['leads'])} leads reassigned.")
        return response
    title = "All leads" if scope == "all" else "Desk leads"
    return _list(request, scope, title, bulk_form=form, status=400)


@staff_required("leads.manage_desk_leads")
@require_POST
def desk_sla(request, desk_id: int):
    desk = Desk.objects.filter(pk=desk_id).first()
    if desk is None or not sla.desk_sla_editable(request.user, desk):
        raise PermissionDenied("Only the desk's manager can change its SLA.")
    form = DeskSlaForm(request.POST, prefix=f"desk{desk.pk}")
    response = form_action(
        request,
        form,
        lambda d: sla.desk_sla_set(
            desk=desk, actor=request.user, minutes=d["minutes"], reason=d["reason"]
        ),
        success_url=reverse("leads:desk"),
    )
    return response or _desk_page(request, sla_form=form, sla_desk=desk, status=400)


def _detail_context(request, lead, **forms):
    ctx = {
        "lead": lead,
        "timeline": selectors.lead_timeline(lead=lead)[:200],
        "note_form": forms.get("note_form") or NoteForm(),
        "call_form": forms.get("call_form") or CallForm(),
        "email_form": forms.get("email_form") or EmailLogForm(),
        "status_form": forms.get("status_form") or StatusForm(initial={"status": lead.status}),
        "callback_form": forms.get("callback_form") or CallbackForm(),
        "callbacks": callbacks.callbacks_of_lead(lead=lead),
        "now": timezone.now(),
        "breached": sla.sla_breached(lead),
        "sla_due_at": sla.sla_due_at(lead),
        "sla_minutes": sla.sla_minutes(lead.desk),
        "nurture": getattr(lead, "nurture", None),
        "touches": lead.touches.all()[:20],
    }
    if request.user.has_perm("leads.manage_desk_leads") or request.user.has_perm(
        "leads.view_all_leads"
    ):
        ctx["reassign_form"] = forms.get("reassign_form") or ReassignForm(
            targets=selectors.reassign_targets(user=request.user, lead=lead)
        )
    return ctx


@staff_required("brokerage.access_backoffice")
def lead_detail(request, lead_id: int):
    lead = _lead_or_404(request, lead_id)
    return render(request, "leads/detail.html", _detail_context(request, lead))


def _act(request, lead, form, action, form_name):
    """Run one action on the lead from a posted form; re-render with errors, never a 500."""
    url = reverse("leads:detail", kwargs={"lead_id": lead.pk})
    response = form_action(request, form, action, success_url=url)
    if response is not None:
        return response
    ctx = _detail_context(request, lead, **{form_name: form})
    ctx["active_tab"] = form_name.removesuffix("_form")
    return render(request, "leads/detail.html", ctx, status=400)


@staff_required("brokerage.access_backoffice")
@require_POST
def lead_note(request, lead_id: int):
    lead = _lead_or_404(request, lead_id)
    return _act(
        request,
        lead,
        NoteForm(request.POST),
        lambda d: services.lead_note_add(lead=lead, actor=request.user, text=d["text"]),
        "note_form",
    )


@staff_required("brokerage.access_backoffice")
@require_POST
def lead_call(request, lead_id: int):
    lead = _lead_or_404(request, lead_id)
    return _act(
        request,
        lead,
        CallForm(request.POST),
        lambda d: services.lead_call_log(
            lead=lead,
            actor=request.user,
            outcome=d["outcome"],
            duration_seconds=d["duration_minutes"] * 60,
            notes=d["notes"],
        ),
        "call_form",
    )


@staff_required("brokerage.access_backoffice")
@require_POST
def lead_email(request, lead_id: int):
    lead = _lead_or_404(request, lead_id)
    return _act(
        request,
        lead,
        EmailLogForm(request.POST),
        lambda d: services.lead_email_log(
            lead=lead, actor=request.user, subject=d["subject"], notes=d["notes"]
        ),
        "email_form",
    )


@staff_required("brokerage.access_backoffice")
@require_POST
def lead_status(request, lead_id: int):
    lead = _lead_or_404(request, lead_id)
    return _act(
        request,
        lead,
        StatusForm(request.POST),
        lambda d: services.lead_status_change(
            lead=lead, actor=request.user, to=d["status"], reason=d["reason"]
        ),
        "status_form",
    )


@staff_required("brokerage.access_backoffice")
@require_POST
def lead_reassign(request, lead_id: int):
    lead = _lead_or_404(request, lead_id)
    form = ReassignForm(
        request.POST, targets=selectors.reassign_targets(user=request.user, lead=lead)
    )
    return _act(
        request,
        lead,
        form,
        lambda d: services.lead_reassign(
            lead=lead, actor=request.user, to_user=d["to_user"], reason=d["reason"]
        ),
        "reassign_form",
    )


@staff_required("brokerage.access_backoffice")
@require_POST
def lead_callback(request, lead_id: int):
    lead = _lead_or_404(request, lead_id)
    return _act(
        request,
        lead,
        CallbackForm(request.POST),
        lambda d: callbacks.callback_schedule(
            lead=lead, actor=request.user, due_at=d["due_at"], note=d["note"]
        ),
        "callback_form",
    )


@staff_required("brokerage.access_backoffice")
@require_POST
def callback_done(request, callback_id: int):
    callback = get_object_or_404(Callback, pk=callback_id)
    back = request.POST.get("next", "")
    url = reverse("leads:inbox") if back == "inbox" else None
    form = CallbackDoneForm(request.POST)
    try:
        if form.is_valid():
            callbacks.callback_complete(
                callback=callback, actor=request.user, note=form.cleaned_data["note"]
            )
    except NotAllowed as exc:
        raise PermissionDenied(exc.message) from exc
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect(url or reverse("leads:detail", kwargs={"lead_id": callback.lead_id}))


# --- Import -------------------------------------------------------------------------------------


@staff_required("leads.import_leads")
@require_http_methods(["GET", "POST"])
def import_list(request):
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            lead_import = imports.lead_import_upload(
                actor=request.user, uploaded_file=form.cleaned_data["file"]
            )
        except DomainError as exc:
            form.add_error("file", exc.message)
        else:
            return redirect("leads:import", import_id=lead_import.pk)
    page, query = paginate(request, selectors.lead_import_list(user=request.user))
    return render(
        request,
        "leads/imports.html",
        {"form": form, "page": page, "query": query},
        status=400 if form.errors else 200,
    )


def _import_or_404(request, import_id):
    return get_object_or_404(selectors.lead_import_list(user=request.user), pk=import_id)


@staff_required("leads.import_leads")
@require_http_methods(["GET", "POST"])
def import_detail(request, import_id: int):
    lead_import = _import_or_404(request, import_id)
    form = MappingForm(request.POST or None, lead_import=lead_import)
    if request.method == "POST":
        if request.POST.get("action") == "start":
            try:
                imports.lead_import_start(lead_import=lead_import, actor=request.user)
            except DomainError as exc:
                messages.error(request, exc.message)
            return redirect("leads:import", import_id=lead_import.pk)
        if form.is_valid():
            try:
                imports.lead_import_set_mapping(
                    lead_import=lead_import,
                    actor=request.user,
                    mapping=form.mapping(),
                    source=form.cleaned_data["source"],
                    mode=form.cleaned_data["mode"],
                )
            except DomainError as exc:
                form.add_error(None, exc.message)
            else:
                return redirect("leads:import", import_id=lead_import.pk)
    return render(
        request,
        "leads/import_detail.html",
        {
            "imp": lead_import,
            "form": form,
            "fields": FIELDS,
            "progress": imports.progress(lead_import),
        },
        status=400 if form.errors else 200,
    )


@staff_required("leads.import_leads")
def import_progress(request, import_id: int):
    lead_import = _import_or_404(request, import_id)
    running = lead_import.state in (LeadImport.State.CHECKING, LeadImport.State.IMPORTING)
    if not running and request.htmx:
        return HttpResponseClientRedirect(f"/backoffice/leads/imports/{lead_import.pk}/")
    return render(
        request,
        "leads/_import_progress.html",
        {"imp": lead_import, "progress": imports.progress(lead_import)},
    )


@staff_required("leads.import_leads")
def import_errors_csv(request, import_id: int):
    lead_import = _import_or_404(request, import_id)
    rows = [
        (error["row"], field, problem)
        for error in lead_import.errors
        for field, problems in error["fields"].items()
        for problem in problems
    ]
    listing = exports.Listing(
        "leads.import_errors",
        f"import {lead_import.pk} errors",
        exports.tuple_columns("row", "field", "problem"),
    )
    return exports.list_export(request, listing, rows, default="csv")


# --- Public ---------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def unsubscribe(request, token: str):
    done, problem = False, ""
    if request.method == "POST":
        try:
            services.lead_unsubscribe(token=token)
            done = True
        except DomainError as exc:
            problem = exc.message
    return render(
        request,
        "leads/unsubscribe.html",
        {"done": done, "problem": problem},
        status=400 if problem else 200,
    )
