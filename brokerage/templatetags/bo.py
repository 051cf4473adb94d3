from django import template
from django.utils.html import format_html

from brokerage import status

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
def humanize_code(value: str) -> str:
    """`image_quality` -> `Image quality`."""
    text = str(value or "").replace("_", " ").strip()
    return text[:1].upper() + text[1:]


@register.simple_tag
def money(amount, currency):
    """{% money deposit.amount deposit.currency %} -> "USD 1,250.00"."""
    from brokerage.money import format_money

    return format_money(amount, currency)


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
