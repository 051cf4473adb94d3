"""Earnings per client rather than per deal: the CPA (and its clawback) and the revenue share.

**CPA** (rule kind `cpa`, the plan default: no symbol or group). A client qualifies once: a
first deposit of at least the rule's `min_deposit` (in the programme's currency, converted
through the USD rates) and at least `min_lots` closed on real accounts within `within_days` of
that deposit. The tree and the plan in force at the first deposit decide who earns and how much
(a partner that brought the depositor is the one paid); the line is dated when the client
qualified. Each level of the chain earns as for a deal (by difference, or a share of the level
below), never more than the top's CPA. `cpa:<client>` is the line's event key, unique with the
tier and kind in the database: a client pays one CPA per level, whatever reruns or races.

**Where the client lives.** A CPA or revenue-share rate may be narrowed to a country or a
region (never a symbol, a group or an account type: both are paid per client, on every symbol
and account). The most specific rule for the client's country of residence pays, by the same
lookup as a deal's (`World.client_levels`: its own country, then the smaller region holding
it, then the plan default; none: nothing is paid), the country read from the client's history
(`world.countries_at`): for a CPA, the country **at the first deposit** (the moment the tree
and plan are read, and the rule's terms decide whether the client qualifies at all, so the
rule must be known before it does); for revenue share, the country **at the period's last
moment** (the moment its rates are read).

**Clawback.** A chargeback of any of the client's deposits opened within the rule's
`clawback_days` of the CPA line's date writes a `clawback` line of the opposite amount under the
same key (once): the period nets it, or carries it forward if already paid.

**Revenue share** (rule kind `revshare`, a percent). When a programme's period closes, each
client's net trading result over the period on real accounts (profit, swap and commission of
its trade deals, each account currency converted to the programme's currency by the one FX
rule (`ib.fx`) at the rates of the period's last moment, never today's, the rate named in the
why and, for a single foreign currency, stored on the line) is paid to its IB's chain by the
rates in force at the period's end: the client's net loss x rate. A client that won gives a negative
line, so the partner's statement nets it, and a period whose total is negative is carried
forward to the next (`ib.periods`): the negative carry-forward.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.db import connection
from django.utils import timezone

from finance.selectors import usd_rates_at

from .fraud import related_reasons
from .fx import fx_rate
from .models import CommissionLine, FraudThresholds, PlanRule, PlanVersion, Programme
from .world import FAR_FUTURE, FAR_PAST, HUNDRED, World, countries_at, earnings, n, top_rule

CPA_KINDS = (PlanRule.Kind.CPA,)
REVSHARE_KINDS = (PlanRule.Kind.REVSHARE,)
LOT = Decimal(10000)

# Clients with a completed first deposit and no CPA line yet, with their IB at that deposit.
CPA_CANDIDATES = """
SELECT d.client_id, d.completed_at, d.amount, d.currency, r.partner_id, d.reference
  FROM finance_deposit d
  JOIN LATERAL (SELECT partner_id FROM ib_referrallink l
                 WHERE l.client_id = d.client_id AND l.valid_from <= d.completed_at
                 ORDER BY l.valid_from DESC LIMIT 1) r ON r.partner_id IS NOT NULL
 WHERE d.is_ftd AND d.status = 'completed' AND d.completed_at >= %(since)s
   AND d.completed_at < %(until)s
   AND (%(deals)s::bigint[] IS NULL
        OR d.client_id IN (SELECT client_id FROM clients_deal WHERE id = ANY(%(deals)s)))
   AND (%(paid_too)s OR NOT EXISTS (SELECT 1 FROM ib_commissionline c
                    WHERE c.event_key = 'cpa:' || d.client_id AND c.kind = 'cpa'))
"""

# When each candidate reached its lots: the running sum of lots closed on real accounts from
# the first deposit, within the window (one row per client that got there).
QUALIFIED = """
SELECT q.client_id, q.lots, hit.time, hit.total
  FROM unnest(%s::bigint[], %s::timestamptz[], %s::timestamptz[], %s::bigint[])
       AS q(client_id, since, until, lots)
  JOIN LATERAL (
        SELECT s.time, s.total FROM (
            SELECT d.time, sum(d.volume) OVER (ORDER BY d.time, d.id) AS total
              FROM clients_deal d
             WHERE d.client_id = q.client_id AND d.time >= q.since AND d.time < q.until
               AND d.action IN (0, 1) AND d.entry IN (1, 3) AND d.volume > 0
               AND d.account_id NOT IN (SELECT id FROM clients_tradingaccount
                                         WHERE "group" ILIKE 'demo%%')) s
         WHERE s.total >= q.lots ORDER BY s.time LIMIT 1) hit ON true
