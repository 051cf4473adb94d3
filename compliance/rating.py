"""Compliance writes on the client risk rating and periodic reviews.

- `risk_assess` rates one client now (a KYC outcome, a deposit, a financial profile, a
  screening decision or a country risk change asked for it, through the kernel hook
  `client.risk_factor_changed` and `risk_assess_task`); `risk_sweep` rates the whole book at
  night, set-based, in batches. Both store a new `RiskAssessment` only when the score or a
  factor changed (the history is the changes, each with every factor), and the rating on the
  client through `clients.services.client_risk_ratings_set` (audited when it changes; high risk
  puts the client under enhanced due diligence).
- Each rated client has one open `PeriodicReview`, due by their rating (settings
  `RISK_REVIEW_MONTHS_HIGH`/`_MEDIUM`/`_LOW`); a higher rating brings the due date forward,
  never back. `review_complete` records the officer, outcome and notes and opens the next one.
- `country_risk_set` edits the country risk table (audited) and rates again, set-based, the
  clients living in the country or holding its nationality.
"""

from __future__ import annotations

import calendar
from datetime import date

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from brokerage.errors import InvalidInput
from brokerage.intl import is_country
from brokerage.services import Actor, audit_record, audit_record_many
from clients.locks import lock_client, lock_clients
from clients.models import Client
from clients.services import client_risk_ratings_set

from . import audit_events
from .models import CountryRisk, PeriodicReview, ReviewOutcome, RiskAssessment, RiskLevel
from .permissions import require_officer
from .risk import rating_for, risk_factors

RATING_ACTOR = "rule:risk_rating"
SWEEP_BATCH = 1000
SEVERITY = {"low": 0, "medium": 1, "high": 2}


def review_months(rating: str) -> int:
    return {
        "high": settings.RISK_REVIEW_MONTHS_HIGH,
        "medium": settings.RISK_REVIEW_MONTHS_MEDIUM,
        "low": settings.RISK_REVIEW_MONTHS_LOW,
    }[rating]


def add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def review_due(rating: str, today: date | None = None) -> date:
    return add_months(today or timezone.now().date(), review_months(rating))


def _latest(client_ids) -> dict[int, RiskAssessment]:
    rows = (
        RiskAssessment.objects.filter(client_id__in=client_ids)
        .order_by("client_id", "-assessed_at", "-pk")
        .distinct("client_id")
    )
    return {a.client_id: a for a in rows}


def _unchanged(before: RiskAssessment | None, factors: list, rating_now: str) -> bool:
    """The client's latest assessment has these factors and their rating is what they give."""
    rows = [f.as_dict() for f in factors]
    rating = rating_for(sum(f.points for f in factors))
    return before is not None and before.factors == rows and rating_now == rating


def _store(factors: dict[int, list], cause: str, actor: Actor, latest=None) -> list:
    """Store a new assessment for each client of `factors` ({client id: factors}) whose factors
    or rating changed since their latest, with their rating and periodic review, set-based:
    the clients locked in primary-key order, a few statements whatever their number."""
    latest = _latest(list(factors)) if latest is None else latest
    label = (actor if isinstance(actor, str) else actor.email)[:120]
    assessments = []
    for client in lock_clients(factors):
        found = factors[client.pk]
        if _unchanged(latest.get(client.pk), found, client.risk_rating):
            continue
        score = sum(f.points for f in found)
        assessments.append(
            RiskAssessment(
                client_id=client.pk,
                score=score,
                rating=rating_for(score),
                factors=[f.as_dict() for f in found],
                cause=cause[:120],
                actor_label=label,
            )
        )
    if not assessments:
        return []
    RiskAssessment.objects.bulk_create(assessments)
    client_risk_ratings_set(
        ratings={
            a.client_id: (
                a.rating,
                a.score,
                {
                    "assessment": a.pk,
                    "factors": {f["code"]: f["points"] for f in a.factors if f["points"]},
                },
            )
            for a in assessments
        },
        actor=actor,
        reason=cause,
    )
    _schedule_reviews({a.client_id: a.rating for a in assessments}, actor=actor, cause=cause)
    return assessments


def _schedule_reviews(ratings: dict[int, str], *, actor: Actor, cause: str) -> None:
    """Each client's open review: opened, due by their rating, when they have none; brought
    forward (never back) when their rating rose above the one it follows, each move audited
    with the dates and ratings before and after."""
    open_reviews = PeriodicReview.objects.filter(client_id__in=list(ratings), status="open")
    held = {r.client_id: r for r in open_reviews}
    raised, moves = [], []
    for client_id, rating in ratings.items():
        review = held.get(client_id)
        if review is not None and SEVERITY[rating] > SEVERITY[review.rating]:
            before = (review.rating, review.due_on)
            review.rating, review.due_on = rating, min(review.due_on, review_due(rating))
            raised.append(review)
            evidence = {
                "from_rating": before[0],
                "to_rating": rating,
                "from_due_on": str(before[1]),
                "to_due_on": str(review.due_on),
            }
            moves.append((review, f"Rated {rating}: {cause}", evidence))
    PeriodicReview.objects.bulk_update(raised, ["rating", "due_on"])
    audit_record_many(actor=actor, action=audit_events.REVIEW_RESCHEDULED, entries=moves)
    PeriodicReview.objects.bulk_create(
        PeriodicReview(client_id=client_id, rating=rating, due_on=review_due(rating))
        for client_id, rating in ratings.items()
        if client_id not in held
    )


