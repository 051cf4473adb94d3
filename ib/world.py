"""The commission plans' world, in Python and small: who was whose parent when, which plan
version each partner had, and each version's rules, loaded once for a window (`World`); the one
rate look-up every pricer uses (`rate_lookup`: symbol, then group, then the plan default, and
within each the most specific client scope), and what each level of a chain earns on one unit
(`earnings`). The engine (`ib.engine`) turns this into its rate table; the plan editor, its
preview, disputes and client rules price through the same functions.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from django.db import connection

from brokerage.intl import country_name
from brokerage.models import Region
from clients.instruments import symbol_group_choices
from clients.models import AccountType
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


@dataclass(frozen=True)
class ClientScope:
    """Who a deal is for, as far as a plan's rates can tell: the deal's account type (0: one no
    rule names), the client's country of residence when the deal closed ("": none a rule
    names) and the regions (ids) a rule names that contain it."""

    account_type: int = 0
    country: str = ""
    regions: frozenset = frozenset()


ANY = ClientScope()


@dataclass
class World:
    """Everything that prices deals: parents, plans and versions through time."""

    parents: dict[int, Timeline]
    plans: dict[int, Timeline]
    versions: dict[int, Timeline]  # plan -> version ids by valid_from (published only)
    # version -> {(kind, "s"|"g"|"d", symbol or group, account type, country, region):
    #             (rule id, rate)}; 0 and "" where a rule is not narrowed
    rules: dict[int, dict]
    version_info: dict[int, PlanVersion]
    groups: dict[str, str]
    cuts: list
    regions: dict[int, tuple] = field(default_factory=dict)  # id -> (name, countries)
    account_types: dict[int, str] = field(default_factory=dict)  # id -> name
    scoped: set = field(default_factory=set)  # versions with rules narrowed to clients
    _levels: dict = field(default_factory=dict, repr=False)

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
        scoped, region_ids, type_ids = set(), set(), set()
        for r in PlanRule.objects.filter(version_id__in=list(info)):
            scope = (
                ("s", r.symbol)
                if r.symbol
                else ("g", r.symbol_group)
                if r.symbol_group
                else ("d", "")
            )
            client = (r.account_type_id or 0, r.country, r.region_id or 0)
            rules.setdefault(r.version_id, {})[(r.kind, *scope, *client)] = (r.pk, r.rate)
            if any(client):
                scoped.add(r.version_id)
                region_ids.add(r.region_id or 0)
                type_ids.add(r.account_type_id or 0)
        regions = {
            pk: (name, frozenset(countries))
            for pk, name, countries in Region.objects.filter(pk__in=region_ids).values_list(
                "pk", "name", "countries"
            )
        }
        account_types = dict(AccountType.objects.filter(pk__in=type_ids).values_list("pk", "name"))
        return cls(
            parents,
            plans,
            versions,
            rules,
            info,
            symbol_groups(symbols),
            sorted(cuts),
            regions,
            account_types,
            scoped,
        )

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

    def scoped_between(self, low, high) -> bool:
        """Whether a version with rules narrowed to clients is in force at some time of
        [low, high]: only then are deals told apart by account type and country."""
        for version in self.scoped:
            info = self.version_info[version]
            line = self.versions[info.plan_id]
            later = [t for t in line.times if t > info.valid_from]
            if info.valid_from <= high and (not later or min(later) > low):
                return True
        return False

    def client_levels(self, scope: ClientScope) -> list[tuple]:
        """The (account type, country, region) keys a rate is looked up by within one
        instrument level, most specific first: account type + country, account type + region,
        account type, country, region, any. Of two regions containing the country, the smaller
        (then the one named first) is the more specific."""
        found = self._levels.get(scope)
        if found is None:
            regions = sorted(
                scope.regions, key=lambda r: (len(self.regions[r][1]), self.regions[r][0], r)
            )
            at, country = scope.account_type, scope.country
            found = [
                *([(at, country, 0)] if at and country else []),
                *([(at, "", r) for r in regions] if at else []),
                *([(at, "", 0)] if at else []),
                *([(0, country, 0)] if country else []),
                *[(0, "", r) for r in regions],
                (0, "", 0),
            ]
            self._levels[scope] = found
        return found

    def country_classes(self) -> dict[str, str]:
        """Each country a rule names, directly or through a region, -> the class deals of its
        clients are priced by: the country itself when a rule names it, else "@" and the ids
        of the named regions containing it. Other countries are priced as no country."""
        named = {country for rules in self.rules.values() for *_, country, _ in rules if country}
        used = {r for rules in self.rules.values() for *_, r in rules if r}
        out: dict[str, str] = {country: country for country in named}
        member: dict[str, list] = {}
        for region in sorted(used):
            for country in self.regions[region][1]:
                if country not in named:
                    member.setdefault(country, []).append(str(region))
        out |= {country: "@" + ",".join(ids) for country, ids in member.items()}
        return out

    def client_scope(self, country: str) -> ClientScope:
        """The scope of a client living in `country`, on no account type in particular: what
        rates paid per client (CPA, revenue share) are looked up by."""
        return self.scope_of(0, country or "")

    def scope_of(self, account_type: int, cls: str) -> ClientScope:
        """The client scope of a deal's class (see `country_classes`)."""
        if cls.startswith("@"):
            return ClientScope(account_type, "", frozenset(int(r) for r in cls[1:].split(",")))
        regions = frozenset(r for r, (_, members) in self.regions.items() if cls in members)
        return ClientScope(account_type, cls, regions if cls else frozenset())


