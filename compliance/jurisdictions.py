"""Compliance writes on the country rules (the kernel's `brokerage.models.CountryRule`): the
only way a rule is added or ended, by a compliance officer, each change audited.

A rule is never edited or deleted: an officer adds it (from now, or from a later time) and
schedules its end (now, or later); its history keeps every version. The database refuses two
rules of the same kind on one country that overlap in time; the service says so first, naming
the rule in the way.
"""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from brokerage import audit_events
from brokerage.errors import InvalidInput
from brokerage.intl import country_name, is_country
from brokerage.models import CountryRule
from brokerage.services import Actor, audit_record

from .permissions import require_officer

# How far in the past an officer may date a start or an end: the time the form took to fill.
PAST_TOLERANCE = timezone.timedelta(minutes=5)


def _evidence(rule: CountryRule) -> dict:
    return {
        "country": rule.country,
        "kind": rule.kind,
        "effective_from": rule.effective_from,
        "effective_to": rule.effective_to,
        "basis": rule.basis,
    }


def _overlapping(country: str, kind: str, start: datetime, end: datetime | None, exclude=None):
    qs = CountryRule.objects.filter(country=country, kind=kind).filter(
        Q(effective_to__isnull=True) | Q(effective_to__gt=start)
    )
    if end is not None:
        qs = qs.filter(effective_from__lt=end)
    if exclude is not None:
        qs = qs.exclude(pk=exclude.pk)
    # A rule ended at its own start (cancelled before it began) covers no time.
    return qs.exclude(effective_to=F("effective_from")).order_by("effective_from").first()


def _text(value: str, field: str, missing: str, errors: dict) -> str:
    value = " ".join((value or "").split())
    if not value:
        errors[field] = [missing]
    elif len(value) > 300:
        errors[field] = ["At most 300 characters."]
    return value


def _when(value: datetime | None, now: datetime, field: str, verb: str, errors: dict):
    value = value or now
    if value < now - PAST_TOLERANCE:
        errors[field] = [f"A rule {verb} now or later, never in the past."]
    return value


def _actor_fields(actor: Actor, prefix: str) -> dict:
    if isinstance(actor, str):
        return {f"{prefix}_by": None, f"{prefix}_by_label": actor}
    return {f"{prefix}_by": actor, f"{prefix}_by_label": actor.email}


@transaction.atomic
def country_rule_add(
    *,
    actor: Actor,
    country: str,
    kind: str,
    basis: str,
    effective_from: datetime | None = None,
    effective_to: datetime | None = None,
) -> CountryRule:
    """A new rule on `country`, in force from `effective_from` (now) until `effective_to`
    (open-ended). Refused, naming the rule, when a rule of the same kind on the country
    overlaps it."""
    require_officer(actor, "Only compliance officers set jurisdiction rules.")
    now = timezone.now()
    country = (country or "").strip().upper()
    errors = {}
    if not is_country(country):
        errors["country"] = ["Choose a country."]
    if kind not in CountryRule.Kind.values:
        errors["kind"] = ["Choose blocked, restricted or enhanced due diligence."]
    basis = _text(basis, "basis", "Give the reason or legal basis: clients read it.", errors)
    start = _when(effective_from, now, "effective_from", "starts", errors)
    if effective_to is not None and effective_to <= start:
        errors["effective_to"] = ["The end comes after the start."]
    if errors:
        raise InvalidInput("The rule was not added.", fields=errors)
    clash = _overlapping(country, kind, start, effective_to)
    if clash is not None:
        raise InvalidInput(
            f"{country_name(country)} already has a rule of this kind over that time: "
            f"rule {clash.pk}, from {clash.effective_from:%Y-%m-%d %H:%M} UTC"
            + (f" to {clash.effective_to:%Y-%m-%d %H:%M} UTC." if clash.effective_to else ".")
            + " End it first, or start this one after it ends.",
            code="rule_overlaps",
            fields={"effective_from": [f"Overlaps rule {clash.pk}."]},
        )
    rule = CountryRule(
        country=country,
        kind=kind,
        basis=basis,
        effective_from=start,
        effective_to=effective_to,
        created_at=now,
        **_actor_fields(actor, "created"),
    )
    if not isinstance(actor, str):
        rule._history_user = actor
    try:
        with transaction.atomic():
            rule.save()
    except IntegrityError as exc:  # a concurrent twin passed the check at the same moment
        raise InvalidInput(
            f"{country_name(country)} already has a rule of this kind over that time.",
            code="rule_overlaps",
        ) from exc
    audit_record(
        actor=actor,
        action=audit_events.COUNTRY_RULE_ADDED,
        target=rule,
        reason=basis,
        evidence=_evidence(rule),
    )
    _applied_after(rule)
    return rule


@transaction.atomic
def country_rule_end(
    *, actor: Actor, rule: CountryRule, reason: str, effective_to: datetime | None = None
) -> CountryRule:
    """Schedule the end of `rule`: now, or at `effective_to`. A rule already ended cannot be
    ended again; a scheduled end may be moved while it is still ahead. A rule that has not
    started yet and is ended before its start never applies."""
    require_officer(actor, "Only compliance officers set jurisdiction rules.")
    now = timezone.now()
    rule = CountryRule.objects.select_for_update().get(pk=rule.pk)
    errors = {}
    reason = _text(reason, "reason", "Say why the rule ends.", errors)
    end = _when(effective_to, now, "effective_to", "ends", errors)
    if errors:
        raise InvalidInput("The rule's end was not set.", fields=errors)
    if rule.effective_to is not None and rule.effective_to <= now:
        raise InvalidInput(f"Rule {rule.pk} already ended on {rule.effective_to:%Y-%m-%d %H:%M}.")
    end = max(end, rule.effective_from)
    if rule.effective_to is not None and end > rule.effective_to:
        clash = _overlapping(rule.country, rule.kind, rule.effective_to, end, exclude=rule)
        if clash is not None:
            raise InvalidInput(
                f"Rule {clash.pk} of the same kind starts before that end; end this one "
                "before it starts.",
                code="rule_overlaps",
                fields={"effective_to": [f"Overlaps rule {clash.pk}."]},
            )
    before = rule.effective_to
    rule.effective_to = end
    rule.ended_at, rule.end_reason = now, reason
    for field, value in _actor_fields(actor, "ended").items():
        setattr(rule, field, value)
    if not isinstance(actor, str):
        rule._history_user = actor
    rule.save()
    audit_record(
        actor=actor,
        action=audit_events.COUNTRY_RULE_END_SET,
        target=rule,
        reason=reason,
        evidence={**_evidence(rule), "previous_end": before},
    )
    _applied_after(rule)
    return rule


def _applied_after(rule: CountryRule) -> None:
    """Where a rule starts or ends now, the clients it reaches are restricted or lifted at
    once (`jurisdiction_apply`), in this transaction."""
