"""Trading platform sync status in the back-office (/backoffice/platforms/): each server's lag,
cursor and last error, recent passes with their throughput, and the records it refused."""

from django.db.models import Count, Q, Sum
from django.shortcuts import render
from django.utils import timezone

from brokerage.permissions import staff_required
from brokerage.views import paginate

from .models import AccountOpening, SyncRejection, SyncRun, TradingAccount, TradingServer
from .sync import sync_lag_report


@staff_required("clients.view_platform_sync")
def status(request):
    servers = list(TradingServer.objects.order_by("name"))
    lag = sync_lag_report()
    since = timezone.now() - timezone.timedelta(hours=1)
    hour = {
        r["server_id"]: r
        for r in SyncRun.objects.filter(kind=SyncRun.Kind.DEALS, started_at__gte=since)
        .values("server_id")
        .annotate(deals=Sum("ingested"), calls=Sum("calls"))
        .order_by()
    }
    books = {  # deal counts from the accounts' running totals, not a count over every deal
        r["server_id"]: r
        for r in TradingAccount.objects.values("server_id")
        .annotate(accounts=Count("id"), deals=Sum("trade_deals"))
        .order_by()
    }
    rows = [
        {
            "server": s,
            "lag": lag.get(s.name, {"status": "inactive", "lag_s": None}),
            "accounts": books.get(s.pk, {}).get("accounts", 0),
            "deals": books.get(s.pk, {}).get("deals") or 0,
            "deals_hour": hour.get(s.pk, {}).get("deals") or 0,
            "calls_hour": hour.get(s.pk, {}).get("calls") or 0,
        }
        for s in servers
    ]
    runs = SyncRun.objects.select_related("server").order_by("-started_at")
    kind = request.GET.get("kind", "")
    if kind in SyncRun.Kind.values:
        runs = runs.filter(kind=kind)
    if request.GET.get("errors") == "1":
        runs = runs.exclude(error="")
    page, query = paginate(request, runs, 25)
    recent = list(
        SyncRun.objects.filter(kind=SyncRun.Kind.DEALS, error="")
        .order_by("-started_at")
        .values("started_at", "ingested", "finished_at")[:60]
    )[::-1]
    chart = {
        "id": "sync-ingested",
        "title": "Deals ingested per pass",
        "kind": "bar",
        "labels": [r["started_at"].strftime("%H:%M:%S") for r in recent],
        "datasets": [{"label": "Deals", "data": [r["ingested"] for r in recent]}],
    }
    rejections = SyncRejection.objects.filter(resolved_at__isnull=True).select_related("server")
    unconfirmed = AccountOpening.objects.filter(
        Q(status=AccountOpening.Status.PENDING) | Q(lookups__gt=0),
        requested_at__gte=timezone.now() - timezone.timedelta(days=7),
    ).select_related("client__user", "account_type", "account")[:20]
    return render(
        request,
        "clients/platforms.html",
        {
            "rows": rows,
            "page": page,
            "query": query,
            "kind": kind,
            "kinds": SyncRun.Kind.choices,
            "rejections": rejections[:20],
            "rejection_count": rejections.count(),
            "unconfirmed": list(unconfirmed),
            "charts_json": [chart],
        },
    )
