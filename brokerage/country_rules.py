"""Kernel selectors of the country rules (`brokerage.models.CountryRule`): what leads, kyc,
finance and clients read to obey the policy compliance sets, without importing compliance.

    for applied in client_country_rules(client):       # residence and nationality, now
        applied.rule.kind, applied.via, applied.rule.title

A rule applies to a person when it is in force (`effective_from <= at < effective_to`) and its
country is their country of residence or their nationality. The strictest kind comes first
(blocked, restricted, enhanced due diligence), so `[0]` is the one a refusal names.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q, QuerySet
from django.utils import timezone

from .models import CountryRule
from .statements import Array, Statement

Kind = CountryRule.Kind
SEVERITY = {Kind.BLOCKED: 0, Kind.RESTRICTED: 1, Kind.EDD: 2}
VIA_LABELS = {"residence": "country of residence", "nationality": "nationality"}


@dataclass(frozen=True)
class AppliedRule:
    """A rule in force on a person, and through which of their countries it reaches them."""

    rule: CountryRule
    via: str  # "residence" or "nationality"

    @property
    def kind(self) -> str:
        return self.rule.kind

    @property
    def via_label(self) -> str:
        return VIA_LABELS[self.via]

    @property
    def message(self) -> str:
        """A refusal's words, naming the rule: 'Iran (country of residence) is blocked under
        jurisdiction rule 3 (OFAC sanctions).'"""
        return (
            f"{self.rule.country_name} ({self.via_label}) is "
            f"{self.rule.get_kind_display().lower()} under jurisdiction rule {self.rule.pk} "
            f"({self.rule.basis})."
        )


def in_force_q(at: datetime | None = None, prefix: str = "") -> Q:
    """The rules in force at `at` (now), as a filter (`prefix` for a related rule: 'rule__')."""
    at = at or timezone.now()
    return Q(**{f"{prefix}effective_from__lte": at}) & (
        Q(**{f"{prefix}effective_to__isnull": True}) | Q(**{f"{prefix}effective_to__gt": at})
    )


def country_rules_in_force(
    countries: str | list[str], *, at: datetime | None = None, kinds=None
) -> QuerySet[CountryRule]:
    """The rules in force at `at` (now) on any of `countries` (ISO alpha-2)."""
    countries = [countries] if isinstance(countries, str) else list(countries)
    countries = [c.upper() for c in countries if c]
    qs = CountryRule.objects.filter(in_force_q(at), country__in=countries)
    if kinds:
        qs = qs.filter(kind__in=list(kinds))
    return qs.order_by("pk")


# country_rules_for's reads (every check of a client's jurisdiction), compiled once per
# process (brokerage.statements)
def _rules(v):
    return CountryRule.objects.filter(
        in_force_q(v.at), country__in=Array(v.countries, "text")
    ).order_by("pk")


_RULES = Statement(_rules)
_RULES_OF_KINDS = Statement(lambda v: _rules(v).filter(kind__in=Array(v.kinds, "text")))


def country_rules_for(
    *, residence: str = "", nationality: str = "", at: datetime | None = None, kinds=None
) -> list[AppliedRule]:
    """The rules that apply to a person living in `residence` with `nationality`, at `at`
    (now), strictest first; a rule reaching them both ways is listed once, by residence."""
    residence, nationality = (residence or "").upper(), (nationality or "").upper()
    countries, at = [c for c in (residence, nationality) if c], at or timezone.now()
    if kinds:
        rules = _RULES_OF_KINDS(countries=countries, at=at, kinds=[str(k) for k in kinds])
    else:
        rules = _RULES(countries=countries, at=at)
    applied = []
    for rule in rules:
        via = "residence" if rule.country == residence else "nationality"
        applied.append(AppliedRule(rule, via))
    return sorted(applied, key=lambda a: (SEVERITY[a.rule.kind], a.via != "residence", a.rule.pk))


def client_country_rules(client, *, at: datetime | None = None, kinds=None) -> list[AppliedRule]:
    """What applies to this client now: the rules on their country of residence
    (`client.country`) and on their declared nationality (`client.nationality`)."""
    return country_rules_for(
        residence=getattr(client, "country", "") or "",
        nationality=getattr(client, "nationality", "") or "",
        at=at,
        kinds=kinds,
    )


def strictest(applied: list[AppliedRule], *kinds: str) -> AppliedRule | None:
    """The first of `applied` (strictest first) whose kind is one of `kinds`."""
    return next((a for a in applied if a.rule.kind in kinds), None)


# --- For compliance's pages ----------------------------------------------------------------

STATES = [
    ("in_force", "In force"),
    ("scheduled", "Scheduled"),
    ("ended", "Ended"),
]


def country_rule_list(
    *, kind: str = "", state: str = "", countries: list[str] | None = None, at=None
) -> QuerySet[CountryRule]:
    """Every rule, by country; `state` narrows to those in force, scheduled (starting later)
    or ended at `at` (now); `countries` to those countries (a search by name resolves them)."""
    at = at or timezone.now()
    qs = CountryRule.objects.select_related("created_by", "ended_by")
    if kind:
        qs = qs.filter(kind=kind)
    if state == "in_force":
        qs = qs.filter(in_force_q(at))
    elif state == "scheduled":
        qs = qs.filter(effective_from__gt=at)
    elif state == "ended":
        qs = qs.filter(effective_to__lte=at)
    if countries is not None:
        qs = qs.filter(country__in=countries)
    return qs.order_by("country", "kind", "-effective_from", "-pk")


def country_rule_history(country: str) -> QuerySet:
    """Every version of every rule on `country`, newest first (simple_history)."""
    return (
        CountryRule.history.filter(country=country.upper())
        .select_related("history_user")
        .order_by("-history_date", "-history_id")
    )
