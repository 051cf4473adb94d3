"""Fraud signals: commission lines withheld for an IB manager's review, each with its reason.

The engine calls `fraud_screen` in the transaction that wrote a run's lines, with the run's
(client, partner, day) pairs in the temporary table `ib_new`. Each signal finds what it
suspects with the thresholds IB managers set (`FraudThresholds`, /backoffice/ib/fraud/) and
the run's pending lines it touches become `withheld`, with `hold_reasons` = [{code, message}]
(the message says what was seen, with the figures and the threshold). Withheld lines stay out
of settlement until an IB manager releases or cancels them. A line is screened once: the
signals look at the lines written in this run (`created_at = now()`, the run's transaction),
so a line a manager released is never withheld again by a rerun or the sweeper.

Signals (codes in `SIGNALS`):
- `related_client`: the client is linked to the partner's own record (`clients.links`: same
  phone, payment instrument, payer name, registration or sign-in IP, device, or name and date of
  birth): the partner's lines on that client.
- `account_cycling`: the client opened more than N trading accounts within D days: its lines on
  deals from the first of those openings until D days after the last.
- `opposite_trades`: a buy and a sell of the same volume on one symbol opened at most S
  seconds apart by two clients of one network (under the same top partner), found by
  `clients.links.opposite_trades` among positions opened from a day before the run's deals
  (in a run of given deals, a sync pass's, only the pairs touching those deals' positions:
  earlier pairs were screened when their deals were paid): the lines on both positions'
  deals, including the other side's lines already written and not yet screened.
- `short_hold_burst`: on a day, positions held under H seconds make more than P% of the client's
  closed lots: the client's lines of that day (the deals under the plan's own minimum hold
  earn nothing anyway). A closing deal is held under H seconds when its position had volume
  added in the H seconds before it. The client's deals of the day are read once from the
  (client, time) index, which carries the columns the check needs, and matched to their
  positions' openings in one join.
- `phantom_sub_ib`: a sub-IB with sub-IBs of its own and fewer than M clients of its own earns
  overrides only: its override lines (tier 1 and up).
"""

from __future__ import annotations

import time
from collections import defaultdict
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.text import capfirst

from brokerage.errors import InvalidInput
from brokerage.services import Actor, audit_record
from clients.links import links_among, opposite_trades

from . import audit_events
from .models import FraudThresholds, Partner
from .permissions import require_manager

SIGNALS = {
    "related_client": "Related to the partner",
    "account_cycling": "Account cycling",
    "opposite_trades": "Opposite trades in one network",
    "short_hold_burst": "Burst of short-hold trades",
    "phantom_sub_ib": "Phantom sub-IB",
}
OPPOSITE_LOOKBACK = timedelta(days=1)

NEW_TABLE = """
CREATE TEMP TABLE ib_new (client_id bigint, partner_id bigint, tier smallint, day timestamptz,
                          first_time timestamptz, last_time timestamptz) ON COMMIT DROP
"""
FLAG_TABLES = """
CREATE TEMP TABLE ib_flag (client_id bigint, partner_id bigint, min_tier smallint,
                           t_from timestamptz, t_to timestamptz, code text, message text)
    ON COMMIT DROP;
CREATE TEMP TABLE ib_flag_deal (deal_id bigint, code text, message text) ON COMMIT DROP
"""

CYCLING_SQL = """
INSERT INTO ib_flag
SELECT DISTINCT ON (client_id) client_id, NULL::bigint, 0, first_at,
       last_at + %(days)s * interval '1 day', 'account_cycling',
       format('Opened %%s trading accounts from %%s to %%s: more than %%s within %%s days.',
              n, to_char(first_at, 'YYYY-MM-DD'), to_char(last_at, 'YYYY-MM-DD'),
              %(most)s, %(days)s)
  FROM (SELECT client_id, opened_at AS last_at,
               count(*) OVER w AS n, min(opened_at) OVER w AS first_at
          FROM clients_tradingaccount
         WHERE client_id IN (SELECT client_id FROM ib_new)
        WINDOW w AS (PARTITION BY client_id ORDER BY opened_at
                     RANGE BETWEEN %(span)s PRECEDING AND CURRENT ROW)) a
 WHERE n > %(most)s
 ORDER BY client_id, n DESC, last_at
"""

