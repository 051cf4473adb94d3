"""The client's trading accounts in the portal (/portal/trading/): open an account, see balances,
equity, open positions and deal history. Transfers live in the wallet (finance)."""

from django import forms
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from brokerage.errors import DomainError
from brokerage.leverage_limits import highest
from brokerage.views import add_domain_error, form_action, paginate

from . import trading
from .categories import (
    account_type_refusal,
    leverage_cap_of,
    leverage_caps_of,
    leverage_who,
    leverages_allowed,
)
from .instruments import LEVERAGE_CLASSES
from .models import AccountType, Deal, PlatformRestraint, TradingAccount
from .permissions import client_required

DEALS_PER_PAGE = 25


class OpenAccountForm(forms.Form):
    account_type = forms.ModelChoiceField(queryset=AccountType.objects.none(), empty_label=None)
    leverage = forms.TypedChoiceField(coerce=int, choices=())

    def __init__(self, *args, client, **kwargs):
        super().__init__(*args, **kwargs)
        queryset = trading.account_types_for(client)
        # Not the types trading a class a limit does not allow the client (crypto, UK retail).
        types = [t for t in queryset if account_type_refusal(client, t) is None]
        self.fields["account_type"].queryset = queryset.filter(pk__in=[t.pk for t in types])
        # Only what the client's leverage limit allows is offered (`clients.categories`).
        levels = leverages_allowed(client, sorted({lev for t in types for lev in t.leverages}))
        self.fields["leverage"].choices = [(lev, f"1:{lev}") for lev in levels]
        cap = leverage_cap_of(client)
        if cap is not None:
            self.fields[
                "leverage"
            ].help_text = f"Up to 1:{cap.max_leverage} for {leverage_who(client, cap)}."
        default = types[0].default_leverage if types else None
        if default and levels and not self.is_bound:
            self.initial["leverage"] = max((x for x in levels if x <= default), default=levels[0])


class LeverageForm(forms.Form):
    leverage = forms.TypedChoiceField(coerce=int, choices=(), label="New leverage")

    def __init__(self, *args, account, **kwargs):
        super().__init__(*args, **kwargs)
        offered = account.account_type.leverages if account.account_type else []
        levels = leverages_allowed(account.client, offered)
        self.fields["leverage"].choices = [(lev, f"1:{lev}") for lev in levels]
        if not self.is_bound:
            self.initial["leverage"] = account.leverage


@client_required
def accounts(request):
    client = request.user.client
    rows = list(trading.trading_accounts_of(client))
    return render(
        request,
        "clients/portal/accounts.html",
        {
            "client": client,
            "accounts": rows,
            # Where to get each server's platform (download, web terminal), once per server.
            "servers": list({a.server_id: a.server for a in rows}.values()),
            "positions": trading.positions_of(client)[:50],
            "recent_deals": trading.deals_of(client).exclude(action=Deal.Action.BALANCE)[:10],
            "can_open": trading.account_types_for(client).exists(),
            "openings": trading.openings_to_show(client),
        },
    )


@client_required
@never_cache  # the answer carries the account's password
@require_http_methods(["GET", "POST"])
def account_open(request):
    client = request.user.client
    form = OpenAccountForm(request.POST or None, client=client)
    if request.method == "POST" and form.is_valid():
        try:
            account, password = trading.trading_account_open(
                client=client,
                account_type=form.cleaned_data["account_type"],
                leverage=form.cleaned_data["leverage"],
                actor=request.user,
                request=request,
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            # The password is shown on this one answer and never stored (no redirect, so it
            # does not travel through the session or a cookie).
            return render(
                request,
                "clients/portal/account_opened.html",
                {"account": account, "password": password},
            )
    return render(
        request,
        "clients/portal/account_open.html",
        {"form": form, "types": trading.account_types_for(client)},
    )


@client_required
def account_detail(request, account_id: int):
    client = request.user.client
    account = get_object_or_404(trading.trading_accounts_of(client), pk=account_id)
    active = account.status == TradingAccount.Status.ACTIVE
    return _account_page(request, account, LeverageForm(account=account) if active else None)


def _account_page(request, account, leverage_form, *, status: int = 200):
    """The account page: figures, positions, history (by symbol), and its leverage: the caps
    by instrument class and whether it may trade now."""
    client = account.client
    deals = trading.deals_of(client, account)
    symbol = request.GET.get("symbol", "").strip().upper()[:32]
    if symbol:
        deals = deals.filter(symbol=symbol)
    page, query = paginate(request, deals, DEALS_PER_PAGE)
    caps = leverage_caps_of(client)
    restraint = PlatformRestraint.objects.filter(account=account).first()
    return render(
        request,
        "clients/portal/account.html",
        {
            "account": account,
            "positions": trading.positions_of(client, account),
            "page": page,
            "query": query,
            "symbol": symbol,
            "active": account.status == TradingAccount.Status.ACTIVE,
            "leverage_form": leverage_form,
            "cap": highest(caps),
            "class_caps": [(label, caps[k]) for k, label in LEVERAGE_CLASSES if k in caps],
            "trading_paused": bool(restraint and restraint.trading_disabled),
            "close_only": bool(restraint and restraint.moved_to_group),
        },
        status=status,
    )


@client_required
@require_http_methods(["POST"])
def account_leverage(request, account_id: int):
    """The client changes an account's leverage, within what their leverage limit allows."""
    client = request.user.client
    account = get_object_or_404(trading.trading_accounts_of(client), pk=account_id)
    form = LeverageForm(request.POST, account=account)
    done = form_action(
        request,
        form,
        lambda data: trading.trading_account_leverage_change(
            account=account, leverage=data["leverage"], actor=request.user, request=request
        ),
        success_url=reverse("portal:account", args=[account.pk]),
    )
    return done or _account_page(request, account, form, status=400)


@client_required
@never_cache  # the answer carries the new password
@require_http_methods(["GET", "POST"])
def account_password(request, account_id: int):
    """A new MT5 (main) password for one of the client's accounts, shown once."""
    client = request.user.client
    account = get_object_or_404(trading.trading_accounts_of(client), pk=account_id)
    error = ""
    if request.method == "POST":
        try:
            password = trading.trading_account_password_reset(
                account=account, actor=request.user, request=request
            )
        except DomainError as exc:
            error = exc.message
        else:
            return render(
                request,
                "clients/portal/account_opened.html",
                {"account": account, "password": password, "reset": True},
            )
    return render(
        request, "clients/portal/account_password.html", {"account": account, "error": error}
    )
