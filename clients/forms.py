from decimal import Decimal

from allauth.core import context as allauth_context
from django import forms

from brokerage.intl import country_choices, language_choices, language_from_header, phone_e164

from .forms_terms import TermsAcceptFields
from .registration import registration_blocked
from .terms import terms_in_force


class SignupForm(TermsAcceptFields, forms.Form):
    """Extra fields of the public sign-up form (allauth adds email and password).

    What the visitor tells us here also makes them a lead: the apps that need it read
    `user.signup_profile` when allauth announces the sign-up.
    """

    EXPERIENCE = [
        ("", "Choose…"),
        ("none", "None: I am new to trading"),
        ("some", "Some: I have traded a little"),
        ("experienced", "Experienced: I trade regularly"),
    ]

    first_name = forms.CharField(max_length=150, label="First name")
    last_name = forms.CharField(max_length=150, label="Last name")
    country = forms.ChoiceField(label="Country of residence")
    phone = forms.CharField(max_length=40, label="Phone", help_text="With the country code.")
    language = forms.ChoiceField(label="Preferred language", initial="en")
    experience = forms.ChoiceField(choices=EXPERIENCE, label="Trading experience")
    net_worth_usd = forms.DecimalField(
        label="Approximate net worth (USD)",
        required=False,
        min_value=Decimal(0),
        max_value=Decimal("100000000000"),
        decimal_places=2,
    )

    field_order = [
        "first_name",
        "last_name",
        "email",
        "phone",
        "country",
        "language",
        "experience",
        "net_worth_usd",
        "password1",
        "password2",
    ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["country"].choices = [("", "Choose…"), *country_choices()]
        self.fields["language"].choices = language_choices()
        request = allauth_context.request  # the sign-up page's request (allauth's middleware)
        if request is not None and not self.is_bound:
            # preselect the language the visitor's browser asks for: it is the one their
            # emails will be written in
            header = request.META.get("HTTP_ACCEPT_LANGUAGE", "")
            self.initial.setdefault("language", language_from_header(header))
        self.terms_fields(terms_in_force())  # one "I accept" per document in force

    def clean(self):
        data = super().clean()
        try:
            data["terms"] = self.terms_check(data)
        except forms.ValidationError as exc:
            self.add_error(None, exc)
        blocked = registration_blocked(data.get("country") or "")
        if blocked is not None:
            self.add_error("country", blocked.message)
        if data.get("phone"):
            try:
                data["phone"] = phone_e164(data["phone"], data.get("country", ""))
            except ValueError as exc:
                self.add_error("phone", str(exc))
        return data

    def signup(self, request, user):
        data = self.cleaned_data
        user.first_name = data["first_name"].strip()
        user.last_name = data["last_name"].strip()
        user.save(update_fields=["first_name", "last_name"])
        user.signup_profile = {
            "first_name": user.first_name,
            "last_name": user.last_name,
            "email": user.email,
            "country": data["country"],
            "phone": data["phone"],
            "language": data["language"],
            "experience": data["experience"],
            "net_worth_usd": str(data["net_worth_usd"])
            if data.get("net_worth_usd") is not None
            else None,
        }
        user.signup_terms = data["terms"]  # recorded once the client record exists


class ContactForm(forms.Form):
    """How we reach the client by phone, changed on their profile (the service checks it)."""

    phone = forms.CharField(max_length=40, label="Phone", help_text="With the country code.")
