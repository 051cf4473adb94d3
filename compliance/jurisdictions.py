"""Compliance writes on the country rules (the kernel's `brokerage.models.CountryRule`): the
only way a rule is added or ended, by a compliance officer, each change audited.

A rule is never edited or deleted: an officer adds it (from now, or from a later time) and
schedules its end (now, or later); its history keeps every version. The database refuses two
rules of the same kind on one country that overlap in time; the service says so first, naming
the rule in the way.
"""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from brokerage import audit_events
from brokerage.errors import InvalidInput
from brokerage.intl import country_name, is_country
from brokerage.models import CountryRule
from brokerage.services import Actor, audit_record, audit_record_many
from clients.models import Client
from clients.notify import client_notify
from clients.trading.reach import platform_reach_request
from leads.held import leads_held_release

from . import audit_events as audit_events_c
from .models import RuleApplication
from .permissions import require_officer
from .rating import country_rule_changed

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
    country_rule_changed(rule.country)
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
    country_rule_changed(rule.country)
    return rule


def _applied_after(rule: CountryRule) -> None:
    """Where a rule starts or ends now, the clients it reaches are restricted or lifted at
    once (`jurisdiction_apply`), and the leads a blocked rule held are released to routing
    (`leads_held_release`), in this transaction; a later start or end is the beat's."""
    now = timezone.now()
    takes_effect = rule.effective_from <= now or (rule.effective_to or now) < now
    if rule.kind in RESTRICTING and takes_effect:
        jurisdiction_apply(rule_ids=[rule.pk], at=now)
    if rule.kind == CountryRule.Kind.BLOCKED and rule.effective_to and rule.effective_to <= now:
        leads_held_release(rule_ids=[rule.pk], at=now)  # the leads it held go to sales


# --- What the rules impose on existing clients ---------------------------------------------

APPLY_ACTOR = "rule:jurisdictions"
RESTRICTING = (CountryRule.Kind.BLOCKED, CountryRule.Kind.RESTRICTED)

# Every (client, rule) pair a restricting rule in force reaches and no open application
# records yet: by residence first, else by nationality. One statement, however many clients.
_OPEN = """
INSERT INTO compliance_ruleapplication (client_id, rule_id, via, applied_at, lifted_at,
                                        lift_reason)
SELECT DISTINCT ON (m.client_id, m.rule_id) m.client_id, m.rule_id, m.via, %(at)s, NULL, ''
  FROM (SELECT c.id AS client_id, r.id AS rule_id, 'residence' AS via, 0 AS pref
          FROM brokerage_countryrule r JOIN clients_client c ON c.country = r.country
         WHERE r.kind = ANY(%(kinds)s) AND c.status <> 'closed'
           AND r.effective_from <= %(at)s
           AND (r.effective_to IS NULL OR r.effective_to > %(at)s)
           AND (%(all)s OR r.id = ANY(%(rule_ids)s))
           AND (%(every)s OR c.id = ANY(%(client_ids)s))
        UNION ALL
        SELECT c.id, r.id, 'nationality', 1
          FROM brokerage_countryrule r JOIN clients_client c ON c.nationality = r.country
         WHERE r.kind = ANY(%(kinds)s) AND c.status <> 'closed'
           AND r.effective_from <= %(at)s
           AND (r.effective_to IS NULL OR r.effective_to > %(at)s)
           AND (%(all)s OR r.id = ANY(%(rule_ids)s))
           AND (%(every)s OR c.id = ANY(%(client_ids)s))
       ) m
 ORDER BY m.client_id, m.rule_id, m.pref
ON CONFLICT (client_id, rule_id) WHERE lifted_at IS NULL DO NOTHING
RETURNING id
"""
# Every open application whose rule is no longer in force, or whose client no longer lives in
# or holds the nationality of the rule's country (or was closed): lifted, and only it.
_LIFT = """
WITH due AS (
    SELECT a.id,
           NOT (r.effective_from <= %(at)s
                AND (r.effective_to IS NULL OR r.effective_to > %(at)s)) AS ended
      FROM compliance_ruleapplication a
      JOIN brokerage_countryrule r ON r.id = a.rule_id
      JOIN clients_client c ON c.id = a.client_id
     WHERE a.lifted_at IS NULL AND (%(all)s OR r.id = ANY(%(rule_ids)s))
       AND (%(every)s OR c.id = ANY(%(client_ids)s))
       AND (NOT (r.effective_from <= %(at)s
                 AND (r.effective_to IS NULL OR r.effective_to > %(at)s))
            OR c.status = 'closed'
            OR (c.country <> r.country AND c.nationality <> r.country))
)
UPDATE compliance_ruleapplication a
   SET lifted_at = %(at)s,
       lift_reason = CASE WHEN due.ended THEN 'The rule ended.'
                          ELSE 'The rule no longer reaches the client.' END
  FROM due
 WHERE a.id = due.id
RETURNING a.id
"""


