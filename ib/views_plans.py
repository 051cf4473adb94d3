"""The plan editor (/backoffice/ib/plans/, IB managers): programmes and their plans, a plan's
versions, a new draft version with its rates, a draft's preview against what was paid, and
publishing it."""

from django.contrib import messages
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from brokerage.errors import DomainError
from brokerage.permissions import staff_required
from brokerage.views import add_domain_error

from .forms_plans import (
    KIND_CHOICES,
    PlanForm,
    ProgrammeForm,
    VersionForm,
    account_type_choices,
    group_choices,
    rule_rows,
    rules_from,
    where_choices,
)
from .models import PartnerPlan, Plan, PlanVersion, Programme
from .plans import plan_create, plan_version_create, plan_version_publish, programme_create
from .preview import preview_window, version_preview

MANAGE = "ib.manage_commissions"


@staff_required(MANAGE)
@require_http_methods(["GET", "POST"])
def plans(request):
    programme_form, plan_form, status = ProgrammeForm(prefix="programme"), None, 200
    plan_form = PlanForm(prefix="plan")
    if request.method == "POST":
        action = request.POST.get("action", "")
        if action == "programme":
            programme_form = ProgrammeForm(request.POST, prefix="programme")
            if programme_form.is_valid():
                data = programme_form.cleaned_data
                name = data.pop("name")
                if Programme.objects.filter(name__iexact=name).exists():
                    programme_form.add_error("name", "A programme has this name.")
                else:
                    programme = programme_create(name=name, actor=request.user, **data)
                    messages.success(request, f"Programme “{programme}” created.")
                    return redirect("ib:plans")
        elif action == "plan":
            plan_form = PlanForm(request.POST, prefix="plan")
            if plan_form.is_valid():
                data = plan_form.cleaned_data
                if Plan.objects.filter(
                    programme=data["programme"], name__iexact=data["name"]
                ).exists():
                    plan_form.add_error("name", "This programme has a plan with this name.")
                else:
                    plan = plan_create(
                        programme=data["programme"], name=data["name"], actor=request.user
                    )
                    messages.success(request, f"Plan “{plan}” created: give it its first rates.")
                    return redirect("ib:plan", plan_id=plan.pk)
        else:
            messages.error(request, "Choose an action.")
        status = 400
    programmes = Programme.objects.prefetch_related("plans").order_by("name")
    counts = dict(
        PartnerPlan.objects.values("plan")
        .annotate(n=Count("partner", distinct=True))
        .values_list("plan", "n")
    )
    versions = {
        row["plan"]: row
        for row in PlanVersion.objects.values("plan").annotate(
            total=Count("id"), drafts=Count("id", filter=Q(published_at__isnull=True))
        )
    }
    rows = [
        (programme, [(p, counts.get(p.pk, 0), versions.get(p.pk)) for p in programme.plans.all()])
        for programme in programmes
    ]
    return render(
        request,
        "ib/plans.html",
        {"rows": rows, "programme_form": programme_form, "plan_form": plan_form},
        status=status,
    )


@staff_required(MANAGE)
@require_http_methods(["GET", "POST"])
def plan(request, plan_id: int):
    plan = get_object_or_404(Plan.objects.select_related("programme"), pk=plan_id)
    latest = plan.versions.order_by("-number").first()
    status = 200
    if request.method == "POST":
        form = VersionForm(request.POST)
        rows = rule_rows(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                version = plan_version_create(
                    plan=plan,
                    valid_from=data["valid_from"],
                    rules=rules_from(rows),
                    actor=request.user,
                    entry=data["entry"],
                    min_hold_seconds=data["min_hold_seconds"],
                    tiers=data["tiers"],
                    tier_percent=data["tier_percent"] or 0,
                    self_trading=data["self_trading"],
                    note=data["note"],
                )
            except DomainError as exc:
                add_domain_error(form, exc)
            else:
                messages.success(
                    request, f"Draft v{version.number} saved: preview it, then publish it."
                )
                return redirect("ib:version", version_id=version.pk)
        status = 400
    else:
        initial = {"valid_from": None}
        if latest:
            initial |= {
                "entry": latest.entry,
                "min_hold_seconds": latest.min_hold_seconds,
                "tiers": latest.tiers,
                "tier_percent": latest.tier_percent,
                "self_trading": latest.self_trading,
            }
        form = VersionForm(initial=initial)
        rows = rule_rows(rules=latest.rules.all() if latest else ())
    versions = plan.versions.annotate(rule_count=Count("rules")).order_by("-number")
    partners = PartnerPlan.objects.filter(plan=plan).select_related("partner__user")
    return render(
        request,
        "ib/plan.html",
        {
            "plan": plan,
            "versions": versions,
            "partners": partners.order_by("-valid_from")[:50],
            "form": form,
            "rows": rows,
            "kinds": KIND_CHOICES,
            "groups": group_choices(),
            "account_types": account_type_choices(),
            "wheres": where_choices(),
        },
        status=status,
    )


@staff_required(MANAGE)
@require_http_methods(["GET", "POST"])
def version(request, version_id: int):
    version = get_object_or_404(
        PlanVersion.objects.select_related("plan__programme", "created_by"), pk=version_id
    )
    if request.method == "POST":
        if request.POST.get("action") != "publish":
            messages.error(request, "Choose an action.")
        else:
            try:
                plan_version_publish(version=version, actor=request.user)
            except DomainError as exc:
                messages.error(request, exc.message)
            else:
                messages.success(request, f"v{version.number} is published.")
        return redirect("ib:version", version_id=version.pk)
    preview, preview_error = None, ""
    start_text = request.GET.get("start", "").strip()[:10]
    end_text = request.GET.get("end", "").strip()[:10]
    if not version.published_at and request.GET.get("preview"):
        try:
            start, end = preview_window(start_text, end_text)
            preview = version_preview(version=version, start=start, end=end)
        except DomainError as exc:
            preview_error = exc.message
    rules = [(rule, rule.scope) for rule in version.rules.select_related("account_type", "region")]
    return render(
        request,
        "ib/version.html",
        {
            "version": version,
            "rules": rules,
            "preview": preview,
            "preview_error": preview_error,
            "start": start_text,
            "end": end_text,
        },
    )
