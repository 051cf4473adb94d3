"""The forms of IB managers' actions on a partner: move it in the tree, attach a plan,
re-attribute a client to another partner (each from a date, with a reason), set the currency of
its commissions wallet."""

from django import forms

from clients.selectors import client_for_user

from .models import Partner, PartnerToken, Plan

MOMENT = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


def _valid_from() -> forms.DateTimeField:
    return forms.DateTimeField(
        label="From (UTC)",
        required=False,
        widget=MOMENT,
        help_text="Empty: now. A past date takes effect from then, "
        "never before a deal already paid.",
    )


def _reason() -> forms.CharField:
    return forms.CharField(label="Reason", min_length=5, max_length=200, strip=True)


def _partner_by_code(code: str) -> Partner | None:
    code = (code or "").strip().upper()
    return Partner.objects.filter(referral_code=code).select_related("user").first()


class PartnerMoveForm(forms.Form):
    parent = forms.CharField(
        label="New parent's referral code",
        required=False,
        max_length=32,
        help_text="Empty: the partner moves to the top of the network.",
    )
    valid_from = _valid_from()
    reason = _reason()

    def clean_parent(self):
        code = self.cleaned_data["parent"].strip()
        if not code:
            return None
        parent = _partner_by_code(code)
        if parent is None:
            raise forms.ValidationError("No partner has this referral code.")
        return parent


class PlanAttachForm(forms.Form):
    plan = forms.ModelChoiceField(
        label="Plan",
        queryset=Plan.objects.select_related("programme").order_by("programme__name", "name"),
        empty_label="Choose…",
    )
    valid_from = _valid_from()
    reason = _reason()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["plan"].label_from_instance = lambda p: f"{p.programme} · {p.name}"


class ClientMoveForm(forms.Form):
    client = forms.EmailField(label="Client's email", max_length=254)
    partner = forms.CharField(label="New partner's referral code", max_length=32)
    valid_from = _valid_from()
    reason = _reason()

    def clean_client(self):
        from brokerage.models import User

        user = User.objects.filter(email__iexact=self.cleaned_data["client"]).first()
        client = client_for_user(user) if user is not None else None
        if client is None:
            raise forms.ValidationError("No client has this email address.")
        return client

    def clean_partner(self):
        partner = _partner_by_code(self.cleaned_data["partner"])
        if partner is None:
            raise forms.ValidationError("No partner has this referral code.")
        return partner


class TokenRevokeForm(forms.Form):
    """An IB manager stops one of the partner's API tokens working (leaked, misused)."""

    token = forms.ModelChoiceField(
        queryset=PartnerToken.objects.filter(revoked_at__isnull=True),
        widget=forms.HiddenInput,
        error_messages={"invalid_choice": "This token is revoked already, or not there."},
    )
    reason = _reason()


class WalletCurrencyForm(forms.Form):
    """An IB manager sets the currency the partner's commissions wallet is kept in."""

    currency = forms.ChoiceField(label="Wallet currency", required=False)
    reason = _reason()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from .wallets import wallet_currency_choices

        self.fields["currency"].choices = [
            ("", "The programme's currency"),
            *((c, c) for c in wallet_currency_choices()),
        ]
