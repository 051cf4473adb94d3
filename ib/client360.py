"""ib's part of the client 360: the IB partner the client (and their lead) is credited to,
the master IB of a sub-IB, how the credit was made, and the commissions the client's trades
have earned, per partner and level. Three queries."""

from django.db.models import Count, Sum

from clients.client360 import Contribution, Section, TimelineEntry

from .models import Attribution, CommissionLine, Referral

PARTNER_RELATED = ("partner__user", "partner__parent__user")


def ib_360(client, user) -> Contribution:
    attribution = (
        Attribution.objects.filter(lead__client=client)
        .select_related(*PARTNER_RELATED, "made_by")
        .first()
    )
    referral = Referral.objects.filter(client=client).select_related(*PARTNER_RELATED).first()
    partner = (attribution or referral).partner if (attribution or referral) else None
    generated = list(
        # through the client's deals: the lines' unique key leads with the deal
        CommissionLine.objects.filter(deal__client=client)
        .values("partner__company_name", "partner__referral_code", "tier", "currency")
        .annotate(total=Sum("amount"), lines=Count("id"))
        .order_by("tier", "partner__referral_code")
    )
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