"""

CLAWBACKS = """
SELECT l.id, l.client_id, l.partner_id, l.tier, l.version_id, l.rule_id, l.amount, l.currency,
       l.event_key, cb.opened_at, cb.provider_reference, dep.reference, r.clawback_days
  FROM ib_commissionline l
  JOIN ib_planrule r ON r.id = l.rule_id
  JOIN LATERAL (SELECT c.opened_at, c.provider_reference, c.deposit_id
                  FROM finance_chargeback c JOIN finance_deposit x ON x.id = c.deposit_id
                 WHERE x.client_id = l.client_id
                   AND c.opened_at <= l.deal_time + coalesce(r.clawback_days, 0) * interval '1 day'
                 ORDER BY c.opened_at LIMIT 1) cb ON true
  JOIN finance_deposit dep ON dep.id = cb.deposit_id
 WHERE l.kind = 'cpa' AND r.clawback_days IS NOT NULL
   -- a clawback is dated from its CPA to clawback_days after it: only the CPAs whose
   -- clawback could fall in [since, until) are read
   AND l.deal_time >= %(since)s - r.clawback_days * interval '1 day'
   AND l.deal_time < %(until)s
   AND (%(paid_too)s OR NOT EXISTS (SELECT 1 FROM ib_commissionline b
                    WHERE b.event_key = l.event_key AND b.tier = l.tier AND b.kind = 'clawback'))
"""

# Each client's net trading result over a window by its IB at each deal and account currency.
RESULTS = """
SELECT d.client_id, r.partner_id, a.currency,
       sum(d.profit_amount + d.swap_amount + d.commission_amount), max(d.time), count(*)
  FROM clients_deal d
  JOIN clients_tradingaccount a ON a.id = d.account_id
  JOIN LATERAL (SELECT partner_id FROM ib_referrallink l
                 WHERE l.client_id = d.client_id AND l.valid_from <= d.time
                 ORDER BY l.valid_from DESC LIMIT 1) r ON r.partner_id IS NOT NULL
 WHERE d.time >= %s AND d.time < %s AND d.action IN (0, 1) AND a."group" NOT ILIKE 'demo%%'
 GROUP BY d.client_id, r.partner_id, a.currency
