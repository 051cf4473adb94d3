"""What staff read on the leads pages instead of the codes stored: call outcomes, routing's
distribution and fit, who did something (a person, a rule, an integration), call lengths."""

from django import template

from brokerage.intl import country_choices
from clients.models import CallOutcome

from ..models import Lead, RoutingRule

register = template.Library()

FIT = {
    "speaks the lead's language": "an agent who speaks the lead's language",
    "fallback": "no agent speaks the lead's language: any agent of the desk",
}
KINDS = {"rule": "automatic", "system": "system", "integration": "integration"}


def _label(choices, value) -> str:
    try:
        return choices(value).label
    except ValueError:
        return str(value or "").replace("_", " ").capitalize()


@register.filter
def call_outcome(value) -> str:
    """`call_back` -> `Asked to call back`."""
    return _label(CallOutcome, value)


@register.filter
def distribution(value) -> str:
    """`round_robin` -> `Round-robin`."""
    return _label(RoutingRule.Distribution, value)


@register.filter
def lead_status(value) -> str:
    return _label(Lead.Status, value)


@register.filter
def routing_fit(value) -> str:
    return FIT.get(value, value or "")


@register.filter
def actor_name(activity_or_label) -> str:
    """A person by name; `rule:lead_routing` -> `Lead routing (automatic)`;
    `integration:Landing` -> `Landing (integration)`."""
    actor = getattr(activity_or_label, "actor", None)
    if actor is not None:
        return actor.get_full_name() or actor.email
    label = str(getattr(activity_or_label, "actor_label", activity_or_label) or "")
    kind, sep, name = label.partition(":")
    if sep and kind in KINDS:
        if kind != "integration":
            name = name.replace("_", " ").capitalize()
        return f"{name} ({KINDS[kind]})"
    return label


@register.filter
def call_length(seconds) -> str:
    """`180` -> `3 min`, `45` -> `45 s`, `3725` -> `1 h 2 min`."""
    try:
        seconds = int(seconds)
    except (TypeError, ValueError):
        return ""
    if seconds < 60:
        return f"{seconds} s"
    minutes = round(seconds / 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


@register.filter
def country_name(code) -> str:
    """`AE` -> `United Arab Emirates`."""
    names = dict(country_choices())
    return names.get(str(code or "").upper(), code or "")
