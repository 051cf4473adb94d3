from django import forms

from brokerage.intl import country_choices

from .models import (
    Band,
    Employment,
    FundsSource,
    Industry,
    KycDocument,
    ProfileCurrency,
)
from .questionnaire import QUESTIONS


class AddressForm(forms.Form):
    """The client's home address: part of the wizard's details, and changed on its own from
    the profile (a new proof of address follows once they are verified)."""

    address_line = forms.CharField(max_length=200, label="Street address")
    city = forms.CharField(max_length=100)
    postcode = forms.CharField(max_length=20)
    country = forms.ChoiceField(label="Country of residence")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        choices = [("", "Choose…"), *country_choices()]
        for name in ("nationality", "country"):
            if name in self.fields:
                self.fields[name].choices = choices


class DetailsForm(AddressForm):
    first_name = forms.CharField(max_length=150, label="First and middle names (as on the ID)")
    last_name = forms.CharField(max_length=150, label="Surname (as on the ID)")
    date_of_birth = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    nationality = forms.ChoiceField()
    field_order = [
        "first_name",
        "last_name",
        "date_of_birth",
        "nationality",
        "address_line",
        "city",
        "postcode",
        "country",
    ]


class QuestionnaireForm(forms.Form):
    acknowledge_warning = forms.BooleanField(
        required=False,
        label="I understand that CFDs are complex, that leverage can multiply "
        "my losses, and that most retail accounts lose money.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for key, text, options in QUESTIONS:
            self.fields[key] = forms.ChoiceField(
                label=text,
                widget=forms.RadioSelect,
                choices=[(answer, label) for answer, label, _points in options],
            )
        self.order_fields([key for key, _t, _o in QUESTIONS] + ["acknowledge_warning"])

    def answers(self) -> dict:
        return {key: self.cleaned_data[key] for key, _t, _o in QUESTIONS}


class DocumentForm(forms.Form):
    kind = forms.ChoiceField(choices=KycDocument.Kind.choices, label="Document")
    side = forms.ChoiceField(choices=KycDocument.Side.choices, initial="front")
    file = forms.FileField(help_text="JPEG, PNG or PDF, at most 10 MB.")


class ReviewForm(forms.Form):
    ACTIONS = [
        ("approve", "Approve"),
        ("reject", "Reject"),
        ("resubmit", "Ask for a document again"),
    ]
    action = forms.ChoiceField(choices=ACTIONS, widget=forms.RadioSelect)
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        label="Reason / message to the client",
    )
    documents = forms.MultipleChoiceField(
        choices=KycDocument.Kind.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Documents to send again",
    )


class FinancialProfileForm(forms.Form):
    """What the client declares about their money (a new version of it at each change)."""

    employment_status = forms.ChoiceField(
        choices=[("", "Choose…"), *Employment.choices], label="Employment"
    )
    occupation = forms.CharField(
        max_length=120, required=False, label="Occupation (job title or business)"
    )
    industry = forms.ChoiceField(choices=[("", "Choose…"), *Industry.choices])
    currency = forms.ChoiceField(
        choices=ProfileCurrency.choices, label="Currency of the amounts below"
    )
    annual_income = forms.ChoiceField(
        choices=[("", "Choose…"), *Band.choices], label="Yearly income before tax"
    )
    net_worth = forms.ChoiceField(
        choices=[("", "Choose…"), *Band.choices],
        label="Net worth (savings and investments, without your home)",
    )
    expected_deposits_amount = forms.DecimalField(
        min_value=0,
        max_digits=14,
        decimal_places=2,
        label="How much do you expect to deposit with us in a year?",
    )
    source_of_funds = forms.ChoiceField(
        choices=[("", "Choose…"), *FundsSource.choices],
        label="Where does the money you will deposit come from?",
    )
    source_of_funds_detail = forms.CharField(
        max_length=500, required=False, label="Details (e.g. employer, business, sale)"
    )
    source_of_wealth = forms.ChoiceField(
        choices=[("", "Choose…"), *FundsSource.choices],
        label="How did you build your wealth overall?",
    )
    source_of_wealth_detail = forms.CharField(max_length=500, required=False, label="Details")


class SourceOfFundsForm(forms.Form):
    description = forms.CharField(
        max_length=300, label="What the document shows", help_text="E.g. payslips for May and June."
    )
    file = forms.FileField(help_text="JPEG, PNG or PDF, at most 10 MB.")


class SourceOfFundsDecisionForm(forms.Form):
    action = forms.ChoiceField(
        choices=[("approve", "Approve"), ("reject", "Reject")], widget=forms.RadioSelect
    )
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=2000,
        label="Reason (the client reads it)",
    )