@transaction.atomic
def risk_assess(*, client_id: int, cause: str, actor: Actor = RATING_ACTOR):
    """Rate the client now. Returns the new assessment, or None when nothing changed."""
    stored = _store(risk_factors([client_id]), cause, actor)
    return stored[0] if stored else None


def risk_rate_many(client_ids: list[int], *, cause: str, actor: Actor = RATING_ACTOR) -> int:
    """Rate `client_ids` set-based, in batches of their own transactions: the factors of a
    batch in a few queries, then only the clients whose factors or rating changed are written,
    together (`_store`). Returns how many assessments were stored."""
    stored = 0
    for start in range(0, len(client_ids), SWEEP_BATCH):
        batch = client_ids[start : start + SWEEP_BATCH]
        with transaction.atomic():
            factors = risk_factors(batch)
            latest = _latest(batch)
            ratings = dict(Client.objects.filter(pk__in=batch).values_list("pk", "risk_rating"))
            changed = {
                client_id: found
                for client_id, found in factors.items()
                if not _unchanged(latest.get(client_id), found, ratings[client_id])
            }
            if changed:  # checked again under the clients' locks
                stored += len(_store(changed, cause, actor, latest))
    return stored


def risk_sweep() -> int:
    """Nightly: rate the whole book again (what changed without an event: a year's volume
    sliding, a rate ops changed)."""
    ids = list(Client.objects.order_by("pk").values_list("pk", flat=True))
    return risk_rate_many(ids, cause="nightly rating")


def deals_rerate(deal_ids: list[int]) -> int:
    """The clients whose deals a sync pass just stored are rated again (their volume and
    leverage factors), set-based: their ids in one query, then `risk_rate_many` in batches.
    Returns how many assessments were stored."""
    from clients.models import Deal

    ids = sorted(set(Deal.objects.filter(pk__in=deal_ids).values_list("client_id", flat=True)))
    return risk_rate_many(ids, cause="deals synced")


@transaction.atomic
def country_risk_set(*, country: str, level: str, note: str = "", actor) -> CountryRisk | None:
    """Set how risky compliance holds `country` (`level` empty: back to low, off the table).
    Audited; the clients living there or holding its nationality are rated again once this
    commits."""
    require_officer(actor)
    country = (country or "").upper()
    if not is_country(country):
        raise InvalidInput("Choose a country.", fields={"country": ["Choose a country."]})
    if level and level not in RiskLevel.values:
        raise InvalidInput("Choose low, medium or high.", fields={"level": ["Choose a level."]})
    before = CountryRisk.objects.filter(country=country).first()
    old = before.level if before else ""
    if level:
        row, _ = CountryRisk.objects.update_or_create(
            country=country, defaults={"level": level, "note": note[:300]}
        )
    else:
        CountryRisk.objects.filter(country=country).delete()
        row = None
    audit_record(
        actor=actor,
        action=audit_events.COUNTRY_RISK_SET,
        target=row or ("country_risk", country),
        reason=note,
        evidence={"country": country, "from": old, "to": level},
    )
    if old != level:
        from .tasks import country_rerate_task

        transaction.on_commit(lambda: country_rerate_task.delay(country), robust=True)
    return row


def country_rule_changed(country: str) -> None:
    """A jurisdiction rule on `country` was added or ended: its clients are rated again once
    that commits (a rule starting later is picked up by the nightly sweep)."""
    from .tasks import country_rerate_task

    transaction.on_commit(
        lambda: country_rerate_task.delay(country, f"jurisdiction rule on {country} changed"),
        robust=True,
    )


def country_rerate(country: str, cause: str = "") -> int:
    """Rate again the clients living in `country` or holding its nationality."""
    from django.db.models import Q

    ids = Client.objects.filter(Q(country=country) | Q(nationality=country)).values_list(
        "pk", flat=True
    )
    return risk_rate_many(sorted(ids), cause=cause or f"country risk of {country} changed")


@transaction.atomic
def review_complete(*, review: PeriodicReview, actor, outcome: str, notes: str) -> PeriodicReview:
    """Record a periodic review's outcome and open the next one, due by the client's current
    rating. Compliance officers only; audited."""
    require_officer(actor)
    notes = " ".join((notes or "").split()) if notes else ""
    errors = {}
    if outcome not in ReviewOutcome.values:
        errors["outcome"] = ["Choose an outcome."]
    if not notes:
        errors["notes"] = ["Say what you reviewed and found."]
    if errors:
        raise InvalidInput("The review needs an outcome and notes.", fields=errors)
    client = lock_client(review.client_id)
    review = PeriodicReview.objects.select_for_update().get(pk=review.pk)
    if review.status != PeriodicReview.Status.OPEN:
        raise InvalidInput("This review is already completed.", code="already_completed")
    review.status = PeriodicReview.Status.COMPLETED
    review.completed_at, review.completed_by = timezone.now(), actor
    review.outcome, review.notes = outcome, notes[:4000]
    review.save()
    rating = client.risk_rating or "low"
    following = PeriodicReview.objects.create(
        client=client, rating=rating, due_on=review_due(rating)
    )
    audit_record(
        actor=actor,
        action=audit_events.REVIEW_COMPLETED,
        target=review,
        subject=client,
        reason=notes,
        evidence={
            "outcome": outcome,
            "due_on": str(review.due_on),
            "rating": rating,
            "next_due_on": str(following.due_on),
        },
    )
    return review
