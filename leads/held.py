"""Leads held back from sales by a blocked country rule (`services.lead_route` keeps them, its
decision naming the rule): released for routing once that rule no longer holds them.

`leads_held_release` is set-based: one statement selects every open lead whose holding rule
has ended (or whose country is no longer the rule's), marks it unrouted and notes why on its
timeline, each release audited; after commit each lead is routed by `lead_route_task` on the
leads queue, as a new lead is. The routing decides afresh: a lead another blocked rule now
covers is held again, under that rule. A lost task leaves the lead unrouted, which the routing
sweeper (`leads_unrouted_route`) picks up, so nothing is lost; run again, it releases nothing.
"""

from __future__ import annotations

from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from brokerage.services import Actor, audit_record_many
from leads import audit_events

from .models import Lead, LeadActivity

RELEASE_ACTOR = "rule:jurisdictions"

# Open leads held under a rule that is no longer in force at %(at)s, or whose country is no
# longer the rule's (corrected on the lead): unrouted again, the release noted in `routing`.
_RELEASE = """
UPDATE leads_lead l
   SET routed_at = NULL,
       routing = l.routing || jsonb_build_object(
           'released_from', r.id, 'released_at', to_jsonb(%(at)s::timestamptz))
  FROM brokerage_countryrule r
 WHERE l.routing ? 'jurisdiction_rule'
   AND l.routed_at IS NOT NULL
   AND r.id = (l.routing ->> 'jurisdiction_rule')::bigint
   AND l.status = ANY(%(open)s)
   AND (%(all)s OR r.id = ANY(%(rule_ids)s))
   AND (r.effective_to <= %(at)s OR r.effective_from > %(at)s OR l.country <> r.country)
RETURNING l.id, r.id, r.country
"""


@transaction.atomic
def leads_held_release(
    *, rule_ids: list[int] | None = None, at: datetime | None = None, actor: Actor = RELEASE_ACTOR
) -> int:
    """Release every lead a blocked rule held that no longer holds it (`rule_ids`: only those
    rules' leads), and route each once this commits. Returns how many were released."""
    at = at or timezone.now()
    params = {
        "at": at,
        "open": list(Lead.OPEN),
        "all": rule_ids is None,
        "rule_ids": list(rule_ids or []),
    }
    with connection.cursor() as cur:
        cur.execute(_RELEASE, params)
        released = cur.fetchall()
    if not released:
        return 0
    why = "Jurisdiction rule {rule} no longer holds this lead back: it is routed to sales."
    LeadActivity.objects.bulk_create(
        [
            LeadActivity(
                lead_id=lead_id,
                kind=LeadActivity.Kind.ASSIGNMENT,
                actor_label=actor if isinstance(actor, str) else actor.email,
                body=why.format(rule=rule_id),
                data={"released_from": rule_id},
            )
            for lead_id, rule_id, _ in released
        ]
    )
    leads = Lead.objects.in_bulk([lead_id for lead_id, _, _ in released])
    audit_record_many(
        actor=actor,
        action=audit_events.LEAD_RELEASED_BY_JURISDICTION,
        entries=[
            (leads[lead_id], why.format(rule=rule_id), {"rule": rule_id, "country": country})
            for lead_id, rule_id, country in released
        ],
    )
    ids = sorted(leads)

    def enqueue():
        from .tasks import lead_route_task

        for lead_id in ids:
            lead_route_task.delay(lead_id)

    transaction.on_commit(enqueue, robust=True)  # a broker down: the routing sweeper does it
    return len(ids)
