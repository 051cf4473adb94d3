"""The client's wallet in the portal (/portal/wallet/).

Balances and history, deposits through a PSP's hosted payment page, closed-loop withdrawals
and the PDF statement. Every page is scoped to the signed-in client: another client's deposit
or withdrawal reference is a 404.
"""

from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import messages
from django.db.models import CharField, F, Value
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from brokerage.errors import DomainError
from brokerage.money import format_money
from brokerage.views import add_domain_error, paginate
from clients.models import TradingAccount
from clients.payment_reference import format_reference
from clients.permissions import client_required
from clients.trading.selectors import trading_accounts_of

from . import documents, selectors, services
from .bank_details import brokerage_account
from .forms import DepositForm, StatementForm, TransferForm, WithdrawForm
from .forms_wires import WireWithdrawForm
from .models import Deposit, Transfer, Withdrawal
from .models_wires import BANK_WIRE
from .psp import PSP_NAMES, PspError
from .transfers import transfer_request

HISTORY_PER_PAGE = 20
DEPOSIT_OPEN = (Deposit.Status.CREATED, Deposit.Status.PENDING)
CANCELLABLE = (Withdrawal.Status.REQUESTED, Withdrawal.Status.IN_REVIEW, Withdrawal.Status.APPROVED)

# What the client reads for each status (shorter than the staff's labels, and a deposit not yet
# at the PSP is simply pending); the colour is the status's one colour (`brokerage.status`).
DEPOSIT_LABELS = {
    Deposit.Status.CREATED: "pending",
    Deposit.Status.PENDING: "pending",
    Deposit.Status.COMPLETED: "completed",
    Deposit.Status.FAILED: "failed",
    Deposit.Status.EXPIRED: "expired",
}
WITHDRAWAL_LABELS = {
    Withdrawal.Status.REQUESTED: "requested",
    Withdrawal.Status.IN_REVIEW: "in review",
    Withdrawal.Status.APPROVED: "approved",
    Withdrawal.Status.PROCESSING: "paying out",
    Withdrawal.Status.PAID: "paid",
    Withdrawal.Status.FAILED: "failed",
    Withdrawal.Status.REJECTED: "rejected",
    Withdrawal.Status.CANCELLED: "cancelled",
    Withdrawal.Status.RETURNED: "returned by the bank",
}
TYPE_CHOICES = [("", "All types"), ("deposit", "Deposits"), ("withdrawal", "Withdrawals")]
STATUS_CHOICES = [("", "All statuses")] + [
    (value, label)
    for value, label in {
        **{k.value: v for k, v in DEPOSIT_LABELS.items() if k != Deposit.Status.CREATED},
        **{k.value: v for k, v in WITHDRAWAL_LABELS.items()},
    }.items()
]


def _add_error(form, exc: DomainError, aliases: dict[str, str] | None = None) -> None:
    """A service's error on the form: each field's messages on the field (the service's field
    names mapped to the form's by `aliases`), and the message on top unless a field already
    says exactly that."""
    shown = False
    for name, errors in exc.fields.items():
        field = (aliases or {}).get(name, name)
        if field not in form.fields:
            continue
        for error in errors:
            form.add_error(field, error)
            shown = shown or error == exc.message
    if not shown:
        form.add_error(None, exc.message)


# --- Wallet and history -------------------------------------------------------------------------


def _history(client, kind: str, status: str):
    """Deposits and withdrawals as one list (a UNION), newest first, for one paginated table."""
    movements = selectors.client_movements(client)
    parts = []
    for name, qs, at in (
        ("deposit", movements["deposits"], "created_at"),
        ("withdrawal", movements["withdrawals"], "requested_at"),
    ):
        if kind and kind != name:
            continue
        if status:
            statuses = [status]
            if name == "deposit" and status == Deposit.Status.PENDING:
                statuses.append(Deposit.Status.CREATED)
            qs = qs.filter(status__in=statuses)
        parts.append(
            qs.order_by()
            .annotate(
                row_kind=Value(name, output_field=CharField()),
                row_at=F(at),
                row_reference=F("reference"),
                row_psp=F("psp"),
                row_amount=F("amount"),
                row_currency=F("currency"),
                row_status=F("status"),
            )
            .values(
                "row_kind",
                "row_at",
                "row_reference",
                "row_psp",
                "row_amount",
                "row_currency",
                "row_status",
            )
        )
    combined = parts[0].union(*parts[1:], all=True) if len(parts) > 1 else parts[0]
    return combined.order_by("-row_at", "-row_reference")


