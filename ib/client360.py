"""ib's part of the client 360: the IB partner the client (and their lead) is credited to,
the master IB of a sub-IB, how the credit was made, and the commissions the client's trades
have earned, per partner and level. Three queries."""

from django.db.models import Count, Sum

from brokerage.statements import Statement
from clients.client360 import Contribution, Section, TimelineEntry

from .models import Attribution, CommissionLine, Referral

PARTNER_RELATED = ("partner__user", "partner__parent__user")


# The section's reads, each compiled once per process (brokerage.statements).
_ATTRIBUTION = Statement(
    lambda v: (
        Attribution.objects.filter(lead__client_id=v.client_id)
        .select_related(*PARTNER_RELATED, "made_by")
        .order_by("pk")[:1]
    )
)
_REFERRAL = Statement(
    lambda v: (
        Referral.objects.filter(client_id=v.client_id)
        .select_related(*PARTNER_RELATED)
        .order_by("pk")[:1]
    )
)
_GENERATED = Statement(
    lambda v: (
        # through the client's deals: the lines' unique key leads with the deal
        CommissionLine.objects.filter(deal__client_id=v.client_id)
        .values("partner__company_name", "partner__referral_code", "tier", "currency")
        .annotate(total=Sum("amount"), lines=Count("id"))
        .order_by("tier", "partner__referral_code")
    )
)


def ib_360(client, user) -> Contribution:
    attribution = _ATTRIBUTION.first(client_id=client.pk)
    referral = _REFERRAL.first(client_id=client.pk)
    partner = (attribution or referral).partner if (attribution or referral) else None
    generated = _GENERATED(client_id=client.pk)
    section = Section(
        "ib",
        "IB partner",
        "ib/_360_ib.html",
        {
            "attribution": attribution,
            "referral": referral,
            "partner": partner,
            "generated": generated,
        },
        order=31,
        column="side",
        icon="diagram-3",
        badge="IB" if partner else "",
    )
    timeline = []
    if attribution is not None:
        timeline.append(
            TimelineEntry(
                attribution.made_at,
                "ib",
                "diagram-3",
                f"Lead credited to IB {attribution.partner}",
                f"{attribution.get_source_display()} · {attribution.made_by_label}",
            )
        )
    return Contribution(sections=[section], timeline=timeline)
