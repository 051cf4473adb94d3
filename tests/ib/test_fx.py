"""Money paid in another currency than the line's (`ib.fx`): a rebate into a client's wallet
kept in euros from a programme paying in dollars, and a CPA whose qualifying deposit was in
euros; the rate stored on the line, one rounding rule, and a recompute after the rates moved
giving the same."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from clients.models import Client
from finance.ledger import system_account, wallet_for
from finance.models import FxRate, LedgerAccount
from finance.selectors import usd_rates_at, wallet_currency
from ib.client_rules import cpa_pay
from ib.fx import converted_cents, fx_rate
from ib.models import CommissionLine, PartnerStatement
from ib.rebates import rebate_set
from ib.recompute import client_lines_recompute
from tests.finance.conftest import deposit_paid
from tests.ib.test_client_rules import CPA_TERMS, version
from tests.ib.test_commissions import trade
from tests.ib.test_rebates import backdate, close

pytestmark = pytest.mark.django_db
D = Decimal


def euro_client(network, methods, amount="200.00"):
    """The client's first deposit is in euros (its wallet is kept in euros); the euro's rate
    (1.08 USD) recorded a day ago."""
    FxRate.history.filter(currency="EUR").update(history_date=timezone.now() - timedelta(days=1))
    client = network["client"]
    Client.objects.filter(pk=client.pk).update(
        kyc_level=1, country="GB", id_document_expires_on=timezone.now().date() + timedelta(900)
    )
    deposit_paid(Client.objects.get(pk=client.pk), methods["skrill"], amount)
    return Client.objects.get(pk=client.pk)


def move_the_euro(rate):
    eur = FxRate.objects.get(currency="EUR")
    eur.usd_rate = D(rate)
    eur.save()  # recorded in its history now


def test_a_rebate_is_credited_in_the_clients_wallet_currency_at_the_stored_rate(network, methods):
    leaf = network["leaf"]
    client = euro_client(network, methods)
    assert wallet_currency(client) == "EUR"
    rebate_set(partner=leaf, percent="25", actor=leaf.user)
    backdate()
    now = timezone.now()
    trade(network["account"], volume=40000, at=now - timedelta(minutes=30))  # leaf: 20 USD
    euros_before = wallet_for(client, "EUR").balance_amount
    period = close(network, now - timedelta(hours=2), now - timedelta(minutes=1))
    line = CommissionLine.objects.get(kind="rebate")
    # the line stays in the programme's dollars (the partner's statement nets it there) ...
    assert (line.currency, line.amount) == ("USD", D("-5"))
    statement = PartnerStatement.objects.get(period=period, partner=leaf)
    assert statement.currency == "USD" and statement.exact_amount == D("15")
    # ... and is paid in euros at the rate of the period's end, kept to 6 places: 1 / 1.08
    assert (line.paid_currency, line.fx_rate) == ("EUR", D("0.925926"))
    assert "paid into the client's EUR wallet at 0.925926 EUR per USD: 4.63 EUR" in line.formula
    # 5 x 0.925926 = 4.62963, rounded once, half up, to cents
    assert converted_cents(-line.amount, line.fx_rate) == D("4.63")
    assert wallet_for(client, "EUR").balance_amount == euros_before + D("4.63")
    assert not LedgerAccount.objects.filter(
        kind="client_wallet", client=client, currency="USD", balance_amount__gt=0
    ).exists()
    # the conversion goes through the broker's FX account in each currency: each sums to 0
    fx_usd = system_account(LedgerAccount.Kind.FX_CONVERSION, "USD")
    fx_eur = system_account(LedgerAccount.Kind.FX_CONVERSION, "EUR")
    assert (fx_usd.balance_amount, fx_eur.balance_amount) == (D("5.00"), D("-4.63"))
    # the euro moves afterwards: the rate of the period's end is the one read again
    move_the_euro("1.25")
    assert usd_rates_at(period.end)["EUR"] == D("1.08")
    assert fx_rate("USD", "EUR", at=period.end) == line.fx_rate
    again = client_lines_recompute(start=now - timedelta(days=1), end=now)
    assert again.same and again.lines == 1


def test_a_rebate_without_a_rate_for_the_wallet_is_paid_in_the_lines_currency(network, methods):
    leaf = network["leaf"]
    client = euro_client(network, methods)
    FxRate.objects.filter(currency="EUR").delete()
    FxRate.history.filter(currency="EUR").delete()
    rebate_set(partner=leaf, percent="25", actor=leaf.user)
    backdate()
    now = timezone.now()
    trade(network["account"], volume=40000, at=now - timedelta(minutes=30))
    close(network, now - timedelta(hours=2), now - timedelta(minutes=1))
    line = CommissionLine.objects.get(kind="rebate")
    assert (line.paid_currency, line.fx_rate) == ("", D("1"))
    assert "no EUR rate: paid in USD" in line.formula
    assert wallet_for(client, "USD").balance_amount == D("5.00")


def test_a_cpa_converts_its_euro_deposit_at_the_rate_of_its_day_and_keeps_it(network, methods):
    for key, rate in (("top", "100"), ("leaf", "40")):
        version(network[key], [{"symbol_group": "fx_major", "rate": "5"},
                               {"kind": "cpa", "rate": rate, **CPA_TERMS}])  # fmt: skip
    euro_client(network, methods, "100.00")  # 108 USD: at least the 100 the CPA asks
    trade(network["account"], volume=10000, at=timezone.now() + timedelta(minutes=1))
    assert cpa_pay() == 2
    line = CommissionLine.objects.get(kind="cpa", tier=0)
    assert (line.currency, line.fx_rate, line.amount) == ("USD", D("1.08"), D("40"))
    assert "first deposit 100 EUR = 108 USD at 1.08" in line.formula
    # the euro falls: 100 EUR would now be 90 USD, under the minimum; the CPA was decided at
    # the rate of the deposit's day, and a recompute decides it the same
    move_the_euro("0.90")
    again = client_lines_recompute(
        start=timezone.now() - timedelta(days=1), end=timezone.now() + timedelta(days=1)
    )
    assert again.same and again.lines == 2
