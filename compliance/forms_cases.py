"""Forms of the AML case pages: each translates a request into one service call's arguments."""

from django import forms
from django.utils import timezone

from .case_selectors import SLA_FILTERS, STATUS_FILTERS, officer_list
from .cases import HitDecision


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


class HitDecisionsForm(forms.Form):
    """A form that ends a case: one required choice per undecided screening hit the case
    carries (`hits`), named `hit_<pk>`; `hit_decisions()` is what the service takes."""

    def __init__(self, *args, hits=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.hit_names = []
        for hit in hits:
            name = f"hit_{hit.pk}"
            self.fields[name] = forms.ChoiceField(
                choices=[("", "Choose…"), *HitDecision.CHOICES],
                label=f"Screening alert {hit.pk}: {hit.screened_name} ~ {hit.matched_name} "
                f"({hit.source.name}, {hit.score:.0%})",
            )
            self.hit_names.append(name)

    @property
    def hit_fields(self):
        return [self[name] for name in self.hit_names]

    def hit_decisions(self) -> dict[int, str]:
        return {int(name[4:]): self.cleaned_data[name] for name in self.hit_names}


class CloseForm(HitDecisionsForm, ReasonForm):
    def __init__(self, *args, **kwargs):
        # Its hit choices stand beside the report form's on an escalated case's page.
        kwargs.setdefault("auto_id", "close-%s")
        super().__init__(*args, **kwargs)


class AssignForm(forms.Form):
    assigned_to = OfficerField(queryset=None, label="Officer", empty_label="Choose an officer")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assigned_to"].queryset = officer_list()


class NoteForm(forms.Form):
    text = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), max_length=10_000, label="Note"
    )


class ReportForm(HitDecisionsForm):
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
