from django import forms

from .catalogue import TYPOLOGIES
from .models import AlertAction, AlertStatus


class AlertFilterForm(forms.Form):
    q = forms.CharField(label="Client", required=False, max_length=100)
    scenario = forms.ChoiceField(label="Scenario", required=False)
    status = forms.ChoiceField(
        label="Status",
        required=False,
        choices=[("active", "Open or in a case"), *AlertStatus.choices, ("", "Any status")],
    )
    action = forms.ChoiceField(
        label="Action", required=False, choices=[("", "Any action"), *AlertAction.choices]
    )
    since = forms.DateField(
        label="First seen from", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        label="First seen until", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["scenario"].choices = [("", "Every scenario")] + [
            (code, t.name) for code, t in TYPOLOGIES.items()
        ]

    def clean(self):
        data = super().clean()
        if data.get("since") and data.get("until") and data["until"] < data["since"]:
            self.add_error("until", "On or after the first date.")
        return data


class AlertCloseForm(forms.Form):
    reason = forms.CharField(
        label="Why close it", max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )


class VersionForm(forms.Form):
    """A draft's parameters and scores; the service validates them against the typology."""

    alert_score = forms.CharField(label="Alert from score", max_length=3)
    hold_score = forms.CharField(
        label="Hold from score (empty: never hold)", max_length=3, required=False
    )
    note = forms.CharField(
        label="What changes and why", max_length=2000, required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )  # fmt: skip

    def __init__(self, *args, code: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.param_keys = []
        for p in TYPOLOGIES[code].params:
            help_text = "Two-letter codes, separated by spaces" if p.kind == "countries" else ""
            self.fields[f"p_{p.key}"] = forms.CharField(
                label=p.label,
                max_length=300,
                required=p.kind != "countries",
                help_text=help_text,
            )
            self.param_keys.append(p.key)

    def params(self) -> dict:
        return {key: self.cleaned_data.get(f"p_{key}", "") for key in self.param_keys}

    @staticmethod
    def initial_for(version) -> dict:
        initial = {
            "alert_score": version.alert_score,
            "hold_score": "" if version.hold_score is None else version.hold_score,
            "note": version.note if version.status == "draft" else "",
        }
        for key, value in version.params.items():
            initial[f"p_{key}"] = " ".join(value) if isinstance(value, list) else value
        return initial


class BacktestForm(forms.Form):
    days = forms.IntegerField(label="Over the last (days)", min_value=1, max_value=90, initial=30)


class PublishForm(forms.Form):
    reason = forms.CharField(
        label="Why publish it", max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )
