"""The terms' forms: one "I accept" per document (at sign-up and in the portal), and
compliance's publishing of a new version."""

from django import forms
from django.urls import reverse
from django.utils.html import format_html

from .models import TermsDocument
from .terms import TEXT_MAX


class TermsAcceptFields:
    """A form's "I accept" boxes, one per version in `self.terms_shown` (each required), and
    the versions shown, so a version published while the form was open is read first."""

    def terms_fields(self, versions) -> None:
        for old in getattr(self, "terms_shown", []):
            self.fields.pop(f"accept_{old.document}", None)
        self.terms_shown = list(versions)
        self.fields["terms_shown"] = forms.CharField(
            widget=forms.HiddenInput,
            required=False,
            initial=",".join(str(v.pk) for v in self.terms_shown),
        )
        for v in self.terms_shown:
            self.fields[f"accept_{v.document}"] = forms.BooleanField(
                label=f"I have read and accept the {v.title} (version {v.version})",
                help_text=format_html(
                    '<a href="{}" target="_blank" rel="noopener" data-terms-link="{}">Read the '
                    "{}</a>",
                    reverse("portal:terms_text", args=[v.pk]),
                    v.document,
                    v.title,
                ),
                required=True,
                error_messages={"required": f"Accept the {v.title} to go on."},
            )

    def terms_check(self, data) -> list[int]:
        """The ids of the versions accepted; an error when the form showed others."""
        if not self.terms_shown:
            return []
        shown = ",".join(str(v.pk) for v in self.terms_shown)
        if (data.get("terms_shown") or "") != shown:
            raise forms.ValidationError(
                "Our terms changed while this page was open: read them again and accept them."
            )
        return [v.pk for v in self.terms_shown]


class TermsAcceptForm(TermsAcceptFields, forms.Form):
    def __init__(self, *args, versions, **kwargs):
        super().__init__(*args, **kwargs)
        self.terms_fields(versions)

    def clean(self):
        data = super().clean()
        data["version_ids"] = self.terms_check(data)
        return data


class TermsPublishForm(forms.Form):
    document = forms.ChoiceField(choices=[("", "Choose…"), *TermsDocument.choices])
    title = forms.CharField(max_length=140, help_text="As clients read it, e.g. Client agreement.")
    text = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 8}), max_length=TEXT_MAX, label="The text"
    )
    changes = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=4000,
        required=False,
        label="What changed",
        help_text="Shown to clients asked to accept it again, and in the email they are sent.",
    )
    effective_at = forms.DateTimeField(
        required=False,
        label="Takes effect (UTC)",
        help_text="Empty: now.",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d"],
    )
    reacceptance_required = forms.BooleanField(
        required=False,
        initial=True,
        label="Clients who accepted an earlier version must accept this one",
    )
