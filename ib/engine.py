"""The commission engine: closed deals in, commission lines out, each written once.

A run covers deals by id or by time window (a sync pass's new deals, a sweep, a period). It
works in two steps:

1. **The rate table, in Python, small.** The times at which anything that prices a deal
   changes inside the window (a parent moved, a plan attached, a version coming into force)
   cut it into intervals in which the tree and the plans stand still. For each interval, each
   partner that may be a client's IB (the *leaf*), and each symbol traded, it works out the
   chain leaf -> parent -> ... -> top partner as it stood, each level's plan version (its own
   plan, else the nearest ancestor's) and its rate for the symbol (symbol rule, then group
   rule, then the plan's default: `rate_lookup`), and what each level earns:
   - the top partner's version sets the total the broker pays per unit and the rules of the
     game (kind of rule, entry, minimum hold, self-trading, tiers);
   - by difference: a level's effective rate is its rate capped by every rate above it; the
     client's IB earns its effective rate and each level above earns its effective rate less
     the level below's. The levels of one deal sum to at most the top rate, never negative; a
     level with no rate earns nothing and passes the rate below up;
   - by share: the client's IB earns its (capped) rate, each level above earns the top
     version's percent of the level below's earning, and the total is capped at the top rate.
   No rate for the symbol at the top: the deal is *unpriced* (reported in `UnpricedDeal`).
2. **One `INSERT ... SELECT`** joins the window's deals to the client's IB at the deal's
   time (`ReferralLink`) and to the rate table, filters (trades only: buy and sell deals, never
   balance, commission or agent deals; real accounts, not `demo` groups; the entry the plan
   pays; positions held at least the minimum; no partner's own account unless allowed) and
   writes the lines with their "why". `ON CONFLICT DO NOTHING` on (deal, partner, tier, kind)
   makes any rerun or race write nothing twice.
3. **The fraud checks** (`ib.fraud`) in the same transaction: the lines just written that a
   check suspects are withheld for review, each with its reason.

Amounts: per lot, volume (1/10000 lot) / 10000 x rate; percent of commission, |commission| x
rate / 100; percent of markup, lots x the markup per lot of the deal's account type and symbol
(`ib_markup`, in the programme's currency at the rate of the deal's close time, stored on the
line as its `fx_rate`) x rate / 100; kept exact (8 places). CPA and revenue
share are paid per client, not per deal (`ib.client_rules`). A period's settlement rounds each
partner's total once, half up to cents (`ib.periods`).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction

from clients.models import AccountTypeMarkup

from .fraud import NEW_TABLE, fraud_screen
from .fx import fx_rate, usd_rate_segments
from .models import PlanRule
from .world import ANY, FAR_FUTURE, FAR_PAST, World, earnings, n, pays_deals

REFERRALS_SQL = """
CREATE TEMP TABLE ib_ref ON COMMIT DROP AS
SELECT client_id, partner_id, t_from, t_to FROM (
    SELECT client_id, partner_id, valid_from AS t_from,
           coalesce(lead(valid_from) OVER (PARTITION BY client_id ORDER BY valid_from),
                    'infinity') AS t_to
      FROM ib_referrallink) x
 WHERE partner_id IS NOT NULL
"""

RATE_TABLE = """
CREATE TEMP TABLE ib_rate (
    t_from timestamptz, t_to timestamptz, leaf bigint, symbol text, partner_id bigint,
    tier smallint, kind text, rate numeric, version_id bigint, rule_id bigint, why text,
    currency text, entry text, min_hold integer, self_trading boolean, atc bigint, cc text
) ON COMMIT DROP
"""

# Only when a version in force in the window narrows a rate to account types or countries
# (`World.scoped_between`): which accounts are of a type a rule names (ib_acct), and each
# client's country class (`World.country_classes`) through time (ib_where), for the clients
# whose deals the window holds only (ib_who), never the whole history table: from the client's
# history (simple_history), the first known country back to the start of time and the current
# one from the last change on; a client without history rows by its current country.
SCOPE_TABLES = """
CREATE TEMP TABLE ib_acct ON COMMIT DROP AS
SELECT id AS account_id, account_type_id AS atc FROM clients_tradingaccount
 WHERE account_type_id = ANY(%s);
