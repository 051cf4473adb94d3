from django.db import connection
from django.db.models import Count

from .models import Partner


def partner_network(*, partner: Partner):
    """The partner's direct sub-IBs, with how many sub-IBs each has in turn."""
    return (
        Partner.objects.filter(parent=partner)
        .select_related("user")
        .annotate(sub_count=Count("sub_partners"))
        .order_by("-created_at")
    )


def partner_summary() -> dict:
    return Partner.objects.aggregate(total=Count("id"))


def commissions_summary() -> dict:
    """This month's commission lines in all (the home dashboard) and the unpriced deals."""
    from django.db.models import Sum
    from django.utils import timezone

    from .models import CommissionLine, UnpricedDeal

    month = timezone.now().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    total = CommissionLine.objects.filter(deal_time__gte=month).aggregate(s=Sum("amount"))["s"]
    return {"month": total or 0, "unpriced": UnpricedDeal.objects.count()}


# --- Commissions, as a partner sees them (its own lines only) ----------------------------------


def mask_name(name: str) -> str:
    """ "Dana Trader" -> "D*** T***": enough to recognise a client, not to identify one."""
    return " ".join(f"{part[0]}***" for part in name.split() if part) or "Client"


def mask_email(email: str) -> str:
    local, _, domain = (email or "").partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


def masked_client(user) -> str:
    """What a partner sees of a client: "D*** T*** (d***@example.com)"."""
    return f"{mask_name(user.get_full_name())} ({mask_email(user.email)})"


def day_bounds(date_from, date_to):
    """The UTC instants a range of whole days runs between: [date_from 00:00, date_to + 1)."""
    from datetime import UTC, datetime, time, timedelta

    start = datetime.combine(date_from, time.min, tzinfo=UTC) if date_from else None
    end = datetime.combine(date_to + timedelta(days=1), time.min, tzinfo=UTC) if date_to else None
    return start, end


def partner_lines(*, partner, status: str = "", symbol: str = "", date_from=None, date_to=None):
    """The partner's commission lines, newest first, with what the dashboard shows of the
    client (masked) and of the deal; closed between `date_from` and `date_to` (days, UTC,
    both included) when given."""
    from django.db.models import Exists, OuterRef

    from .models import CommissionDispute, CommissionLine

    open_dispute = CommissionDispute.objects.filter(
        line=OuterRef("pk"), status__in=CommissionDispute.OPEN_STATUSES
    )
    qs = (
        CommissionLine.objects.filter(partner=partner)
        .select_related("client__user", "version__plan", "period")
        .annotate(open_dispute=Exists(open_dispute))
        .order_by("-deal_time", "-id")
    )
    if status in CommissionLine.Status.values:
        qs = qs.filter(status=status)
    if symbol:
        qs = qs.filter(symbol__iexact=symbol.strip()[:32])
    start, end = day_bounds(date_from, date_to)
    if start:
        qs = qs.filter(deal_time__gte=start)
    if end:
        qs = qs.filter(deal_time__lt=end)
    return qs


def partner_earnings(*, partner, days: int = 30) -> dict:
    """Totals (this month, pending, settled) and earnings per day for the chart."""
    from datetime import timedelta

    from django.db.models import Sum
    from django.db.models.functions import TruncDate
    from django.utils import timezone

    from .models import CommissionLine

    now = timezone.now()
    lines = CommissionLine.objects.filter(partner=partner)
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    totals = {
        "month": lines.filter(deal_time__gte=month_start).aggregate(s=Sum("amount"))["s"],
        "pending": lines.filter(status="pending").aggregate(s=Sum("amount"))["s"],
        "held": lines.filter(status__in=["withheld", "disputed"]).aggregate(s=Sum("amount"))["s"],
        "settled": lines.filter(status="settled").aggregate(s=Sum("amount"))["s"],
    }
    start = (now - timedelta(days=days - 1)).date()
    per_day = dict(
        lines.filter(deal_time__date__gte=start)
        .annotate(day=TruncDate("deal_time"))
        .values("day")
        .annotate(s=Sum("amount"))
        .values_list("day", "s")
    )
    by_symbol = list(
        lines.filter(deal_time__gte=month_start)
        .values("symbol")
        .annotate(s=Sum("amount"))
        .order_by("-s")[:8]
    )
    by_tier = list(
        lines.filter(deal_time__gte=month_start)
        .values("tier")
        .annotate(s=Sum("amount"))
        .order_by("tier")
    )
    days_list = [start + timedelta(days=i) for i in range(days)]
    return {
        **{k: v or 0 for k, v in totals.items()},
        "days": [d.isoformat() for d in days_list],
        "per_day": [float(per_day.get(d) or 0) for d in days_list],
        "by_symbol": by_symbol,
        "by_tier": by_tier,
    }


