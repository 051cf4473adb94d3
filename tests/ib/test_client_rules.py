"""Rule kinds beyond per lot: a percent of the markup, a CPA on a qualifying client (clawed back
on a chargeback), and revenue share with its negative carry-forward."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from brokerage.errors import InvalidInput
from clients.models import AccountType, AccountTypeMarkup, Client, Instrument
from finance.services import chargeback_open
from ib.client_rules import clawback_lines, cpa_clawback, cpa_pay, revshare_pay
from ib.models import CommissionLine, PartnerStatement, UnpricedDeal
from ib.periods import period_close
from ib.plans import (
    partner_plan_set,
    plan_create,
    plan_version_create,
    programme_create,
)
from ib.recompute import client_lines_recompute
from ib.services import referral_attribute
from tests.clients.factories import make_account, make_server
from tests.conftest import make_client_user, make_partner_user
from tests.finance.conftest import deposit_paid
from tests.ib.test_commissions import ACTOR, START, pay_all, trade

pytestmark = pytest.mark.django_db
D = Decimal

CPA_TERMS = {"min_deposit": "100", "min_lots": "1", "within_days": "30", "clawback_days": "90"}


def version(partner, rules, at=None):
    """A new version of the partner's own plan, in force from `at` (START + 1 h)."""
    plan = partner.plans.first().plan
    return plan_version_create(
        plan=plan,
        valid_from=at or START + timedelta(hours=1),
        rules=rules,
        actor=ACTOR,
        publish=True,
    )


def cpa_network(network, top="100", mid="60", leaf="40"):
    for key, rate in (("top", top), ("mid", mid), ("leaf", leaf)):
        rules = [{"symbol_group": "fx_major", "rate": "5"}]
        if rate is not None:
            rules.append({"kind": "cpa", "rate": rate, **CPA_TERMS})
        version(network[key], rules)


def earned(kind):
    return {
        line.partner.user.email.split("@")[0]: line.amount
        for line in CommissionLine.objects.filter(kind=kind).select_related("partner__user")
    }


def funded(network, methods, amount="200.00"):
    client = network["client"]
    Client.objects.filter(pk=client.pk).update(
        kyc_level=1, country="GB", id_document_expires_on=timezone.now().date() + timedelta(900)
    )
    return deposit_paid(Client.objects.get(pk=client.pk), methods["stripe"], amount)


# --- CPA -----------------------------------------------------------------------------------


def test_a_cpa_is_paid_once_when_the_client_qualifies_and_split_by_level(network, methods):
    cpa_network(network)
    funded(network, methods)
    soon = timezone.now() + timedelta(minutes=5)
    trade(network["account"], volume=6000, at=soon)
    assert cpa_pay() == 0  # 0.6 lot: not yet
    trade(network["account"], volume=4000, at=soon + timedelta(minutes=1))
    assert cpa_pay() == 3
    assert earned("cpa") == {"leaf": D("40"), "mid": D("20"), "top": D("40")}
    line = CommissionLine.objects.get(kind="cpa", tier=0)
    assert "first deposit 200 USD" in line.formula and "1 lots closed" in line.formula
    assert line.deal_id is None and line.event_key == f"cpa:{network['client'].pk}"
    # reruns and the sweep write nothing twice; a later trade pays no second CPA
    trade(network["account"], volume=50000, at=soon + timedelta(minutes=2))
    assert cpa_pay() == 0
    assert CommissionLine.objects.filter(kind="cpa").count() == 3


def test_no_cpa_below_the_minimum_deposit_or_outside_the_window(network, methods):
    cpa_network(network)
    funded(network, methods, "50.00")  # under the 100 minimum
    trade(network["account"], volume=20000, at=timezone.now() + timedelta(minutes=5))
    assert cpa_pay() == 0

    other = make_client_user("late@test.example").client
    referral_attribute(client=other, code="LEAFIB01", actor=ACTOR)
    Client.objects.filter(pk=other.pk).update(
        kyc_level=1, country="GB", id_document_expires_on=timezone.now().date() + timedelta(900)
    )
    deposit_paid(Client.objects.get(pk=other.pk), methods["stripe"], "500.00")
    account = make_account(other, server=make_server())
    trade(account, volume=20000, at=timezone.now() + timedelta(days=31))  # after 30 days
    assert cpa_pay() == 0
    assert not CommissionLine.objects.filter(kind="cpa").exists()


