"""What a draft plan version would have paid: "under this version, last month's deals would
have paid ...", side by side with what was paid, before an IB manager publishes it.

`version_preview` lets the draft price a past window as if it had been published at the
window's start (the plan's other versions coming into force inside the window stepping aside),
computes the window's lines exactly as the engine would (the same rate table and the same
`INSERT ... SELECT`, into a scratch table) and compares them, partner by partner, with the
commission lines stored for the window's deals. All of it runs in a transaction that is rolled
back: nothing is published, priced or written.

CPA and revenue share are paid per client, not per deal: in the same transaction, the CPAs the
window's clients would qualify for under the draft (dated in the window, computed by
`ib.client_rules.cpa_lines` as the engine pays them) and the revenue share of the window as if
it were the programme's period (`revshare_lines`), each per partner beside the lines of that
kind stored for the window (`ClientKindRow`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone

from brokerage.errors import InvalidInput

from .client_rules import cpa_lines, revshare_lines
from .engine import COLUMNS, NOT_REVERSED, _Clock, _prepare, _window
from .models import CommissionLine, Partner, PlanRule, PlanVersion

MAX_DAYS = 92

BY_PARTNER = """
SELECT coalesce(a.partner_id, s.partner_id), coalesce(s.lines, 0), coalesce(s.amount, 0),
       coalesce(a.lines, 0), coalesce(a.amount, 0)
  FROM (SELECT partner_id, count(*) AS lines, sum(amount) AS amount FROM ib_again
         GROUP BY partner_id) a
  FULL JOIN (SELECT partner_id, count(*) AS lines, sum(amount) AS amount
               FROM ib_commissionline
              WHERE kind = 'commission' AND deal_time >= %s AND deal_time < %s
                AND {not_reversed}
              GROUP BY partner_id) s ON s.partner_id = a.partner_id
 WHERE coalesce(a.amount, 0) <> coalesce(s.amount, 0) OR a.partner_id IN (
       SELECT DISTINCT partner_id FROM ib_again WHERE version_id = %s)
 ORDER BY abs(coalesce(a.amount, 0) - coalesce(s.amount, 0)) DESC, 1
""".replace("{not_reversed}", NOT_REVERSED)


@dataclass
class PartnerRow:
    partner: Partner
    paid_lines: int
    paid: Decimal
    would_lines: int
    would: Decimal

    @property
    def difference(self) -> Decimal:
        return self.would - self.paid


CLIENT_KINDS = {CommissionLine.Kind.CPA: "CPA", CommissionLine.Kind.REVSHARE: "Revenue share"}


@dataclass
class ClientKindRow:
    """A partner's CPA or revenue share in the window: stored, and under the draft."""

    partner: Partner
    kind: str
    paid_lines: int = 0
    paid: Decimal = Decimal(0)
    would_lines: int = 0
    would: Decimal = Decimal(0)

    @property
    def label(self) -> str:
        return CLIENT_KINDS[self.kind]

    @property
    def difference(self) -> Decimal:
        return self.would - self.paid


@dataclass
class Preview:
    start: object
    end: object
    rows: list[PartnerRow] = field(default_factory=list)
    paid: Decimal = Decimal(0)
    would: Decimal = Decimal(0)
    unpriced: int = 0
    partners: int = 0
    client_rows: list[ClientKindRow] = field(default_factory=list)
    # kind -> [paid, would] over every partner
    client_totals: dict = field(default_factory=dict)

    @property
    def difference(self) -> Decimal:
        return self.would - self.paid

    @property
    def client_kinds(self) -> list[dict]:
        return [
            {"kind": kind, "label": CLIENT_KINDS[kind], "paid": paid, "would": would,
             "difference": would - paid}
            for kind, (paid, would) in self.client_totals.items()
        ]  # fmt: skip


def preview_window(start_text: str, end_text: str, today=None):
    """The window a preview covers: the dates given, else last calendar month; checked."""
    today = today or timezone.localdate()
    if not start_text and not end_text:
        end = today.replace(day=1)
        start = (end - timedelta(days=1)).replace(day=1)
    else:
        try:
            start, end = date.fromisoformat(start_text), date.fromisoformat(end_text)
        except ValueError:
            raise InvalidInput(
                "Give the window as two dates.", fields={"start": ["A date, e.g. 2026-11-01."]}
            ) from None
    if end <= start:
        raise InvalidInput("The window ends after it starts.", fields={"end": ["After the start."]})
    if (end - start).days > MAX_DAYS:
        raise InvalidInput(
            f"A preview covers at most {MAX_DAYS} days.", fields={"end": ["Too long a window."]}
        )
    if end > today + timedelta(days=1):
        raise InvalidInput("A preview looks at deals already closed.", fields={"end": ["Past."]})
    tz = timezone.get_current_timezone()
    return (
        timezone.make_aware(datetime.combine(start, datetime.min.time()), tz),
        timezone.make_aware(datetime.combine(end, datetime.min.time()), tz),
    )


