"""The IB partner area (/partners/)."""

from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render

from brokerage.views import paginate

from .models import CommissionLine
from .permissions import partner_required
from .selectors import (
    mask_email,
    mask_name,
    partner_earnings,
    partner_lines,
    partner_network,
    partner_statements,
)
from .statements import statement_csv, statement_pdf


@partner_required
def home(request):
    partner = request.user.partner
    return render(
        request,
        "partners/home.html",
        {
            "partner": partner,
            "referral_url": f"{settings.SITE_URL.rstrip('/')}/r/{partner.referral_code}",
            "sub_count": partner.sub_partners.count(),
            "referred_count": partner.referrals.count(),
        },
    )


@partner_required
def network(request):
    page, query = paginate(request, partner_network(partner=request.user.partner))
    return render(request, "partners/network.html", {"page": page, "query": query})


@partner_required
def commissions(request):
    partner = request.user.partner
    status = request.GET.get("status", "")
    symbol = request.GET.get("symbol", "").strip()[:32]
    page, query = paginate(request, partner_lines(partner=partner, status=status, symbol=symbol))
    for line in page:  # what a partner may see of a client: masked
        user = line.client.user
        line.client_label = f"{mask_name(user.get_full_name())} ({mask_email(user.email)})"
    earnings = partner_earnings(partner=partner)
    charts = [
        {
            "id": "earnings-by-day",
            "kind": "bar",
            "labels": [d[5:] for d in earnings["days"]],
            "datasets": [{"label": "Earned", "data": earnings["per_day"]}],
        },
        {
            "id": "earnings-by-symbol",
            "kind": "doughnut",
            "labels": [r["symbol"] or "—" for r in earnings["by_symbol"]],
            "datasets": [
                {"label": "This month", "data": [float(r["s"]) for r in earnings["by_symbol"]]}
            ],
        },
    ]
    return render(
        request,
        "partners/commissions.html",
        {
            "page": page,
            "query": query,
            "status": status,
            "symbol": symbol,
            "statuses": CommissionLine.Status.choices,
            "earnings": earnings,
            "charts": charts,
            "currency": "USD",
        },
    )


@partner_required
def statements(request):
    page, query = paginate(request, partner_statements(partner=request.user.partner))
    return render(request, "partners/statements.html", {"page": page, "query": query})


@partner_required
def statement_download(request, statement_id: int, fmt: str):
    statement = get_object_or_404(partner_statements(partner=request.user.partner), pk=statement_id)
    if fmt not in ("csv", "pdf"):
        return HttpResponse("Statements come as csv or pdf.", status=404)
    name = f"commissions-{statement.partner.referral_code}-{statement.period.start:%Y-%m-%d}"
    if fmt == "csv":
        response = HttpResponse(statement_csv(statement), content_type="text/csv; charset=utf-8")
    else:
        response = HttpResponse(statement_pdf(statement), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    return response
