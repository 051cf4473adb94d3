"""Back-office finance forms (the portal's are in finance/forms.py)."""

from datetime import date

from django import forms

from . import psp as psp_registry
from .models import ReconciliationItem, SavedMapping
from .models_thresholds import Threshold
from .reconciliation.base import FORMATS


class DecisionForm(forms.Form):
    action = forms.ChoiceField(
        choices=[("approve", "Approve"), ("reject", "Reject")], widget=forms.RadioSelect
    )
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), max_length=1000, required=False, label="Reason"
    )


class RefundForm(forms.Form):
    amount = forms.CharField(max_length=24, help_text="At most what remains of the deposit.")
    reason = forms.CharField(max_length=255)


class ChargebackForm(forms.Form):
    amount = forms.CharField(max_length=24)
    provider_reference = forms.CharField(max_length=100, label="PSP dispute reference")
    reason = forms.CharField(max_length=255, label="Reason code / description")


class ChargebackResolveForm(forms.Form):
    outcome = forms.ChoiceField(
        choices=[("won", "Won: the funds come back"), ("lost", "Lost")], widget=forms.RadioSelect
    )
    reason = forms.CharField(max_length=255)


class EvidenceForm(forms.Form):
    file = forms.FileField(help_text="JPEG, PNG or PDF, at most 10 MB.")
    note = forms.CharField(max_length=255, required=False)


def _month_choices():
    today = date.today().replace(day=1)
    months = []
    for i in range(13):
        y, m = divmod(today.year * 12 + today.month - 1 - i, 12)
        d = date(y, m + 1, 1)
        months.append((d.isoformat(), d.strftime("%B %Y")))
    return months


class ReconciliationForm(forms.Form):
    psp = forms.ChoiceField(choices=psp_registry.PSP_CHOICES, label="PSP")
    format = forms.ChoiceField(choices=list(FORMATS.items()), label="File format")
    month = forms.ChoiceField(choices=_month_choices, label="Month")
    file = forms.FileField()
    saved_mapping = forms.ModelChoiceField(
        queryset=SavedMapping.objects.all(), required=False, label="Saved CSV mapping"
    )
    col_reference = forms.CharField(required=False, max_length=100, label="Reference column")
    col_amount = forms.CharField(required=False, max_length=100, label="Amount column")
    col_currency = forms.CharField(required=False, max_length=100, label="Currency column")
    col_date = forms.CharField(required=False, max_length=100, label="Date column")
    date_format = forms.CharField(required=False, max_length=30, initial="%Y-%m-%d")
    decimal_comma = forms.BooleanField(required=False, label="Decimal comma (1.234,56)")
    save_mapping_as = forms.CharField(
        required=False, max_length=80, label="Save this mapping as (optional)"
    )


class ResolveItemForm(forms.Form):
    reason = forms.CharField(max_length=1000, label="Explanation")


ITEM_KINDS = [("", "Every difference"), *ReconciliationItem.Kind.choices]


class ThresholdProposeForm(forms.Form):
    form = forms.CharField(widget=forms.HiddenInput, initial="propose")
    key = forms.ChoiceField(choices=Threshold.choices, label="Threshold")
    value = forms.CharField(
        max_length=24,
        label="New value",
        help_text="Lower applies at once; higher waits for a second finance officer.",
    )
    reason = forms.CharField(max_length=500, label="Why")


class ThresholdDecisionForm(forms.Form):
    form = forms.CharField(widget=forms.HiddenInput, initial="decide")
    change = forms.IntegerField(widget=forms.HiddenInput)
    action = forms.ChoiceField(choices=[("approve", "Approve"), ("reject", "Reject")])
    reason = forms.CharField(max_length=500, required=False, label="Why")


DAY = "form-control"


class FxReportFilterForm(forms.Form):
    """The FX conversion account's filters: UTC days (both included) and a currency."""

    start = forms.DateField(
        label="From", required=False, widget=forms.DateInput({"type": "date", "class": DAY})
    )
    end = forms.DateField(
        label="To", required=False, widget=forms.DateInput({"type": "date", "class": DAY})
    )
    currency = forms.ChoiceField(
        label="Currency", required=False, widget=forms.Select({"class": "form-select"})
    )

    def __init__(self, *args, currencies=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["currency"].choices = [("", "Every currency"), *((c, c) for c in currencies)]

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        for name in ("start", "end"):
            value = data.get(name)
            if value and not 2000 <= value.year <= 2100:
                self.add_error(name, "A date between 2000 and 2100.")
        if start and end and end < start:
            self.add_error("end", "The end comes on or after the start.")
        return data
