"""Compliance back-office forms: list uploads, name screening."""

from django import forms

from brokerage.intl import country_choices

from .models import CsvMapping, ListFormat

MAX_LIST_BYTES = 50 * 1024 * 1024  # the whole OFAC set is about 3.5 MB, the EU file ~25 MB


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(d, initial) for d in data]
        return [single(data, initial)]


class ListUploadForm(forms.Form):
    format = forms.ChoiceField(choices=ListFormat.choices, label="List format")
    files = MultipleFileField(
        label="Files",
        help_text="OFAC: select its four SDN files together (the list, its aliases, addresses "
        "and remarks); the other formats are one file.",
    )
    mapping = forms.ModelChoiceField(
        CsvMapping.objects.all(),
        required=False,
        label="Saved column mapping",
        help_text="For a CSV list only.",
    )
    list_code = forms.SlugField(
        required=False,
        max_length=40,
        label="List code",
        help_text="For a CSV list, e.g. pep-vendor.",
    )
    list_name = forms.CharField(required=False, max_length=120, label="List name")

    def clean_files(self):
        files = self.cleaned_data["files"]
        total = sum(f.size or 0 for f in files)
        if total > MAX_LIST_BYTES:
            raise forms.ValidationError(
                f"The files are at most {MAX_LIST_BYTES // (1024 * 1024)} MB together."
            )
        return files

    def clean(self):
        data = super().clean()
        if data.get("format") == ListFormat.CSV:
            if not data.get("mapping"):
                self.add_error("mapping", "A CSV list is read through a saved column mapping.")
            if not data.get("list_code"):
                self.add_error("list_code", "Name the CSV list with a code.")
        return data


class ScreeningForm(forms.Form):
    name = forms.CharField(max_length=300, label="Name")
    kind = forms.ChoiceField(
        choices=[("person", "Person"), ("entity", "Company or organisation"), ("any", "Either")],
        initial="person",
        label="Screen as",
    )
    dob = forms.DateField(
        required=False, label="Date of birth", widget=forms.DateInput(attrs={"type": "date"})
    )
    nationality = forms.ChoiceField(required=False, label="Nationality")
    gender = forms.ChoiceField(
        required=False,
        choices=[("", "Not known"), ("male", "Male"), ("female", "Female")],
        label="Gender",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["nationality"].choices = [("", "Not known"), *country_choices()]


class AlertDecisionForm(forms.Form):
    ACTIONS = [
        ("confirm", "Confirm as a true match"),
        ("dismiss", "Dismiss as a false positive"),
        ("approve", "Approve the dismissal"),
        ("lift", "Lift the block"),
    ]
    action = forms.ChoiceField(choices=ACTIONS, widget=forms.HiddenInput)
    reason = forms.CharField(
        label="Reason",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="What you checked: date of birth, nationality, documents, sources.",
    )


class AlertFilterForm(forms.Form):
    status = forms.ChoiceField(required=False, label="Status")
    source = forms.ChoiceField(required=False, label="List")
    band = forms.ChoiceField(required=False, label="Score")
    q = forms.CharField(required=False, max_length=200, label="Name, email or list id")

    def __init__(self, *args, statuses, sources, bands, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["status"].choices = statuses
        self.fields["source"].choices = [("", "All lists"), *sources]
        self.fields["band"].choices = [("", "Any score"), *bands]