def _history_row(row: dict) -> dict:
    labels = DEPOSIT_LABELS if row["row_kind"] == "deposit" else WITHDRAWAL_LABELS
    return {
        "kind": row["row_kind"],
        "at": row["row_at"],
        "reference": row["row_reference"],
        "method": PSP_NAMES.get(row["row_psp"], row["row_psp"]),
        "amount": row["row_amount"],
        "currency": row["row_currency"],
        "status": row["row_status"],
        "label": labels.get(row["row_status"], row["row_status"]),
        "cancellable": row["row_kind"] == "withdrawal" and row["row_status"] in CANCELLABLE,
    }


def _wallet_page(request, *, statement_form=None, status=200):
    client = request.user.client
    wallets = selectors.wallets_for_client(client)
    currencies = [w.currency for w in wallets]
    kind = request.GET.get("type", "")
    kind = kind if kind in dict(TYPE_CHOICES) else ""
    state = request.GET.get("status", "")
    state = state if state in dict(STATUS_CHOICES) else ""
    if statement_form is None:
        statement_form = StatementForm(
            currencies=currencies,
            initial={
                "currency": currencies[0] if currencies else "",
                "month": timezone.now().strftime("%Y-%m"),
            },
        )
    page, _ = paginate(request, _history(client, kind, state), per_page=HISTORY_PER_PAGE)
    query = "&".join(f"{k}={v}" for k, v in (("type", kind), ("status", state)) if v)
    ctx = {
        "client": client,
        "wallets": wallets,
        "page": page,
        "rows": [_history_row(r) for r in page],
        "query": query,
        "type": kind,
        "status": state,
        "type_choices": TYPE_CHOICES,
        "status_choices": STATUS_CHOICES,
        "statement_form": statement_form,
    }
    return render(request, "finance/portal/wallet.html", ctx, status=status)


@client_required
@require_GET
def wallet(request):
    return _wallet_page(request)


# --- Deposits -------------------------------------------------------------------------------------


@client_required
@require_http_methods(["GET", "POST"])
def deposit(request):
    client = request.user.client
    methods = selectors.deposit_methods_for(client)
    for m in methods:
        m.psp_name = PSP_NAMES.get(m.psp, m.psp)
    initial = {}
    if request.GET.get("currency"):
        match = next((m for m in methods if m.currency == request.GET["currency"]), None)
        initial["method"] = match.pk if match else None
    data = request.POST if request.method == "POST" else None
    form = DepositForm(data, methods=methods, initial=initial)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                created = services.deposit_create(
                    client=client,
                    method=form.cleaned_data["method"],
                    amount=form.cleaned_data["amount"],
                    actor=request.user,
                    request=request,
                )
            except DomainError as exc:
                _add_error(form, exc)
            else:
                back = request.build_absolute_uri(
                    reverse("wallet:deposit_status", args=[created.reference])
                )
                try:
                    opened = services.deposit_open_session(
                        deposit=created,
                        return_url=back,
                        cancel_url=f"{back}?cancelled=1",
                        notify_url=request.build_absolute_uri(f"/api/v1/webhooks/{created.psp}/"),
                    )
                except PspError:
                    form.add_error(
                        None,
                        f"{PSP_NAMES.get(created.psp, created.psp)} could not be reached, so "
                        "nothing was charged. Please try again in a few minutes or choose "
                        "another method.",
                    )
                    status = 502
                else:
                    return redirect(opened.redirect_url or back)
    recent = list(selectors.client_movements(client)["deposits"][:5])
    for d in recent:
        d.badge_label = DEPOSIT_LABELS[d.status]
    ctx = {
        "client": client,
        "form": form,
        "methods": methods,
        "selected": str(form["method"].value() or ""),
        "unverified_limit": _unverified_limit(),
        "recent": recent,
        "bank": brokerage_account(),
        "payment_reference": format_reference(client.payment_reference),
    }
    response = render(request, "finance/portal/deposit.html", ctx, status=status)
    response._csp_update = {"form-action": _psp_page_sources()}  # read by CSPMiddleware
    return response


