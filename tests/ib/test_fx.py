"""Money paid in another currency than the line's (`ib.fx`): a rebate into a client's wallet
kept in euros from a programme paying in dollars, a CPA whose qualifying deposit was in euros,
revenue share on a euro account and a markup quoted in euros: each converted at the rate of the
line's own date (never today's), the rate stored on the line, one rounding rule, and a
recompute after the rates moved giving the same."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from clients.models import AccountType, AccountTypeMarkup, Client, Instrument
from finance.ledger import system_account, wallet_for
from finance.models import FxRate, LedgerAccount
from finance.selectors import usd_rates_at, wallet_currency
from ib.client_rules import cpa_pay
from ib.engine import commissions_recompute
from ib.fx import converted_cents, fx_rate
from ib.models import CommissionLine, PartnerStatement
from ib.periods import period_close
from ib.rebates import rebate_set
from ib.recompute import client_lines_recompute
from tests.clients.factories import make_account
from tests.finance.conftest import deposit_paid
from tests.ib.test_client_rules import CPA_TERMS, version
from tests.ib.test_commissions import pay_all, trade
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


def euro_at(rate, *, days_ago=1):
    """The euro's USD rate recorded `days_ago` (its history dated then)."""
    FxRate.objects.update_or_create(currency="EUR", defaults={"usd_rate": D(rate)})
    FxRate.history.filter(currency="EUR").update(
        history_date=timezone.now() - timedelta(days=days_ago)
    )


def test_revenue_share_converts_at_the_rates_of_its_period_not_todays(network):
    for key, rate in (("top", "30"), ("leaf", "20")):
        version(network[key], [{"kind": "revshare", "rate": rate}])
    euro_at("1.08")
    euros = make_account(network["client"], server=network["account"].server, currency="EUR")
    now = timezone.now()
    lost = trade(euros, volume=10000, at=now - timedelta(hours=5))
    lost.__class__.objects.filter(pk=lost.pk).update(profit_amount=D("-1000"))
    # the euro moves after the period has ended and before it is closed: the period's rate
    # (1.08) converts its result, not the rate of the day it is closed (1.25)
    move_the_euro("1.25")
    programme = network["top"].plans.first().plan.programme
    period_close(
        programme=programme, start=now - timedelta(hours=6), end=now - timedelta(hours=4),
        actor="test",
    )  # fmt: skip
    leaf = CommissionLine.objects.get(kind="revshare", tier=0)
    top = CommissionLine.objects.get(kind="revshare", partner=network["top"])
    # 1,000 EUR lost x 1.08 = 1,080 USD: 20% to the leaf, the 10% left to the top
    assert (leaf.currency, leaf.base_amount, leaf.amount) == ("USD", D("1080"), D("216"))
    assert top.amount == D("108") and leaf.fx_rate == D("1.08")
    assert "net loss 1080 USD over 2 deals" in leaf.formula and "1000 EUR at 1.08" in leaf.formula
    # the euro moves again: a recompute converts at the period's rate, to the same checksum
    move_the_euro("0.90")
    again = client_lines_recompute(start=now - timedelta(days=1), end=now)
    assert again.same and again.lines == 2


def test_revenue_share_nets_each_account_currency_at_the_periods_rate(network):
    version(network["top"], [{"kind": "revshare", "rate": "50"}])
    euro_at("1.10")
    euros = make_account(network["client"], server=network["account"].server, currency="EUR")
    now = timezone.now()
    won = trade(network["account"], volume=10000, at=now - timedelta(hours=5))
    won.__class__.objects.filter(pk=won.pk).update(profit_amount=D("100"))
    lost = trade(euros, volume=10000, at=now - timedelta(hours=5))
    lost.__class__.objects.filter(pk=lost.pk).update(profit_amount=D("-300"))
    move_the_euro("2")
    programme = network["top"].plans.first().plan.programme
    period_close(
        programme=programme, start=now - timedelta(hours=6), end=now - timedelta(hours=4),
        actor="test",
    )  # fmt: skip
    line = CommissionLine.objects.get(kind="revshare", partner=network["top"])
    # 300 EUR x 1.10 = 330 USD lost, 100 USD won: 230 x 50% (today's rate would say 250)
    assert line.base_amount == D("230") and line.amount == D("115")


def test_a_markup_in_another_currency_converts_at_the_rate_of_the_deals_close(network):
    Instrument.objects.update_or_create(
        symbol="DE40",
        defaults={
            "asset_class": "indices",
            "contract_size": D("1"),
            "digits": 1,
            "quote_currency": "EUR",
        },
    )
    account_type = AccountType.objects.create(
        server=network["account"].server, name="Indices", group="real\\indices", currency="USD"
    )
    AccountTypeMarkup.objects.create(
        account_type=account_type,
        instrument=Instrument.objects.get(symbol="DE40"),
        markup_points=D("20"),
    )
    version(network["top"], [{"kind": "pct_markup", "rate": "50"}])
    account = make_account(
        network["client"], server=network["account"].server, account_type=account_type
    )
    euro_at("1.08", days_ago=3)
    before = trade(account, symbol="DE40", volume=10000, at=timezone.now() - timedelta(hours=2))
    move_the_euro("1.25")  # recorded an hour ago: deals closed before it keep 1.08
    FxRate.history.filter(currency="EUR", usd_rate=D("1.25")).update(
        history_date=timezone.now() - timedelta(hours=1)
    )
    after = trade(account, symbol="DE40", volume=10000, at=timezone.now() - timedelta(minutes=30))
    pay_all()
    old = CommissionLine.objects.get(deal=before, partner=network["top"])
    new = CommissionLine.objects.get(deal=after, partner=network["top"])
    # 1 lot x 20 points x 0.1 EUR = 2 EUR of markup; 50% of it in dollars at each deal's rate
    assert (old.base_amount, old.amount, old.fx_rate) == (D("2.16"), D("1.08"), D("1.08"))
    assert (new.base_amount, new.amount, new.fx_rate) == (D("2.5"), D("1.25"), D("1.25"))
    move_the_euro("0.5")
    again = commissions_recompute(
        start=timezone.now() - timedelta(days=1), end=timezone.now() + timedelta(days=1)
    )
    assert again.same and again.lines == 2, again