CREATE UNIQUE INDEX ON ib_acct (account_id);
CREATE TEMP TABLE ib_who ON COMMIT DROP AS
SELECT DISTINCT d.client_id FROM clients_deal d WHERE {window};
CREATE TEMP TABLE ib_where ON COMMIT DROP AS
SELECT x.client_id, c.cc, x.t_from, x.t_to FROM (
    SELECT h.id AS client_id,
           CASE WHEN lead(h.history_date) OVER w IS NULL THEN k.country ELSE h.country END
               AS country,
           CASE WHEN lag(h.history_date) OVER w IS NULL THEN '-infinity'::timestamptz
                ELSE h.history_date END AS t_from,
           coalesce(lead(h.history_date) OVER w, 'infinity') AS t_to
      FROM ib_who q
      JOIN clients_historicalclient h ON h.id = q.client_id
      JOIN clients_client k ON k.id = h.id
    WINDOW w AS (PARTITION BY h.id ORDER BY h.history_date, h.history_id)) x
  JOIN ib_cc c ON c.country = x.country
UNION ALL
SELECT k.id, c.cc, '-infinity', 'infinity' FROM ib_who q
  JOIN clients_client k ON k.id = q.client_id
  JOIN ib_cc c ON c.country = k.country
 WHERE NOT EXISTS (SELECT 1 FROM clients_historicalclient h WHERE h.id = k.id);
CREATE INDEX ON ib_where (client_id, t_from);
ANALYZE ib_acct, ib_where
"""
# A deal's account type class and country class (0 and "": none a rule names).
DEAL_ATC = "coalesce((SELECT a.atc FROM ib_acct a WHERE a.account_id = d.account_id), 0)"
DEAL_CC = (
    "coalesce((SELECT w.cc FROM ib_where w WHERE w.client_id = d.client_id"
    " AND w.t_from <= d.time AND d.time < w.t_to LIMIT 1), '')"
)

SCOPED_PAIRS_SQL = """
SELECT r.partner_id, d.symbol, coalesce(a.atc, 0), coalesce(w.cc, '')
  FROM clients_deal d
  JOIN ib_ref r ON r.client_id = d.client_id AND d.time >= r.t_from AND d.time < r.t_to
  LEFT JOIN ib_acct a ON a.account_id = d.account_id
  LEFT JOIN ib_where w ON w.client_id = d.client_id AND d.time >= w.t_from AND d.time < w.t_to
 WHERE {window} AND d.action IN (0, 1) AND d.volume > 0
 GROUP BY 1, 2, 3, 4
"""

PAIRS_SQL = """
SELECT DISTINCT r.partner_id, d.symbol
  FROM clients_deal d
  JOIN ib_ref r ON r.client_id = d.client_id AND d.time >= r.t_from AND d.time < r.t_to
 WHERE {window} AND d.action IN (0, 1) AND d.volume > 0