"""


def lines_insert(lines: list[CommissionLine]) -> int:
    """Write the lines; one already there (same event, tier and kind) is left as it is."""
    if not lines:
        return 0
    mine = CommissionLine.objects.filter(
        event_key__in={line.event_key for line in lines}, kind__in={line.kind for line in lines}
    )
    before = mine.count()
    # the event key's unique index: a rerun or a race writes nothing twice
    CommissionLine.objects.bulk_create(lines, ignore_conflicts=True)
    return mine.count() - before


def cpa_pay(*, deal_ids: list[int] | None = None, now=None) -> int:
    """Write the CPA lines of the clients that qualified (all, or the clients of `deal_ids`)
    and are not paid yet. Returns how many lines were written."""
    lines = cpa_lines(deal_ids=deal_ids, now=now)
    _withhold_related(lines)
    return lines_insert(lines)


def cpa_lines(
    *, deal_ids: list[int] | None = None, now=None, since=None, until=None, paid_too=False
) -> list[CommissionLine]:
    """The CPA lines of the clients that qualified, unsaved: of first deposits from `since`
    (default: as far back as the longest window can still qualify) until `until`, of clients
    not paid yet (or all of them: `paid_too`, what a recompute compares)."""
    now = now or timezone.now()
    longest = (
        PlanRule.objects.filter(kind=PlanRule.Kind.CPA)
        .order_by("-within_days")
        .values_list("within_days", flat=True)
        .first()
    )
    if longest is None:
        return []
    # a first deposit older than the longest window can no longer qualify (the sweeps look a
    # few days back for rules without lots, which qualify at the deposit)
    since = since or now - timedelta(days=max(longest or 0, 3) + 1)
    with connection.cursor() as cur:
        cur.execute(
            CPA_CANDIDATES,
            {"since": since, "until": until or FAR_FUTURE, "deals": deal_ids, "paid_too": paid_too},
        )
        candidates = cur.fetchall()
    if not candidates:
        return []
    world, seen = World.load(set()), {}

    def rates_at(at):  # the USD rates as they stood at each deposit, read once a day
        day = at.date()
        if day not in seen:
            seen[day] = usd_rates_at(at)
        return seen[day]

    countries = countries_at((client_id, at) for client_id, at, *_ in candidates)
    waiting = {}  # client -> (first deposit, leaf, top version, rule, earned)
    rules: dict[int, PlanRule] = {}  # the top version's CPA rules, each read once
    for client_id, at, amount, currency, leaf, reference in candidates:
        # the client's country at the first deposit picks the CPA (and its terms)
        scope = world.client_scope(countries.get((client_id, at), ""))
        version, kind, earned = earnings(world, leaf, "", at, CPA_KINDS, scope)
        if kind is None or not earned:
            continue
        _, (top, _, _) = top_rule(world, version, "", CPA_KINDS, scope)
        if top not in rules:
            rules[top] = PlanRule.objects.select_related("version__plan__programme").get(pk=top)
        rule = rules[top]
        programme_currency = world.version_info[version].plan.programme.currency
        # the deposit in the programme's currency at the rate of its day (`ib.fx`)
        rate = fx_rate(currency, programme_currency, rates=rates_at(at))
        if rate is None or amount * rate < (rule.min_deposit or 0):
            continue
        until = at + timedelta(days=rule.within_days or 0)
        if rule.min_lots and until <= at:
            continue
        waiting[client_id] = (at, until, amount, currency, reference, rule, earned, rate)
    lines = []
    qualified = _qualified(waiting)
    for client_id, (at, _, amount, currency, reference, rule, earned, rate) in waiting.items():
        if client_id not in qualified:
            continue
        when, closed = qualified[client_id]
        lots = Decimal(closed) / LOT
        programme_currency = rule.version.plan.programme.currency
        converted = (
            f" = {n(round(amount * rate, 2))} {programme_currency} at {n(rate)}"
            if currency != programme_currency
            else ""
        )
        why = (
            f"first deposit {n(amount)} {currency}{converted} ({reference}) on {at:%Y-%m-%d}, "
            f"at least {n(rule.min_deposit or 0)} {programme_currency}; "
            f"{n(lots)} lots closed by {when:%Y-%m-%d}, at least {n(rule.min_lots or 0)} "
            f"within {rule.within_days or 0} days"
        )
        for e in earned:
            lines.append(
                CommissionLine(
                    deal_time=when,
                    client_id=client_id,
                    partner_id=e.partner,
                    tier=e.tier,
                    kind=CommissionLine.Kind.CPA,
                    version_id=e.version,
                    rule_id=e.rule,
                    rate=e.rate,
                    volume=closed,
                    base_amount=Decimal(1),
                    formula=f"CPA {n(e.rate)} {programme_currency}: {e.formula}; {why}"[:255],
                    currency=programme_currency,
                    fx_rate=rate,  # the qualifying deposit's currency into the line's
                    amount=e.rate,
                    event_key=f"cpa:{client_id}",
                )
            )
    return lines


def _withhold_related(lines: list[CommissionLine]) -> None:
    """A CPA for a client related to the partner's own record (self-referral) is withheld
    for an IB manager's review, like any line the fraud checks suspect (`ib.fraud`)."""
    if not lines:
        return
    # the check as the programme of each line's plan has it (its own thresholds, else global)
    programme_of = dict(
        PlanVersion.objects.filter(pk__in={line.version_id for line in lines}).values_list(
            "pk", "plan__programme_id"
        )
    )
    limits = FraudThresholds.of_programmes(set(programme_of.values()))
    checked = [line for line in lines if limits[programme_of[line.version_id]].related_clients]
    related = related_reasons({(line.client_id, line.partner_id) for line in checked}, True)
    for line in checked:
        message = related.get((line.client_id, line.partner_id))
        if message:
            line.status = CommissionLine.Status.WITHHELD
            line.hold_reasons = [{"code": "related_client", "message": message}]


def _qualified(waiting: dict) -> dict[int, tuple]:
    """client -> (when it reached its lots, lots closed then in 1/10000), for those that did. A
    rule without lots qualifies at the first deposit."""
    out, ask = {}, []
    for client_id, (at, until, _, _, _, rule, *_) in waiting.items():
        if not rule.min_lots:
            out[client_id] = (at, 0)
        else:
            ask.append((client_id, at, until, int(rule.min_lots * LOT)))
    if ask:
        with connection.cursor() as cur:
            cur.execute(QUALIFIED, [list(column) for column in zip(*ask, strict=True)])
            for client_id, _, when, total in cur.fetchall():
                out[client_id] = (when, total)
    return out


def cpa_clawback() -> int:
    """Claw back each CPA whose client had a deposit charged back within the rule's window
    (once per CPA line). Returns how many clawback lines were written."""
    return lines_insert(clawback_lines())


