from django import forms

from brokerage.intl import country_choices

from .models import Lead, LeadActivity, LeadImport
from .validation import FIELDS


class NoteForm(forms.Form):
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=5000, label="Note")


class CallForm(forms.Form):
    outcome = forms.ChoiceField(choices=LeadActivity.CallOutcome.choices)
    duration_minutes = forms.IntegerField(min_value=0, max_value=1440, initial=0, label="Minutes")
    notes = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=5000
    )


class EmailLogForm(forms.Form):
    subject = forms.CharField(max_length=200)
    notes = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=5000
    )


class StatusForm(forms.Form):
    status = forms.ChoiceField(choices=Lead.Status.choices)
    reason = forms.CharField(
        max_length=200, required=False, help_text="Needed when the lead is lost."
    )


class ReassignForm(forms.Form):
    to_user = forms.ModelChoiceField(queryset=None, label="Agent")
    reason = forms.CharField(max_length=200, required=False)

    def __init__(self, *args, targets, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["to_user"].queryset = targets
        self.fields["to_user"].label_from_instance = lambda u: (
            f"{_person(u)} ({u.staff_profile.desk or 'no desk'})"
        )


class CallbackForm(forms.Form):
    due_at = forms.DateTimeField(
        label="Call back at (UTC)",
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    note = forms.CharField(
        max_length=500, required=False, help_text="What to talk about (the agent reads it)."
    )


class CallbackDoneForm(forms.Form):
    note = forms.CharField(max_length=500, required=False)


class DeskSlaForm(forms.Form):
    minutes = forms.IntegerField(
        min_value=1,
        max_value=1440,
        label="First contact within (minutes)",
        help_text="From assignment to the first call, email or status change: 1 to 1,440.",
    )
    reason = forms.CharField(max_length=200, required=False)


def _person(user) -> str:
    return user.get_full_name() or user.email


class LeadFilterForm(forms.Form):
    """The filters of a list of leads (GET). A bad value is shown as an error and ignored."""

    q = forms.CharField(max_length=100, required=False, label="Search")
    status = forms.ChoiceField(required=False)
    desk = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)
    agent = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)
    source = forms.ChoiceField(required=False)
    country = forms.ChoiceField(required=False)
    created_from = forms.DateField(
        required=False, label="Captured from", widget=forms.DateInput(attrs={"type": "date"})
    )
    created_to = forms.DateField(
        required=False, label="Captured to", widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, options: dict, **kwargs):
        super().__init__(*args, **kwargs)
        names = dict(country_choices())
        self.fields["status"].choices = [("", "Every status"), *Lead.Status.choices]
        self.fields["desk"].choices = [("", "Every desk")] + [
            (d.pk, d.name) for d in options["desks"]
        ]
        self.fields["agent"].choices = [("", "Every agent")] + [
            (u.pk, _person(u)) for u in options["agents"]
        ]
        self.fields["source"].choices = [("", "Every source")] + [
            (v, v) for v in options["sources"]
        ]
        self.fields["country"].choices = [("", "Every country")] + [
            (c, names.get(c, c)) for c in options["countries"]
        ]

    def clean(self):
        data = super().clean()
        start, end = data.get("created_from"), data.get("created_to")
        if start and end and start > end:
            self.add_error("created_to", "The end is before the start.")
            data.pop("created_to", None)
        return data


class BulkReassignForm(forms.Form):
    leads = forms.ModelMultipleChoiceField(
        queryset=Lead.objects.all(),
        error_messages={"required": "Tick the leads to reassign."},
    )
    to_user = forms.ModelChoiceField(
        queryset=None, label="Reassign to", empty_label="Choose an agent"
    )
    reason = forms.CharField(max_length=200, required=False)

    def __init__(self, *args, targets, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["to_user"].queryset = targets
        self.fields["to_user"].label_from_instance = _person

    def clean_leads(self):
        leads = self.cleaned_data["leads"]
        if len(leads) > 100:
            raise forms.ValidationError("At most 100 leads at a time.")
        return leads


class UploadForm(forms.Form):
    file = forms.FileField(
        label="CSV file", help_text="UTF-8, first row = column names, at most 20 MB / 200,000 rows."
    )


class MappingForm(forms.Form):
    source = forms.CharField(
        max_length=60, required=False, help_text="Recorded as the source of rows that have none."
    )
    mode = forms.ChoiceField(choices=LeadImport.Mode.choices, widget=forms.RadioSelect)

    def __init__(self, *args, lead_import: LeadImport, **kwargs):
        super().__init__(*args, **kwargs)
        columns = [("", "— not in the file —")] + [(h, h) for h in lead_import.headers]
        for field in FIELDS:
            self.fields[f"map_{field}"] = forms.ChoiceField(
                choices=columns,
                required=False,
                label=field.replace("_", " ").capitalize(),
                initial=lead_import.mapping.get(field, ""),
            )
        self.fields["source"].initial = lead_import.source
        self.fields["mode"].initial = lead_import.mode

    def mapping(self) -> dict:
        return {f: self.cleaned_data[f"map_{f}"] for f in FIELDS if self.cleaned_data[f"map_{f}"]}

    def clean(self):
        data = super().clean()
        chosen = [data.get(f"map_{f}") for f in FIELDS if data.get(f"map_{f}")]
        if len(chosen) != len(set(chosen)):
            raise forms.ValidationError("Each column can be mapped to one field only.")
        return data
