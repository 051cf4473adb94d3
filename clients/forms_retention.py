"""Forms of the retention pages: outreach on a flag, and a desk's thresholds."""

from django import forms

from .models import OutreachTemplate, RetentionFlag


class OutreachForm(forms.Form):
    template = forms.ChoiceField(required=False, label="Template")
    channel = forms.ChoiceField(
        choices=[("email", "Send an email"), ("call", "Log a call")],
        initial="email",
        widget=forms.RadioSelect,
        label="Channel",
    )
    subject = forms.CharField(max_length=200, required=False, label="Subject")
    body = forms.CharField(
        required=False,
        label="Message / call notes",
        widget=forms.Textarea(attrs={"rows": 9}),
        max_length=10_000,
    )
    outcome = forms.ChoiceField(
        required=False,
        label="Outcome",
        choices=[("", "No outcome yet (email sent, waiting for an answer)")]
        + list(RetentionFlag.Outcome.choices),
    )

    def __init__(self, *args, templates=(), matching=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.templates = {str(t.pk): t for t in templates}
        suggested = [(str(t.pk), t.name) for t in templates if t.pk in set(matching)]
        others = [(str(t.pk), t.name) for t in templates if t.pk not in set(matching)]
        choices = [("", "No template (write your own)")]
        if suggested:
            choices.append(("Suggested for this client", suggested))
        if others:
            choices.append(("Other templates", others))
        self.fields["template"].choices = choices

    def clean_template(self) -> OutreachTemplate | None:
        value = self.cleaned_data.get("template")
        return self.templates.get(value) if value else None


class PolicyForm(forms.Form):
    inactivity_days = forms.IntegerField(min_value=1, max_value=365, label="Inactive after (days)")
    balance_drop_percent = forms.IntegerField(
        min_value=1, max_value=100, label="Balance drop within 7 days (%)"
    )
    no_login_days = forms.IntegerField(min_value=1, max_value=365, label="No sign-in for (days)")
    is_active = forms.BooleanField(required=False, label="Own thresholds for this desk")