"""

COLUMNS = """deal_id, deal_time, client_id, partner_id, tier, kind, version_id, rule_id, symbol,
    rate, volume, base_amount, formula, currency, fx_rate, amount, status, hold_reasons,
    created_at, revision"""

# The lines a window's deals earn, as the engine writes them (and `commissions_recompute`
# reads them again): the deal joined to its client's IB at its close time and to the rate
# table, filtered as the plan says. Three layers, each computing once what it can: per deal
# (when its position opened, what a reversal closes), per line (the volume paid, the markup),
# then the amounts and the "why" (each subquery kept whole by OFFSET 0, so that what a layer
# computed is not copied into every expression above that uses it). The deals stream in the
# order they are stored, each joined to the (small, hashed) rate table, so lines are written in
# deal order: the unique index on (deal, ...) grows at its end, which halves the cost of a
# line's insert against lines written in random order.
LINES_TEXT = """
SELECT y.id, y.time, y.client_id, y.partner_id, y.tier, 'commission', y.version_id, y.rule_id,
       y.symbol, y.rate, y.vol,
       CASE WHEN y.kind = 'per_lot' THEN y.vol / 10000.0
            WHEN y.kind = 'pct_markup' THEN round(y.vol * y.markup / 10000, 8)
            ELSE abs(y.commission_amount) END,
       CASE WHEN y.kind = 'per_lot'
            THEN trim_scale(y.vol / 10000.0)::text || ' lots x ' || y.why
            WHEN y.kind = 'pct_markup'
            THEN trim_scale(y.vol / 10000.0)::text || ' lots x '
                 || trim_scale(y.markup) || ' markup per lot x ' || y.why
            ELSE abs(y.commission_amount)::text || ' commission x ' || y.why END,
       y.currency, coalesce(y.markup_fx, 1),
       round(CASE WHEN y.kind = 'per_lot' THEN y.vol * y.rate / 10000
                  WHEN y.kind = 'pct_markup' THEN y.vol * y.markup * y.rate / 1000000
                  ELSE abs(y.commission_amount) * y.rate / 100 END, 8),
       'pending', NULL::jsonb, now(), y.revision
  FROM (
    SELECT d.id, d.time, d.client_id, x.partner_id, x.tier, x.kind, x.version_id, x.rule_id,
           d.symbol, x.rate, x.why, x.currency, d.commission_amount, d.revision, {vol} AS vol,
           CASE WHEN x.kind = 'pct_markup' THEN {markup} END AS markup,
           CASE WHEN x.kind = 'pct_markup' THEN {markup_fx} END AS markup_fx
      FROM (
        SELECT d.id, d.time, d.client_id, d.symbol, d.volume, d.entry, d.account_id,
               d.commission_amount, d.revision,
               -- a closing deal: when its position last had volume added (the hold filter)
               CASE WHEN d.entry IN (1, 3) AND d.position_id <> 0 THEN
                    (SELECT max(o.time) FROM clients_deal o
                      WHERE o.server_id = d.server_id AND o.position_id = d.position_id
                        AND o.entry = 0) END AS opened,
               CASE WHEN d.entry = 2 THEN {closed} END AS closed,
               -- the client's IB when the deal closed
               (SELECT r.partner_id FROM ib_ref r
                 WHERE r.client_id = d.client_id AND r.t_from <= d.time AND d.time < r.t_to
                 LIMIT 1) AS leaf{scope_columns}
          FROM clients_deal d
         WHERE {window} AND d.action IN (0, 1) AND d.volume > 0 AND d.removed_at IS NULL
           AND d.account_id NOT IN (SELECT id FROM clients_tradingaccount
                                     WHERE "group" ILIKE 'demo%%')
        OFFSET 0) d
      JOIN ib_rate x ON x.leaf = d.leaf AND x.symbol = d.symbol{scope_join}
                    AND d.time >= x.t_from AND d.time < x.t_to
     WHERE (x.entry = 'both' OR (x.entry = 'out' AND d.entry IN (1, 2, 3))
            OR (x.entry = 'in' AND d.entry IN (0, 2)))
       AND (x.self_trading OR d.client_id NOT IN (
            SELECT holder_id FROM ib_partner WHERE holder_id IS NOT NULL))
       -- held under the minimum: volume was added to the position too recently
       AND (d.opened IS NULL OR x.min_hold <= 0
            OR d.opened <= d.time - x.min_hold * interval '1 second')
    OFFSET 0) y
 -- a reversal (INOUT) pays only the side the plan pays: the volume it closes, or opens
 WHERE y.vol > 0
   AND (y.kind = 'per_lot' OR (y.kind = 'pct_commission' AND y.commission_amount <> 0)
        OR (y.kind = 'pct_markup' AND y.markup > 0))
