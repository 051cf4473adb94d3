"""The forms of how partners join: the partner's sign-up (its own form, on allauth's sign-up
and email verification), the agreement, invitations, and IB managers' decisions."""

from allauth.account.forms import SignupForm as AccountSignupForm
from allauth.utils import set_form_field_order
from django import forms

from brokerage.intl import country_choices

from .models import Plan, Programme
from .onboarding import AGREEMENT_MAX, agreement_in_force, partner_programme, public_programmes
from .wallets import wallet_currency_choices

CLIENT_ONLY = ("phone", "experience", "net_worth_usd")  # the trading client's sign-up fields


def wallet_currency_field(label="Currency of your commissions wallet") -> forms.ChoiceField:
    """The currency a partner's commissions are credited in (`ib.wallets`)."""
    return forms.ChoiceField(
        label=label,
        required=False,
        choices=[("", "The programme's currency"), *((c, c) for c in wallet_currency_choices())],
        help_text="Commissions are converted into it at the rate of each line's date.",
    )


class PartnerSignupForm(AccountSignupForm):
    """A partner's sign-up: who the partner is and how it will bring clients, the programme
    (or the inviter's, through an invitation) and the agreement in force, accepted."""

    field_order = [
        "programme",
        "company_name",
        "first_name",
        "last_name",
        "email",
        "country",
        "language",
        "wallet_currency",
        "website",
        "message",
        "password1",
        "password2",
        "accept",
    ]

    def __init__(self, *args, invitation=None, token="", **kwargs):
        self.invitation, self.invitation_token = invitation, token
        super().__init__(*args, **kwargs)
        for name in CLIENT_ONLY:
            self.fields.pop(name, None)
        self.terms_fields([])  # a partner accepts the partner agreement, not the client terms
        self.fields["country"].choices = [("", "Choose…"), *country_choices()]
        self.fields["company_name"] = forms.CharField(
            label="Company (if any)", max_length=200, required=False
        )
        self.fields["wallet_currency"] = wallet_currency_field()
        self.fields["website"] = forms.URLField(
            label="Website or channel", max_length=200, required=False, assume_scheme="https"
        )
        self.fields["message"] = forms.CharField(
            label="How will you bring clients?",
            max_length=1000,
            required=False,
            widget=forms.Textarea(attrs={"rows": 3, "maxlength": 1000}),
        )
        if invitation is None:
            self.fields["programme"] = forms.ModelChoiceField(
                label="Partner programme", queryset=public_programmes(), empty_label=None
            )
            programmes = list(public_programmes())
        else:
            programmes = [p for p in [partner_programme(invitation.inviter)] if p]
        self.agreements = {p.pk: agreement_in_force(p) for p in programmes}
        shown = ",".join(str(a.pk) for a in self.agreements.values() if a)
        self.fields["shown"] = forms.CharField(
            widget=forms.HiddenInput, required=False, initial=shown
        )
        self.fields["accept"] = forms.BooleanField(
            label="I have read and accept the partner agreement", required=False
        )
        set_form_field_order(self, self.field_order)

    def agreement_list(self) -> list:
        """The agreements the visitor reads here: the one in force of each programme shown."""
        return [a for a in self.agreements.values() if a]

    def clean(self):
        data = super().clean()
        programme = data.get("programme")
        if self.invitation is not None:
            programme = partner_programme(self.invitation.inviter)
        if programme is None:
            return data
        agreement = agreement_in_force(programme)
        data["agreement"] = agreement.pk if agreement else None
        if agreement is not None:
            shown = (data.get("shown") or "").split(",")
            if str(agreement.pk) not in shown:
                self.add_error(
                    "accept",
                    "A new version of the agreement was published: read it and accept it.",
                )
            elif not data.get("accept"):
                self.add_error("accept", "Accept the partner agreement to join.")
        return data

    def custom_signup(self, request, user):
        """Not a trading client's sign-up: the partner's name only on the user, the rest for
        ib (through the sign-up signal) to make the application."""
        data = self.cleaned_data
        user.first_name = data["first_name"].strip()
        user.last_name = data["last_name"].strip()
        user.save(update_fields=["first_name", "last_name"])
        user.signup_kind = "partner"
        programme = data.get("programme")
        user.signup_profile = {
            "first_name": user.first_name,
            "last_name": user.last_name,
            "country": data.get("country", ""),
            "language": data.get("language", "en"),
            "wallet_currency": data.get("wallet_currency", ""),
            "company_name": data.get("company_name", ""),
            "website": data.get("website", ""),
            "message": data.get("message", ""),
            "programme": programme.pk if programme else None,
            "agreement": data.get("agreement"),
            "invitation": self.invitation_token if self.invitation else "",
        }


class ReapplyForm(forms.Form):
    website = forms.URLField(
        label="Website or channel", max_length=200, required=False, assume_scheme="https"
    )
    message = forms.CharField(
        label="What has changed since?",
        min_length=20,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 4, "maxlength": 1000}),
        help_text="Read by the IB manager who reviews your application again.",
    )
    agreement = forms.IntegerField(required=False, widget=forms.HiddenInput)
    accept = forms.BooleanField(
        label="I have read and accept the partner agreement in force", required=False
    )

    def __init__(self, *args, agreement=None, **kwargs):
        super().__init__(*args, **kwargs)
        if agreement is None:
            del self.fields["accept"]
        else:
            self.fields["accept"].required = True
            self.fields["agreement"].initial = agreement.pk


class AgreementAcceptForm(forms.Form):
    accept = forms.BooleanField(label="I have read and accept this version of the agreement")


class AgreementPublishForm(forms.Form):
    programme = forms.ModelChoiceField(
        label="Programme", queryset=Programme.objects.order_by("name"), empty_label="Choose…"
    )
    text = forms.CharField(
        label="Agreement text",
        max_length=AGREEMENT_MAX,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text="Published as the next version, in force at once: every partner of the "
        "programme accepts it before using its dashboard again.",
    )


class ApplicationApproveForm(forms.Form):
    plan = forms.ModelChoiceField(
        label="Plan",
        queryset=Plan.objects.none(),
        required=False,
        empty_label="None yet (paid by its parent's plan, if any)",
    )
    reason = forms.CharField(label="Note (optional)", max_length=500, required=False)

    def __init__(self, *args, programme=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["plan"].queryset = Plan.objects.filter(programme=programme).order_by("name")


class ApplicationRejectForm(forms.Form):
    reason = forms.CharField(
        label="Why it is rejected",
        min_length=5,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3, "maxlength": 500}),
        help_text="The applicant reads it in the email and on its page.",
    )


class InvitationForm(forms.Form):
    email = forms.EmailField(
        label="Email it to (optional)",
        required=False,
        max_length=254,
        help_text="Empty: copy the link and send it yourself.",
    )
    note = forms.CharField(
        label="Your label (optional)",
        max_length=100,
        required=False,
        help_text="Who it is for, as you will recognise it.",
    )