BURST_SQL = """
INSERT INTO ib_flag
WITH d AS MATERIALIZED (
    -- each (client, day)'s trade deals, from the hold before the day to its end: one range of
    -- the (client, time) index per pair, read from the index alone (it carries the columns)
    SELECT p.client_id, p.day, c.time, c.entry, c.volume, c.server_id, c.position_id
      FROM (SELECT DISTINCT client_id, day FROM ib_new) p
     CROSS JOIN LATERAL (
        SELECT c.time, c.entry, c.volume, c.server_id, c.position_id FROM clients_deal c
         WHERE c.client_id = p.client_id
           AND c.time >= p.day - %(hold)s * interval '1 second'
           AND c.time < p.day + interval '1 day'
           AND c.action IN (0, 1) AND c.position_id <> 0 AND c.entry IN (0, 1, 3)
        OFFSET 0) c
), closing AS (
    SELECT * FROM d WHERE entry IN (1, 3) AND time >= day
), short AS (
    -- a closing deal whose position had volume added in the hold before it (one hash join,
    -- not a look-up per closing deal)
    SELECT c.client_id, c.day, sum(c.volume) AS short FROM closing c
     WHERE EXISTS (SELECT 1 FROM d o
                    WHERE o.entry = 0 AND o.server_id = c.server_id
                      AND o.position_id = c.position_id AND o.time <= c.time
                      AND o.time > c.time - %(hold)s * interval '1 second')
     GROUP BY c.client_id, c.day
)
SELECT s.client_id, NULL::bigint, 0, s.day, s.day + interval '1 day', 'short_hold_burst',
       format('On %%s, %%s of %%s closed lots (%%s%%%%) were held under %%s s: '
              'more than %%s%%%%.',
              to_char(s.day, 'YYYY-MM-DD'), trim_scale(s.short / 10000.0),
              trim_scale(t.lots / 10000.0), round(s.short * 100.0 / t.lots),
              %(hold)s, trim_scale(%(share)s::numeric))
  FROM short s
  JOIN (SELECT client_id, day, sum(volume) AS lots FROM closing
         WHERE (client_id, day) IN (SELECT client_id, day FROM short)
         GROUP BY client_id, day) t ON t.client_id = s.client_id AND t.day = s.day
 WHERE t.lots > 0 AND s.short * 100 > t.lots * %(share)s
"""

PHANTOM_SQL = """
INSERT INTO ib_flag
SELECT NULL::bigint, p.id, 1, '-infinity', 'infinity', 'phantom_sub_ib',
       format('A sub-IB with %%s sub-IB(s) of its own and %%s client(s) of its own (fewer than '
              '%%s): it earns overrides only.', kids.n, own.n, %(least)s)
  FROM ib_partner p
 CROSS JOIN LATERAL (SELECT count(*) AS n FROM ib_partner c WHERE c.parent_id = p.id) kids
 CROSS JOIN LATERAL (SELECT count(DISTINCT client_id) AS n FROM ib_referrallink r
                      WHERE r.partner_id = p.id) own
 WHERE p.id IN (SELECT partner_id FROM ib_new WHERE tier > 0)
   AND p.parent_id IS NOT NULL AND kids.n > 0 AND own.n < %(least)s
"""

# The run's pending lines each flag touches (through the run's pairs and the partner's
# (partner, deal_time) index), and the lines on flagged deals, withheld with their reasons.
WITHHOLD_SQL = """
WITH hit AS (
    SELECT l.id, f.code, f.message
      FROM ib_new n
      JOIN ib_flag f ON (f.client_id IS NULL OR f.client_id = n.client_id)
                    AND (f.partner_id IS NULL OR f.partner_id = n.partner_id)
                    AND f.t_from <= n.last_time AND f.t_to > n.first_time
      JOIN ib_commissionline l ON l.partner_id = n.partner_id AND l.client_id = n.client_id
                              AND l.deal_time >= greatest(n.first_time, f.t_from)
                              AND l.deal_time <= n.last_time AND l.deal_time < f.t_to
                              AND l.tier >= f.min_tier
     WHERE l.created_at = now() AND l.status = 'pending' AND l.period_id IS NULL
       AND {programmes}
    UNION ALL
    SELECT l.id, f.code, f.message
      FROM ib_flag_deal f
      JOIN ib_commissionline l ON l.deal_id = f.deal_id
     WHERE l.status = 'pending' AND l.period_id IS NULL
       AND (l.created_at = now() OR l.hold_reasons IS NULL) AND {programmes}
), reasons AS (
    SELECT id, jsonb_agg(jsonb_build_object('code', code, 'message', message)
                         ORDER BY code, message) AS reasons
      FROM (SELECT DISTINCT id, code, message FROM hit) h
     GROUP BY id
)
UPDATE ib_commissionline l SET status = 'withheld', hold_reasons = r.reasons
  FROM reasons r WHERE l.id = r.id
"""