"""
# The volume a line pays: the deal's, except for a reversal (INOUT) under a plan paying one
# side: the part that closes the position (its net volume before, from the position's earlier
# deals) for closing deals, the rest for opening deals.
VOLUME = (
    "(CASE WHEN d.entry = 2 AND x.entry <> 'both' THEN"
    " (CASE WHEN x.entry = 'out' THEN d.closed ELSE d.volume - d.closed END)"
    " ELSE d.volume END)"
)
# (read through the account's deals from the position's opening deal: both indexed)
CLOSED = (
    "least(d.volume, abs(coalesce((SELECT sum(CASE WHEN p.action = 0 THEN p.volume"
    " ELSE -p.volume END) FROM clients_deal p WHERE p.account_id = d.account_id"
    " AND p.time <= d.time AND p.time >= (SELECT min(o.time) FROM clients_deal o"
    " WHERE o.server_id = d.server_id AND o.position_id = d.position_id AND o.entry = 0)"
    " AND p.position_id = d.position_id AND d.position_id <> 0 AND p.action IN (0, 1)"
    " AND (p.time, p.id) < (d.time, d.id)), 0)))"
)
# The markup per lot of the deal's account type and symbol, in the programme's currency
# (evaluated only for lines of that kind).
MARKUP = (
    "(SELECT m.{column} FROM ib_markup m JOIN clients_tradingaccount a"
    " ON a.account_type_id = m.account_type_id"
    " WHERE a.id = d.account_id AND m.symbol = d.symbol AND m.currency = x.currency"
    " AND d.time >= m.t_from AND d.time < m.t_to)"
)
LINES_BODY = (
    LINES_TEXT.replace("{vol}", VOLUME)
    .replace("{closed}", CLOSED)
    .replace("{markup}", MARKUP.replace("{column}", "per_lot"))
    .replace("{markup_fx}", MARKUP.replace("{column}", "fx_rate"))
)
# Deals told apart by account type and country (a version in the window narrows a rate to
# them): each deal's classes worked out once, joined to the rate table keyed by them too.
SCOPE_COLUMNS = f",\n               {DEAL_ATC} AS atc,\n               {DEAL_CC} AS cc"
SCOPE_JOIN = " AND x.atc = d.atc AND x.cc = d.cc"
LINES_SELECT = LINES_BODY.replace("{scope_columns}", "").replace("{scope_join}", "")
LINES_SELECT_SCOPED = LINES_BODY.replace("{scope_columns}", SCOPE_COLUMNS).replace(
    "{scope_join}", SCOPE_JOIN
)


# The lines written once (`ON CONFLICT DO NOTHING`), the (client, partner, day) groups the
# fraud checks read gathered in ib_new; answers (count, versions paid).
INSERT_HEAD = "WITH ins AS (INSERT INTO ib_commissionline (" + COLUMNS + ")"
INSERT_TAIL = """ON CONFLICT (deal_id, partner_id, tier, kind, revision) WHERE deal_id IS NOT NULL
DO NOTHING
RETURNING version_id, client_id, partner_id, tier, deal_time
), new AS (
INSERT INTO ib_new
SELECT client_id, partner_id, max(tier), date_trunc('day', deal_time), min(deal_time),
       max(deal_time)
  FROM ins GROUP BY client_id, partner_id, date_trunc('day', deal_time)
)
SELECT count(*), array_agg(DISTINCT version_id) FROM ins
"""
LINES_SQL = INSERT_HEAD + LINES_SELECT + INSERT_TAIL
LINES_SQL_SCOPED = INSERT_HEAD + LINES_SELECT_SCOPED + INSERT_TAIL


MARKUP_TABLE = """
CREATE TEMP TABLE ib_markup (
    account_type_id bigint, symbol text, currency text, t_from timestamptz, t_to timestamptz,
    per_lot numeric, fx_rate numeric,
    PRIMARY KEY (account_type_id, symbol, currency, t_from)
) ON COMMIT DROP
"""


def markup_rows(currencies, low, high) -> list[tuple]:
    """(account type, symbol, currency, from, to, markup per lot in that currency, rate) for
    each markup an account type adds: points x point size x contract size, in the symbol's
    quote currency, converted by the one FX rule (`ib.fx`: the rate as it stood when the deal
    closed, 6 places), for each stretch of [low, high] in which the rates stood still. A
    markup whose instrument has no contract, digits or quote currency yet, or whose currency
    has no rate, pays nothing."""
    markups = [
        m
        for m in AccountTypeMarkup.objects.select_related("instrument")
        if m.instrument.point_value is not None and m.instrument.quote_currency and m.markup_points
    ]
    if not markups:
        return []
    rows = []
    for t_from, t_to, usd in usd_rate_segments(low, high, FAR_PAST, FAR_FUTURE):
        for m in markups:
            quote = m.instrument.quote_currency
            points = m.markup_points * m.instrument.point_value
            for currency in currencies:
                rate = fx_rate(quote, currency, rates=usd)
                if rate is None:
                    continue
                per_lot = round(points * rate, 8)
                rows.append(
                    (m.account_type_id, m.instrument.symbol, currency, t_from, t_to, per_lot, rate)
                )
    return rows


UNPRICED_SQL = """
INSERT INTO ib_unpriceddeal (deal_id, partner_id, version_id, symbol, found_at)
SELECT d.id, u.leaf, u.version_id, d.symbol, now()
  FROM clients_deal d
  JOIN ib_ref r ON r.client_id = d.client_id AND d.time >= r.t_from AND d.time < r.t_to
  JOIN ib_unpriced u ON u.leaf = r.partner_id AND u.symbol = d.symbol
                    AND d.time >= u.t_from AND d.time < u.t_to{scope}
 WHERE {window} AND d.action IN (0, 1) AND d.volume > 0
