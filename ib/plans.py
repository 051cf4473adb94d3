"""Writes on commission plans and on what prices a deal through time: versions and their rules,
the plan a partner is paid by, the tree (a partner's parent) and the client's IB.

Every write is audited in its transaction. The rules that make commissions indisputable:
- a version is a draft until published; a published version that has paid a line is
  immutable (refused here, and by the database: migration ib 0007);
- a version comes into force at `valid_from`, never before the newest deal its plan has paid;
- a sub-IB's plan never pays more than its parent's for any symbol, account type and country
  (checked when set, scope by scope; the engine caps it anyway, deal by deal);
- a region's countries are fixed once a version pricing by it has paid a line (the kernel's
  `region.change_refusals` hook, `region_paid_refusal`);
- the tree cannot have a cycle (checked under a lock that serialises moves); a move, like a
  client's re-attribution, takes effect from the moment given (now by default), and earlier
  deals stay paid by the tree they closed under.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from django.db import connection, transaction
from django.utils import timezone

from brokerage.errors import InvalidInput, NotAllowed
from brokerage.intl import is_country
from brokerage.models import Region
from brokerage.services import Actor, audit_record
from clients.models import AccountType

from . import audit_events
from .models import (
    CommissionLine,
    ParentLink,
    Partner,
    PartnerPlan,
    Plan,
    PlanRule,
    PlanVersion,
    Programme,
    ReferralLink,
)
from .permissions import actor_label, require_manager
from .world import ANY, World, group_label, rate_lookup, scope_label
from .world import n as plain

TREE_LOCK = 0x1B7EE  # pg_advisory_xact_lock key serialising moves in the partner tree
MAX_RATE = Decimal("1000000")
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)


def moment_check(valid_from: datetime | None) -> datetime:
    """When a change in the tree, a plan or a client's IB takes effect: now unless a date is
    given; a given date is in the past (a change cannot be scheduled ahead: it is made now)."""
    now = timezone.now()
    if valid_from is None:
        return now
    if timezone.is_naive(valid_from):
        valid_from = timezone.make_aware(valid_from, UTC)
    if valid_from > now:
        raise InvalidInput(
            "A change takes effect now or from a date in the past, not ahead.",
            fields={"valid_from": ["In the future."]},
        )
    if valid_from < EARLIEST:
        raise InvalidInput("That date is too far back.", fields={"valid_from": ["Too early."]})
    return valid_from


def _rate(value, where: str) -> Decimal:
    try:
        rate = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise InvalidInput(f"{where}: {value!r} is not a number.") from None
    if not rate.is_finite() or rate < 0 or rate > MAX_RATE:
        raise InvalidInput(f"{where}: a rate is a number from 0 to {MAX_RATE:,}.")
    if rate != rate.quantize(Decimal("0.000001")):
        raise InvalidInput(f"{where}: at most 6 decimal places.")
    return rate


PERCENT_KINDS = (PlanRule.Kind.PCT_COMMISSION, PlanRule.Kind.PCT_MARKUP, PlanRule.Kind.REVSHARE)
PER_CLIENT_KINDS = (PlanRule.Kind.CPA, PlanRule.Kind.REVSHARE)


def _client_terms(rule: dict, kind: str, scope: str, n: int) -> dict:
    """A CPA's qualifying terms, checked; rates paid per client apply to every symbol."""
    if kind not in PER_CLIENT_KINDS:
        return {}
    if scope:
        raise InvalidInput(
            f"Rate {n}: a CPA or revenue share is paid per client, on every symbol and account: "
            "it can be narrowed to a country or a region, not to a symbol, a group or an "
            "account type."
        )
    if kind != PlanRule.Kind.CPA:
        return {}
    terms = {}
    for name, label, places in (
        ("min_deposit", "Minimum first deposit", 2),
        ("min_lots", "Minimum lots", 4),
        ("within_days", "Days to trade them", 0),
        ("clawback_days", "Clawback window (days)", 0),
    ):
        raw = str(rule.get(name) if rule.get(name) is not None else "").strip()
        if not raw:
            terms[name] = None
            continue
        value = _rate(raw, f"Rate {n}, {label}")
        if value != value.quantize(Decimal(1).scaleb(-places)) or value > 1_000_000_000:
            raise InvalidInput(f"Rate {n}, {label}: at most {places} decimal places.")
        terms[name] = int(value) if places == 0 else value
    if terms["min_lots"] and not terms["within_days"]:
        raise InvalidInput(f"Rate {n}: give the days within which the lots must be traded.")
    return terms


