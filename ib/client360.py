"""ib's part of the client 360: the IB partner the client (and their lead) is credited to,
the master IB of a sub-IB, and how the credit was made. Two queries."""

from clients.client360 import Contribution, Section, TimelineEntry

from .models import Attribution, Referral

PARTNER_RELATED = ("partner__user", "partner__parent__user")


def ib_360(client, user) -> Contribution:
    attribution = (
        Attribution.objects.filter(lead__client=client)
        .select_related(*PARTNER_RELATED, "made_by")
        .first()
    )
    referral = Referral.objects.filter(client=client).select_related(*PARTNER_RELATED).first()
    partner = (attribution or referral).partner if (attribution or referral) else None
    section = Section(
        "ib",
        "IB partner",
        "ib/_360_ib.html",
        {"attribution": attribution, "referral": referral, "partner": partner},
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