ON CONFLICT (deal_id, partner_id) DO NOTHING
"""
UNPRICED_PLAIN = UNPRICED_SQL.replace("{scope}", "")
UNPRICED_SCOPED = UNPRICED_SQL.replace(
    "{scope}", f"\n                    AND u.atc = {DEAL_ATC} AND u.cc = {DEAL_CC}"
)


class _Clock:
    """Seconds per stage of a run, for the benchmark and the logs."""

    def __init__(self):
        self.laps: dict[str, float] = {}
        self.last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = round(now - self.last, 3)
        self.last = now


def _window(deal_ids, start, end, shard=None) -> tuple[str, list]:
    if deal_ids is not None:
        return "d.id = ANY(%s)", [list(deal_ids)]
    if shard is not None:  # (shards, this one): the clients whose id leaves this remainder
        return "d.time >= %s AND d.time < %s AND d.client_id %% %s = %s", [start, end, *shard]
    return "d.time >= %s AND d.time < %s", [start, end]


def _bounds(cur, deal_ids, start, end):
    if deal_ids is None:
        return start, end
    cur.execute("SELECT min(time), max(time) FROM clients_deal WHERE id = ANY(%s)", [deal_ids])
    low, high = cur.fetchone()
    return low, high


@dataclass(frozen=True)
class Prepared:
    """A run's queries over the temporary tables `_prepare` made: the window's lines (a
    SELECT of COLUMNS) and the unpriced deals' INSERT, each still to be given the window."""

    lines: str
    insert: str  # the lines written (`LINES_SQL`)
    unpriced: str
    scoped: bool


