"""What a draft plan version would have paid: "under this version, last month's deals would
have paid ...", side by side with what was paid, before an IB manager publishes it.

`version_preview` lets the draft price a past window as if it had been published at the
window's start (the plan's other versions coming into force inside the window stepping aside),
computes the window's lines exactly as the engine would (the same rate table and the same
`INSERT ... SELECT`, into a scratch table) and compares them, partner by partner, with the
commission lines stored for the window's deals. All of it runs in a transaction that is rolled
back: nothing is published, priced or written. CPA and revenue share are paid per client, not
per deal, and are not part of the comparison.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone

from brokerage.errors import InvalidInput

from .engine import COLUMNS, NOT_REVERSED, _Clock, _prepare, _window
from .models import Partner, PlanVersion

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


@dataclass
class Preview:
    start: object
    end: object
    rows: list[PartnerRow] = field(default_factory=list)
    paid: Decimal = Decimal(0)
    would: Decimal = Decimal(0)
    unpriced: int = 0
    partners: int = 0

    @property
    def difference(self) -> Decimal:
        return self.would - self.paid


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
        transaction.set_rollback(True)  # nothing of it is kept
    partners = Partner.objects.select_related("user").in_bulk([r[0] for r in rows[:limit]])
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
    return preview