def version_preview(*, version: PlanVersion, start, end, limit: int = 200) -> Preview:
    """What `version` (a draft) would have paid for the deals closed in [start, end), beside
    what was paid, per partner (those the draft pays and those whose total would change)."""
    if version.published_at:
        raise InvalidInput("This version is published: its lines are the ones paid.")
    preview = Preview(start=start, end=end)
    window, wparams = _window(None, start, end)
    with transaction.atomic(), connection.cursor() as cur:
        PlanVersion.objects.filter(plan_id=version.plan_id, valid_from__gt=start).exclude(
            pk=version.pk
        ).update(published_at=None)
        PlanVersion.objects.filter(pk=version.pk).update(
            published_at=timezone.now(), valid_from=start
        )
        cur.execute(
            "CREATE TEMP TABLE ib_again ON COMMIT DROP AS SELECT * FROM ib_commissionline"
            " WITH NO DATA"
        )
        prepared = _prepare(cur, window, wparams, None, start, end, _Clock())
        if prepared is not None:
            cur.execute(
                f"INSERT INTO ib_again ({COLUMNS}) " + prepared.lines.format(window=window),
                wparams,
            )
            cur.execute(
                "SELECT count(DISTINCT symbol) FROM ib_unpriced WHERE version_id = %s", [version.pk]
            )
            preview.unpriced = cur.fetchone()[0]
        cur.execute(BY_PARTNER, [start, end, version.pk])
        rows = cur.fetchall()
        client = _client_kinds(version, start, end)
        transaction.set_rollback(True)  # nothing of it is kept
    shown = [r[0] for r in rows[:limit]] + [key[0] for key, _ in client[:limit]]
    partners = Partner.objects.select_related("user").in_bulk(shown)
    preview.partners = len(rows)
    for partner_id, paid_lines, paid, would_lines, would in rows:
        preview.paid += Decimal(paid)
        preview.would += Decimal(would)
        if partner_id in partners:
            preview.rows.append(
                PartnerRow(
                    partners[partner_id], paid_lines, Decimal(paid), would_lines, Decimal(would)
                )
            )
    for (partner_id, kind), (paid_lines, paid, would_lines, would) in client:
        total = preview.client_totals.setdefault(kind, [Decimal(0), Decimal(0)])
        total[0] += paid
        total[1] += would
        if partner_id in partners and len(preview.client_rows) < limit:
            preview.client_rows.append(
                ClientKindRow(partners[partner_id], kind, paid_lines, paid, would_lines, would)
            )
    return preview


def _client_kinds(version: PlanVersion, start, end) -> list[tuple]:
    """[((partner, kind), (paid lines, paid, lines, would pay))] of CPA and revenue share in
    [start, end): what the draft (published for this transaction) would pay beside what is
    stored, for the partners whose amount would change or whom the draft pays; the largest
    differences first. Kinds the programme's plans do not pay are left out."""
    kinds = set(
        PlanRule.objects.filter(
            kind__in=list(CLIENT_KINDS), version__plan__programme_id=version.plan.programme_id
        ).values_list("kind", flat=True)
    )
    would: list[CommissionLine] = []
    if PlanRule.Kind.CPA in kinds:
        longest = max(
            PlanRule.objects.filter(kind=PlanRule.Kind.CPA).values_list("within_days", flat=True),
            default=0,
        )
        since = start - timedelta(days=(longest or 0) + 1)  # dated when the client qualified
        would += cpa_lines(since=since, until=end, paid_too=True, now=end)
    if PlanRule.Kind.REVSHARE in kinds:
        would += revshare_lines(programme=version.plan.programme, start=start, end=end)
    table: dict[tuple, list] = {}
    draft = set()
    for line in would:
        if not start <= line.deal_time < end:
            continue
        row = table.setdefault((line.partner_id, line.kind), [0, Decimal(0), 0, Decimal(0)])
        row[2] += 1
        row[3] += line.amount
        if line.version_id == version.pk:
            draft.add((line.partner_id, line.kind))
    stored = CommissionLine.objects.filter(
        kind__in=kinds, deal_time__gte=start, deal_time__lt=end
    ).values_list("partner_id", "kind", "amount")
    for partner_id, kind, amount in stored:
        row = table.setdefault((partner_id, kind), [0, Decimal(0), 0, Decimal(0)])
        row[0] += 1
        row[1] += amount
    found = [(key, tuple(row)) for key, row in table.items() if row[1] != row[3] or key in draft]
    return sorted(found, key=lambda item: (-abs(item[1][3] - item[1][1]), item[0]))