def _client_scope(rule: dict, n: int):
    """The account type, country and region a rule is narrowed to (checked), each or None."""
    account_type = rule.get("account_type") or None
    if account_type is not None and not isinstance(account_type, AccountType):
        try:
            account_type = AccountType.objects.get(pk=int(account_type))
        except (AccountType.DoesNotExist, TypeError, ValueError):
            raise InvalidInput(f"Rate {n}: no such account type.") from None
    country = str(rule.get("country") or "").strip().upper()
    if country and not is_country(country):
        raise InvalidInput(f"Rate {n}: {country!r} is not a country (a two-letter ISO code).")
    region = rule.get("region") or None
    if region is not None and not isinstance(region, Region):
        raw = str(region).strip()
        found = Region.objects.filter(pk=int(raw)) if raw.isdigit() else Region.objects.none()
        region = found.first() or Region.objects.filter(code__iexact=raw).first()
        if region is None:
            raise InvalidInput(f"Rate {n}: no such region ({raw}).")
    if country and region:
        raise InvalidInput(f"Rate {n}: a country or a region, not both.")
    return account_type, country, region


@transaction.atomic
def plan_version_create(
    *,
    plan: Plan,
    valid_from: datetime,
    rules: list[dict],
    actor: Actor,
    entry: str = PlanVersion.Entry.OUT,
    min_hold_seconds: int = 60,
    tiers: str = PlanVersion.Tiers.DIFFERENCE,
    tier_percent: Decimal | str = "0",
    self_trading: bool = False,
    note: str = "",
    publish: bool = False,
) -> PlanVersion:
    """A new draft version of `plan` with its rules: dicts of kind (per_lot, pct_commission,
    pct_markup, cpa, revshare), symbol or symbol_group (or neither: the default), optionally
    narrowed to an account_type (id) and a country (ISO code) or a region (id or code), rate,
    and for a CPA its terms (min_deposit, min_lots, within_days, clawback_days)."""
    require_manager(actor)
    if entry not in PlanVersion.Entry.values:
        raise InvalidInput("Choose which deals are paid.", fields={"entry": ["Unknown."]})
    if tiers not in PlanVersion.Tiers.values:
        raise InvalidInput("Choose how levels share.", fields={"tiers": ["Unknown."]})
    percent = _rate(tier_percent, "Share of the level below")
    if percent > 100:
        raise InvalidInput("A share is at most 100%.", fields={"tier_percent": ["At most 100."]})
    if not rules:
        raise InvalidInput("A plan version needs at least one rate.")
    number = (plan.versions.order_by("-number").values_list("number", flat=True).first() or 0) + 1
    version = PlanVersion.objects.create(
        plan=plan,
        number=number,
        valid_from=valid_from,
        entry=entry,
        min_hold_seconds=max(0, int(min_hold_seconds)),
        tiers=tiers,
        tier_percent=percent,
        self_trading=bool(self_trading),
        note=note[:200],
        created_by=None if isinstance(actor, str) else actor,
    )
    seen = set()
    for n, rule in enumerate(rules, 1):
        kind = rule.get("kind", PlanRule.Kind.PER_LOT)
        if kind not in PlanRule.Kind.values:
            raise InvalidInput(f"Rate {n}: unknown kind {kind!r}.")
        symbol = (rule.get("symbol") or "").strip().upper()
        group = (rule.get("symbol_group") or "").strip()
        if symbol and group:
            raise InvalidInput(f"Rate {n}: a symbol or a group, not both.")
        account_type, country, region = _client_scope(rule, n)
        key = (kind, symbol, group, account_type, country, region)
        if key in seen:
            what = PlanRule(
                symbol=symbol,
                symbol_group=group,
                account_type=account_type,
                country=country,
                region=region,
            ).scope
            raise InvalidInput(f"Rate {n}: {what} is set twice for this kind.")
        seen.add(key)
        rate = _rate(rule.get("rate"), f"Rate {n}")
        if kind in PERCENT_KINDS and rate > 100:
            raise InvalidInput(f"Rate {n}: a percent is at most 100.")
        narrowed = symbol or group or account_type
        PlanRule.objects.create(
            version=version,
            kind=kind,
            symbol=symbol,
            symbol_group=group,
            account_type=account_type,
            country=country,
            region=region,
            rate=rate,
            **_client_terms(rule, kind, narrowed, n),
        )
    audit_record(
        actor=actor,
        action=audit_events.PLAN_VERSION_CREATED,
        target=version,
        evidence={"plan": plan.name, "number": number, "rules": len(rules)},
    )
    if publish:
        plan_version_publish(version=version, actor=actor)
    return version


