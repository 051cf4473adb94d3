"""Reads on campaign links and their funnels: clicks -> registrations -> verified (KYC) ->
first deposit -> first trade.

Clicks come from the link's running total (kept with the per-day counts, `LinkDay`), never from
the clicks themselves, so a funnel costs the same with a million clicks as with ten; the later
stages are the link's referrals, counted in one aggregate per page of links."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Count, Exists, OuterRef, Q, Sum
from django.utils import timezone

from clients.trading.selectors import has_traded

from .models import Partner, Referral
from .models_links import LANDING_CHOICES, CampaignLink

STAGES = [
    ("clicks", "Clicks"),
    ("registrations", "Registrations"),
    ("verified", "Verified (KYC)"),
    ("ftd", "First deposit"),
    ("traded", "First trade"),
]


def _stages(figures: dict) -> dict:
    """The funnel's stages, each with its count, the % of the stage before it and of clicks."""
    rows, before = [], None
    clicks = figures.get("clicks") or 0
    for key, label in STAGES:
        count = figures.get(key) or 0
        rows.append(
            {
                "key": key,
                "label": label,
                "count": count,
                "of_previous": _pct(count, before) if before is not None else None,
                "of_clicks": _pct(count, clicks) if key != "clicks" else None,
            }
        )
        before = count
    return {"stages": rows, **{key: figures.get(key) or 0 for key, _ in STAGES}}


def _pct(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def _later_stages() -> dict:
    """The stages after the click, counted over referrals."""
    return {
        "registrations": Count("id"),
        "verified": Count("id", filter=Q(client__kyc_level__gte=1)),
        "ftd": Count("id", filter=Q(client__first_deposit_at__isnull=False)),
        "traded": Count("id", filter=Q(has_traded("client_id"))),
    }


def link_funnels(links) -> dict[int, dict]:
    """Each link's funnel, for a page of `links`: their clicks, and one aggregate over their
    referrals."""
    links = list(links)
    ids = [link.pk for link in links]
    later = {
        row.pop("campaign_link_id"): row
        for row in Referral.objects.filter(campaign_link_id__in=ids)
        .order_by()
        .values("campaign_link_id")
        .annotate(**_later_stages())
    }
    return {link.pk: _stages({"clicks": link.clicks, **later.get(link.pk, {})}) for link in links}


def partner_funnel(*, partner: Partner) -> dict:
    """The funnel across all the partner's campaign links."""
    clicks = CampaignLink.objects.filter(partner=partner).aggregate(n=Sum("clicks"))["n"]
    later = Referral.objects.filter(campaign_link__partner=partner).aggregate(**_later_stages())
    return _stages({"clicks": clicks or 0, **later})


def partner_links(*, partner: Partner):
    """The partner's campaign links, newest first."""
    return CampaignLink.objects.filter(partner=partner).order_by("-created_at", "-id")


def link_clicks_per_day(*, link: CampaignLink, days: int = 30) -> tuple[list[str], list[int]]:
    """The link's counted clicks on each of the last `days` days (UTC), oldest first."""
    start = timezone.now().date() - timedelta(days=days - 1)
    counts = dict(link.days.filter(day__gte=start).values_list("day", "clicks"))
    dates = [start + timedelta(days=i) for i in range(days)]
    return [d.isoformat() for d in dates], [counts.get(d, 0) for d in dates]


def links_overview(*, q: str = "", landing: str = "", partner_status: str = "", converting=False):
    """Every partner's campaign links for IB managers, most clicked first; page it, then
    `link_funnels` for the other steps."""
    qs = CampaignLink.objects.select_related("partner__user")
    q = (q or "").strip()[:100]
    if q:
        qs = qs.filter(
            Q(name__icontains=q)
            | Q(code__iexact=q)
            | Q(partner__company_name__icontains=q)
            | Q(partner__user__email__icontains=q)
            | Q(partner__referral_code__iexact=q)
            | Q(utm_campaign__icontains=q)
        )
    if landing in dict(LANDING_CHOICES):
        qs = qs.filter(landing=landing)
    if partner_status in Partner.Status.values:
        qs = qs.filter(partner__status=partner_status)
    if converting:  # a filter, not a join: a join would multiply the clicks summed
        qs = qs.filter(Exists(Referral.objects.filter(campaign_link=OuterRef("pk"))))
    return qs.order_by("-clicks", "-created_at", "-id")