def _psp_page_sources() -> list[str]:
    """Where the deposit form's redirect may lead. Browsers apply the page's CSP form-action to
    the redirect after a form is posted, and a PSP's hosted page is on the PSP's own host, which
    its API names in each answer (checkout.stripe.com, pay.checkout.com, ...): so any HTTPS
    origin, plus each configured API's origin (the sandbox, in development, is plain HTTP)."""
    sources = ["https:"]
    for config in settings.PSP_CONFIG.values():
        parts = urlsplit(config.get("api_url", ""))
        if parts.scheme in ("http", "https") and parts.netloc:
            origin = f"{parts.scheme}://{parts.netloc}"
            if origin not in sources:
                sources.append(origin)
    return sources


def _unverified_limit() -> str:
    return format_money(settings.KYC_UNVERIFIED_DEPOSIT_LIMIT_USD, "USD").replace(".00", "")


@client_required
@require_GET
def deposit_status(request, reference: str):
    client = request.user.client
    dep = get_object_or_404(selectors.client_movements(client)["deposits"], reference=reference)
    wallet = None
    if dep.status == Deposit.Status.COMPLETED:
        wallet = next(
            (w for w in selectors.wallets_for_client(client) if w.currency == dep.currency), None
        )
    ctx = {
        "deposit": dep,
        "method": PSP_NAMES.get(dep.psp, dep.psp),
        "label": DEPOSIT_LABELS[dep.status],
        "open": dep.status in DEPOSIT_OPEN,
        "cancelled": request.GET.get("cancelled") == "1",
        "wallet": wallet,
        "poll_url": request.get_full_path(),
    }
    template = "finance/portal/deposit_status.html"
    if request.htmx:
        template = "finance/portal/_deposit_status.html"
    return render(request, template, ctx)


# --- Withdrawals ----------------------------------------------------------------------------------


@client_required
@require_http_methods(["GET", "POST"])
def withdraw(request):
    client = request.user.client
    options = selectors.withdrawal_options_for(client)
    needs_kyc = client.kyc_level < 1
    initial = {}
    wanted = request.GET.get("currency")
    match = next((o for o in options if o["currency"] == wanted), None)
    if match:
        initial["option"] = WithdrawForm.key(match)
    data = request.POST if request.method == "POST" else None
    form = WithdrawForm(data, options=options, initial=initial)
    status = 200
    if request.method == "POST":
        status = 400
        if needs_kyc:
            form = WithdrawForm(options=options)
            status = 403
        elif form.is_valid():
            option = form.cleaned_data["option"]
            try:
                made = services.withdrawal_request(
                    client=client,
                    amount=form.cleaned_data["amount"],
                    currency=option["currency"],
                    psp=option["psp"],
                    actor=request.user,
                    request=request,
                )
            except DomainError as exc:
                _add_error(form, exc, {"psp": "option", "currency": "option"})
            else:
                amount = format_money(made.amount, made.currency)
                if made.status == Withdrawal.Status.APPROVED:
                    messages.success(
                        request,
                        f"Approved: your payout of {amount} to {option['name']} is on its way.",
                    )
                else:
                    messages.info(
                        request,
                        f"We are reviewing your request to withdraw {amount}. The funds are set "
                        "aside meanwhile; our finance team may contact you if they need anything.",
                    )
                return redirect("wallet:home")
    ctx = {
        "client": client,
        "form": form,
        "options": options,
        "selected": str(form["option"].value() or ""),
        "wallets": selectors.wallets_for_client(client),
        "needs_kyc": needs_kyc,
        "wires": brokerage_account() is not None,
        "open_withdrawals": [
            _history_row(
                {
                    "row_kind": "withdrawal",
                    "row_at": w.requested_at,
                    "row_reference": w.reference,
                    "row_psp": w.psp,
                    "row_amount": w.amount,
                    "row_currency": w.currency,
                    "row_status": w.status,
                }
            )
            for w in selectors.client_movements(client)["withdrawals"].filter(
                status__in=Withdrawal.OPEN
            )[:10]
        ],
    }
    return render(request, "finance/portal/withdraw.html", ctx, status=status)