@transaction.atomic
def plan_version_publish(*, version: PlanVersion, actor: Actor) -> PlanVersion:
    """Put a draft in force from its `valid_from`, which may not precede the newest deal its
    plan has already paid (a paid deal is never repriced)."""
    require_manager(actor)
    version = PlanVersion.objects.select_for_update().get(pk=version.pk)
    if version.published_at:
        raise InvalidInput("This version is already published.")
    newest = (
        CommissionLine.objects.filter(version__plan_id=version.plan_id)
        .order_by("-deal_time")
        .values_list("deal_time", flat=True)
        .first()
    )
    if newest and version.valid_from <= newest:
        raise InvalidInput(
            f"Deals up to {newest:%Y-%m-%d %H:%M} UTC are already paid under this plan: "
            "the new version must start after them.",
            fields={"valid_from": ["Too early."]},
        )
    version.published_at = timezone.now()
    version.save(update_fields=["published_at"])
    audit_record(
        actor=actor,
        action=audit_events.PLAN_VERSION_PUBLISHED,
        target=version,
        evidence={"plan": version.plan.name, "valid_from": version.valid_from.isoformat()},
    )
    return version


def paid_since_check(at: datetime, lines) -> None:
    """Refuse a change from `at` when `lines` (the commission lines it would concern) already
    pay a deal closed since then: a paid deal is never paid again by another tree, IB or plan."""
    newest = (
        lines.filter(deal_time__gte=at).order_by("-deal_time").values_list("deal_time", flat=True)
    ).first()
    if newest is not None:
        raise InvalidInput(
            f"Deals up to {newest:%Y-%m-%d %H:%M} UTC are already paid as things stood: "
            "the change must start after them.",
            fields={"valid_from": ["Before deals already paid."]},
        )


def _client_scopes(world: World) -> list:
    """Every kind of client the world's rules tell apart: each account type a rule names (or
    none) with each country class (or none)."""
    classes = {"", *world.country_classes().values()}
    return [
        world.scope_of(at, cls)
        for at in (0, *sorted(world.account_types))
        for cls in sorted(classes)
    ]


def _caps_problem(partner: Partner, plan: Plan, at: datetime) -> str | None:
    """Why `plan` would pay `partner` more than its parent's plan pays, or None: each rule is
    compared with the parent's rate for the same instrument and the same client scope (account
    type, country, region), wherever the rule is the one the lookup finds."""
    partner = Partner.objects.get(pk=partner.pk)
    if partner.parent_id is None:
        return None
    versions = plan.versions.filter(published_at__isnull=False, valid_from__lte=at)
    version = versions.order_by("-valid_from").first()
    if version is None:
        return None
    world = World.load({r.symbol for r in version.rules.all() if r.symbol})
    parent_version = world.version_of(world.chain(partner.parent_id, at), 0, at)
    if parent_version is None:
        return "the parent partner has no plan"
    scopes = _client_scopes(world)
    for rule in version.rules.select_related("account_type", "region"):
        if rule.symbol:
            instruments = [(rule.symbol, None)]
        elif rule.symbol_group:
            symbols = [s for s, g in world.groups.items() if g == rule.symbol_group]
            instruments = [(s, None) for s in symbols] or [("", rule.symbol_group)]
        else:
            instruments = [("", "")]
        for symbol, group in instruments:
            for scope in scopes:
                own = rate_lookup(world, version.pk, rule.kind, symbol, scope, group)
                if own is None or own[0] != rule.pk:
                    continue  # another rule of the plan prices this scope
                found = rate_lookup(world, parent_version, rule.kind, symbol, scope, group)
                cap = found[1] if found else Decimal(0)
                if rule.rate > cap:
                    where = f" ({found[2]})" if found and scope != ANY else ""
                    return (
                        f"{rule} pays {plain(rule.rate)}, more than the parent's "
                        f"{plain(cap)}{where}"
                    )
    return None


