"""A month's per-client lines computed again and compared with the stored ones (`ib_recompute`).

The deal lines are recomputed by the engine (`ib.engine.commissions_recompute`); this covers the
lines paid per client rather than per deal, dated in the window: CPAs (every client whose first
deposit could have qualified in it, paid or not), their clawbacks (only of the CPAs whose
clawback can be dated in it, not every one ever), and, for each closed period of each programme
overlapping the window, its revenue share and its rebates (on the lines the period took). Each
is computed by the same function that wrote it, without writing, and
compared by (event key, partner, level, kind, amount): counts, totals, a checksum in order, and
the first differences. Nothing is written.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from datetime import timedelta
from decimal import Decimal

from .client_rules import clawback_lines, cpa_lines, revshare_lines
from .engine import Recomputed
from .models import CommissionLine, CommissionPeriod, PlanRule
from .rebates import rebate_lines

CLIENT_KINDS = (
    CommissionLine.Kind.CPA,
    CommissionLine.Kind.CLAWBACK,
    CommissionLine.Kind.REVSHARE,
    CommissionLine.Kind.REBATE,
)
EXACT = Decimal("0.00000001")


def _row(event_key, partner_id, tier, kind, amount) -> tuple:
    return (event_key, partner_id, tier, str(kind), Decimal(amount).quantize(EXACT))


def _sums(rows) -> tuple[int, Decimal, str]:
    ordered = sorted(rows)
    digest = hashlib.md5(  # noqa: S324 (a checksum to compare, not a secret)
        ",".join(":".join(str(v) for v in row) for row in ordered).encode()
    ).hexdigest()
    return len(ordered), sum((row[4] for row in ordered), Decimal(0)), digest


def client_lines_recompute(*, start, end, partner_id: int | None = None, limit: int = 50):
    """The per-client lines dated in [start, end) again (of one partner or all) against the
    stored ones (see the module)."""
    longest = max(
        PlanRule.objects.filter(kind=PlanRule.Kind.CPA).values_list("within_days", flat=True),
        default=None,
    )
    lines: list[CommissionLine] = []
    if longest is not None:  # a CPA is dated when the client qualified, within N days
        since = start - timedelta(days=(longest or 0) + 1)
        lines += cpa_lines(since=since, until=end, paid_too=True)
    lines += clawback_lines(paid_too=True, since=start, until=end)
    periods = CommissionPeriod.objects.filter(start__lt=end, end__gt=start).select_related(
        "programme"
    )
    for period in periods:
        kw = {"programme": period.programme, "start": period.start, "end": period.end}
        lines += revshare_lines(**kw)
        lines += rebate_lines(**kw, period=period)
    again = [
        _row(line.event_key, line.partner_id, line.tier, line.kind, line.amount)
        for line in lines
        if start <= line.deal_time < end and (partner_id is None or line.partner_id == partner_id)
    ]
    stored_lines = CommissionLine.objects.filter(
        kind__in=CLIENT_KINDS, deal_time__gte=start, deal_time__lt=end
    )
    if partner_id is not None:
        stored_lines = stored_lines.filter(partner_id=partner_id)
    stored = [
        _row(*values)
        for values in stored_lines.values_list("event_key", "partner_id", "tier", "kind", "amount")
    ]
    only_again, only_stored = Counter(again) - Counter(stored), Counter(stored) - Counter(again)
    differences = sorted(
        [("recomputed only", *row) for row in only_again.elements()]
        + [("stored only", *row) for row in only_stored.elements()],
        key=lambda d: (d[1], d[2], d[3], d[0]),
    )[:limit]
    return Recomputed(*_sums(again), *_sums(stored), differences)
