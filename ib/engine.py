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

Amounts: per lot, volume (1/10000 lot) / 10000 x rate; percent of commission, |commission| x
rate / 100; kept exact (8 places). A period's settlement rounds each partner's total once, half
up to cents (`ib.periods`).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from django.db import connection, transaction

from clients.selectors import symbol_groups

from .models import ParentLink, PartnerPlan, PlanRule, PlanVersion

FAR_PAST = datetime(1970, 1, 1, tzinfo=UTC)
FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)
MAX_DEPTH = 50
HUNDRED = Decimal(100)


@dataclass
class Timeline:
    """Values that change at moments: `at(t)` is the one in force at t (None before any)."""

    times: list = field(default_factory=list)
    values: list = field(default_factory=list)

    def add(self, t, value) -> None:
        i = bisect.bisect_right(self.times, t)
        self.times.insert(i, t)
        self.values.insert(i, value)

    def at(self, t):
        i = bisect.bisect_right(self.times, t)
        return self.values[i - 1] if i else None


@dataclass(frozen=True)
class Earning:
    partner: int
    tier: int
    rate: Decimal  # what this level earns per unit (per lot, or % of the client's commission)
    version: int
    rule: int | None
    formula: str


@dataclass
class World:
    """Everything that prices deals: parents, plans and versions through time."""

    parents: dict[int, Timeline]
    plans: dict[int, Timeline]
    versions: dict[int, Timeline]  # plan -> version ids by valid_from (published only)
    rules: dict[int, dict]  # version -> {(kind, "s"|"g"|"d", key): (rule id, rate)}
    version_info: dict[int, PlanVersion]
    groups: dict[str, str]
    cuts: list

    @classmethod
    def load(cls, symbols) -> World:
        parents: dict[int, Timeline] = {}
        cuts = set()
        for link in ParentLink.objects.order_by("valid_from", "id"):
            parents.setdefault(link.partner_id, Timeline()).add(link.valid_from, link.parent_id)
            cuts.add(link.valid_from)
        plans: dict[int, Timeline] = {}
        for pp in PartnerPlan.objects.order_by("valid_from", "id"):
            plans.setdefault(pp.partner_id, Timeline()).add(pp.valid_from, pp.plan_id)
            cuts.add(pp.valid_from)
        versions: dict[int, Timeline] = {}
        info = {}
        published = PlanVersion.objects.filter(published_at__isnull=False)
        for v in published.select_related("plan__programme").order_by("valid_from"):
            versions.setdefault(v.plan_id, Timeline()).add(v.valid_from, v.pk)
            info[v.pk] = v
            cuts.add(v.valid_from)
        rules: dict[int, dict] = {}
        for r in PlanRule.objects.filter(version_id__in=list(info)):
            scope = (
                ("s", r.symbol)
                if r.symbol
                else ("g", r.symbol_group)
                if r.symbol_group
                else ("d", "")
            )
            rules.setdefault(r.version_id, {})[(r.kind, *scope)] = (r.pk, r.rate)
        return cls(parents, plans, versions, rules, info, symbol_groups(symbols), sorted(cuts))

    def chain(self, leaf: int, t) -> list[int]:
        """leaf, its parent, ... up to the top partner, as the tree stood at t."""
        out, seen, node = [], set(), leaf
        while node is not None and node not in seen and len(out) < MAX_DEPTH:
            out.append(node)
            seen.add(node)
            line = self.parents.get(node)
            node = line.at(t) if line else None
        return out

    def version_of(self, chain: list[int], level: int, t) -> int | None:
        """The version in force at t of the plan of chain[level] (its own, else the nearest
        ancestor's)."""
        for node in chain[level:]:
            line = self.plans.get(node)
            plan = line.at(t) if line else None
            if plan is not None:
                versions = self.versions.get(plan)
                return versions.at(t) if versions else None
        return None


def rate_lookup(world: World, version: int, kind: str, symbol: str):
    """(rule id, rate, scope) for `symbol` under `version`: symbol, then group, then default."""
    rules = world.rules.get(version, {})
    group = world.groups.get(symbol, "")
    for scope, key, label in (
        ("s", symbol, f"symbol {symbol}"),
        ("g", group, f"group {group}"),
        ("d", "", "plan default"),
    ):
        if scope == "g" and not group:
            continue
        found = rules.get((kind, scope, key))
        if found is not None:
            return found[0], found[1], label
    return None


def top_rule(world: World, version: int, symbol: str):
    """The kind and rate the top version pays for `symbol` (per lot first), or None."""
    for kind in (PlanRule.Kind.PER_LOT, PlanRule.Kind.PCT_COMMISSION):
        found = rate_lookup(world, version, kind, symbol)
        if found is not None:
            return kind, found
    return None