@transaction.atomic
def partner_plan_set(
    *, partner: Partner, plan: Plan, actor: Actor, reason: str = "", valid_from=None
) -> PartnerPlan:
    """Pay `partner` (and the sub-IBs without a plan of their own) by `plan` from `valid_from`
    (now). A sub-IB's plan may not pay more than its parent's for any rate."""
    require_manager(actor)
    at = moment_check(valid_from)
    paid_since_check(at, CommissionLine.objects.filter(partner=partner))
    problem = _caps_problem(partner, plan, at)
    if problem:
        raise InvalidInput(
            f"A sub-IB earns at most what its parent does: {problem}.",
            fields={"plan": [problem]},
        )
    if PartnerPlan.objects.filter(partner=partner, valid_from=at).exists():
        raise InvalidInput(
            "The partner already has a plan from that moment.", fields={"valid_from": ["Taken."]}
        )
    link = PartnerPlan.objects.create(
        partner=partner, plan=plan, valid_from=at, reason=reason[:200], set_by=actor_label(actor)
    )
    audit_record(
        actor=actor,
        action=audit_events.PARTNER_PLAN_SET,
        target=partner,
        reason=reason,
        evidence={"plan": plan.name, "valid_from": at.isoformat()},
    )
    return link


def parent_link_record(*, partner: Partner, parent: Partner | None, actor: Actor, at, reason=""):
    ParentLink.objects.update_or_create(
        partner=partner,
        valid_from=at,
        defaults={"parent": parent, "reason": reason[:200], "set_by": actor_label(actor)},
    )


@transaction.atomic
def partner_parent_set(
    *, partner: Partner, parent: Partner | None, actor: Actor, reason: str, valid_from=None
) -> Partner:
    """Move `partner` under `parent` (None: to the top) from `valid_from` (now). Refused when it
    would make a cycle; moves are serialised, so two at once cannot make one either."""
    require_manager(actor)
    reason = " ".join((reason or "").split())
    if len(reason) < 5:
        raise InvalidInput("Give the reason for the move.", fields={"reason": ["Required."]})
    with connection.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", [TREE_LOCK])
    partner = Partner.objects.select_for_update().get(pk=partner.pk)
    node = parent.pk if parent else None
    seen = set()
    while node is not None:
        if node == partner.pk:
            raise InvalidInput("A partner cannot sit under its own sub-IB.", code="tree_cycle")
        if node in seen:
            break
        seen.add(node)
        node = Partner.objects.filter(pk=node).values_list("parent_id", flat=True).first()
    at = moment_check(valid_from)
    paid_since_check(at, CommissionLine.objects.filter(partner=partner))
    before = partner.parent_id
    partner.parent = parent
    partner.save(update_fields=["parent"])
    parent_link_record(partner=partner, parent=parent, actor=actor, at=at, reason=reason)
    audit_record(
        actor=actor,
        action=audit_events.PARTNER_PARENT_MOVED,
        target=partner,
        reason=reason,
        evidence={
            "from": before,
            "to": parent.pk if parent else None,
            "valid_from": at.isoformat(),
        },
    )
    return partner


def referral_link_record(*, client, partner: Partner | None, actor: Actor, at, reason: str = ""):
    """The client's IB from `at` (the engine pays deals by the IB of their close time)."""
    ReferralLink.objects.update_or_create(
        client=client,
        valid_from=at,
        defaults={"partner": partner, "reason": reason[:200], "set_by": actor_label(actor)},
    )


@transaction.atomic
def programme_create(*, name: str, actor: Actor, **fields) -> Programme:
    require_manager(actor)
    programme, created = Programme.objects.get_or_create(name=name, defaults=fields)
    if created:
        audit_record(actor=actor, action=audit_events.PROGRAMME_CREATED, target=programme)
    return programme


@transaction.atomic
def plan_create(*, programme: Programme, name: str, actor: Actor) -> Plan:
    require_manager(actor)
    plan, created = Plan.objects.get_or_create(programme=programme, name=name)
    if created:
        audit_record(actor=actor, action=audit_events.PLAN_CREATED, target=plan)
    return plan


# --- A partner's own sub-IBs ---------------------------------------------------------------


def _version_in_force(partner: Partner, at, world: World | None = None) -> tuple[World, int | None]:
    """The version that pays `partner` at `at` (its own plan's, else the nearest ancestor's),
    read in `world` (the plans, tree and rules loaded once for a request or a run), else in the
    world as it stands."""
    world = world or World.load(set())
    return world, world.version_of(world.chain(partner.pk, at), 0, at)


