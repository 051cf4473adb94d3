"""The IB partner area (/partners/)."""

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from brokerage.db import reads_from_replica, stream_from_replica
from brokerage.errors import DomainError
from brokerage.views import form_action, paginate

from .disputes import disputable, dispute_open
from .forms_disputes import DisputeOpenForm
from .models import CommissionLine, Partner
from .permissions import partner_required
from .plans import own_narrowed_rates, own_rates, sub_ib_rates_set
from .selectors import (
    masked_client,
    partner_clients,
    partner_clients_rows,
    partner_disputes,
    partner_earnings,
    partner_lines,
    partner_statements,
    partner_tree,
)
from .statements import statement_csv, statement_pdf
from .world import World


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
def clients(request):
    """The clients the partner referred, as the partner API's /clients answers them."""
    partner = request.user.partner
    page, query = paginate(request, partner_clients(partner=partner))
    rows = partner_clients_rows(partner=partner, referrals=list(page))
    return render(request, "partners/clients.html", {"page": page, "query": query, "rows": rows})


@partner_required
def network(request):
    since = timezone.now().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    nodes = partner_tree(partner=request.user.partner, since=since)
    return render(
        request,
        "partners/network.html",
        {"nodes": nodes, "since": since, "subs": len(nodes) - 1},
    )


@partner_required
@require_http_methods(["GET", "POST"])
def sub_rates(request, partner_id: int):
    me = request.user.partner
    sub = get_object_or_404(Partner.objects.select_related("user"), pk=partner_id, parent=me)
    world = World.load(set())  # the plans and tree, read once for the page
    caps = own_rates(me, world=world)
    errors, status = {}, 200
    if request.method == "POST":
        rates = {key: request.POST.get(f"rate_{key or 'default'}", "")[:20] for key, *_ in caps}
        try:
            sub_ib_rates_set(parent=me, sub=sub, rates=rates, actor=request.user)
        except DomainError as exc:
            messages.error(request, exc.message)
            errors, status = exc.fields or {}, 400  # refused: the form again, with its errors
        else:
            messages.success(request, f"{sub}'s rates are in force from now.")
            return redirect("partners:network")
    theirs = {key: rate for key, _, rate in own_rates(sub, world=world)}
    shown = request.POST if request.method == "POST" else {}  # a refused form shows its input
    rows = [
        {
            "key": key or "default",
            "label": label,
            "cap": cap,
            "current": theirs.get(key),
            "value": shown.get(f"rate_{key or 'default'}", theirs.get(key, "")),
            "error": " ".join(errors.get(key or "default", [])),
        }
        for key, label, cap in caps
    ]
    return render(
        request,
        "partners/sub_rates.html",
        {"sub": sub, "rows": rows, "narrowed": own_narrowed_rates(me, world=world)},
        status=status,
    )


def _mask(line) -> None:
    """What a partner may see of a line's client: masked."""
    line.client_label = masked_client(line.client.user)


@partner_required
def commissions(request):
    partner = request.user.partner
    status = request.GET.get("status", "")
    symbol = request.GET.get("symbol", "").strip()[:32]
    page, query = paginate(request, partner_lines(partner=partner, status=status, symbol=symbol))
    for line in page:
        _mask(line)
        line.disputable = disputable(line) and not line.open_dispute
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
@reads_from_replica()
def statement_download(request, statement_id: int, fmt: str):
    statement = get_object_or_404(partner_statements(partner=request.user.partner), pk=statement_id)
    if fmt not in ("csv", "pdf"):
        return HttpResponse("Statements come as csv or pdf.", status=404)
    name = f"commissions-{statement.partner.referral_code}-{statement.period.start:%Y-%m-%d}"
    if fmt == "csv":  # streamed: a statement can have tens of thousands of lines
        response = StreamingHttpResponse(
            stream_from_replica(statement_csv(statement)), content_type="text/csv; charset=utf-8"
        )
    else:
        response = HttpResponse(statement_pdf(statement), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    return response


@partner_required
@require_http_methods(["GET", "POST"])
def dispute_new(request, line_id: int):
    """Dispute one of the partner's own lines (another partner's is a 404)."""
    partner = request.user.partner
    line = get_object_or_404(partner_lines(partner=partner), pk=line_id)
    _mask(line)
    form, status = DisputeOpenForm(), 200
    if request.method == "POST":
        form = DisputeOpenForm(request.POST)
        response = form_action(
            request,
            form,
            lambda c: dispute_open(
                partner=partner, line_id=line.pk, reason=c["reason"], actor=request.user
            ),
            success_url=reverse("partners:disputes"),
        )
        if response is not None:
            messages.success(request, "Dispute opened: we review the line and email you.")
            return response
        status = 400
    return render(
        request,
        "partners/dispute_new.html",
        {"line": line, "form": form, "disputable": disputable(line) and not line.open_dispute},
        status=status,
    )


@partner_required
def disputes(request):
    page, query = paginate(request, partner_disputes(partner=request.user.partner))
    return render(request, "partners/disputes.html", {"page": page, "query": query})