def partner_earnings_between(*, partner, date_from, date_to) -> dict:
    """What the partner earned on deals closed from `date_from` to `date_to` (days, UTC, both
    included): in all, per day, per symbol and per level (tier), each per currency. Four
    aggregates over the partner's lines of those days."""
    from django.db.models import Sum
    from django.db.models.functions import TruncDate

    from .models import CommissionLine

    start, end = day_bounds(date_from, date_to)
    lines = CommissionLine.objects.filter(partner=partner, deal_time__gte=start, deal_time__lt=end)

    def by(*keys, order, rows=lines):
        rows = rows.values(*keys, "currency").annotate(amount=Sum("amount"), lines=Count("id"))
        return list(rows.order_by(*order))

    return {
        "totals": by(order=["currency"]),
        "by_day": by(
            "day", order=["day", "currency"], rows=lines.annotate(day=TruncDate("deal_time"))
        ),
        "by_symbol": by("symbol", order=["-amount", "symbol", "currency"]),
        "by_tier": by("tier", order=["tier", "currency"]),
    }


def partner_clients(*, partner):
    """The clients the partner referred (its own, not its sub-IBs'), newest first. Page them,
    then `partner_clients_figures` for what each generated."""
    from .models import Referral

    return (
        Referral.objects.filter(partner=partner)
        .select_related("client__user")
        .order_by("-attributed_at", "-id")
    )


def partner_clients_rows(*, partner, referrals) -> list[dict]:
    """What a partner sees of each of `referrals` (a page of `partner_clients`): the client
    masked, country, funded or not, the lots of its closed trades that earned `partner` a
    commission and the commission they generated, per currency. Never balances or documents.
    One aggregate over the partner's lines for the whole page."""
    from decimal import Decimal

    from django.db.models import Q, Sum
    from django.db.models.functions import Coalesce

    from .models import CommissionLine

    figures: dict[int, dict] = {}
    for row in (
        CommissionLine.objects.filter(
            partner=partner, client_id__in=[r.client_id for r in referrals]
        )
        .values("client_id", "currency")
        .annotate(
            # lots earned on: a reversal (a deal corrected on the platform) takes its lots back
            volume=Sum("volume", filter=Q(kind=CommissionLine.Kind.COMMISSION))
            - Coalesce(Sum("volume", filter=Q(kind=CommissionLine.Kind.REVERSAL)), 0),
            amount=Sum("amount"),
        )
        .order_by("client_id", "currency")
    ):
        entry = figures.setdefault(row["client_id"], {"volume": 0, "generated": []})
        entry["volume"] += row["volume"] or 0
        entry["generated"].append({"currency": row["currency"], "amount": row["amount"]})
    out = []
    for referral in referrals:
        client, entry = referral.client, figures.get(referral.client_id, {})
        out.append(
            {
                "id": client.pk,
                "name": mask_name(client.user.get_full_name()),
                "email": mask_email(client.user.email),
                "country": client.country,
                "referred_at": referral.attributed_at,
                "funded": client.first_deposit_at is not None,
                "lots": Decimal(entry.get("volume", 0)) / 10000,
                "commission_generated": entry.get("generated", []),
            }
        )
    return out


def partner_statements(*, partner):
    from .models import PartnerStatement

    return PartnerStatement.objects.filter(partner=partner).select_related("period__programme")


# --- The back office's view of the IB business (IB managers) -----------------------------------