def _prepare(cur, window: str, wparams: list, deal_ids, start, end, clock) -> Prepared | None:
    """The temporary tables a run joins deals with: the referrals through time (ib_ref), the
    rate table (ib_rate) and the unpriced (leaf, symbol) pairs (ib_unpriced), keyed by account
    type and country class too when a version in force in the window narrows a rate to them
    (ib_acct, ib_cc, ib_where). None when no deal of the window has an IB.

    The engine's run, `ib_recompute`, a dispute's recompute and the plan editor's preview all
    price deals through it and the queries it answers: one lookup, never a copy."""
    cur.execute(
        "DROP TABLE IF EXISTS ib_ref, ib_rate, ib_unpriced, ib_new, ib_markup, ib_acct, ib_cc,"
        " ib_who, ib_where"
    )
    cur.execute("SET LOCAL work_mem = '256MB'")  # the period's joins sort in memory
    if deal_ids is not None:
        # A sync pass's deals: no JIT. Compiling the lines' query took about 4 s, longer than
        # the pass's whole run; a period's run (a million lines) gains more than it costs.
        cur.execute("SET LOCAL jit = off")
    cur.execute(REFERRALS_SQL)
    cur.execute("CREATE INDEX ON ib_ref (client_id, t_from)")
    clock.lap("referrals")
    cur.execute(PAIRS_SQL.format(window=window), wparams)
    pairs = cur.fetchall()
    clock.lap("pairs")
    if not pairs:
        return None
    low, high = _bounds(cur, deal_ids, start, end)
    world = World.load({symbol for _, symbol in pairs})
    scoped = world.scoped_between(low, high)
    if scoped:
        classes = world.country_classes()
        cur.execute("CREATE TEMP TABLE ib_cc (country text PRIMARY KEY, cc text) ON COMMIT DROP")
        with cur.cursor.copy("COPY ib_cc FROM STDIN") as copy:
            for row in classes.items():
                copy.write_row(row)
        for i, statement in enumerate(SCOPE_TABLES.split(";")):
            if "{window}" in statement:
                cur.execute(statement.format(window=window), wparams)
            else:
                cur.execute(statement, [sorted(world.account_types)] if i == 0 else None)
        cur.execute(SCOPED_PAIRS_SQL.format(window=window), wparams)
        keys = [(leaf, symbol, atc, cc) for leaf, symbol, atc, cc in cur.fetchall()]
        clock.lap("scoped_pairs")
    else:
        keys = [(leaf, symbol, 0, "") for leaf, symbol in pairs]
    edges = [low] + [t for t in world.cuts if low < t <= high] + [high]
    segments = [
        (FAR_PAST if i == 0 else a, FAR_FUTURE if i == len(edges) - 2 else b)
        for i, (a, b) in enumerate(zip(edges, edges[1:], strict=False))
    ] or [(FAR_PAST, FAR_FUTURE)]
    rate_rows, unpriced_rows, markup = [], [], False
    for t_from, t_to in segments:
        at = max(t_from, low)
        for leaf, symbol, atc, cc in keys:
            scope = world.scope_of(atc, cc) if scoped else ANY
            version, kind, earned = earnings(world, leaf, symbol, at, scope=scope)
            if version is None:
                continue  # no plan anywhere up the tree: nobody is paid, nothing to report
            if kind is None:
                if pays_deals(world, version):
                    unpriced_rows.append((t_from, t_to, leaf, symbol, version, atc, cc))
                continue
            info = world.version_info[version]
            unit = "per lot" if kind == PlanRule.Kind.PER_LOT else "%"
            markup = markup or kind == PlanRule.Kind.PCT_MARKUP
            for e in earned:
                rate_rows.append(
                    (
                        t_from,
                        t_to,
                        leaf,
                        symbol,
                        e.partner,
                        e.tier,
                        kind,
                        e.rate,
                        e.version,
                        e.rule,
                        f"{n(e.rate)} {unit}: {e.formula}",
                        info.plan.programme.currency,
                        info.entry,
                        info.min_hold_seconds,
                        info.self_trading,
                        atc,
                        cc,
                    )
                )
    clock.lap("rates")
    cur.execute(RATE_TABLE)
    cur.execute(
        "CREATE TEMP TABLE ib_unpriced (t_from timestamptz, t_to timestamptz, leaf bigint,"
        " symbol text, version_id bigint, atc bigint, cc text) ON COMMIT DROP"
    )
    raw = cur.cursor
    with raw.copy("COPY ib_rate FROM STDIN") as copy:
        for row in rate_rows:
            copy.write_row(row)
    with raw.copy("COPY ib_unpriced FROM STDIN") as copy:
        for row in unpriced_rows:
            copy.write_row(row)
    cur.execute("ANALYZE ib_rate")
    cur.execute(MARKUP_TABLE)
    if markup:
        # read before the COPY starts
        markups = markup_rows({row[11] for row in rate_rows}, low, high)
        with raw.copy("COPY ib_markup FROM STDIN") as copy:
            for row in markups:
                copy.write_row(row)
    clock.lap("rate_table")
    if scoped:
        return Prepared(LINES_SELECT_SCOPED, LINES_SQL_SCOPED, UNPRICED_SCOPED, True)
    return Prepared(LINES_SELECT, LINES_SQL, UNPRICED_PLAIN, False)


