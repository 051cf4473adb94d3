"""Compliance's pages on leverage: the leverage limits (by jurisdiction, category and instrument
class, set and removed by compliance officers) and the queue of clients' requests for
professional status, each decided with the criteria found and the evidence seen."""

from django import forms
from django.contrib import messages
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from brokerage.intl import country_name
from brokerage.leverage_limits import highest, leverage_limit_list, leverage_region_list
from brokerage.models import ClientCategory, LeverageLimit
from brokerage.permissions import staff_required
from brokerage.views import form_action, paginate
from clients.categories import CRITERIA_LABELS, category_request_decide, leverage_caps_of
from clients.categories import PERM as CATEGORY_PERM
from clients.instruments import LEVERAGE_CLASS_LABELS, LEVERAGE_CLASSES
from clients.models import CategoryRequest

from .leverage import leverage_limit_remove, leverage_limit_set
from .permissions import PERM


class LimitForm(forms.Form):
    jurisdiction = forms.CharField(
        max_length=8, help_text="A country code (GB, CY) or a region (EEA, UK, AU)."
    )
    category = forms.ChoiceField(choices=ClientCategory.choices)
    instrument_class = forms.ChoiceField(choices=LEVERAGE_CLASSES, label="Instrument class")
    max_leverage = forms.IntegerField(
        min_value=0,
        max_value=1000,
        label="Highest leverage (1:x)",
        help_text="e.g. 30 for 1:30; 0 where the class is not allowed at all.",
    )
    basis = forms.CharField(max_length=300, label="Legal basis")


class RemoveForm(forms.Form):
    reason = forms.CharField(
        max_length=300, error_messages={"required": "Say why the limit is removed."}
    )


def _jurisdiction_names() -> dict[str, str]:
    return {r.code: r.name for r in leverage_region_list()}


@staff_required(PERM)
def leverage_limits(request):
    form = LimitForm(request.POST or None)
    if request.method == "POST":
        done = form_action(
            request,
            form,
            lambda data: leverage_limit_set(actor=request.user, **data),
            success_url=reverse("compliance:leverage_limits"),
        )
        if done:
            messages.success(request, "Leverage limit saved.")
            return done
    return _limits_page(request, form, status=400 if request.method == "POST" else 200)


def _limits_page(request, form, *, status: int):
    """The limits (filtered by category), the form that sets one, and the regions."""
    names = _jurisdiction_names()
    category = request.GET.get("category", "")
    limits = leverage_limit_list(category=category if category in ClientCategory.values else "")
    rows = [
        {
            "limit": limit,
            "jurisdiction": names.get(limit.jurisdiction) or country_name(limit.jurisdiction),
            "instrument_class": LEVERAGE_CLASS_LABELS.get(limit.instrument_class, "Unknown class"),
        }
        for limit in limits
    ]
    return render(
        request,
        "compliance/leverage_limits.html",
        {
            "form": form,
            "rows": rows,
            "regions": leverage_region_list(),
            "categories": ClientCategory.choices,
            "category": category,
        },
        status=status,
    )


@staff_required(PERM)
@require_POST
def leverage_limit_delete(request, limit_id: int):
    limit = get_object_or_404(LeverageLimit, pk=limit_id)
    form = RemoveForm(request.POST)
    done = form_action(
        request,
        form,
        lambda data: leverage_limit_remove(limit=limit, actor=request.user, reason=data["reason"]),
        success_url=reverse("compliance:leverage_limits"),
    )
    if done:
        messages.success(request, "Leverage limit removed.")
        return done
    messages.error(request, (form.non_field_errors() or form.errors["reason"])[0])
    return _limits_page(request, LimitForm(), status=400)


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(
        choices=[("approve", "Approve"), ("refuse", "Refuse")], widget=forms.RadioSelect
    )
    trades_met = forms.BooleanField(required=False, label=CRITERIA_LABELS["trades"])
    portfolio_met = forms.BooleanField(required=False, label=CRITERIA_LABELS["portfolio"])
    experience_met = forms.BooleanField(required=False, label=CRITERIA_LABELS["experience"])
    evidence = forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="What you saw for each criterion met (statements, documents).",
    )
    reason = forms.CharField(
        required=False, max_length=500, help_text="For a refusal: the client reads it."
    )


@staff_required(CATEGORY_PERM)
def category_requests(request):
    status = request.GET.get("status", "pending")
    qs = CategoryRequest.objects.select_related("client__user", "decided_by")
    if status in CategoryRequest.Status.values:
        qs = qs.filter(status=status)
    qs = qs.order_by("requested_at" if status == "pending" else "-requested_at")
    page, query = paginate(request, qs, 50)
    return render(
        request,
        "compliance/category_requests.html",
        {
            "page": page,
            "query": query,
            "status": status,
            "statuses": [*CategoryRequest.Status.choices, ("all", "All")],
        },
    )


@staff_required(CATEGORY_PERM)
def category_request(request, request_id: int):
    req = get_object_or_404(
        CategoryRequest.objects.select_related("client__user", "decided_by"), pk=request_id
    )
    form = DecisionForm(request.POST or None)
    if request.method == "POST":
        done = form_action(
            request,
            form,
            lambda data: category_request_decide(
                category_request=req,
                approve=data["decision"] == "approve",
                trades_met=data["trades_met"],
                portfolio_met=data["portfolio_met"],
                experience_met=data["experience_met"],
                evidence=data["evidence"],
                reason=data["reason"],
                actor=request.user,
            ),
            success_url=reverse("compliance:category_requests"),
        )
        if done:
            messages.success(request, "Decision recorded; the client is told by email.")
            return done
    client = req.client
    caps = leverage_caps_of(client)
    return render(
        request,
        "compliance/category_request.html",
        {
            "req": req,
            "client": client,
            "form": form,
            "cap": highest(caps),
            "class_caps": [(label, caps[k]) for k, label in LEVERAGE_CLASSES if k in caps],
        },
        status=400 if request.method == "POST" else 200,
    )
