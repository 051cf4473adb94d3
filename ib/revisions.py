"""Deals the platform corrected or removed: reversal lines, then the deal paid again, never an
edit.

When the deals review (`clients.deal_review`) records a `DealRevision`, `revision_pay` (a task
on the `commissions` queue, enqueued after the revision commits; the commissions sweeper runs
it again for the revisions of the last hours, in case a task was lost):

1. reverses every commission line of the deal paid at an earlier revision and not reversed
   yet: a `reversal` line of the exact opposite amount, `reverses` -> the line, carrying the
   reversed line's revision (so the unique key (deal, partner, tier, kind, revision) lets each
   line be reversed once, whatever reruns or races), dated when the revision was detected so it
   falls in the open period, its "why" naming the revision ("Deal 123 corrected on the platform
   on ...: volume 1.00 -> 0.50 lots; reverses line 45");
2. for a corrected deal, pays it again through the engine (`commissions_pay`): the same rate
   table, tree and referrals as of the deal's close time, the same filters and fraud checks,
   written under the deal's new revision number (once, by the same unique key). A removed deal
   gets reversals only (the engine never pays a removed deal).

Which lines are reversed, and how the reversal stands:
- a pending line: a pending reversal (both settle in the same period: they net to nothing);
- a settled line: a pending reversal, settled by the next period closed (the partner's
  statement nets it, or carries it forward when negative);
- a withheld line (not paid, under review): the reversal is withheld too, and the review's
  decision on the line (`ib.disputes.lines_release` / `lines_cancel`) is taken for its
  reversal as well, so the pair always nets to nothing;
- a disputed line (not paid until the dispute closes): the reversal is withheld until the
  dispute closes, then pending with it (`ib.disputes`);
- a cancelled line paid nothing and is not reversed.
Lines are never edited or deleted; each run is audited when it writes.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import connection, transaction
from django.utils import timezone

from brokerage.services import audit_record
from clients.models import Deal, DealRevision
from clients.selectors import deal_revision_summary

from . import audit_events
from .engine import commissions_pay
from .models import CommissionLine
from .world import n

Line = CommissionLine
ACTOR = "rule:deal-revision"
HELD_WITH = {
    Line.Status.WITHHELD: (
        "reverses_withheld",
        "Reverses line {line}, withheld for review: decided with it.",
    ),
    Line.Status.DISPUTED: (
        "reverses_disputed",
        "Reverses line {line}, under dispute: pending once the dispute closes.",
    ),
}


def _reversal(line: CommissionLine, revision: DealRevision, why: str) -> CommissionLine:
    status, reasons = Line.Status.PENDING, None
    if line.status in HELD_WITH:
        code, message = HELD_WITH[line.status]
        status = Line.Status.WITHHELD
        reasons = [{"code": code, "message": message.format(line=line.pk)}]
    return Line(
        deal_id=line.deal_id,
        deal_time=revision.detected_at,
        client_id=line.client_id,
        partner_id=line.partner_id,
        tier=line.tier,
        kind=Line.Kind.REVERSAL,
        version_id=line.version_id,
        rule_id=line.rule_id,
        symbol=line.symbol,
        rate=line.rate,
        volume=line.volume,
        base_amount=line.base_amount,
        formula=f"{why}; reverses line {line.pk} ({n(line.amount)} {line.currency})"[:255],
        currency=line.currency,
        fx_rate=line.fx_rate,
        amount=-line.amount,
        status=status,
        hold_reasons=reasons,
        reverses_id=line.pk,
        revision=line.revision,
    )


def revision_pay(*, revision_id: int) -> dict:
    """Reverse the deal's earlier lines and pay it again for revision `revision_id` (see the
    module). Idempotent. Returns {"reversed": n, "lines": n}."""
    with transaction.atomic():
        revision = DealRevision.objects.select_related("deal").get(pk=revision_id)
        # one revision of a deal handled at a time; the unique key does the rest
        deal = Deal.objects.select_for_update().get(pk=revision.deal_id)
        standing = list(
            Line.objects.filter(
                deal_id=deal.pk, kind=Line.Kind.COMMISSION, revision__lt=revision.number
            )
            .exclude(status=Line.Status.CANCELLED)
            .order_by("pk")
        )
        done = set(
            Line.objects.filter(deal_id=deal.pk, kind=Line.Kind.REVERSAL).values_list(
                "reverses_id", flat=True
            )
        )
        why = deal_revision_summary(revision)
        reversals = [_reversal(line, revision, why) for line in standing if line.pk not in done]
        written = 0
        if reversals:
            mine = Line.objects.filter(deal_id=deal.pk, kind=Line.Kind.REVERSAL)
            before = mine.count()
            Line.objects.bulk_create(reversals, ignore_conflicts=True)
            written = mine.count() - before
        paid = 0
        if deal.removed_at is None:
            paid = commissions_pay(deal_ids=[deal.pk])["lines"]
        if written or paid:
            audit_record(
                actor=ACTOR,
                action=audit_events.DEAL_REVISION_PAID,
                target=deal,
                subject=deal.client,
                reason=why,
                evidence={
                    "revision": revision.number,
                    "kind": revision.kind,
                    "reversed_lines": [r.reverses_id for r in reversals][:200],
                    "reversals_written": written,
                    "lines_paid": paid,
                },
            )
    return {"reversed": written, "lines": paid}


# Revisions whose deal still has a line paid at an earlier revision and not reversed: their
# task was lost (reversing and paying again are one transaction, so a revision whose lines are
# reversed was paid again too). Through the lines' unique key, deal first.
UNDONE_SQL = """
SELECT DISTINCT r.id FROM clients_dealrevision r
  JOIN ib_commissionline l ON l.deal_id = r.deal_id AND l.kind = 'commission'
                          AND l.revision < r.number AND l.status <> 'cancelled'
 WHERE r.detected_at >= %s
   AND NOT EXISTS (SELECT 1 FROM ib_commissionline x
                    WHERE x.deal_id = l.deal_id AND x.partner_id = l.partner_id
                      AND x.tier = l.tier AND x.kind = 'reversal' AND x.revision = l.revision)
 ORDER BY r.id
"""


def revisions_sweep(*, hours: int) -> dict:
    """Run `revision_pay` for the revisions detected in the last `hours` that a lost task left
    undone (see UNDONE_SQL); each run is idempotent."""
    since = timezone.now() - timedelta(hours=hours)
    out = {"reversed": 0, "lines": 0}
    with connection.cursor() as cur:
        cur.execute(UNDONE_SQL, [since])
        ids = [row[0] for row in cur.fetchall()]
    for revision_id in ids:
        result = revision_pay(revision_id=revision_id)
        out["reversed"] += result["reversed"]
        out["lines"] += result["lines"]
    return out


def reversals_follow(*, lines: list[CommissionLine], status: str, code: str) -> list[int]:
    """The withheld reversals (held with `code`) of these lines take `status`: the review's
    decision on a line is its reversal's too (see the module). Their ids."""
    deals = {line.deal_id for line in lines if line.deal_id}
    if not deals:
        return []
    held = list(
        Line.objects.select_for_update()
        .filter(
            deal_id__in=deals,
            kind=Line.Kind.REVERSAL,
            status=Line.Status.WITHHELD,
            reverses_id__in=[line.pk for line in lines],
        )
        .order_by("pk")
    )
    ids = [r.pk for r in held if any(h.get("code") == code for h in (r.hold_reasons or []))]
    Line.objects.filter(pk__in=ids).update(status=status)
    return ids
