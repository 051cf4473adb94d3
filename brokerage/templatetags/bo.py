from django import template
from django.utils.html import format_html

from brokerage import intl, labels, status

register = template.Library()


@register.filter
def bs(bound_field):
    """Render a form field's widget with Bootstrap's classes (and is-invalid when it has errors)."""
    kind = bound_field.widget_type
    css = "form-select" if kind in ("select", "selectmultiple") else "form-control"
    if kind in ("checkbox", "radio", "checkboxselectmultiple"):
        css = "form-check-input"
    if bound_field.errors:
        css += " is-invalid"
    existing = bound_field.field.widget.attrs.get("class", "")
    return bound_field.as_widget(attrs={"class": f"{existing} {css}".strip()})


@register.filter
def country_name(code) -> str:
    """{{ client.country|country_name }}: `GB` -> `United Kingdom`."""
    return intl.country_name(str(code or ""))


@register.filter
def humanize_code(value) -> str:
    """`image_quality` -> `Image quality`, `poa` -> `Proof of address`: a code spelled out."""
    return labels.spell(str(value or ""))


@register.filter
def label(value) -> str:
    """{{ activity.data.outcome|label }}: a stored code as staff read it (its choice's label,
    or spelled out), True/False as Yes/No; other text unchanged (`brokerage.labels`)."""
    return labels.code_label(value)


@register.filter
def actor(value) -> str:
    """{{ event.actor_label|actor }}: "rule:withdrawal_checks" -> "Withdrawal checks (automatic
    rule)"; a person's email unchanged."""
    return labels.actor_display(value)


@register.inclusion_tag("includes/evidence.html")
def evidence(data):
    """{% evidence event.evidence %}: a JSON document as a readable key/value list."""
    return {"rows": labels.evidence_items(data) if data not in (None, "", {}, []) else []}


@register.simple_tag
def money(amount, currency):
    """{% money deposit.amount deposit.currency %} -> "USD 1,250.00"."""
    from brokerage.money import format_money

    # One unbreakable piece of text: an amount never wraps between its currency and figures.
    return format_html('<span class="money">{}</span>', format_money(amount, currency))


@register.filter
def get_item(mapping, key):
    """{{ counts|get_item:"duplicate" }}: a dict value by a variable key."""
    return (mapping or {}).get(key)


@register.filter
def price(value) -> str:
    """A quoted price as the platform sends it, without padding: 1.0832, 2361.50, 39000.00."""
    from decimal import Decimal, InvalidOperation

    try:
        amount = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        return ""
    exponent = amount.normalize().as_tuple().exponent
    places = max(2, -exponent if isinstance(exponent, int) else 2)
    return f"{amount:,.{min(places, 8)}f}"


@register.simple_tag
def status_badge(obj, field: str = "", css: str = ""):
    """{% status_badge deposit %}, {% status_badge submission "state" css="fs-6" %}: the status's
    label (its choice's label) on a badge of its one colour (`brokerage.status`), with
    `data-status` carrying the code."""
    field = field or status.status_field(obj)
    code = getattr(obj, field)
    label = getattr(obj, f"get_{field}_display")()
    classes = " ".join(filter(None, ["badge", f"text-bg-{status.status_tone(code)}", css]))
    return format_html('<span class="{}" data-status="{}">{}</span>', classes, code, label)


@register.filter
def status_tone(value) -> str:
    """{{ row.status|status_tone }} -> "success": a status's one colour, for other markup."""
    return status.status_tone(value)


@register.filter
def duration(seconds) -> str:
    """180 -> "3 min", 75 -> "1 min 15 s", 40 -> "40 s": a call's length as people say it."""
    try:
        total = int(float(seconds))
    except (TypeError, ValueError):
        return ""
    minutes, rest = divmod(total, 60)
    if not minutes:
        return f"{rest} s"
    return f"{minutes} min" + (f" {rest} s" if rest else "")
