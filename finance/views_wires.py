"""Bank wires in the back-office (/backoffice/finance/wires/): the bank statement upload and
the queue of wires that matched no one, one entry assigned or dismissed, and the wire
withdrawals to pay (the pain.001 file), sent and returned. Finance staff see them; only
finance officers (`finance.manage_wires`) change anything."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from brokerage.errors import DomainError
from brokerage.ids import parse_ids
from brokerage.permissions import staff_required
from brokerage.selectors import audit_trail_for
from brokerage.views import add_domain_error, form_action, paginate

from . import selectors, services
from .forms_wires import AssignForm, BankStatementForm, ReasonForm
from .models import Withdrawal
from .models_wires import BankEntry, BankStatement, WireBatch

VIEW = "finance.view_finance"
MANAGE = "finance.manage_wires"
STATUSES = [("queued", "Waiting for finance")] + [
    c for c in BankEntry.Status.choices if c[0] != "queued"
]


def _manage(request) -> None:
    if not request.user.has_perm(MANAGE):
        raise PermissionDenied("Only finance officers work bank wires.")


@staff_required(VIEW)
@require_http_methods(["GET", "POST"])
def wires(request):
    form = BankStatementForm(request.POST or None, request.FILES or None)
    if request.method == "POST":
        _manage(request)
        if form.is_valid():
            try:
                statement = services.bank_statement_import(
                    fmt=form.cleaned_data["format"],
                    uploaded_file=form.cleaned_data["file"],
                    actor=request.user,
                )
            except DomainError as exc:
                add_domain_error(form, exc)
            else:
                c = statement.counts
                if c.get("matching"):
                    done = (
                        f"{c['matching']} are being matched in the background: their outcome "
                        "shows here within minutes."
                    )
                else:
                    done = (
                        f"{c['credited']} credited, {c['settled']} wires paid, {c['queued']} "
                        f"waiting for you, {c['not_client']} not client wires"
                    )
                messages.success(
                    request,
                    f"{c['entries']} entries read, {c['added']} new: {done}; "
                    f"{c['seen_before']} seen before.",
                )
                return redirect("finance:wires")
    status = request.GET.get("status", "queued")
    status = status if status in BankEntry.Status.values or status == "" else "queued"
    why = request.GET.get("why", "")
    why = why if why in BankEntry.Why.values else ""
    q = request.GET.get("q", "").strip()[:100]
    page, query = paginate(
        request, selectors.bank_entry_list(user=request.user, status=status, why=why, q=q)
    )
    return render(
        request,
        "finance/wires.html",
        {
            "form": form,
            "page": page,
            "query": query,
            "status": status,
            "why": why,
            "q": q,
            "statuses": STATUSES,
            "whys": BankEntry.Why.choices,
            "statements": BankStatement.objects.select_related("uploaded_by")[:5],
        },
        status=400 if form.errors else 200,
    )


@staff_required(VIEW)
@require_http_methods(["GET", "POST"])
def wire_entry(request, entry_id: int):
    entry = get_object_or_404(
        BankEntry.objects.select_related(
            "client__user", "statement", "deposit", "withdrawal", "decided_by"
        ),
        pk=entry_id,
    )
    action = request.POST.get("action") if request.method == "POST" else None
    assign = AssignForm(request.POST if action == "assign" else None)
    dismiss = ReasonForm(request.POST if action == "dismiss" else None, prefix="dismiss")
    if action in ("assign", "dismiss"):
        _manage(request)
        url = reverse("finance:wire_entry", args=[entry.pk])
        if action == "assign":
            done = form_action(
                request,
                assign,
                lambda d: services.bank_entry_assign(
                    entry=entry, client=d["client"], reason=d["reason"], actor=request.user
                ),
                success_url=url,
            )
        else:
            done = form_action(
                request,
                dismiss,
                lambda d: services.bank_entry_dismiss(
                    entry=entry, reason=d["reason"], actor=request.user
                ),
                success_url=url,
            )
        if done is not None:
            return done
    candidates = selectors.clients_by_pk(entry.candidates)
    return render(
        request,
        "finance/wire_entry.html",
        {
            "entry": entry,
            "assign": assign,
            "dismiss": dismiss,
            "candidates": candidates,
            "trail": audit_trail_for(entry),
        },
        status=400 if (assign.errors or dismiss.errors) else 200,
    )


@staff_required(VIEW)
@require_http_methods(["GET", "POST"])
def wire_payments(request):
    if request.method == "POST":
        _manage(request)
        ids = parse_ids(request.POST.getlist("withdrawal"), limit=1000)
        try:
            batch = services.wire_batch_create(withdrawal_ids=ids, actor=request.user)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request,
                f"Payment file {batch.message_id} made with {batch.count} wires, now sent to "
                "the bank: download it and upload it to the bank's e-banking.",
            )
        return redirect("finance:wire_payments")
    return render(
        request,
        "finance/wire_payments.html",
        {**selectors.wire_payments(user=request.user), "return_form": ReasonForm()},
    )


@staff_required(MANAGE)
def wire_batch_file(request, batch_id: int):
    batch = get_object_or_404(WireBatch, pk=batch_id)
    response = HttpResponse(batch.document, content_type="application/xml; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="pain001-{batch.message_id}.xml"'
    return response


@staff_required(MANAGE)
@require_POST
def wire_return(request, withdrawal_id: int):
    w = get_object_or_404(Withdrawal, pk=withdrawal_id)
    form = ReasonForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Say why the wire came back.")
    else:
        try:
            services.wire_return(
                withdrawal=w, reason=form.cleaned_data["reason"], actor=request.user
            )
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"{w.reference}: the money is back in the client's wallet.")
    return redirect("finance:wire_payments")