def partners_overview(*, q: str = ""):
    """Every partner with its KPIs this month: lines, earned, referred clients, sub-IBs."""
    from django.db.models import OuterRef, Q, Subquery, Sum
    from django.utils import timezone

    from .models import CommissionLine, Referral

    month = timezone.now().replace(day=1, hour=0, minute=0, second=0, microsecond=0)

    def per_partner(qs, value):  # one subquery each: joins would multiply the sums
        return Subquery(
            qs.filter(partner=OuterRef("pk")).values("partner").annotate(v=value).values("v")
        )

    qs = Partner.objects.select_related("user", "parent__user").annotate(
        earned=per_partner(CommissionLine.objects.filter(deal_time__gte=month), Sum("amount")),
        clients=per_partner(Referral.objects.all(), Count("id")),
        subs=Subquery(
            Partner.objects.filter(parent=OuterRef("pk"))
            .values("parent")
            .annotate(n=Count("id"))
            .values("n")
        ),
    )
    if q:
        qs = qs.filter(
            Q(company_name__icontains=q) | Q(user__email__icontains=q) | Q(referral_code__iexact=q)
        )
    return qs.order_by("-earned", "company_name")


def partner_chain(partner) -> list:
    """The partner's parents up to the top (the tree as it stands), nearest first."""
    chain, seen, node = [], {partner.pk}, partner.parent
    while node is not None and node.pk not in seen and len(chain) < 50:
        chain.append(node)
        seen.add(node.pk)
        node = node.parent
    return chain


def unpriced_deals():
    from .models import UnpricedDeal

    return UnpricedDeal.objects.select_related("partner", "version__plan", "deal").order_by(
        "-found_at"
    )


def withheld_by_signal() -> dict[str, int]:
    """How many lines each fraud signal holds for review now (a line may have several)."""
    with connection.cursor() as cur:
        cur.execute(
            "SELECT r->>'code', count(*) FROM ib_commissionline l"
            " CROSS JOIN LATERAL jsonb_array_elements(l.hold_reasons) r"
            " WHERE l.status = 'withheld' GROUP BY 1"
        )
        return dict(cur.fetchall())


TREE_SQL = """
WITH RECURSIVE tree AS (
    SELECT id, 0 AS depth, ARRAY[id] AS path FROM ib_partner WHERE id = %(root)s
    UNION ALL
    SELECT p.id, t.depth + 1, t.path || p.id
      FROM ib_partner p JOIN tree t ON p.parent_id = t.id
     WHERE t.depth < %(depth)s AND NOT p.id = ANY(t.path)
), refs AS (
    SELECT DISTINCT ON (client_id) client_id, partner_id
      FROM ib_referrallink ORDER BY client_id, valid_from DESC
), own AS (
    SELECT partner_id, count(*) AS clients FROM refs
     WHERE partner_id IN (SELECT id FROM tree) GROUP BY partner_id
), earned AS (
    SELECT r.partner_id,
           sum(CASE WHEN l.kind = 'reversal' THEN -l.volume ELSE l.volume END) AS volume,
           sum(l.amount) AS amount
      FROM ib_commissionline l JOIN refs r ON r.client_id = l.client_id
     WHERE l.partner_id = %(root)s AND l.deal_time >= %(since)s
       AND l.kind IN ('commission', 'reversal')
     GROUP BY r.partner_id
)
SELECT t.id, t.depth, coalesce(own.clients, 0), coalesce(earned.volume, 0),
       coalesce(earned.amount, 0)
  FROM tree t LEFT JOIN own ON own.partner_id = t.id LEFT JOIN earned ON earned.partner_id = t.id
 ORDER BY t.path
 LIMIT %(limit)s
"""


def partner_tree(*, partner: Partner, since, limit: int = 500) -> list[dict]:
    """The partner's whole network as it stands, the partner first and each sub-IB under its
    parent: level, clients of its own, and since `since` the lots of its clients' deals that
    paid `partner` and what they paid it. One query, and one for the names."""
    from ib.world import MAX_DEPTH

    with connection.cursor() as cur:
        cur.execute(
            TREE_SQL,
            {"root": partner.pk, "depth": MAX_DEPTH, "since": since, "limit": limit},
        )
        rows = cur.fetchall()
    names = Partner.objects.select_related("user").in_bulk([r[0] for r in rows])
    return [
        {
            "partner": names[pk],
            "depth": depth,
            "clients": clients,
            "lots": volume / 10000,
            "earned": amount,
            "direct": names[pk].parent_id == partner.pk,
        }
        for pk, depth, clients, volume, amount in rows
    ]


# --- Disputes and withheld lines -----------------------------------------------------------------