def commissions_pay(*, deal_ids=None, start=None, end=None) -> dict:
    """Pay the closed deals of a window (by id, or closed in [start, end)) once: lines for every
    level, unpriced deals reported. Returns {"lines": n, "unpriced": n, "seconds": {...}}.

    A window run outside a transaction is split by client into `IB_RUN_SHARDS` runs on as many
    connections at once (each its own transaction, a client's deals all in one: the fraud
    checks see a client whole), so a period's million deals use every core; lines being unique,
    a shard that fails is paid by the rerun or the sweeper, and nothing twice."""
    if deal_ids is None and (start is None or end is None):
        raise ValueError("Give the deals' ids, or a start and an end.")
    if deal_ids is not None and not deal_ids:
        return {"lines": 0, "withheld": 0, "unpriced": 0}
    shards = settings.IB_RUN_SHARDS
    if deal_ids is not None or shards < 2 or connection.in_atomic_block:
        return _pay(deal_ids=deal_ids, start=start, end=end)

    def shard(i):
        try:
            return _pay(start=start, end=end, shard=(shards, i))
        finally:
            connection.close()  # this thread's own connection

    with ThreadPoolExecutor(max_workers=shards) as pool:
        results = list(pool.map(shard, range(shards)))
    total = {key: sum(r[key] for r in results) for key in ("lines", "withheld", "unpriced")}
    laps: dict[str, float] = {}
    for r in results:  # the slowest shard's time per stage
        for name, seconds in r.get("seconds", {}).items():
            laps[name] = max(laps.get(name, 0), seconds)
    return {**total, "seconds": laps, "shards": shards}


@transaction.atomic
def _pay(*, deal_ids=None, start=None, end=None, shard=None) -> dict:
    window, wparams = _window(deal_ids, start, end, shard)
    clock = _Clock()
    with connection.cursor() as cur:
        prepared = _prepare(cur, window, wparams, deal_ids, start, end, clock)
        if prepared is None:
            return {"lines": 0, "withheld": 0, "unpriced": 0}
        cur.execute(NEW_TABLE)
        cur.execute(prepared.insert.format(window=window), wparams)
        lines, paid_versions = cur.fetchone()
        clock.lap("lines")
        withheld = 0
        if lines:
            low, high = _bounds(cur, deal_ids, start, end)
            withheld = fraud_screen(cur, since=low, until=high, laps=clock.laps, deal_ids=deal_ids)
            clock.last = time.perf_counter()
        cur.execute("SELECT count(*) FROM ib_unpriced")
        unpriced = 0
        if cur.fetchone()[0]:
            cur.execute(prepared.unpriced.format(window=window), wparams)
            unpriced = max(cur.rowcount, 0)
        if lines:  # versions locked in one order: shards running at once never deadlock
            cur.execute(
                "UPDATE ib_planversion SET paid_lines = true WHERE id IN (SELECT id FROM"
                " ib_planversion WHERE id = ANY(%s) AND NOT paid_lines ORDER BY id FOR UPDATE)",
                [paid_versions],
            )
        cur.execute(
            "DROP TABLE IF EXISTS ib_ref, ib_rate, ib_unpriced, ib_new, ib_markup, ib_acct,"
            " ib_cc, ib_who, ib_where"
        )
        clock.lap("rest")
    return {"lines": lines, "withheld": withheld, "unpriced": unpriced, "seconds": clock.laps}


CHECKSUM = """
SELECT count(*), coalesce(sum(amount), 0),
       md5(coalesce(string_agg(deal_id || ':' || partner_id || ':' || tier || ':'
                               || trim_scale(amount), ',' ORDER BY deal_id, partner_id, tier),
                    ''))
  FROM {table} WHERE {where}
"""
DIFF = """
(SELECT 'recomputed only' AS side, deal_id, partner_id, tier, trim_scale(amount) FROM ib_again
  EXCEPT SELECT 'recomputed only', deal_id, partner_id, tier, trim_scale(amount)
           FROM ib_commissionline WHERE {stored})
UNION ALL
(SELECT 'stored only', deal_id, partner_id, tier, trim_scale(amount)
   FROM ib_commissionline WHERE {stored}
  EXCEPT SELECT 'stored only', deal_id, partner_id, tier, trim_scale(amount) FROM ib_again)
ORDER BY 2, 3, 4, 1 LIMIT %s
"""