@client_required
@require_http_methods(["GET", "POST"])
def withdraw_wire(request):
    """A withdrawal by bank wire to the client's own account: the same checks, limits and
    review as every withdrawal (`withdrawal_request`)."""
    client = request.user.client
    wallets = [w for w in selectors.wallets_for_client(client) if w.available_amount > 0]
    needs_kyc = client.kyc_level < 1
    form = WireWithdrawForm(
        request.POST if request.method == "POST" else None,
        currencies=[w.currency for w in wallets],
        initial={"currency": request.GET.get("currency", "")},
    )
    status = 200
    if request.method == "POST":
        status = 400
        if needs_kyc or brokerage_account() is None:
            status = 403
        elif form.is_valid():
            data = form.cleaned_data
            try:
                made = services.withdrawal_request(
                    client=client,
                    amount=data["amount"],
                    currency=data["currency"],
                    psp=BANK_WIRE,
                    iban=data["iban"],
                    bic=data["bic"],
                    actor=request.user,
                    request=request,
                )
            except DomainError as exc:
                _add_error(form, exc, {"psp": "currency"})
            else:
                amount = format_money(made.amount, made.currency)
                messages.success(
                    request,
                    f"Your wire of {amount} to the account ending {made.wire.iban[-4:]} is "
                    + (
                        "approved: it goes to our bank with the next payment run; we email you "
                        "when it is sent and when it is paid."
                        if made.status == Withdrawal.Status.APPROVED
                        else "being reviewed by our finance team; the funds are set aside."
                    ),
                )
                return redirect("wallet:home")
    ctx = {
        "client": client,
        "form": form,
        "wallets": wallets,
        "needs_kyc": needs_kyc,
        "name": request.user.get_full_name(),
        "available": brokerage_account() is not None,
    }
    return render(request, "finance/portal/withdraw_wire.html", ctx, status=status)


@client_required
@require_POST
def withdrawal_cancel(request, reference: str):
    client = request.user.client
    w = get_object_or_404(selectors.client_movements(client)["withdrawals"], reference=reference)
    try:
        services.withdrawal_cancel(
            withdrawal=w, actor=request.user, reason="Cancelled by the client"
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            f"Withdrawal {w.reference} cancelled: {format_money(w.amount, w.currency)} is "
            "available in your wallet again.",
        )
    if request.htmx:
        return HttpResponseClientRedirect(reverse("wallet:home"))
    return redirect("wallet:home")


# --- Statement ------------------------------------------------------------------------------------


@client_required
@require_GET
def statement_pdf(request):
    client = request.user.client
    currencies = [w.currency for w in selectors.wallets_for_client(client)]
    if request.GET.get("currency") not in currencies:
        raise Http404("You have no wallet in that currency.")
    form = StatementForm(request.GET, currencies=currencies)
    if not form.is_valid():
        return _wallet_page(request, statement_form=form, status=400)
    currency, start, end = (form.cleaned_data[k] for k in ("currency", "start", "end"))
    pdf = documents.statement_pdf(client=client, currency=currency, start=start, end=end)
    response = HttpResponse(pdf, content_type="application/pdf")
    name = f"statement-{client.pk}-{currency}-{start:%Y%m%d}-{end:%Y%m%d}.pdf"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "private, no-store"
    return response


# --- Transfers between the wallet and trading accounts ----------------------------------------


@client_required
@require_http_methods(["GET", "POST"])
def transfer(request):
    client = request.user.client
    accounts = list(trading_accounts_of(client).filter(status=TradingAccount.Status.ACTIVE))
    initial = {}
    if request.GET.get("account") in {str(a.pk) for a in accounts}:
        initial["trading_account"] = request.GET["account"]
    form = TransferForm(request.POST or None, accounts=accounts, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            t = transfer_request(
                client=client,
                trading_account=form.cleaned_data["trading_account"],
                direction=form.cleaned_data["direction"],
                amount=form.cleaned_data["amount"],
                actor=request.user,
                request=request,
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            return redirect("wallet:transfer_status", comment=t.comment)
    wallets = {w.currency: w for w in selectors.wallets_for_client(client)}
    return render(
        request,
        "finance/portal/transfer.html",
        {
            "form": form,
            "accounts": [(a, wallets.get(a.currency)) for a in accounts],
            "recent": Transfer.objects.filter(client=client).select_related("trading_account")[:10],
        },
    )


@client_required
def transfer_status(request, comment: str):
    client = request.user.client
    t = get_object_or_404(
        Transfer.objects.select_related("trading_account"), client=client, comment=comment
    )
    ctx = {
        "transfer": t,
        "open": t.status == Transfer.Status.PENDING,
        "poll_url": request.get_full_path(),
    }
    template = "finance/portal/transfer_status.html"
    if request.htmx:
        template = "finance/portal/_transfer_status.html"
    return render(request, template, ctx)