# Each (client, time)'s country of residence then, as the engine's ib_where reads it: the
# history row in force at the time (the last one recorded by then, else the first recorded);
# the current country when that row is the last recorded (or there is none).
COUNTRIES_AT = """
SELECT q.client_id, q.at,
       CASE WHEN r.history_id IS NULL OR NOT EXISTS (
                 SELECT 1 FROM clients_historicalclient l
                  WHERE l.id = q.client_id
                    AND (l.history_date, l.history_id) > (r.history_date, r.history_id))
            THEN k.country ELSE r.country END
  FROM unnest(%s::bigint[], %s::timestamptz[]) AS q(client_id, at)
  JOIN clients_client k ON k.id = q.client_id
  LEFT JOIN LATERAL (
        SELECT h.history_id, h.history_date, h.country FROM clients_historicalclient h
         WHERE h.id = q.client_id AND h.history_date <= q.at
         ORDER BY h.history_date DESC, h.history_id DESC LIMIT 1) b ON true
  LEFT JOIN LATERAL (
        SELECT h.history_id, h.history_date, h.country FROM clients_historicalclient h
         WHERE h.id = q.client_id AND b.history_id IS NULL
         ORDER BY h.history_date, h.history_id LIMIT 1) f ON true
  CROSS JOIN LATERAL (SELECT coalesce(b.history_id, f.history_id) AS history_id,
                             coalesce(b.history_date, f.history_date) AS history_date,
                             CASE WHEN b.history_id IS NULL THEN f.country ELSE b.country END
                                 AS country) r
"""


def countries_at(pairs) -> dict[tuple, str]:
    """{(client id, time): the client's country of residence at that time} for `pairs`, read
    from the client record's history as the engine reads it for deals (one query)."""
    pairs = list(set(pairs))
    if not pairs:
        return {}
    with connection.cursor() as cur:
        cur.execute(COUNTRIES_AT, [[c for c, _ in pairs], [t for _, t in pairs]])
        return {(client_id, at): country or "" for client_id, at, country in cur.fetchall()}


def group_label(group: str) -> str:
    """ "fx_major" -> "FX majors": how staff and partners read an instrument group."""
    return dict(symbol_group_choices()).get(group, group.replace("_", " "))


def n(value: Decimal) -> str:
    """A rate or amount as people write it: 10, 2.5, 0.0005 (never 10.000000)."""
    return f"{Decimal(value).normalize():f}"


def scope_label(
    symbol: str, group: str, account_type: str = "", country: str = "", region: str = ""
) -> str:
    """What a rate applies to, as staff and partners read it: "symbol XAUUSD", "FX majors,
    account type Pro, Germany", "plan default, region EEA"."""
    parts = [f"symbol {symbol}" if symbol else group_label(group) if group else "plan default"]
    if account_type:
        parts.append(f"account type {account_type}")
    if country:
        parts.append(country_name(country))
    if region:
        parts.append(f"region {region}")
    return ", ".join(parts)