def signal_label(code: str) -> str:
    return SIGNALS.get(code, code.replace("_", " ").capitalize())


def fraud_screen(cur, *, since, until, laps: dict | None = None, deal_ids=None) -> int:
    """Withhold the run's suspect lines (see the module). `cur` is the engine's cursor inside
    the run's transaction, `ib_new` filled; since/until bound the run's deal times; `deal_ids`,
    a run of given deals (a sync pass's): opposite trades are looked for only in pairs touching
    their positions (pairs of earlier positions were screened when those were paid). Returns
    how many lines were withheld; `laps` gets each signal's seconds.

    Each line is screened by the thresholds of its plan's programme (its own, else the global
    ones): when no programme has its own, the run is screened once, as a whole; otherwise once
    per set of thresholds, over the run's pairs of those programmes and their lines only."""
    laps = {} if laps is None else laps
    if not FraudThresholds.objects.filter(programme__isnull=False).exists():
        return _screen(cur, FraudThresholds.current(), None, since, until, laps, deal_ids)
    cur.execute(RUN_PROGRAMMES_SQL)
    cur.execute("SELECT DISTINCT programme_id FROM ib_new_all")
    limits = FraudThresholds.of_programmes([row[0] for row in cur.fetchall()])
    groups: dict[int, list[int]] = defaultdict(list)  # thresholds row -> its programmes
    rows = {}
    for programme_id, row in limits.items():
        groups[row.pk].append(programme_id)
        rows[row.pk] = row
    withheld = 0
    for pk, programmes in groups.items():
        cur.execute("DELETE FROM ib_new")
        cur.execute(
            "INSERT INTO ib_new SELECT DISTINCT client_id, partner_id, tier, day, first_time,"
            " last_time FROM ib_new_all WHERE programme_id = ANY(%s)",
            [programmes],
        )
        withheld += _screen(cur, rows[pk], programmes, since, until, laps, deal_ids)
    cur.execute("DROP TABLE ib_new_all")
    return withheld


# The run's (client, partner, day) groups with the programme of each of their lines' plans.
RUN_PROGRAMMES_SQL = """
CREATE TEMP TABLE ib_new_all ON COMMIT DROP AS
SELECT DISTINCT n.*, p.programme_id
  FROM ib_new n
  JOIN ib_commissionline l ON l.partner_id = n.partner_id AND l.client_id = n.client_id
                          AND l.deal_time >= n.first_time AND l.deal_time <= n.last_time
  JOIN ib_planversion v ON v.id = l.version_id
  JOIN ib_plan p ON p.id = v.plan_id
 WHERE l.created_at = now()
"""


