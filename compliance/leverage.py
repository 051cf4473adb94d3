"""Compliance writes on the leverage limits (the kernel's `brokerage.models.LeverageLimit`): a
compliance officer sets a limit (a jurisdiction x a category x an instrument class -> the
highest leverage, with its legal basis) or removes one, each change audited with what it was
before. A change reaches the accounts it concerns: every active account of a client of that
category residing in that jurisdiction is reconciled on the platform (a lower cap lowers a
leverage above it; a higher one restores what the product lowered), docs/leverage-limits.md."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from brokerage import audit_events
from brokerage.errors import InvalidInput
from brokerage.intl import is_country
from brokerage.models import ClientCategory, LeverageLimit, Region
from brokerage.services import Actor, audit_record
from clients.instruments import LEVERAGE_CLASS_LABELS
from clients.trading.sweep import leverage_book_sweep

from .permissions import require_officer

MAX_LEVERAGE = 1000


def _countries(jurisdiction: str) -> list[str]:
    region = Region.objects.filter(code=jurisdiction).first()
    return list(region.countries) if region else [jurisdiction]


def _reach(jurisdiction: str, category: str) -> None:
    """The accounts the change puts above their cap, or whose lowered leverage it lets back
    up, in the jurisdictions it touches, marked for the platform reach (set-based)."""
    countries = _countries(jurisdiction)
    leverage_book_sweep(
        scope=Q(category=category) & (Q(country__in=countries) | Q(nationality__in=countries)),
        reason="leverage limit changed",
    )


def _evidence(limit: LeverageLimit) -> dict:
    return {
        "jurisdiction": limit.jurisdiction,
        "category": limit.category,
        "instrument_class": limit.instrument_class,
        "max_leverage": limit.max_leverage,
        "basis": limit.basis,
    }


@transaction.atomic
def leverage_limit_set(
    *,
    jurisdiction: str,
    category: str,
    instrument_class: str,
    max_leverage: int,
    basis: str,
    actor: Actor,
) -> LeverageLimit:
    """Add the limit, or change the one on the same jurisdiction, category and class."""
    require_officer(actor, "Only compliance officers set leverage limits.")
    jurisdiction = (jurisdiction or "").strip().upper()
    basis = " ".join((basis or "").split())
    errors: dict[str, list[str]] = {}
    if not (Region.objects.filter(code=jurisdiction).exists() or is_country(jurisdiction)):
        errors["jurisdiction"] = ["A country code (GB) or a region (EEA, UK, AU)."]
    if category not in ClientCategory.values:
        errors["category"] = ["Choose a category."]
    if instrument_class not in LEVERAGE_CLASS_LABELS:
        errors["instrument_class"] = ["Choose an instrument class."]
    if not isinstance(max_leverage, int) or not 0 <= max_leverage <= MAX_LEVERAGE:
        errors["max_leverage"] = [
            f"A whole number from 1 to {MAX_LEVERAGE}, or 0 where the class is not allowed."
        ]
    if not basis:
        errors["basis"] = ["Name the legal basis: every refusal the limit causes quotes it."]
    elif len(basis) > 300:
        errors["basis"] = ["At most 300 characters."]
    if errors:
        raise InvalidInput("The limit is not complete.", fields=errors)
    key = {"jurisdiction": jurisdiction, "category": category, "instrument_class": instrument_class}
    values = {
        "max_leverage": max_leverage,
        "basis": basis,
        "updated_at": timezone.now(),
        "updated_by_label": actor if isinstance(actor, str) else actor.email,
    }
    limit = LeverageLimit.objects.select_for_update().filter(**key).first()
    before = _evidence(limit) if limit else None
    if limit is None:
        try:
            with transaction.atomic():
                limit = LeverageLimit.objects.create(**key, **values)
        except IntegrityError:
            # Another officer added it meanwhile (their insert committed while ours waited on
            # it): this one changes it, as if it had come second.
            limit = LeverageLimit.objects.select_for_update().get(**key)
            before = _evidence(limit)
    if before is not None:
        for field, value in values.items():
            setattr(limit, field, value)
        limit.save()
    audit_record(
        actor=actor,
        action=audit_events.LEVERAGE_LIMIT_SET,
        target=limit,
        reason=basis,
        evidence={**_evidence(limit), "before": before},
    )
    _reach(jurisdiction, category)
    return limit


@transaction.atomic
def leverage_limit_remove(*, limit: LeverageLimit, actor: Actor, reason: str) -> None:
    require_officer(actor, "Only compliance officers remove leverage limits.")
    reason = " ".join((reason or "").split())
    if not reason:
        raise InvalidInput("Say why.", fields={"reason": ["A reason is required."]})
    limit = LeverageLimit.objects.select_for_update().filter(pk=limit.pk).first()
    if limit is None:  # another officer removed it meanwhile (or this is a second submit)
        raise InvalidInput("This leverage limit was already removed.", code="already_removed")
    audit_record(
        actor=actor,
        action=audit_events.LEVERAGE_LIMIT_REMOVED,
        target=limit,
        reason=reason,
        evidence=_evidence(limit),
    )
    jurisdiction, category = limit.jurisdiction, limit.category
    limit.delete()
    _reach(jurisdiction, category)
