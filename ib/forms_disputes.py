"""The forms of disputes and withheld lines (the partner's and the IB managers')."""

from django import forms

from brokerage.ids import parse_ids

from .models_disputes import REASON_MAX


def _reason(label: str, help_text: str = "") -> forms.CharField:
    return forms.CharField(
        label=label,
        max_length=REASON_MAX,
        strip=True,
        help_text=help_text,
        widget=forms.Textarea(attrs={"rows": 3, "maxlength": REASON_MAX}),
    )


class DisputeOpenForm(forms.Form):
    reason = _reason(
        "Why is this line wrong?",
        "What you expected and why, e.g. the lots or the rate (at most 1,000 characters).",
    )


class DisputeRejectForm(forms.Form):
    reason = _reason("Why the line stands", "The partner reads it in the email and its disputes.")


class DisputeAdjustForm(forms.Form):
    amount = forms.CharField(
        label="Adjustment",
        max_length=24,
        help_text="Signed, in cents: 2.50 pays the partner more, -2.50 takes it back.",
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )
    reason = _reason("Why", "The partner reads it in the email and on the adjustment line.")


class DisputeApproveForm(forms.Form):
    pass


class DisputeRecomputeForm(forms.Form):
    """Run the engine's recompute of the disputed deal again (no fields)."""


class WithheldDecisionForm(forms.Form):
    decision = forms.ChoiceField(
        choices=[("release", "Release (paid at the next close)"), ("cancel", "Cancel (never paid)")]
    )
    reason = _reason("Reason")

    def __init__(self, data=None, **kwargs):
        super().__init__(data, **kwargs)
        self.line_ids = parse_ids(data.getlist("line"), limit=1000) if data is not None else []

    def clean(self):
        cleaned = super().clean()
        if not self.line_ids:
            raise forms.ValidationError("Tick at least one line.")
        cleaned["line_ids"] = self.line_ids
        return cleaned
