"""Money thresholds: finance officers change them; a raise needs a second officer.

Contract:
- `threshold_propose` (a finance officer, `finance.manage_thresholds`): a value lower than the
  one in force is stricter and applies at once, withdrawing a raise still waiting for the same
  threshold; a higher one waits (pending) for a second, different officer. One raise waits per
  threshold at a time.
- `threshold_approve` applies a waiting raise (an officer other than its proposer);
  `threshold_reject` drops it with a reason (any officer, its proposer withdrawing it too).
Every proposal, approval, rejection and withdrawal is an audit event in its transaction.
Changes to one threshold queue on its `ThresholdValue` row (locked first, then the change).
The values in force are read through `limits.threshold_values`. Imports `common` and
`limits`, never a sibling noun module.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from brokerage.errors import InvalidInput, NotAllowed
from brokerage.money import to_amount
from brokerage.services import audit_record
from finance import audit_events

from ..models_thresholds import COUNTS, Threshold, ThresholdChange, ThresholdValue
from .common import need
from .limits import threshold_values

PERM = "finance.manage_thresholds"


def _reason(reason: str) -> str:
    reason = " ".join((reason or "").split())[:500]
    if not reason:
        raise InvalidInput("Say why.", fields={"reason": ["A reason is needed."]})
    return reason


def _value(key: str, raw) -> Decimal:
    value = to_amount(raw, "USD", field="value", allow_zero=True)
    if key in COUNTS and value != value.to_integral_value():
        raise InvalidInput("A count is a whole number.", fields={"value": ["A whole number."]})
    return value


def _lock(key: str) -> ThresholdValue:
    ThresholdValue.objects.get_or_create(key=key)
    return ThresholdValue.objects.select_for_update().get(key=key)


def _apply(row: ThresholdValue, value: Decimal) -> None:
    row.value, row.changed_at = value, timezone.now()
    row.save(update_fields=["value", "changed_at"])


@transaction.atomic
def threshold_propose(*, key: str, value, actor, reason: str) -> ThresholdChange:
    """Lower a threshold at once, or propose a raise for a second officer to approve."""
    need(actor, PERM, "Only finance officers change money thresholds.")
    if key not in Threshold.values:
        raise InvalidInput("Choose a threshold.", fields={"key": ["Unknown threshold."]})
    value, reason = _value(key, value), _reason(reason)
    row = _lock(key)
    current = Decimal(threshold_values()[key])
    if value == current:
        raise InvalidInput(
            f"{Threshold(key).label} is already {value}.", fields={"value": ["No change."]}
        )
    change = ThresholdChange(
        key=key, previous_value=current, value=value, reason=reason, proposed_by=actor
    )
    waiting = ThresholdChange.objects.filter(key=key, status=ThresholdChange.Status.PENDING)
    lowering = value < current
    if not lowering and waiting.exists():  # one waiting raise per threshold (a constraint too)
        raise InvalidInput(
            "A raise of this threshold is already waiting; approve or reject it first.",
            code="raise_waiting",
        )
    change.status = ThresholdChange.Status.APPLIED if lowering else ThresholdChange.Status.PENDING
    if lowering:
        change.decided_by, change.decided_at = actor, timezone.now()
    change.save()
    audit_record(
        actor=actor,
        action=audit_events.FINANCE_THRESHOLD_LOWERED
        if lowering
        else audit_events.FINANCE_THRESHOLD_RAISE_PROPOSED,
        target=change,
        reason=reason,
        evidence={"key": key, "from": str(current), "to": str(value)},
    )
    if not lowering:
        return change
    _apply(row, value)
    for raise_ in waiting.select_for_update():
        raise_.status = ThresholdChange.Status.SUPERSEDED
        raise_.decided_by, raise_.decided_at = actor, change.decided_at
        raise_.decision_reason = f"Lowered to {value} meanwhile."
        raise_.save(update_fields=["status", "decided_by", "decided_at", "decision_reason"])
        audit_record(
            actor=actor,
            action=audit_events.FINANCE_THRESHOLD_RAISE_SUPERSEDED,
            target=raise_,
            reason=raise_.decision_reason,
            evidence={"key": key, "by_change": change.pk},
        )
    return change


def _lock_waiting(change: ThresholdChange) -> tuple[ThresholdValue, ThresholdChange]:
    row = _lock(change.key)
    change = ThresholdChange.objects.select_for_update().get(pk=change.pk)
    if change.status != ThresholdChange.Status.PENDING:
        raise InvalidInput(f"This change is {change.get_status_display().lower()}.")
    return row, change


@transaction.atomic
def threshold_approve(*, change: ThresholdChange, actor, reason: str = "") -> ThresholdChange:
    """Apply a waiting raise: a second finance officer, never its proposer."""
    need(actor, PERM, "Only finance officers change money thresholds.")
    row, change = _lock_waiting(change)
    if change.proposed_by_id == actor.pk:
        raise NotAllowed("Four eyes: a second finance officer must approve this raise.")
    before = Decimal(threshold_values()[change.key])
    change.status = ThresholdChange.Status.APPLIED
    change.decided_by, change.decided_at = actor, timezone.now()
    change.decision_reason = " ".join((reason or "").split())[:500]
    change.save(update_fields=["status", "decided_by", "decided_at", "decision_reason"])
    _apply(row, change.value)
    audit_record(
        actor=actor,
        action=audit_events.FINANCE_THRESHOLD_RAISE_APPROVED,
        target=change,
        reason=change.decision_reason,
        evidence={
            "key": change.key,
            "from": str(before),
            "to": str(change.value),
            "proposed_by": change.proposed_by_id,
        },
    )
    return change


@transaction.atomic
def threshold_reject(*, change: ThresholdChange, actor, reason: str) -> ThresholdChange:
    """Drop a waiting raise (its proposer may withdraw it); the value in force stays."""
    need(actor, PERM, "Only finance officers change money thresholds.")
    reason = _reason(reason)
    _, change = _lock_waiting(change)
    change.status = ThresholdChange.Status.REJECTED
    change.decided_by, change.decided_at, change.decision_reason = actor, timezone.now(), reason
    change.save(update_fields=["status", "decided_by", "decided_at", "decision_reason"])
    audit_record(
        actor=actor,
        action=audit_events.FINANCE_THRESHOLD_RAISE_REJECTED,
        target=change,
        reason=reason,
        evidence={"key": change.key, "value": str(change.value)},
    )
    return change