def own_rates(partner: Partner, at=None, *, world: World | None = None) -> list[tuple]:
    """(group code, label, rate) the partner is paid per lot now under its plan (its own or
    inherited), by instrument group and the plan default: the caps of its sub-IBs' rates. Give
    `world` (`World.load(set())`) to read several partners' rates from one load."""
    world, version = _version_in_force(partner, at or timezone.now(), world)
    if version is None:
        return []
    rules = world.rules.get(version, {})
    found = [
        (key, group_label(key) if scope == "g" else "Everything else (plan default)", rate)
        for (kind, scope, key, *client), (_, rate) in rules.items()
        if kind == PlanRule.Kind.PER_LOT and scope in ("g", "d") and not any(client)
    ]
    return sorted(found, key=lambda r: (r[0] == "", r[1]))


def own_narrowed_rates(
    partner: Partner, at=None, *, world: World | None = None
) -> list[tuple[str, Decimal]]:
    """(scope label, rate) of the partner's per-lot rates narrowed to an account type, a
    country or a region (its plan's own or inherited): they cap its sub-IBs' rates for those
    clients too (the engine caps each level deal by deal)."""
    world, version = _version_in_force(partner, at or timezone.now(), world)
    if version is None:
        return []
    found = []
    for (kind, scope, key, at_id, country, region), (_, rate) in world.rules[version].items():
        if kind != PlanRule.Kind.PER_LOT or not (at_id or country or region):
            continue
        label = scope_label(
            key if scope == "s" else "",
            key if scope == "g" else "",
            world.account_types.get(at_id, ""),
            country,
            world.regions[region][0] if region else "",
        )
        found.append((label, rate))
    return sorted(found)


@transaction.atomic
def sub_ib_rates_set(*, parent: Partner, sub: Partner, rates: dict, actor) -> PartnerPlan:
    """A partner sets its direct sub-IB's per-lot rates by instrument group, each at most its
    own (checked here and by the plan's cap check), in force from now: a plan of the sub-IB's
    own, versioned like any plan. Earlier deals stay paid as they were."""
    if isinstance(actor, str) or getattr(actor, "partner", None) != parent:
        require_manager(actor)
    sub = Partner.objects.select_for_update().get(pk=sub.pk)  # the tree as it stands now
    if sub.parent_id != parent.pk:
        raise NotAllowed("Rates are set by a sub-IB's own parent partner.")
    world = World.load(set())  # one load for the caps and the programme below
    caps = {key: (label, rate) for key, label, rate in own_rates(parent, world=world)}
    if not caps:
        raise InvalidInput("You have no commission plan yet: your IB manager sets one first.")
    rules, errors = [], {}
    for key, (label, cap) in caps.items():
        raw = str(rates.get(key, "")).strip()
        if not raw:
            continue
        try:
            rate = _rate(raw, label)
        except InvalidInput as exc:
            errors[key or "default"] = [exc.message]
            continue
        if rate > cap:
            errors[key or "default"] = [f"At most your own {plain(cap)} per lot."]
            continue
        rules.append({"symbol_group": key, "rate": rate})
    if errors:
        raise InvalidInput("Some rates cannot be set.", fields=errors)
    if not rules:
        raise InvalidInput("Give at least one rate.")
    label = f"partner:{parent.referral_code}"  # the writes below, by the parent's authority
    # The sub-IB's plan belongs to the programme of the plan that pays its parent now (its
    # own, or one it inherits from further up).
    world, version = _version_in_force(parent, timezone.now(), world)
    programme = world.version_info[version].plan.programme
    plan = plan_create(
        programme=programme, name=f"{sub.referral_code} by {parent.referral_code}", actor=label
    )
    at = timezone.now()
    plan_version_create(
        plan=plan,
        valid_from=at,
        rules=rules,
        actor=label,
        note=f"Set by {parent.referral_code} for its sub-IB {sub.referral_code}",
        publish=True,
    )
    link = partner_plan_set(partner=sub, plan=plan, actor=label, valid_from=at)
    audit_record(
        actor=actor,
        action=audit_events.SUB_IB_RATES_SET,
        target=sub,
        evidence={
            "parent": parent.referral_code,
            "rates": {r["symbol_group"] or "default": str(r["rate"]) for r in rules},
        },
    )
    return link


def region_paid_refusal(region, countries: list[str]) -> str | None:
    """A region's countries are fixed once a version pricing by it has paid a line (the lines
    it paid must reproduce): make another region and a new version instead."""
    if PlanRule.objects.filter(region_id=region.pk, version__paid_lines=True).exists():
        return (
            f"{region.name} prices IB plan versions that have paid commission lines: its "
            "countries cannot change. Make a new region and a new plan version with it."
        )
    return None