def earnings(world: World, leaf: int, symbol: str, t):
    """What each level of `leaf`'s chain earns per unit on `symbol` at t:
    (top version, kind, [Earning]) or (top version, None, []) when the top has no rate."""
    chain = world.chain(leaf, t)
    # The highest level with a plan (its own or inherited) prices the deal: partners above it
    # have none and earn nothing.
    top_version = next(
        (v for level in reversed(range(len(chain))) if (v := world.version_of(chain, level, t))),
        None,
    )
    if top_version is None:
        return None, None, []
    found = top_rule(world, top_version, symbol)
    if found is None:
        return top_version, None, []
    kind, (_, top_rate, _) = found
    unit = "per lot" if kind == PlanRule.Kind.PER_LOT else "% of commission"
    info = world.version_info[top_version]
    rates = []  # (level rate or None, version, rule, scope), client's IB first
    for level in range(len(chain)):
        version = world.version_of(chain, level, t)
        hit = rate_lookup(world, version, kind, symbol) if version else None
        rates.append((hit[1], version, hit[0], hit[2]) if hit else (None, version, None, ""))
    # Effective rates: each capped by every rate above it (the top's caps them all).
    caps, cap = [], top_rate
    for rate, *_ in reversed(rates):
        cap = min(cap, rate) if rate is not None else cap
        caps.append(cap)
    caps.reverse()
    out: list[Earning] = []
    if info.tiers == PlanVersion.Tiers.PERCENT:
        share, total, below = info.tier_percent / HUNDRED, Decimal(0), None
        for level, (rate, version, rule, scope) in enumerate(rates):
            if below is None:
                if rate is None:
                    continue
                earn = min(rate, top_rate)
                why = f"{earn} {unit} ({scope}, v{world.version_info[version].number})"
            else:
                earn = min(below * share, top_rate - total)
                why = f"{share * HUNDRED}% of {below} {unit} earned below"
            if earn <= 0:
                break
            out.append(Earning(chain[level], level, earn, version or top_version, rule, why))
            total += earn
            below = earn
        return top_version, kind, out
    below = Decimal(0)
    for level, (rate, version, rule, scope) in enumerate(rates):
        if rate is None:
            continue
        earn = caps[level] - below
        if earn > 0:
            v = world.version_info[version].number
            why = (
                f"{caps[level]} {unit} ({scope}, v{v})"
                if level == 0 or not below
                else f"{caps[level]} {unit} ({scope}, v{v}) less {below} paid below"
            )
            if caps[level] < rate:
                why += f", capped at {caps[level]} by the rate above"
            out.append(Earning(chain[level], level, earn, version, rule, why))
        below = max(below, caps[level])
    return top_version, kind, out


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
    currency text, entry text, min_hold integer, self_trading boolean
) ON COMMIT DROP
"""

PAIRS_SQL = """
SELECT DISTINCT r.partner_id, d.symbol
  FROM clients_deal d
  JOIN ib_ref r ON r.client_id = d.client_id AND d.time >= r.t_from AND d.time < r.t_to
 WHERE {window} AND d.action IN (0, 1) AND d.volume > 0
"""

LINES_SQL = """
INSERT INTO ib_commissionline (deal_id, deal_time, client_id, partner_id, tier, kind, version_id,
    rule_id, symbol, rate, volume, base_amount, formula, currency, fx_rate, amount, status,
    hold_reasons, created_at)
SELECT d.id, d.time, d.client_id, x.partner_id, x.tier, 'commission', x.version_id, x.rule_id,
       d.symbol, x.rate, d.volume,
       CASE WHEN x.kind = 'per_lot' THEN d.volume / 10000.0 ELSE abs(d.commission_amount) END,
       CASE WHEN x.kind = 'per_lot'
            THEN trim_scale(d.volume / 10000.0)::text || ' lots x ' || x.why
            ELSE abs(d.commission_amount)::text || ' commission x ' || x.why END,
       x.currency, 1,
       round(CASE WHEN x.kind = 'per_lot' THEN d.volume * x.rate / 10000
                  ELSE abs(d.commission_amount) * x.rate / 100 END, 8),
       'pending', '[]'::jsonb, now()
  FROM clients_deal d
  JOIN clients_tradingaccount a ON a.id = d.account_id
  JOIN ib_ref r ON r.client_id = d.client_id AND d.time >= r.t_from AND d.time < r.t_to
  JOIN ib_rate x ON x.leaf = r.partner_id AND x.symbol = d.symbol
                AND d.time >= x.t_from AND d.time < x.t_to
 WHERE {window} AND d.action IN (0, 1) AND d.volume > 0
   AND a."group" NOT ILIKE 'demo%%'
   AND (x.entry = 'both' OR (x.entry = 'out' AND d.entry IN (1, 2, 3))
        OR (x.entry = 'in' AND d.entry IN (0, 2)))
   AND (x.self_trading OR NOT EXISTS (SELECT 1 FROM ib_partner p WHERE p.holder_id = d.client_id))
   AND (x.min_hold = 0 OR d.entry NOT IN (1, 3) OR d.position_id = 0 OR NOT EXISTS (
        SELECT 1 FROM clients_deal o
         WHERE o.server_id = d.server_id AND o.position_id = d.position_id AND o.entry = 0
           AND o.time > d.time - x.min_hold * interval '1 second'))
   AND (x.kind = 'per_lot' OR d.commission_amount <> 0)
