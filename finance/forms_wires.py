"""Forms of the bank wire pages: a statement upload, a queued wire assigned or dismissed, a
returned wire (back-office), and a withdrawal by wire (portal)."""

from django import forms

from .forms import _amount_field
from .models_wires import BankStatement
from .selectors import client_find


class BankStatementForm(forms.Form):
    format = forms.ChoiceField(label="Format", choices=BankStatement.Format.choices)
    file = forms.FileField(label="Statement file", help_text="As the bank's e-banking exports it.")


class AssignForm(forms.Form):
    client = forms.CharField(
        label="Client",
        max_length=254,
        help_text="Client number, email or payment reference.",
    )
    reason = forms.CharField(
        label="Why this client", max_length=500, widget=forms.Textarea(attrs={"rows": 2})
    )

    def clean_client(self):
        found = client_find(self.cleaned_data["client"])
        if found is None:
            raise forms.ValidationError("No client has this number, email or reference.")
        return found


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label="Reason", max_length=500, widget=forms.Textarea(attrs={"rows": 2})
    )


class WireWithdrawForm(forms.Form):
    """A withdrawal by bank wire: the wallet, the amount, and the client's own account."""

    currency = forms.ChoiceField(label="From your wallet in")
    amount = _amount_field("Amount")
    iban = forms.CharField(
        label="IBAN",
        max_length=50,
        help_text="Of an account in your own name.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    bic = forms.CharField(
        label="BIC (SWIFT code)",
        max_length=15,
        required=False,
        help_text="Optional within the SEPA area.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )

    def __init__(self, *args, currencies, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["currency"].choices = [(c, c) for c in currencies]
