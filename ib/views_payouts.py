"""The partner's payouts (/partners/payouts/): its commissions wallet, how each period's
statement was settled (statement -> wallet credit -> payout) and its withdrawals, and a payout
request through the one withdrawal workflow (`finance.services.withdrawal_request`: the same
checks, four eyes and bank-wire payout as any withdrawal; a partner is paid by wire to an
account in its own name)."""

from decimal import Decimal

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from brokerage.errors import DomainError
from brokerage.money import format_money
from brokerage.views import add_domain_error, paginate
from finance.selectors import client_movements, wallets_for_client
from finance.services import withdrawal_request

from .permissions import partner_required
from .selectors import partner_statements

BANK_WIRE = "bank_wire"


class PayoutForm(forms.Form):
    currency = forms.ChoiceField(label="From your commissions wallet in")
    amount = forms.DecimalField(
        label="Amount",
        max_digits=20,
        decimal_places=2,
        min_value=Decimal("0.01"),
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )
    iban = forms.CharField(label="IBAN", max_length=50, help_text="Of an account in your name.")
    bic = forms.CharField(label="BIC (SWIFT code)", max_length=15, required=False)

    def __init__(self, *args, currencies, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["currency"].choices = [(c, c) for c in currencies]


def _settlements(holder, statements) -> list[dict]:
    """Each statement with the withdrawal that paid it out, if any (one read for the page)."""
    refs = [s.payout_reference for s in statements if s.payout_reference]
    paid = {
        w.reference: w for w in client_movements(holder)["withdrawals"].filter(reference__in=refs)
    }
    return [{"statement": s, "payout": paid.get(s.payout_reference)} for s in statements]


@partner_required
def payouts(request):
    partner = request.user.partner
    holder = partner.holder
    statements = list(partner_statements(partner=partner).order_by("-period__start", "-id")[:12])
    page, query = paginate(
        request, client_movements(holder)["withdrawals"].order_by("-requested_at", "-id")
    )
    return render(
        request,
        "partners/payouts.html",
        {
            "wallets": wallets_for_client(holder),
            "settlements": _settlements(holder, statements),
            "page": page,
            "query": query,
            "needs_kyc": holder.kyc_level < 1,
        },
    )


@partner_required
@require_http_methods(["GET", "POST"])
def payout_request(request):
    partner = request.user.partner
    holder = partner.holder
    wallets = [w for w in wallets_for_client(holder) if w.available_amount > 0]
    needs_kyc = holder.kyc_level < 1
    form = PayoutForm(
        request.POST if request.method == "POST" else None,
        currencies=[w.currency for w in wallets],
        # the wallet its commissions are credited in first (`ib.wallets`)
        initial={
            "iban": partner.payout_iban,
            "bic": partner.payout_bic,
            "currency": partner.wallet_currency,
        },
    )
    status = 200
    if request.method == "POST":
        status = 400
        if needs_kyc:
            status = 403
        elif form.is_valid():
            data = form.cleaned_data
            try:
                made = withdrawal_request(
                    client=holder,
                    amount=data["amount"],
                    currency=data["currency"],
                    psp=BANK_WIRE,
                    iban=data["iban"],
                    bic=data["bic"],
                    actor=request.user,
                    request=request,
                )
            except DomainError as exc:
                add_domain_error(form, exc)
            else:
                amount = format_money(made.amount, made.currency)
                messages.success(
                    request,
                    f"Payout {made.reference} of {amount} requested: "
                    + (
                        "approved, it goes with our next bank payment run."
                        if made.status == made.Status.APPROVED
                        else "our finance team reviews it; the amount is set aside meanwhile."
                    ),
                )
                return redirect("partners:payouts")
    return render(
        request,
        "partners/payout_request.html",
        {
            "form": form,
            "wallets": wallets,
            "needs_kyc": needs_kyc,
            "name": holder.legal_name or request.user.get_full_name(),
        },
        status=status,
    )
