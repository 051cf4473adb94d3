"""Forms of the back-office client pages and of the portal's support pages."""

from django import forms

from .models import ClientActivity, SupportTicket


class NoteForm(forms.Form):
    text = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "What happened, what was agreed"}),
        max_length=5000,
        label="Note",
    )


class CallForm(forms.Form):
    direction = forms.ChoiceField(
        choices=[("outbound", "Outbound"), ("inbound", "Inbound")], initial="outbound"
    )
    outcome = forms.ChoiceField(choices=ClientActivity.CallOutcome.choices)
    duration_minutes = forms.IntegerField(min_value=0, max_value=1440, initial=0, label="Minutes")
    notes = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=5000
    )


class TicketOpenForm(forms.Form):
    category = forms.ChoiceField(choices=SupportTicket.Category.choices, label="Topic")
    subject = forms.CharField(max_length=200)
    body = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 5}), max_length=10000, label="How can we help?"
    )


class TicketReplyForm(forms.Form):
    body = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}), max_length=10000, label="Your reply"
    )


class TicketCloseForm(forms.Form):
    reason = forms.CharField(
        max_length=200, required=False, label="Why it is closed", initial="Resolved"
    )


class TicketPriorityForm(forms.Form):
    priority = forms.ChoiceField(choices=SupportTicket.Priority.choices)


class TicketAssignForm(forms.Form):
    """Give the ticket to a colleague who answers tickets and sees this client."""

    assignee = forms.ModelChoiceField(queryset=None, label="Assign to", empty_label=None)

    def __init__(self, *args, assignees, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = assignees
        self.fields["assignee"].label_from_instance = lambda u: u.get_full_name() or u.email