def _screen(cur, limits, programmes, since, until, laps, deal_ids) -> int:
    """The signals with one set of thresholds over the pairs in `ib_new` (and, with
    `programmes`, only the lines of those programmes' plans)."""
    clock = time.perf_counter()

    def lap(name):
        nonlocal clock
        now = time.perf_counter()
        laps[f"fraud_{name}"] = round(now - clock, 3)
        clock = now

    for statement in FLAG_TABLES.split(";"):
        cur.execute(statement)
    cur.execute("SELECT DISTINCT client_id, partner_id FROM ib_new")
    pairs = cur.fetchall()
    if not pairs:
        cur.execute("DROP TABLE ib_flag, ib_flag_deal")
        return 0
    _related(cur, pairs, limits.related_clients)
    lap("related")
    cur.execute(
        CYCLING_SQL,
        {
            "days": limits.cycling_days,
            "span": timedelta(days=limits.cycling_days),
            "most": limits.cycling_accounts,
        },
    )
    lap("cycling")
    cur.execute(BURST_SQL, {"hold": limits.burst_hold_seconds, "share": limits.burst_share_pct})
    lap("burst")
    cur.execute(PHANTOM_SQL, {"least": limits.phantom_min_clients})
    lap("phantom")
    _opposite(cur, pairs, limits.opposite_seconds, since, until, deal_ids)
    lap("opposite")
    cur.execute("SELECT (SELECT count(*) FROM ib_flag) + (SELECT count(*) FROM ib_flag_deal)")
    withheld = 0
    if cur.fetchone()[0]:  # the usual run suspects nothing: nothing to join
        cur.execute("ANALYZE ib_flag")
        cur.execute("ANALYZE ib_flag_deal")
        if programmes is None:
            cur.execute(WITHHOLD_SQL.replace("{programmes}", "true"))
        else:
            cur.execute(WITHHOLD_SQL.replace("{programmes}", OF_PROGRAMMES), [programmes] * 2)
        withheld = max(cur.rowcount, 0)
    cur.execute("DROP TABLE ib_flag, ib_flag_deal")
    lap("withhold")
    return withheld


# A line of the programmes screened (when the run is screened by programme).
OF_PROGRAMMES = (
    "l.version_id IN (SELECT v.id FROM ib_planversion v JOIN ib_plan p ON p.id = v.plan_id"
    " WHERE p.programme_id = ANY(%s))"
)


def related_reasons(pairs, enabled: bool | None = None) -> dict[tuple[int, int], str]:
    """(client, partner) -> why the client is related to the partner's own record, for the
    pairs that are (`clients.links`); none when the check is switched off (`enabled`; None:
    as the global thresholds say)."""
    if not (FraudThresholds.current().related_clients if enabled is None else enabled):
        return {}
    partner_ids = {partner for _, partner in pairs}
    holders = dict(
        Partner.objects.filter(pk__in=partner_ids, holder__isnull=False).values_list(
            "pk", "holder_id"
        )
    )
    if not holders:
        return {}
    links = links_among({client for client, _ in pairs} | set(holders.values()))
    found = {}
    for client, partner in pairs:
        holder = holders.get(partner)
        if holder is None or holder == client:
            continue  # the partner's own account: the plan's self-trading rule decides
        reasons = links.get(client, {}).get(holder)
        if reasons:
            shared = "; ".join(r.label for r in reasons)
            found[(client, partner)] = f"Linked to the partner's own record: {shared}."
    return found


def _related(cur, pairs, enabled: bool) -> None:
    rows = [
        (client, partner, 0, "-infinity", "infinity", "related_client", message)
        for (client, partner), message in related_reasons(pairs, enabled).items()
    ]
    _copy(cur, "ib_flag", rows)


def _network_tops(partner_ids=None) -> dict[int, int]:
    """Each partner's top partner (the tree as it stands)."""
    parent = dict(Partner.objects.values_list("pk", "parent_id"))
    tops = {}
    for pk in parent if partner_ids is None else partner_ids:
        seen, node = set(), pk
        while parent.get(node) and node not in seen:
            seen.add(node)
            node = parent[node]
        tops[pk] = node
    return tops


