"""Forms of the client's wallet in the portal: deposit, withdraw, statement.

Amounts are read as exact decimals; the services check them against the currency, the
method's limits and the client's standing, and their errors are shown on these forms.
"""

from __future__ import annotations

import calendar
from datetime import date

from django import forms

STATEMENT_MAX_DAYS = 366


def _amount_field(label: str) -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        widget=forms.TextInput(
            attrs={"inputmode": "decimal", "autocomplete": "off", "placeholder": "0.00"}
        ),
    )


class DepositForm(forms.Form):
    """A method offered to this client (`deposit_methods_for`) and an amount in its currency."""

    method = forms.TypedChoiceField(
        label="Payment method",
        coerce=int,
        widget=forms.RadioSelect,
        error_messages={"invalid_choice": "Choose one of the payment methods offered to you."},
    )
    amount = _amount_field("Amount")

    def __init__(self, *args, methods, **kwargs):
        super().__init__(*args, **kwargs)
        self.methods = {m.pk: m for m in methods}
        self.fields["method"].choices = [(m.pk, str(m)) for m in methods]

    def clean_method(self):
        return self.methods[self.cleaned_data["method"]]


class WithdrawForm(forms.Form):
    """Where the money goes back to (a PSP and currency the client funded) and how much."""

    option = forms.ChoiceField(
        label="Pay back to",
        widget=forms.RadioSelect,
        error_messages={"invalid_choice": "Choose one of the methods you deposited with."},
    )
    amount = _amount_field("Amount")

    def __init__(self, *args, options, **kwargs):
        super().__init__(*args, **kwargs)
        self.options = {self.key(o): o for o in options}
        self.fields["option"].choices = [(self.key(o), o["name"]) for o in options]
        if len(options) == 1 and not self.is_bound:
            self.initial.setdefault("option", self.key(options[0]))

    @staticmethod
    def key(option: dict) -> str:
        return f"{option['psp']}:{option['currency']}"

    def clean_option(self):
        return self.options[self.cleaned_data["option"]]


class StatementForm(forms.Form):
    """A wallet statement for a calendar month, or for a from/to period of up to 366 days (when
    both are given, the period wins)."""

    currency = forms.ChoiceField(label="Wallet")
    month = forms.CharField(
        label="Month",
        required=False,
        widget=forms.DateInput(attrs={"type": "month"}),
    )
    start = forms.DateField(
        label="From", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        label="To", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, currencies, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["currency"].choices = [(c, c) for c in currencies]

    def clean_month(self):
        value = (self.cleaned_data.get("month") or "").strip()
        if not value:
            return None
        try:
            year, month = (int(part) for part in value.split("-"))
            return date(year, month, 1)
        except ValueError as exc:
            raise forms.ValidationError("Give the month as YYYY-MM.") from exc

    def clean(self):
        data = super().clean()
        month, start, end = data.get("month"), data.get("start"), data.get("end")
        if self.errors:
            return data
        if start or end:  # an explicit period wins over the month
            if not (start and end):
                raise forms.ValidationError("Choose both a from and a to date, or a month.")
        elif month:
            last = calendar.monthrange(month.year, month.month)[1]
            start, end = month, month.replace(day=last)
        else:
            raise forms.ValidationError("Choose a month, or both a from and a to date.")
        if not (2000 <= start.year <= 2100 and 2000 <= end.year <= 2100):
            self.add_error("end", "Choose dates between the years 2000 and 2100.")
        elif start > end:
            self.add_error("end", "The end date is before the start date.")
        elif (end - start).days + 1 > STATEMENT_MAX_DAYS:
            self.add_error(
                "end",
                f"A statement covers at most {STATEMENT_MAX_DAYS} days; choose a shorter period.",
            )
        data["start"], data["end"] = start, end
        return data


class TransferForm(forms.Form):
    """Move money between the wallet and one of the client's trading accounts."""

    trading_account = forms.ChoiceField(label="Trading account")
    direction = forms.ChoiceField(
        label="Direction",
        widget=forms.RadioSelect,
        choices=[
            ("to_trading", "Wallet → trading account"),
            ("from_trading", "Trading account → wallet"),
        ],
        initial="to_trading",
    )
    amount = _amount_field("Amount")

    def __init__(self, *args, accounts, **kwargs):
        super().__init__(*args, **kwargs)
        self.accounts = {str(a.pk): a for a in accounts}
        self.fields["trading_account"].choices = [
            (
                str(a.pk),
                f"{a.login} · {a.currency} · {a.account_type.name if a.account_type else a.group}",
            )
            for a in accounts
        ]

    def clean_trading_account(self):
        return self.accounts[self.cleaned_data["trading_account"]]