def rate_lookup(
    world: World, version: int, kind: str, symbol: str, scope: ClientScope = ANY, group=None
):
    """(rule id, rate, scope label) for `symbol` under `version`, for a deal of `scope`, or None.

    The lookup order: the instrument first (the symbol, then its group, then the plan
    default), and within each instrument level the most specific client scope
    (`World.client_levels`: account type + country, account type + region, account type,
    country, region, any). So a symbol's rate for any client beats its group's rate for the
    client's country, and a country's rate beats the plan default. `group` replaces the
    symbol's own group (a group's rate looked up without a symbol)."""
    rules = world.rules.get(version, {})
    group = world.groups.get(symbol, "") if group is None else group
    levels = world.client_levels(scope)
    for inst, key in (("s", symbol), ("g", group), ("d", "")):
        if inst != "d" and not key:
            continue
        for at, country, region in levels:
            found = rules.get((kind, inst, key, at, country, region))
            if found is not None:
                label = scope_label(
                    symbol if inst == "s" else "",
                    group if inst == "g" else "",
                    world.account_types.get(at, "") if at else "",
                    country,
                    world.regions[region][0] if region else "",
                )
                return found[0], found[1], label
    return None


# The kinds a deal is paid by (the first the top version has a rate for), and the kinds paid
# per client rather than per deal (`ib.client_rules`).
DEAL_KINDS = (PlanRule.Kind.PER_LOT, PlanRule.Kind.PCT_COMMISSION, PlanRule.Kind.PCT_MARKUP)
UNITS = {
    PlanRule.Kind.PER_LOT: "per lot",
    PlanRule.Kind.PCT_COMMISSION: "% of commission",
    PlanRule.Kind.PCT_MARKUP: "% of markup",
    PlanRule.Kind.CPA: "per qualifying client",
    PlanRule.Kind.REVSHARE: "% of net loss",
}


def top_rule(world: World, version: int, symbol: str, kinds=DEAL_KINDS, scope=ANY):
    """The kind and rate the top version pays for `symbol` (the first of `kinds`), or None."""
    for kind in kinds:
        found = rate_lookup(world, version, kind, symbol, scope)
        if found is not None:
            return kind, found
    return None


def pays_deals(world: World, version: int) -> bool:
    """Whether `version` has any rate paid per deal (a CPA or revenue-share plan has none: its
    deals are not unpriced)."""
    return any(key[0] in DEAL_KINDS for key in world.rules.get(version, {}))


def earnings(world: World, leaf: int, symbol: str, t, kinds=DEAL_KINDS, scope: ClientScope = ANY):
    """What each level of `leaf`'s chain earns per unit on `symbol` at t, for a deal of `scope`
    (each level's rate looked up for the same deal, so caps hold scope by scope):
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
    found = top_rule(world, top_version, symbol, kinds, scope)
    if found is None:
        return top_version, None, []
    kind, (_, top_rate, _) = found
    unit = UNITS[kind]
    info = world.version_info[top_version]
    rates = []  # (level rate or None, version, rule, scope), client's IB first
    for level in range(len(chain)):
        version = world.version_of(chain, level, t)
        hit = rate_lookup(world, version, kind, symbol, scope) if version else None
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
                why = f"{n(earn)} {unit} ({scope}, v{world.version_info[version].number})"
            else:
                earn = min(below * share, top_rate - total)
                why = f"{n(share * HUNDRED)}% of {n(below)} {unit} earned below"
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
                f"{n(caps[level])} {unit} ({scope}, v{v})"
                if level == 0 or not below
                else f"{n(caps[level])} {unit} ({scope}, v{v}) less {n(below)} paid below"
            )
            if caps[level] < rate:
                why += f", capped at {n(caps[level])} by the rate above"
            out.append(Earning(chain[level], level, earn, version, rule, why))
        below = max(below, caps[level])
    return top_version, kind, out