def clawback_lines(*, paid_too=False, since=None, until=None) -> list[CommissionLine]:
    """The clawback lines due and not written yet (or all of them: `paid_too`), unsaved; with
    `since`/`until`, only those of CPAs whose clawback can be dated in [since, until) (others
    may come too: the caller keeps the ones dated there)."""
    with connection.cursor() as cur:
        cur.execute(
            CLAWBACKS,
            {"paid_too": paid_too, "since": since or FAR_PAST, "until": until or FAR_FUTURE},
        )
        rows = cur.fetchall()
    return [
        CommissionLine(
            deal_time=max(opened, deal_time),
            client_id=client_id,
            partner_id=partner_id,
            tier=tier,
            kind=CommissionLine.Kind.CLAWBACK,
            version_id=version_id,
            rule_id=rule_id,
            rate=Decimal(0),
            base_amount=amount,
            formula=(
                f"CPA of {n(amount)} {currency} clawed back: deposit {deposit} charged back "
                f"({chargeback}) on {opened:%Y-%m-%d}, within {days} days of the CPA"
            )[:255],
            currency=currency,
            amount=-amount,
            event_key=key,
            reverses_id=line_id,
        )
        for (
            line_id,
            client_id,
            partner_id,
            tier,
            version_id,
            rule_id,
            amount,
            currency,
            key,
            opened,
            chargeback,
            deposit,
            days,
        ), deal_time in _with_times(rows)
    ]


def _with_times(rows):
    times = dict(
        CommissionLine.objects.filter(pk__in=[r[0] for r in rows]).values_list("pk", "deal_time")
    )
    return [(row, times[row[0]]) for row in rows]


def revshare_pay(*, programme: Programme, start, end) -> int:
    """Write the revenue-share lines of `programme`'s period [start, end): per client and IB,
    the client's net loss over the period x each level's rate (see the module). Returns how
    many lines were written."""
    return lines_insert(revshare_lines(programme=programme, start=start, end=end))


def revshare_lines(*, programme: Programme, start, end) -> list[CommissionLine]:
    """The revenue-share lines of `programme`'s period [start, end), unsaved."""
    if not PlanRule.objects.filter(
        kind=PlanRule.Kind.REVSHARE, version__plan__programme=programme
    ).exists():
        return []
    with connection.cursor() as cur:
        cur.execute(RESULTS, [start, end])
        results = cur.fetchall()
    at = end - timedelta(microseconds=1)  # the period's last moment: its rates, its lines
    # the FX rates as they stood at the period's last moment, never today's (`ib.fx`)
    world, rates = World.load(set()), usd_rates_at(at)
    window = f"{start:%Y%m%d%H%M}-{end:%Y%m%d%H%M}"
    net: dict[tuple, list] = {}
    for client_id, leaf, currency, result, last, deals in results:
        entry = net.setdefault((client_id, leaf), [Decimal(0), [], last, 0])
        entry[1].append((currency, Decimal(result)))
        entry[2], entry[3] = max(entry[2], last), entry[3] + deals
    # the client's country at the period's last moment picks the revenue share's rate
    countries = countries_at((client_id, at) for client_id, _ in net)
    lines = []
    for (client_id, leaf), (_, parts, last, deals) in net.items():
        scope = world.client_scope(countries.get((client_id, at), ""))
        version, kind, earned = earnings(world, leaf, "", at, REVSHARE_KINDS, scope)
        if kind is None or world.version_info[version].plan.programme_id != programme.pk:
            continue
        target = world.version_info[version].plan.programme.currency
        fx = {currency: fx_rate(currency, target, rates=rates) for currency, _ in parts}
        if any(rate is None for rate in fx.values()):
            continue  # a currency without a rate: paid once the rate is set (period rerun)
        loss = -sum((value * fx[currency] for currency, value in parts), Decimal(0))
        if not loss:
            continue
        what = "net loss" if loss > 0 else "net gain (negative)"
        # each account currency's result at the period's rate, named in the why; a single
        # foreign currency's rate is stored on the line too
        foreign = sorted((c, v) for c, v in parts if c != target)
        converted = "".join(
            f", {n(round(-value, 2))} {currency} at {n(fx[currency])}"
            for currency, value in foreign
        )
        stored_rate = fx[foreign[0][0]] if len(foreign) == 1 else Decimal(1)
        for e in earned:
            lines.append(
                CommissionLine(
                    deal_time=min(last, at),
                    client_id=client_id,
                    partner_id=e.partner,
                    tier=e.tier,
                    kind=CommissionLine.Kind.REVSHARE,
                    version_id=e.version,
                    rule_id=e.rule,
                    rate=e.rate,
                    volume=0,
                    base_amount=loss,
                    formula=(
                        f"{what} {n(round(loss, 2))} {target} over {deals} deals "
                        f"{start:%Y-%m-%d} to {at:%Y-%m-%d}{converted} x {e.formula}"
                    )[:255],
                    currency=target,
                    fx_rate=stored_rate,
                    amount=round(loss * e.rate / HUNDRED, 8),
                    event_key=f"rs:{window}:{client_id}:{leaf}",
                )
            )
    return lines
