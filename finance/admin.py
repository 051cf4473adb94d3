"""Finance configuration for ops: payment methods and FX rates. The ledger itself is never
edited here (money moves only through the finance services)."""

from django import forms
from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from brokerage.intl import is_country
from brokerage.money import exponent, is_currency

from . import psp as psp_registry
from .models import FxRate, PaymentMethod


class PaymentMethodForm(forms.ModelForm):
    psp = forms.ChoiceField(choices=psp_registry.PSP_CHOICES, label="PSP")

    class Meta:
        model = PaymentMethod
        fields = [
            "psp",
            "name",
            "currency",
            "countries",
            "excluded_countries",
            "min_amount",
            "max_amount",
            "min_kyc_level",
            "is_active",
            "sort_order",
        ]

    def clean_currency(self):
        code = (self.cleaned_data.get("currency") or "").upper()
        if not is_currency(code):
            raise forms.ValidationError("An ISO 4217 currency code, e.g. USD.")
        if exponent(code) > 2:
            raise forms.ValidationError("Currencies with more than 2 decimal places are not kept.")
        return code

    def _countries(self, name):
        codes = [str(c).upper() for c in (self.cleaned_data.get(name) or [])]
        bad = [c for c in codes if not is_country(c)]
        if bad:
            raise forms.ValidationError(f"Not ISO 3166-1 alpha-2 codes: {', '.join(bad)}.")
        return codes

    def clean_countries(self):
        return self._countries("countries")

    def clean_excluded_countries(self):
        return self._countries("excluded_countries")


@admin.register(PaymentMethod)
class PaymentMethodAdmin(SimpleHistoryAdmin):
    form = PaymentMethodForm
    list_display = [
        "name",
        "psp",
        "currency",
        "min_amount",
        "max_amount",
        "min_kyc_level",
        "is_active",
        "sort_order",
    ]
    list_editable = ["is_active", "sort_order"]
    list_filter = ["psp", "currency", "is_active"]
    search_fields = ["name"]


class FxRateForm(forms.ModelForm):
    class Meta:
        model = FxRate
        fields = ["currency", "usd_rate"]

    def clean_currency(self):
        code = (self.cleaned_data.get("currency") or "").upper()
        if not is_currency(code) or code == "USD":
            raise forms.ValidationError("An ISO 4217 currency code other than USD.")
        return code

    def clean_usd_rate(self):
        rate = self.cleaned_data["usd_rate"]
        if rate <= 0:
            raise forms.ValidationError("A rate above zero.")
        return rate


@admin.register(FxRate)
class FxRateAdmin(SimpleHistoryAdmin):
    form = FxRateForm
    list_display = ["currency", "usd_rate", "updated_at"]
