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
from .models import JobStatus, RuleApplication, RuleApplyJob
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
    _applied_after(rule, "added")
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
    _applied_after(rule, "ended")
    country_rule_changed(rule.country)
    return rule


def _applied_after(rule: CountryRule, change: str) -> None:
    """Where a rule starts or ends now, the clients it reaches are restricted or lifted in the
    background once this commits (`rule_apply_job_run`: the officer's request returns at once,
    and the rule page shows the progress), and the leads a blocked rule held are released to
    routing (`leads_held_release`); a later start or end is the beat's."""
    now = timezone.now()
    takes_effect = rule.effective_from <= now or (rule.effective_to or now) < now
    if rule.kind in RESTRICTING and takes_effect:
        job = RuleApplyJob.objects.create(rule=rule, change=change, requested_at=now)
        transaction.on_commit(lambda: _rule_apply_queue(job.pk), robust=True)
    if rule.kind == CountryRule.Kind.BLOCKED and rule.effective_to and rule.effective_to <= now:
        leads_held_release(rule_ids=[rule.pk], at=now)  # the leads it held go to sales


def _rule_apply_queue(job_id: int) -> None:
    from .tasks import rule_apply_task

    rule_apply_task.delay(job_id)


# --- What the rules impose on existing clients ---------------------------------------------

APPLY_ACTOR = "rule:jurisdictions"
RESTRICTING = (CountryRule.Kind.BLOCKED, CountryRule.Kind.RESTRICTED)

# Every (client, rule) pair a restricting rule in force reaches and no open application
# records yet: by residence first, else by nationality. Pairs already applied are skipped
# before the insert, so a run that changes nothing writes nothing.
_PAIRS = """
SELECT DISTINCT ON (m.client_id, m.rule_id) m.client_id, m.rule_id, m.via
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
 WHERE NOT EXISTS (SELECT 1 FROM compliance_ruleapplication a
                    WHERE a.client_id = m.client_id AND a.rule_id = m.rule_id
                      AND a.lifted_at IS NULL)
 ORDER BY m.client_id, m.rule_id, m.pref
"""
_OPEN = f"""
INSERT INTO compliance_ruleapplication (client_id, rule_id, via, applied_at, lifted_at,
                                        lift_reason)
SELECT p.client_id, p.rule_id, p.via, %(at)s, NULL, '' FROM ({_PAIRS}) p
ON CONFLICT (client_id, rule_id) WHERE lifted_at IS NULL DO NOTHING
RETURNING id
"""  # noqa: S608 (this module's own fragments, no input)
# Every open application whose rule is no longer in force, or whose client no longer lives in
# or holds the nationality of the rule's country (or was closed): lifted, and only it.
_DUE = """
    SELECT a.id, a.client_id,
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
"""
_LIFT = f"""
WITH due AS ({_DUE})
UPDATE compliance_ruleapplication a
   SET lifted_at = %(at)s,
       lift_reason = CASE WHEN due.ended THEN 'The rule ended.'
                          ELSE 'The rule no longer reaches the client.' END
  FROM due
 WHERE a.id = due.id AND a.lifted_at IS NULL
RETURNING a.id
"""  # noqa: S608
# The clients a run would change: pairs to open and applications to lift.
_CLIENTS_DUE = f"""
SELECT client_id FROM ({_PAIRS}) p UNION SELECT client_id FROM ({_DUE}) d ORDER BY 1
"""  # noqa: S608


def _params(rule_ids, client_ids, at) -> dict:
    return {
        "at": at or timezone.now(),
        "kinds": list(RESTRICTING),
        "all": rule_ids is None,
        "rule_ids": list(rule_ids or []),
        "every": client_ids is None,
        "client_ids": list(client_ids or []),
    }


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
    params = _params(rule_ids, client_ids, at)
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


APPLY_BATCH = 500


def jurisdiction_apply_batched(
    *, rule_ids: list[int] | None = None, at: datetime | None = None, job=None
) -> dict:
    """`jurisdiction_apply` for however many clients, in batches of `APPLY_BATCH` clients each
    in its own transaction: the clients a run would change are found first (one read), so a
    run with nothing to do writes nothing, and a country of tens of thousands of clients never
    holds one transaction open. With a `RuleApplyJob`, its progress is kept in each batch's
    transaction. A run cut short leaves every batch before it whole; the next run does the
    rest."""
    at = at or timezone.now()
    with connection.cursor() as cur:
        cur.execute(_CLIENTS_DUE, _params(rule_ids, None, at))
        client_ids = [row[0] for row in cur.fetchall()]
    if job is not None:
        RuleApplyJob.objects.filter(pk=job.pk).update(total=len(client_ids))
    found = {"applied": 0, "lifted": 0}
    for start in range(0, len(client_ids), APPLY_BATCH):
        batch = client_ids[start : start + APPLY_BATCH]
        with transaction.atomic():
            done = jurisdiction_apply(rule_ids=rule_ids, client_ids=batch, at=at)
            if job is not None:
                RuleApplyJob.objects.filter(pk=job.pk).update(
                    done=F("done") + len(batch),
                    applied_count=F("applied_count") + done["applied"],
                    lifted_count=F("lifted_count") + done["lifted"],
                )
        found = {k: found[k] + done[k] for k in found}
    return found


def rule_apply_job_run(*, job_id: int) -> RuleApplyJob | None:
    """Apply the rule of a `RuleApplyJob` (an officer's rule added or ended with effect now)
    to every client it reaches or reached. Claimed once: a job already done, or running and
    not stale, is left alone. A failure is kept on the job (the beat applies the rule within
    a minute anyway)."""
    now = timezone.now()
    with transaction.atomic():
        job = RuleApplyJob.objects.select_for_update().filter(pk=job_id).first()
        stale = now - STALE_AFTER
        if job is None or job.status == JobStatus.DONE:
            return job
        if job.status == JobStatus.RUNNING and job.started_at and job.started_at > stale:
            return job
        job.status, job.started_at, job.done = JobStatus.RUNNING, now, 0
        job.applied_count = job.lifted_count = 0
        job.save(update_fields=["status", "started_at", "done", "applied_count", "lifted_count"])
    try:
        jurisdiction_apply_batched(rule_ids=[job.rule_id], job=job)
    except Exception as exc:
        RuleApplyJob.objects.filter(pk=job.pk).update(
            status=JobStatus.FAILED,
            finished_at=timezone.now(),
            message=f"Stopped: {exc.__class__.__name__}. The rule is applied by the next "
            "minute's run.",
        )
        raise
    RuleApplyJob.objects.filter(pk=job.pk).update(status=JobStatus.DONE, finished_at=timezone.now())
    job.refresh_from_db()
    return job


# A job running longer than its task may (a worker that died) is run again by the sweeper.
STALE_AFTER = timezone.timedelta(minutes=35)


def rule_apply_jobs_stuck() -> list[int]:
    """Jobs queued over a minute ago and never started (a lost task), or running for longer
    than a task may (a worker that died)."""
    now = timezone.now()
    return list(
        RuleApplyJob.objects.filter(
            Q(status=JobStatus.QUEUED, requested_at__lt=now - timezone.timedelta(minutes=1))
            | Q(status=JobStatus.RUNNING, started_at__lt=now - STALE_AFTER)
        ).values_list("pk", flat=True)[:50]
    )


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
