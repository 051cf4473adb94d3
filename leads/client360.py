"""Leads' part of the client 360: where the client came from (source, UTM, campaign, the
referral code given) and the lead's communication history (notes, calls, emails before and
after registration). Two queries. The IB credited with the client is ib's section."""

from django.urls import reverse

from brokerage.labels import actor_display
from brokerage.statements import Statement
from clients.client360 import Communication, Contribution, Section, TimelineEntry

from .models import Lead, LeadActivity
from .services import can_work

COMMS = (LeadActivity.Kind.NOTE, LeadActivity.Kind.CALL, LeadActivity.Kind.EMAIL)
LIMIT = 40


def _source_section(context: dict) -> Section:
    """Where the client came from: the lead's channel, source, UTM and referral code."""
    return Section(
        "acquisition",
        "Acquisition",
        "leads/_360_source.html",
        context,
        order=30,
        column="side",
        icon="signpost-split",
    )


# The section's reads, each compiled once per process (brokerage.statements).
_LEAD = Statement(
    lambda v: Lead.objects.filter(client_id=v.client_id).select_related("desk").order_by("pk")[:1]
)
_ACTIVITIES = Statement(
    lambda v: LeadActivity.objects.filter(lead_id=v.lead_id, kind__in=COMMS).order_by(
        "-created_at", "-id"
    )[:LIMIT]
)


def leads_360(client, user) -> Contribution:
    lead = _LEAD.first(client_id=client.pk)
    if lead is None:
        return Contribution(sections=[_source_section({"lead": None})])
    activities = _ACTIVITIES(lead_id=lead.pk)
    outcomes = dict(LeadActivity.CallOutcome.choices)
    comms = [
        Communication(
            at=a.created_at,
            kind=a.kind,
            actor=actor_display(a.actor_label),
            subject=a.data.get("subject", ""),
            body=a.body,
            outcome=outcomes.get(a.data.get("outcome"), a.data.get("outcome", "")),
            source="lead",
        )
        for a in activities
    ]
    # The same rule as the lead page itself, so the link never leads to a 403.
    lead_url = reverse("leads:detail", args=[lead.pk]) if can_work(user, lead) else ""
    timeline = [
        TimelineEntry(
            lead.created_at,
            "lead",
            "funnel",
            f"Lead captured ({lead.get_channel_display().lower()})",
            " / ".join(x for x in (lead.source, lead.utm_campaign) if x),
            url=lead_url,
        )
    ]
    timeline += [
        TimelineEntry(
            a.created_at,
            a.kind,
            {"note": "sticky", "call": "telephone", "email": "envelope"}.get(a.kind, "chat"),
            f"{a.get_kind_display()} (as a lead)",
            f"{actor_display(a.actor_label)}: {a.body or a.data.get('subject', '')}"[:160],
            url=lead_url,
            tone="info",
        )
        for a in activities
    ]
    return Contribution(
        sections=[_source_section({"lead": lead, "lead_url": lead_url})],
        communications=comms,
        timeline=timeline,
    )
