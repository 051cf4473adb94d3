"""The IB business in the back office (/backoffice/ib/, IB managers): partners with their
figures, a partner's network, plans, lines and statements; commission periods; unpriced deals."""

from datetime import datetime

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from brokerage.errors import DomainError
from brokerage.permissions import staff_required
from brokerage.views import paginate

from .models import CommissionPeriod, Partner, PartnerPlan, PartnerStatement, Programme
from .periods import period_close
from .selectors import (
    partner_chain,
    partner_earnings,
    partner_lines,
    partner_network,
    partners_overview,
    unpriced_deals,
)

MANAGE = "ib.manage_commissions"


@staff_required(MANAGE)
def partners(request):
    q = request.GET.get("q", "").strip()[:100]
    page, query = paginate(request, partners_overview(q=q))
    return render(
        request,
        "ib/partners.html",
        {"page": page, "query": query, "q": q, "unpriced": unpriced_deals().count()},
    )


@staff_required(MANAGE)
def partner(request, partner_id: int):
    p = get_object_or_404(Partner.objects.select_related("user", "parent", "holder"), pk=partner_id)
    page, query = paginate(request, partner_lines(partner=p), 50)
    return render(
        request,
        "ib/partner.html",
        {
            "partner": p,
            "chain": partner_chain(p),
            "subs": partner_network(partner=p)[:50],
            "plans": PartnerPlan.objects.filter(partner=p).select_related("plan")[:20],
            "statements": PartnerStatement.objects.filter(partner=p).select_related("period")[:24],
            "earnings": partner_earnings(partner=p),
            "page": page,
            "query": query,
        },
    )


def _moment(text: str):
    try:
        return timezone.make_aware(datetime.fromisoformat(text.strip()))
    except (ValueError, AttributeError):
        return None


@staff_required(MANAGE)
@require_http_methods(["GET", "POST"])
def periods(request):
    errors = {}
    if request.method == "POST":
        raw = request.POST.get("programme", "")
        programme = (
            Programme.objects.filter(pk=int(raw)).first()
            if raw.isdigit() and len(raw) < 10
            else None
        )
        start, end = _moment(request.POST.get("start", "")), _moment(request.POST.get("end", ""))
        if programme is None:
            errors["programme"] = "Choose a programme."
        if start is None:
            errors["start"] = "A date like 2026-11-01."
        if end is None:
            errors["end"] = "A date like 2026-12-01."
        if not errors:
            try:
                period = period_close(programme=programme, start=start, end=end, actor=request.user)
            except DomainError as exc:
                messages.error(request, exc.message)
            else:
                messages.success(
                    request,
                    f"Closed {period}: {period.lines} lines, "
                    f"{period.statements.count()} statements settled.",
                )
                return redirect("ib:periods")
    page, query = paginate(
        request,
        CommissionPeriod.objects.select_related("programme").order_by("-end"),
    )
    return render(
        request,
        "ib/periods.html",
        {
            "page": page,
            "query": query,
            "programmes": Programme.objects.all(),
            "errors": errors,
            "form": request.POST if request.method == "POST" else {},
        },
    )


@staff_required(MANAGE)
def unpriced(request):
    page, query = paginate(request, unpriced_deals(), 50)
    return render(request, "ib/unpriced.html", {"page": page, "query": query})