def test_a_chargeback_within_the_window_claws_the_cpa_back_once(network, methods):
    cpa_network(network)
    deposit = funded(network, methods)
    trade(network["account"], volume=10000, at=timezone.now() + timedelta(minutes=5))
    assert cpa_pay() == 3
    assert cpa_clawback() == 0  # no chargeback yet
    chargeback_open(
        deposit=deposit, amount=D("200.00"), provider_reference="dp_1", reason="fraud", actor=ACTOR
    )
    assert cpa_clawback() == 3
    assert cpa_clawback() == 0
    assert earned("clawback") == {"leaf": D("-40"), "mid": D("-20"), "top": D("-40")}
    back = CommissionLine.objects.get(kind="clawback", tier=0)
    assert back.reverses.kind == "cpa" and "charged back" in back.formula
    # ib_recompute computes the CPAs and their clawbacks again: the same, to the cent
    window = {"start": timezone.now() - timedelta(days=1), "end": timezone.now() + timedelta(1)}
    again = client_lines_recompute(**window)
    assert again.same and again.lines == 6 and again.total == 0
    # only the CPAs whose clawback can be dated in a window are read for it: not a later
    # window's (the CPA is older than its clawback days), nor an earlier one's
    cpa_at = CommissionLine.objects.get(kind="cpa", tier=0).deal_time
    assert len(clawback_lines(paid_too=True, since=cpa_at - timedelta(1), until=cpa_at)) == 0
    after = cpa_at + timedelta(days=91)
    assert len(clawback_lines(paid_too=True, since=after, until=after + timedelta(1))) == 0
    assert len(clawback_lines(paid_too=True, since=cpa_at, until=cpa_at + timedelta(1))) == 3
    assert client_lines_recompute(start=after, end=after + timedelta(days=30)).lines == 0
    # a stored CPA line that does not match its terms: the recompute says which differs
    CommissionLine.objects.filter(kind="cpa", tier=0).update(amount=D("41"))
    differs = client_lines_recompute(**window)
    assert not differs.same
    assert {(side, kind) for side, _, _, _, kind, _ in differs.differences} == {
        ("recomputed only", "cpa"),
        ("stored only", "cpa"),
        ("recomputed only", "clawback"),  # its clawback, from the stored CPA, claws back 41
        ("stored only", "clawback"),
    }


def test_a_cpa_for_a_client_related_to_its_partner_is_withheld(network, methods):
    """Self-referral: the client shares the leaf's phone, so the leaf's CPA waits for review;
    the levels above are paid."""
    for pk in (network["leaf"].holder.pk, network["client"].pk):
        Client.objects.filter(pk=pk).update(phone="+447700900123")
    cpa_network(network)
    funded(network, methods)
    trade(network["account"], volume=10000, at=timezone.now() + timedelta(minutes=5))
    assert cpa_pay() == 3
    leaf = CommissionLine.objects.get(kind="cpa", tier=0)
    assert leaf.status == "withheld" and leaf.hold_reasons[0]["code"] == "related_client"
    assert "Same phone" in leaf.hold_reasons[0]["message"]
    assert set(
        CommissionLine.objects.filter(kind="cpa", tier__gt=0).values_list("status", flat=True)
    ) == {"pending"}


def test_cpa_terms_are_checked_when_a_version_is_made(network):
    with pytest.raises(InvalidInput, match="paid per client, on every symbol"):
        version(network["top"], [{"kind": "cpa", "symbol": "EURUSD", "rate": "50"}])
    with pytest.raises(InvalidInput, match="days within which"):
        version(network["top"], [{"kind": "cpa", "rate": "50", "min_lots": "1"}])
    with pytest.raises(InvalidInput, match="at most 100"):
        version(network["top"], [{"kind": "revshare", "rate": "120"}])
    with pytest.raises(InvalidInput, match="not a number"):
        version(network["top"], [{"kind": "cpa", "rate": "50", "min_deposit": "lots"}])


def test_a_cpa_only_plan_leaves_deals_unpaid_but_not_unpriced(network):
    """A partner paid only by CPA earns nothing per deal, and its deals are not reported as
    missing a rate."""
    for key in ("top", "mid", "leaf"):
        version(network[key], [{"kind": "cpa", "rate": "10"}])
    deal = trade(network["account"], volume=10000, at=timezone.now())
    pay_all()
    assert not CommissionLine.objects.filter(deal=deal).exists()
    assert not UnpricedDeal.objects.filter(deal=deal).exists()


