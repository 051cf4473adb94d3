"""Forms of the jurisdiction rules' pages: the list's filters, adding a rule, ending one."""

from django import forms

from brokerage.country_rules import STATES
from brokerage.intl import country_choices
from brokerage.models import CountryRule

WHEN = {"type": "datetime-local"}
UTC_HELP = "UTC. Empty: now."


class RuleFilterForm(forms.Form):
    kind = forms.ChoiceField(
        required=False, label="Kind", choices=[("", "Any kind"), *CountryRule.Kind.choices]
    )
    state = forms.ChoiceField(
        required=False, label="When", choices=[("", "In force, scheduled or ended"), *STATES]
    )
    q = forms.CharField(required=False, max_length=80, label="Country")


class RuleAddForm(forms.Form):
    country = forms.ChoiceField(label="Country")
    kind = forms.ChoiceField(label="Kind", choices=CountryRule.Kind.choices)
    basis = forms.CharField(
        label="Reason / legal basis",
        max_length=300,
        help_text="Clients and staff read it in every refusal the rule causes.",
    )
    effective_from = forms.DateTimeField(
        label="Applies from", required=False, widget=forms.DateTimeInput(WHEN), help_text=UTC_HELP
    )
    effective_to = forms.DateTimeField(
        label="Until",
        required=False,
        widget=forms.DateTimeInput(WHEN),
        help_text="UTC. Empty: until it is ended.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["country"].choices = [("", "Choose a country"), *country_choices()]


class RuleEndForm(forms.Form):
    rule = forms.IntegerField(widget=forms.HiddenInput)
    effective_to = forms.DateTimeField(
        label="Ends at", required=False, widget=forms.DateTimeInput(WHEN), help_text=UTC_HELP
    )
    reason = forms.CharField(label="Why it ends", max_length=300)
