"""Status colours are defined once (`brokerage.status`) and every status has one."""

import pytest
from django.apps import apps
from django.template import Context, Template

from brokerage.status import TONES

APPS = ("brokerage", "clients", "leads", "kyc", "finance", "ib", "compliance", "aml")


def status_choices() -> dict[str, set[str]]:
    """Every status and state value of the apps' models: value -> the models that use it."""
    found: dict[str, set[str]] = {}
    for model in apps.get_models():
        if model._meta.app_label not in APPS or model.__name__.startswith("Historical"):
            continue
        for field in model._meta.get_fields():
            if field.name in ("status", "state") and getattr(field, "choices", None):
                for value, _ in field.flatchoices:
                    found.setdefault(value, set()).add(model._meta.label)
    return found


def test_every_status_of_every_model_has_a_colour():
    choices = status_choices()
    assert {"in_review", "paid", "open", "suspended", "converted"} <= choices.keys()
    missing = {v: sorted(m) for v, m in choices.items() if v not in TONES}
    assert not missing, f"give these statuses a colour in brokerage/status.py: {missing}"


def test_the_mapping_holds_no_colour_for_a_status_no_model_has():
    assert not TONES.keys() - status_choices().keys()


def render(obj, *args) -> str:
    tag = "{% load bo %}{% status_badge obj " + " ".join(args) + " %}"
    return Template(tag).render(Context({"obj": obj}))


def test_a_badge_shows_the_label_never_the_code_in_the_status_colour():
    from finance.models import Withdrawal
    from kyc.models import KycSubmission

    paying = Withdrawal(status=Withdrawal.Status.PROCESSING)
    assert render(paying) == (
        '<span class="badge text-bg-primary" data-status="processing">Paying out</span>'
    )
    checked = KycSubmission(state=KycSubmission.State.IN_REVIEW)
    assert render(checked, 'css="fs-6"') == (
        '<span class="badge text-bg-warning fs-6" data-status="in_review">In review</span>'
    )


@pytest.mark.parametrize("value", ["failed", "paid", "open"])
def test_the_filter_gives_the_same_colour(value):
    html = Template("{% load bo %}{{ v|status_tone }}").render(Context({"v": value}))
    assert html == TONES[value]
