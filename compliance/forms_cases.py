"""Forms of the AML case pages: each translates a request into one service call's arguments."""

from django import forms
from django.utils import timezone

from .case_selectors import SLA_FILTERS, STATUS_FILTERS, officer_list


class OfficerField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return obj.get_full_name() or obj.email


class CaseFilterForm(forms.Form):
    q = forms.CharField(max_length=100, required=False, label="Client or case")
    status = forms.ChoiceField(choices=STATUS_FILTERS, required=False, label="Status")
    assigned = forms.ChoiceField(required=False, label="Officer")
    sla = forms.ChoiceField(choices=SLA_FILTERS, required=False, label="Deadline")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assigned"].choices = [
            ("", "Anyone"),
            ("me", "Mine"),
            ("none", "Nobody yet"),
            *[(str(u.pk), u.get_full_name() or u.email) for u in officer_list()],
        ]


class CaseOpenForm(forms.Form):
    summary = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=4000,
        label="Why the case is opened",
    )
    assigned_to = OfficerField(queryset=None, required=False, label="Assign to", empty_label="Me")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assigned_to"].queryset = officer_list()


class ReasonForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=4000)


class AssignForm(forms.Form):
    assigned_to = OfficerField(queryset=None, label="Officer", empty_label="Choose an officer")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assigned_to"].queryset = officer_list()


class NoteForm(forms.Form):
    text = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), max_length=10_000, label="Note"
    )


class ReportForm(forms.Form):
    sar_reference = forms.CharField(max_length=100, label="The authority's reference")
    sar_filed_on = forms.DateField(
        label="Filed on", widget=forms.DateInput(attrs={"type": "date"}), initial=timezone.localdate
    )


class AttachmentForm(forms.Form):
    file = forms.FileField(label="File (PDF, JPEG or PNG, at most 10 MB)")
    description = forms.CharField(max_length=300, required=False, label="What it is")


class AddAlertForm(forms.Form):
    kind = forms.ChoiceField(
        choices=[("aml", "AML alert"), ("screening", "Screening alert")], label="Alert"
    )
    alert = forms.IntegerField(min_value=1, max_value=2**31 - 1, label="Number")
