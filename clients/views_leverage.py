"""Staff's page on a client's leverage and category (`/backoffice/clients/<id>/leverage/`):
each live trading account's leverage changed for a reason (compliance officers and ops admins:
`clients.change_account_leverage`), offered only what the account type offers and the client's
limit allows, reaching the platform through the platform reach; and the client's category set
directly by a compliance officer (`clients.decide_category`), with the criteria met and the
evidence seen. The services check the permissions again, and audit and tell the client."""

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse

from brokerage.models import ClientCategory
from brokerage.permissions import require
from brokerage.views import form_action

from .categories import (
    CRITERIA_LABELS,
    client_category_set,
    leverage_caps_of,
    leverage_refusal,
    leverages_allowed,
)
from .categories import PERM as CATEGORY_PERM
from .instruments import LEVERAGE_CLASSES
from .trading.selectors import live_accounts_of
from .trading.services import LEVERAGE_PERM, trading_account_leverage_set
from .views_backoffice import _client_or_404, _int


def _may(user) -> bool:
    return user.is_staff and (user.has_perm(LEVERAGE_PERM) or user.has_perm(CATEGORY_PERM))


leverage_required = require(_may, "Your role does not change leverage or categories.")


class AccountLeverageForm(forms.Form):
    leverage = forms.TypedChoiceField(coerce=int, choices=(), label="New leverage")
    reason = forms.CharField(max_length=300, help_text="Kept in the audit trail.")

    def __init__(self, *args, account, **kwargs):
        super().__init__(*args, prefix=f"a{account.pk}", **kwargs)
        offered = account.account_type.leverages if account.account_type else []
        levels = leverages_allowed(account.client, offered)
        self.fields["leverage"].choices = [(lev, f"1:{lev}") for lev in levels]
        asked = _int(str(self.data.get(self.add_prefix("leverage"), ""))) if self.is_bound else None
        refusal = leverage_refusal(account.client, asked) if asked else None
        if refusal:  # above the limit: say which limit, not only "not a valid choice"
            self.fields["leverage"].error_messages["invalid_choice"] = refusal
        if not self.is_bound and account.leverage in levels:
            self.initial["leverage"] = account.leverage


class CategoryForm(forms.Form):
    category = forms.ChoiceField(choices=ClientCategory.choices)
    trades_met = forms.BooleanField(required=False, label=CRITERIA_LABELS["trades"])
    portfolio_met = forms.BooleanField(required=False, label=CRITERIA_LABELS["portfolio"])
    experience_met = forms.BooleanField(required=False, label=CRITERIA_LABELS["experience"])
    evidence = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="What you saw: statements, documents; for an eligible counterparty, its "
        "licence or register entry.",
    )
    reason = forms.CharField(max_length=300, help_text="The client is told the new category.")


@leverage_required
def client_leverage(request, client_id: int):
    client = _client_or_404(request, client_id)
    url = reverse("clients:leverage", args=[client.pk])
    may_leverage = request.user.has_perm(LEVERAGE_PERM)
    may_category = request.user.has_perm(CATEGORY_PERM)
    accounts = live_accounts_of(client)
    account_forms = {a.pk: AccountLeverageForm(account=a) for a in accounts if a.account_type}
    category_form = CategoryForm(initial={"category": client.category})
    status = 200
    if request.method == "POST":
        if "account" in request.POST:
            if not may_leverage:
                raise PermissionDenied("Your role does not change trading accounts' leverage.")
            account = next((a for a in accounts if a.pk == _int(request.POST["account"])), None)
            if account is None or account.pk not in account_forms:
                raise Http404("No such live account of this client.")
            form = AccountLeverageForm(request.POST, account=account)
            done = form_action(
                request,
                form,
                lambda d: trading_account_leverage_set(
                    account=account, leverage=d["leverage"], actor=request.user, reason=d["reason"]
                ),
                success_url=url,
            )
            if done:
                messages.success(
                    request, f"Leverage of {account.login} asked of the trading server."
                )
                return done
            account_forms[account.pk] = form
        else:
            if not may_category:
                raise PermissionDenied("Only compliance officers set a client's category.")
            category_form = CategoryForm(request.POST)
            done = form_action(
                request,
                category_form,
                lambda d: client_category_set(
                    client=client,
                    category=d["category"],
                    actor=request.user,
                    reason=d["reason"],
                    criteria={
                        "trades": d["trades_met"],
                        "portfolio": d["portfolio_met"],
                        "experience": d["experience_met"],
                    },
                    evidence=d["evidence"],
                ),
                success_url=url,
            )
            if done:
                messages.success(request, "Category set; the client is told by email.")
                return done
        status = 400
    caps = leverage_caps_of(client)
    return render(
        request,
        "clients/leverage.html",
        {
            "client": client,
            "rows": [(a, account_forms.get(a.pk)) for a in accounts],
            "class_caps": [(label, caps[k]) for k, label in LEVERAGE_CLASSES if k in caps],
            "may_leverage": may_leverage,
            "category_form": category_form if may_category else None,
        },
        status=status,
    )