def partner_disputes(*, partner):
    """The partner's disputes, newest first, with the line and any adjustment."""
    from .models import CommissionDispute

    return (
        CommissionDispute.objects.filter(partner=partner)
        .select_related("line", "adjustment")
        .order_by("-opened_at", "-id")
    )


def disputes_queue(*, status: str = "", partner_id: int | None = None, q: str = ""):
    """Every dispute for IB managers: open ones first, then newest."""
    from django.db.models import Case, IntegerField, Q, Value, When

    from brokerage.ids import parse_id

    from .models import CommissionDispute

    qs = CommissionDispute.objects.select_related("partner__user", "line", "adjustment")
    if status in CommissionDispute.Status.values:
        qs = qs.filter(status=status)
    if partner_id:
        qs = qs.filter(partner_id=partner_id)
    if q:
        match = (
            Q(partner__company_name__icontains=q)
            | Q(partner__user__email__icontains=q)
            | Q(partner__referral_code__iexact=q)
            | Q(reason__icontains=q)
        )
        number = parse_id(q.lstrip("#"))
        if number is not None:
            match |= Q(pk=number) | Q(line_id=number)
        qs = qs.filter(match)
    waiting = Case(
        When(status__in=CommissionDispute.OPEN_STATUSES, then=Value(0)),
        default=Value(1),
        output_field=IntegerField(),
    )
    return qs.order_by(waiting, "-opened_at", "-id")


def withheld_lines(*, partner_id: int | None = None, code: str = ""):
    """The lines withheld for review, newest deal first, with their reasons."""
    from .models import CommissionLine

    qs = CommissionLine.objects.filter(status=CommissionLine.Status.WITHHELD).select_related(
        "partner__user", "client__user", "version__plan"
    )
    if partner_id:
        qs = qs.filter(partner_id=partner_id)
    if code:
        qs = qs.filter(hold_reasons__contains=[{"code": code}])
    return qs.order_by("-deal_time", "-id")


def partner_review_counts(*, partner) -> dict:
    """A partner's open and all disputes, and its withheld lines (the partner page's links)."""
    from django.db.models import Q

    from .models import CommissionDispute, CommissionLine

    disputes = CommissionDispute.objects.filter(partner=partner).aggregate(
        open=Count("id", filter=Q(status__in=CommissionDispute.OPEN_STATUSES)), all=Count("id")
    )
    withheld = CommissionLine.objects.filter(
        partner=partner, status=CommissionLine.Status.WITHHELD
    ).count()
    return {**disputes, "withheld": withheld}


def partner_parent_history(partner) -> list:
    """The partner's parents through time, newest first (the tree as it stood at any moment)."""
    from .models import ParentLink

    return list(
        ParentLink.objects.filter(partner=partner)
        .select_related("parent__user")
        .order_by("-valid_from")[:50]
    )


def partner_attribution_history(partner, limit: int = 20) -> list:
    """The IB through time of the clients this partner has had: their links, newest first (the
    latest `limit`), so a move to or away from this partner shows both sides."""
    from .models import ReferralLink

    clients = ReferralLink.objects.filter(partner=partner).values("client_id")
    return list(
        ReferralLink.objects.filter(client_id__in=clients)
        .select_related("client__user", "partner__user")
        .order_by("-valid_from", "-pk")[:limit]
    )


def partner_earnings_by_client(*, partner, date_from, date_to) -> list[dict]:
    """What each client's deals closed in the range earned `partner`, per currency, most first,
    with the client masked as a partner sees it. One aggregate and one read of the names."""
    from django.db.models import Sum

    from brokerage.models import User

    from .models import CommissionLine

    start, end = day_bounds(date_from, date_to)
    rows = list(
        CommissionLine.objects.filter(partner=partner, deal_time__gte=start, deal_time__lt=end)
        .values("client_id", "client__user_id", "currency")
        .annotate(amount=Sum("amount"), lines=Count("id"))
        .order_by("-amount", "client_id", "currency")
    )
    users = User.objects.in_bulk({r["client__user_id"] for r in rows})
    return [
        {
            "client": masked_client(users[r["client__user_id"]]),
            "name": mask_name(users[r["client__user_id"]].get_full_name()),
            "currency": r["currency"],
            "amount": r["amount"],
            "lines": r["lines"],
        }
        for r in rows
    ]