@transaction.atomic
def jurisdiction_apply(
    *,
    rule_ids: list[int] | None = None,
    client_ids: list[int] | None = None,
    at: datetime | None = None,
    actor: Actor = APPLY_ACTOR,
) -> dict:
    """Bring what the restricting rules (blocked, restricted) impose on existing clients in
    step with the rules in force at `at` (now), set-based: open an application for every
    client a rule now reaches, lift every open one whose rule ended or no longer reaches its
    client, and nothing else. Each change is audited, told to the client by email in their
    language (and kept in their communication history), and sent to the trading platform
    (`platform_reach_request`). `rule_ids` narrows it to those rules (an officer's change),
    `client_ids` to those clients (one whose residence or nationality changed); the beat runs
    it for all. Idempotent: run again, it changes nothing."""
    params = {
        "at": at or timezone.now(),
        "kinds": list(RESTRICTING),
        "all": rule_ids is None,
        "rule_ids": list(rule_ids or []),
        "every": client_ids is None,
        "client_ids": list(client_ids or []),
    }
    with connection.cursor() as cur:
        cur.execute(_LIFT, params)
        lifted = [row[0] for row in cur.fetchall()]
        cur.execute(_OPEN, params)
        opened = [row[0] for row in cur.fetchall()]
    if opened:
        _told(opened, actor, audit_events_c.JURISDICTION_APPLIED, "jurisdiction_restricted")
    if lifted:
        _told(lifted, actor, audit_events_c.JURISDICTION_LIFTED, "jurisdiction_lifted")
    changed = {a.client_id for a in RuleApplication.objects.filter(pk__in=opened + lifted)}
    if changed:
        platform_reach_request(clients=sorted(changed), reason="jurisdiction rule")
    return {"applied": len(opened), "lifted": len(lifted)}


def jurisdiction_client_apply(client_id: int, via: str) -> None:
    """A client's residence or nationality changed (the kernel's `client.country_changed`
    hook): the rules that now reach them are applied, and those that no longer do lifted, in
    the caller's transaction."""
    jurisdiction_apply(client_ids=[client_id])


def _told(ids: list[int], actor: Actor, action: str, email: str) -> None:
    """Audit each application opened or lifted, and tell its client."""
    applications = list(
        RuleApplication.objects.filter(pk__in=ids)
        .select_related("rule", "client__user")
        .order_by("pk")
    )
    audit_record_many(
        actor=actor,
        action=action,
        entries=[
            (
                a,
                a.lift_reason or a.rule.basis,
                {
                    "rule": a.rule_id,
                    "country": a.rule.country,
                    "kind": a.rule.kind,
                    "via": a.via,
                    "lifted": a.lifted_at is not None,
                },
            )
            for a in applications
        ],
    )
    for a in applications:
        partner = a.client.holder == Client.Holder.PARTNER  # an IB's account holder
        client_notify(
            a.client,
            email=email,
            key=f"jurisdiction:{a.pk}:{'lifted' if a.lifted_at else 'applied'}",
            actor=actor,
            url_name="partners:home" if partner else "portal:home",
            context={
                "country": a.rule.country_name,
                "via": a.via,
                "rule": a.rule_id,
                "basis": a.rule.basis,
                "partner_area": partner,
            },
            data={"rule": a.rule_id, "application": a.pk},
        )