def _opposite(cur, pairs, seconds: int, since, until, deal_ids=None) -> None:
    """Opposite trades between two clients of one network, opened from a day before the run
    (touching the positions of `deal_ids` when given)."""
    tops = _network_tops()
    run_tops = {tops.get(partner) for _, partner in pairs}
    cur.execute(
        "SELECT DISTINCT ON (client_id) client_id, partner_id FROM ib_referrallink "
        "ORDER BY client_id, valid_from DESC"
    )
    network = defaultdict(set)  # client -> the tops of the networks it is in
    for client, partner in cur.fetchall():
        if partner is not None and tops.get(partner) in run_tops:
            network[client].add(tops[partner])
    for client, partner in pairs:
        network[client].add(tops.get(partner))
    if len(network) < 2:
        return
    found = opposite_trades(
        client_ids=list(network),
        window_seconds=seconds,
        since=since - OPPOSITE_LOOKBACK,
        until=until + timedelta(seconds=seconds),
        same_volume=True,
        touching=deal_ids,
    )
    rows = []
    for pair in found:
        if not network[pair.buy_client_id] & network[pair.sell_client_id]:
            continue
        lots = f"{pair.buy_volume / 10000:g} lots each"
        for deal, other, side in (
            (pair.buy_deal_id, pair.sell_client_id, "a buy"),
            (pair.sell_deal_id, pair.buy_client_id, "a sell"),
        ):
            rows.append(
                (deal, "opposite_trades",
                 f"Opened {side} of {pair.symbol} {pair.seconds_apart:g} s apart from the "
                 f"opposite side by client #{other} in the same network ({lots}; limit "
                 f"{seconds} s).")
            )  # fmt: skip
    if not rows:
        return
    _copy(cur, "ib_flag_deal", rows)
    # The positions' other deals (the closing deals usually earn the lines).
    cur.execute(
        "INSERT INTO ib_flag_deal SELECT d.id, f.code, f.message FROM ib_flag_deal f"
        " JOIN clients_deal o ON o.id = f.deal_id AND o.position_id <> 0"
        " JOIN clients_deal d ON d.server_id = o.server_id AND d.position_id = o.position_id"
        " AND d.id <> o.id"
    )


def _copy(cur, table: str, rows) -> None:
    if rows:
        with cur.cursor.copy(f"COPY {table} FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


THRESHOLD_FIELDS = (
    "related_clients",
    "cycling_accounts",
    "cycling_days",
    "opposite_seconds",
    "burst_hold_seconds",
    "burst_share_pct",
    "phantom_min_clients",
)


@transaction.atomic
def fraud_thresholds_set(*, changes: dict, actor: Actor, programme=None) -> FraudThresholds:
    """Change the thresholds (IB managers): the global ones, or `programme`'s (its own row,
    made from the global values the first time); each value checked, the change audited with
    the values before and after. Lines already screened keep their outcome."""
    require_manager(actor)
    unknown = sorted(set(changes) - set(THRESHOLD_FIELDS))
    if unknown:
        raise InvalidInput(f"{', '.join(unknown)}: not a setting of the fraud checks.")
    default = FraudThresholds.current()
    if programme is None:
        row = FraudThresholds.objects.select_for_update().get(pk=default.pk)
    else:
        row = FraudThresholds.objects.select_for_update().filter(programme=programme).first()
        if row is None:  # the programme's own, from the global values
            row = FraudThresholds(
                programme=programme,
                **{name: getattr(default, name) for name in THRESHOLD_FIELDS},
            )
    fields = {name: FraudThresholds._meta.get_field(name) for name in THRESHOLD_FIELDS}
    before = {name: str(getattr(row, name)) for name in THRESHOLD_FIELDS}
    for name, value in changes.items():
        try:
            setattr(row, name, fields[name].clean(value, row))
        except ValidationError as error:
            raise InvalidInput(
                f"{capfirst(fields[name].verbose_name)}: {' '.join(error.messages)}"
            ) from None
    after = {name: str(getattr(row, name)) for name in THRESHOLD_FIELDS}
    if row.pk is not None and after == before:
        return row
    row.updated_by = None if isinstance(actor, str) else actor
    row.save()
    row.refresh_from_db()
    audit_record(
        actor=actor,
        action=audit_events.FRAUD_THRESHOLDS_CHANGED,
        target=row,
        evidence={
            "programme": programme.name if programme is not None else None,
            "before": before,
            "after": {name: str(getattr(row, name)) for name in THRESHOLD_FIELDS},
        },
    )
    return row


@transaction.atomic
def fraud_thresholds_reset(*, programme, actor: Actor) -> None:
    """`programme` goes back to the global thresholds (its own row removed); audited with the
    values it had."""
    require_manager(actor)
    row = FraudThresholds.objects.select_for_update().filter(programme=programme).first()
    if row is None:
        raise InvalidInput("This programme uses the global thresholds already.", code="unchanged")
    before = {name: str(getattr(row, name)) for name in THRESHOLD_FIELDS}
    audit_record(
        actor=actor,
        action=audit_events.FRAUD_THRESHOLDS_RESET,
        target=programme,
        evidence={"programme": programme.name, "before": before},
    )
    row.delete()
