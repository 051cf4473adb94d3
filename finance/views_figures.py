"""The money behind the leadership figures, read only, for those who lead (desk managers,
their desks; executives, every desk): the deposits, withdrawals paid, refunds and
chargebacks the money cards count, narrowed as the card is (`/backoffice/finance/figures/`).
Finance's own lists, where decisions are made, stay finance's."""

from datetime import timedelta

from django.shortcuts import render
from django.utils import timezone

from brokerage import exports
from brokerage.db import reads_from_replica
from brokerage.exports import Column
from brokerage.ids import parse_days, parse_id
from brokerage.intl import is_country
from brokerage.leadership import leadership_desks
from brokerage.models import Desk
from brokerage.permissions import staff_required
from brokerage.views import paginate

from . import psp as psp_registry
from . import selectors

LEADS = "brokerage.view_leadership"
DEFAULT_DAYS = 30

FIGURES = exports.Listing(
    "finance.money_figures",
    "Money behind the figures",
    [
        Column("id", lambda r: r.pk),
        Column("reference", lambda r: getattr(r, "reference", "") or r.provider_reference),
        Column("client_id", lambda r: _client(r).pk),
        Column("client_name", lambda r: _client(r).user.get_full_name(), personal=True),
        Column("psp", lambda r: psp_registry.PSP_NAMES.get(_psp(r), _psp(r))),
        *exports.columns("amount", "currency", "status=get_status_display()"),
        Column("at_utc", lambda r: _at(r)),
    ],
)


def _client(row):
    return row.client if hasattr(row, "client") else row.deposit.client


def _psp(row) -> str:
    return row.psp if hasattr(row, "psp") else row.deposit.psp


def _at(row):
    return getattr(row, "completed_at", None) or getattr(row, "opened_at", None)


@staff_required(LEADS)
@reads_from_replica()
def money_figures(request):
    kind = request.GET.get("kind", "deposits")
    kind = kind if kind in selectors.MONEY_KINDS else "deposits"
    today = timezone.now().date()
    days = parse_days(request.GET, "start", "end") or (
        today - timedelta(days=DEFAULT_DAYS - 1),
        today,
    )
    desks = leadership_desks(request.user)
    desks = list(Desk.objects.order_by("name") if desks is None else desks.order_by("name"))
    desk_id = parse_id(request.GET.get("desk"))
    country = request.GET.get("country", "").strip().upper()
    psp = request.GET.get("psp", "")
    narrowed = {
        "days": days,
        "desk_id": desk_id if desk_id in {d.pk for d in desks} else None,
        "country": country if is_country(country) else "",
        "psp": psp if psp in psp_registry.METHOD_CODES else "",
        "ftd": request.GET.get("ftd") == "1",
    }
    rows = selectors.money_figure_list(user=request.user, kind=kind, **narrowed)
    if "export" in request.GET:
        return exports.list_export(request, FIGURES, rows)
    page, query = paginate(request, rows, per_page=50)
    params = request.GET.copy()
    tabs = []
    for name, (label, *_rest) in selectors.MONEY_KINDS.items():
        params["kind"] = name
        params.pop("page", None)
        tabs.append(
            {
                "kind": name,
                "label": label,
                "n": rows.count()
                if name == kind
                else selectors.money_figure_list(user=request.user, kind=name, **narrowed).count(),
                "query": params.urlencode(),
                "active": name == kind,
            }
        )
    return render(
        request,
        "finance/money_figures.html",
        {
            "export_query": exports.export_query(request.GET),
            "page": page,
            "query": query,
            "rows": [
                {
                    "row": r,
                    "client": _client(r),
                    "psp": psp_registry.PSP_NAMES.get(_psp(r), _psp(r)),
                    "at": _at(r),
                    "reference": getattr(r, "reference", "") or r.provider_reference,
                }
                for r in page
            ],
            "kind": kind,
            "title": selectors.MONEY_KINDS[kind][0],
            "tabs": tabs,
            "totals": selectors.money_figure_totals(rows),
            "days": days,
            "desk": next((d for d in desks if d.pk == narrowed["desk_id"]), None),
            "narrowed": narrowed,
            "psp_label": psp_registry.PSP_NAMES.get(narrowed["psp"], ""),
            "sees_clients": request.user.has_perm("clients.view_desk_clients")
            or request.user.has_perm("clients.view_all_clients"),
        },
    )