ON CONFLICT (deal_id, partner_id, tier, kind) WHERE deal_id IS NOT NULL DO NOTHING
"""

UNPRICED_SQL = """
INSERT INTO ib_unpriceddeal (deal_id, partner_id, version_id, symbol, found_at)
SELECT d.id, u.leaf, u.version_id, d.symbol, now()
  FROM clients_deal d
  JOIN ib_ref r ON r.client_id = d.client_id AND d.time >= r.t_from AND d.time < r.t_to
  JOIN ib_unpriced u ON u.leaf = r.partner_id AND u.symbol = d.symbol
                    AND d.time >= u.t_from AND d.time < u.t_to
 WHERE {window} AND d.action IN (0, 1) AND d.volume > 0
ON CONFLICT (deal_id, partner_id) DO NOTHING
"""


def _window(deal_ids, start, end) -> tuple[str, list]:
    if deal_ids is not None:
        return "d.id = ANY(%s)", [list(deal_ids)]
    return "d.time >= %s AND d.time < %s", [start, end]


def _bounds(cur, deal_ids, start, end):
    if deal_ids is None:
        return start, end
    cur.execute("SELECT min(time), max(time) FROM clients_deal WHERE id = ANY(%s)", [deal_ids])
    low, high = cur.fetchone()
    return low, high


@transaction.atomic
def commissions_pay(*, deal_ids=None, start=None, end=None) -> dict:
    """Pay the closed deals of a window (by id, or closed in [start, end)) once: lines for every
    level, unpriced deals reported. Returns {"lines": n, "unpriced": n}."""
    if deal_ids is None and (start is None or end is None):
        raise ValueError("Give the deals' ids, or a start and an end.")
    if deal_ids is not None and not deal_ids:
        return {"lines": 0, "unpriced": 0}
    window, wparams = _window(deal_ids, start, end)
    with connection.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS ib_ref, ib_rate, ib_unpriced")
        cur.execute(REFERRALS_SQL)
        cur.execute("CREATE INDEX ON ib_ref (client_id, t_from)")
        cur.execute(PAIRS_SQL.format(window=window), wparams)
        pairs = cur.fetchall()
        if not pairs:
            return {"lines": 0, "unpriced": 0}
        low, high = _bounds(cur, deal_ids, start, end)
        world = World.load({symbol for _, symbol in pairs})
        edges = [low] + [t for t in world.cuts if low < t <= high] + [high]
        segments = [
            (FAR_PAST if i == 0 else a, FAR_FUTURE if i == len(edges) - 2 else b)
            for i, (a, b) in enumerate(zip(edges, edges[1:], strict=False))
        ] or [(FAR_PAST, FAR_FUTURE)]
        rate_rows, unpriced_rows = [], []
        for t_from, t_to in segments:
            at = max(t_from, low)
            for leaf, symbol in pairs:
                version, kind, earned = earnings(world, leaf, symbol, at)
                if version is None:
                    continue  # no plan anywhere up the tree: nobody is paid, nothing to report
                if kind is None:
                    unpriced_rows.append((t_from, t_to, leaf, symbol, version))
                    continue
                info = world.version_info[version]
                currency = info.plan.programme.currency
                for e in earned:
                    unit = "per lot" if kind == PlanRule.Kind.PER_LOT else "%"
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
                            f"{e.rate.normalize():f} {unit}: {e.formula}",
                            currency,
                            info.entry,
                            info.min_hold_seconds,
                            info.self_trading,
                        )
                    )
        cur.execute(RATE_TABLE)
        cur.execute(
            "CREATE TEMP TABLE ib_unpriced (t_from timestamptz, t_to timestamptz, leaf bigint,"
            " symbol text, version_id bigint) ON COMMIT DROP"
        )
        raw = cur.cursor
        with raw.copy("COPY ib_rate FROM STDIN") as copy:
            for row in rate_rows:
                copy.write_row(row)
        with raw.copy("COPY ib_unpriced FROM STDIN") as copy:
            for row in unpriced_rows:
                copy.write_row(row)
        cur.execute("ANALYZE ib_rate")
        cur.execute(LINES_SQL.format(window=window), wparams)
        lines = max(cur.rowcount, 0)
        unpriced = 0
        if unpriced_rows:
            cur.execute(UNPRICED_SQL.format(window=window), wparams)
            unpriced = max(cur.rowcount, 0)
        if lines:
            cur.execute(
                """UPDATE ib_planversion v SET paid_lines = true
                    WHERE NOT paid_lines AND id IN (SELECT DISTINCT version_id FROM ib_rate)
                      AND EXISTS (SELECT 1 FROM ib_commissionline l WHERE l.version_id = v.id)"""
            )
        cur.execute("DROP TABLE ib_ref, ib_rate, ib_unpriced")
    return {"lines": lines, "unpriced": unpriced}