# --- Revenue share -------------------------------------------------------------------------


def test_revenue_share_pays_the_net_loss_and_carries_a_net_gain_forward(network):
    version(network["top"], [{"kind": "revshare", "rate": "30"}])
    version(network["leaf"], [{"kind": "revshare", "rate": "20"}])
    programme = network["top"].plans.first().plan.programme
    now = timezone.now()
    first = trade(network["account"], volume=10000, at=now - timedelta(hours=5))
    first.__class__.objects.filter(pk=first.pk).update(
        profit_amount=D("-1000"), commission_amount=D("-14")
    )
    one = period_close(
        programme=programme,
        start=now - timedelta(hours=6),
        end=now - timedelta(hours=4),
        actor=ACTOR,
    )
    assert earned("revshare") == {"leaf": D("202.8"), "top": D("101.4")}  # 1,014 lost
    line = CommissionLine.objects.get(kind="revshare", tier=0)
    assert line.period == one and "net loss 1014" in line.formula
    leaf_statement = PartnerStatement.objects.get(period=one, partner=network["leaf"])
    assert leaf_statement.amount == D("202.80") and leaf_statement.outcome == "credited"

    # the next period the client wins 2,000: the leaf's share is negative, carried forward
    won = trade(network["account"], volume=10000, at=now - timedelta(hours=3))
    won.__class__.objects.filter(pk=won.pk).update(profit_amount=D("2000"))
    two = period_close(
        programme=programme,
        start=now - timedelta(hours=4),
        end=now - timedelta(hours=2),
        actor=ACTOR,
    )
    statement = PartnerStatement.objects.get(period=two, partner=network["leaf"])
    assert statement.exact_amount == D("-400") and statement.outcome == "carried"
    carried = CommissionLine.objects.get(kind="adjustment", partner=network["leaf"])
    assert carried.amount == D("-400") and carried.period is None
    # rerunning the share of a closed window writes nothing twice
    again = revshare_pay(
        programme=programme, start=now - timedelta(hours=4), end=now - timedelta(hours=2)
    )
    assert again == 0
    # ib_recompute computes both periods' shares again: the same, to the cent
    recomputed = client_lines_recompute(start=now - timedelta(days=1), end=now)
    assert recomputed.same and recomputed.lines == 4


# --- Percent of the markup -----------------------------------------------------------------


def test_a_percent_of_the_markup_pays_points_times_contract_by_account_type():
    Instrument.objects.update_or_create(
        symbol="EURUSD",
        defaults={
            "asset_class": "fx_major",
            "contract_size": D("100000"),
            "digits": 5,
            "quote_currency": "USD",
        },
    )
    server = make_server()
    standard = AccountType.objects.create(
        server=server, name="Standard", group="real\\standard-usd", currency="USD"
    )
    AccountTypeMarkup.objects.create(
        account_type=standard,
        instrument=Instrument.objects.get(symbol="EURUSD"),
        markup_points=D("12"),
    )
    raw = AccountType.objects.create(
        server=server, name="Raw", group="real\\raw-usd", currency="USD"
    )
    programme = programme_create(name="Markup share", actor=ACTOR)
    plan = plan_create(programme=programme, name="Markup", actor=ACTOR)
    plan_version_create(
        plan=plan,
        valid_from=START,
        rules=[{"kind": "pct_markup", "rate": "50"}],
        actor=ACTOR,
        publish=True,
    )
    partner = make_partner_user("markup@test.example", "MARKUPIB").partner
    partner_plan_set(partner=partner, plan=plan, actor=ACTOR, valid_from=START)
    client = make_client_user("markup-client@test.example").client
    Client.objects.filter(pk=client.pk).update(created_at=START)
    client.refresh_from_db()
    referral_attribute(client=client, code="MARKUPIB", actor=ACTOR)
    on_standard = make_account(client, server=server, account_type=standard)
    on_raw = make_account(client, server=server, account_type=raw)
    paid = trade(on_standard, volume=25000)  # 2.5 lots x 12 points x 1 USD = 30 USD markup
    unpaid = trade(on_raw, volume=25000)  # no markup on this account type
    pay_all()
    line = CommissionLine.objects.get(deal=paid)
    assert line.amount == D("15") and line.base_amount == D("30")
    assert "2.5 lots x 12 markup per lot x 50 %" in line.formula
    assert not CommissionLine.objects.filter(deal=unpaid).exists()
