"""Conditions on a lead (shared by scoring and routing rules) and the score itself."""

from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError

from .models import Condition, LeadField

DISPOSABLE_DOMAINS = frozenset(
    [
        "mailinator.com",
        "guerrillamail.com",
        "10minutemail.com",
        "tempmail.com",
        "yopmail.com",
        "trashmail.com",
        "sharklasers.com",
        "getnada.com",
        "dispostable.com",
        "maildrop.cc",
        "temp-mail.org",
        "fakeinbox.com",
    ]
)


def lead_value(lead, field: str):
    if field == LeadField.PHONE_INVALID:
        return bool(lead.phone_invalid_reason)
    if field == LeadField.EMAIL_DOMAIN:
        return lead.email.rsplit("@", 1)[-1] if "@" in (lead.email or "") else ""
    return getattr(lead, field)


def _number(value):
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        return None


def condition_matches(lead, field: str, op: str, value) -> bool:
    actual = lead_value(lead, field)
    if op == Condition.IS_TRUE:
        return bool(actual)
    if op == Condition.IS_FALSE:
        return not actual
    if op in (Condition.IN, Condition.NOT_IN):
        options = {str(v).lower() for v in (value if isinstance(value, list) else [value])}
        inside = str(actual or "").lower() in options
        return inside if op == Condition.IN else not inside
    if op == Condition.EQ:
        return str(actual or "").lower() == str(value).lower()
    left, right = _number(actual), _number(value)
    if left is None or right is None:
        return False
    return left >= right if op == Condition.GTE else left <= right


def describe(field: str, op: str, value) -> str:
    label = LeadField(field).label
    shown = ", ".join(map(str, value)) if isinstance(value, list) else value
    if op in (Condition.IS_TRUE, Condition.IS_FALSE):
        return f"{label} {Condition(op).label}"
    return f"{label} {Condition(op).label} {shown}"


def validate_conditions(conditions) -> None:
    if not isinstance(conditions, list):
        raise ValidationError({"conditions": "A list of conditions."})
    for i, c in enumerate(conditions, 1):
        if not isinstance(c, dict) or set(c) - {"field", "op", "value"}:
            raise ValidationError({"conditions": f"Condition {i}: use field, op and value."})
        if c.get("field") not in LeadField.values:
            raise ValidationError(
                {
                    "conditions": f"Condition {i}: unknown field {c.get('field')!r}; "
                    f"one of {', '.join(LeadField.values)}."
                }
            )
        if c.get("op") not in Condition.values:
            raise ValidationError(
                {
                    "conditions": f"Condition {i}: unknown op {c.get('op')!r}; "
                    f"one of {', '.join(Condition.values)}."
                }
            )


def score_lead(lead, rules) -> tuple[int, list[dict]]:
    """The score (0-100) and a breakdown explaining every point."""
    total, breakdown = 0, []
    for rule in rules:
        if condition_matches(lead, rule.field, rule.operator, rule.value):
            total += rule.points
            breakdown.append(
                {
                    "rule": rule.name,
                    "points": rule.points,
                    "why": describe(rule.field, rule.operator, rule.value),
                    # a yes/no condition says it all: "Phone number valid is true", no ": True"
                    "value": ""
                    if rule.operator in (Condition.IS_TRUE, Condition.IS_FALSE)
                    else str(lead_value(lead, rule.field)),
                }
            )
    clamped = max(0, min(100, total))
    if clamped != total:
        breakdown.append(
            {"rule": "range", "points": clamped - total, "why": "kept within 0-100", "value": ""}
        )
    return clamped, breakdown