# A stored commission line still standing: no reversal of it (a deal the platform corrected or
# removed, `ib.revisions`); found through the unique key of (deal, partner, tier, kind, revision).
NOT_REVERSED = (
    "NOT EXISTS (SELECT 1 FROM ib_commissionline r WHERE r.deal_id = ib_commissionline.deal_id"
    " AND r.partner_id = ib_commissionline.partner_id AND r.tier = ib_commissionline.tier"
    " AND r.kind = 'reversal' AND r.revision = ib_commissionline.revision)"
)


@dataclass
class Recomputed:
    lines: int
    total: Decimal
    checksum: str
    stored_lines: int
    stored_total: Decimal
    stored_checksum: str
    differences: list = field(default_factory=list)

    @property
    def same(self) -> bool:
        return self.checksum == self.stored_checksum and not self.differences


def commissions_recompute(*, start, end, partner_id: int | None = None, limit: int = 50):
    """Compute the window's lines again from the deals, the tree and referrals through time and
    the plan versions, without writing anything, and compare them with the stored ones
    (commission lines of deals closed in [start, end), of one partner or all): counts,
    totals, a checksum of (deal, partner, tier, amount) in order, and the first differences."""
    window, wparams = _window(None, start, end)
    stored = "kind = 'commission' AND deal_time >= %s AND deal_time < %s AND " + NOT_REVERSED
    sparams = [start, end]
    if partner_id is not None:
        stored += " AND partner_id = %s"
        sparams.append(partner_id)
    with transaction.atomic(), connection.cursor() as cur:
        again = "deal_id IS NOT NULL" + (" AND partner_id = %s" if partner_id else "")
        aparams = [partner_id] if partner_id else []
        prepared = _prepare(cur, window, wparams, None, start, end, _Clock())
        if prepared is not None:
            cur.execute(
                "CREATE TEMP TABLE ib_again ON COMMIT DROP AS SELECT * FROM ib_commissionline"
                " WITH NO DATA"
            )
            cur.execute(
                f"INSERT INTO ib_again ({COLUMNS}) " + prepared.lines.format(window=window),
                wparams,
            )
        else:
            cur.execute(
                "CREATE TEMP TABLE ib_again ON COMMIT DROP AS SELECT * FROM ib_commissionline"
                " WITH NO DATA"
            )
        cur.execute(CHECKSUM.format(table="ib_again", where=again), aparams)
        lines, total, checksum = cur.fetchone()
        cur.execute(CHECKSUM.format(table="ib_commissionline", where=stored), sparams)
        stored_lines, stored_total, stored_checksum = cur.fetchone()
        cur.execute(
            DIFF.replace("{stored}", stored).replace(
                "FROM ib_again", f"FROM ib_again WHERE {again}"
            ),
            _diff_params(aparams, sparams, limit),
        )
        differences = cur.fetchall()
        transaction.set_rollback(True)  # nothing of it is kept
    return Recomputed(
        lines,
        Decimal(total),
        checksum,
        stored_lines,
        Decimal(stored_total),
        stored_checksum,
        differences,
    )


def _diff_params(aparams, sparams, limit):
    # DIFF's placeholders in order: ib_again (recomputed), stored, stored, ib_again, limit
    return [*aparams, *sparams, *sparams, *aparams, limit]


# One deal's lines again, for one partner (constant text: the columns named as COLUMNS).
DEAL_AGAIN = (
    "SELECT tier, kind, version_id, rule_id, rate, volume, formula, currency, amount"  # noqa: S608
    " FROM ({lines}) AS x(" + COLUMNS + ") WHERE partner_id = %s ORDER BY tier"
)


def deal_recompute(*, deal_id: int, partner_id: int) -> list[dict]:
    """The lines one deal earns `partner_id` when the engine pays it again now, from the deal,
    the tree and referrals through time and the plan versions (nothing written): what a
    dispute's page shows beside the stored lines."""
    window, wparams = _window([deal_id], None, None)
    with transaction.atomic(), connection.cursor() as cur:
        rows = []
        prepared = _prepare(cur, window, wparams, [deal_id], None, None, _Clock())
        if prepared is not None:
            cur.execute(
                DEAL_AGAIN.format(lines=prepared.lines.format(window=window)),
                [*wparams, partner_id],
            )
            names = [c.name for c in cur.description]
            rows = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
        transaction.set_rollback(True)  # nothing of it is kept
    return rows
