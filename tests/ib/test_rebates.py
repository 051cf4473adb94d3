"""Rebates: a partner passes part of what it earns on its own clients back to them when a period
closes (a negative line on its statement, a credit to the client's wallet, an email)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from brokerage.errors import InvalidInput, NotAllowed
from clients.models import ClientActivity
from finance.ledger import wallet_for
from ib.models import CommissionLine, PartnerStatement, Rebate
from ib.periods import period_close
from ib.rebates import rebate_set, rebates_credit
from tests.conftest import login, make_client_user
from tests.ib.test_commissions import ACTOR, trade

pytestmark = pytest.mark.django_db
D = Decimal


def backdate(hours=3):
    """Rebates set before the period (the tests close a period that just ended)."""
    for n, rebate in enumerate(Rebate.objects.order_by("id")):
        rebate.valid_from = timezone.now() - timedelta(hours=hours) + timedelta(seconds=n)
        rebate.save(update_fields=["valid_from"])


def close(network, start, end):
    programme = network["top"].plans.first().plan.programme
    return period_close(programme=programme, start=start, end=end, actor=ACTOR)


def test_a_rebate_is_a_line_on_the_partners_statement_and_a_credit_to_the_client(network):
    leaf, client = network["leaf"], network["client"]
    rebate_set(partner=leaf, percent="25", actor=leaf.user)
    backdate()
    now = timezone.now()
    trade(network["account"], volume=40000, at=now - timedelta(minutes=30))  # leaf: 4 x 5 = 20
    period = close(network, now - timedelta(hours=2), now - timedelta(minutes=1))
    line = CommissionLine.objects.get(kind="rebate")
    assert (line.partner, line.client, line.amount) == (leaf, client, D("-5"))
    assert line.period == period and "25% of 20 USD earned on this client" in line.formula
    statement = PartnerStatement.objects.get(period=period, partner=leaf)
    assert statement.exact_amount == D("15") and statement.amount == D("15.00")
    assert wallet_for(leaf.holder, "USD").balance_amount == D("15.00")
    assert wallet_for(client, "USD").balance_amount == D("5.00")
    told = ClientActivity.objects.get(client=client, event_key=f"ib-rebate:{line.pk}")
    assert "commission rebate" in told.subject.lower()
    # crediting again changes nothing (keyed by the line)
    assert rebates_credit(period=period, actor=ACTOR) == 1
    assert wallet_for(client, "USD").balance_amount == D("5.00")
    assert ClientActivity.objects.filter(event_key=f"ib-rebate:{line.pk}").count() == 1
    # the mid and the top above are paid as before
    assert PartnerStatement.objects.get(period=period, partner=network["mid"]).amount == D("12")
    # ib_recompute computes the rebate again from the lines the period took: the same
    from ib.recompute import client_lines_recompute

    again = client_lines_recompute(start=now - timedelta(days=1), end=now)
    assert again.same and again.lines == 1 and again.total == D("-5")


def test_a_client_rebate_replaces_the_partners_one_and_only_own_clients_get_one(network):
    leaf, client = network["leaf"], network["client"]
    rebate_set(partner=leaf, percent="25", actor=leaf.user)
    rebate_set(partner=leaf, client=client, percent="10", actor=leaf.user)
    backdate()
    now = timezone.now()
    trade(network["account"], volume=40000, at=now - timedelta(minutes=30))
    close(network, now - timedelta(hours=2), now - timedelta(minutes=1))
    assert CommissionLine.objects.get(kind="rebate").amount == D("-2")
    stranger = make_client_user("stranger@test.example").client
    with pytest.raises(NotAllowed):
        rebate_set(partner=leaf, client=stranger, percent="10", actor=leaf.user)
    with pytest.raises(NotAllowed):  # the mid is not the client's IB (its sub-IB is)
        rebate_set(partner=network["mid"], client=client, percent="10", actor=network["mid"].user)
    with pytest.raises(InvalidInput, match="0 to 100"):
        rebate_set(partner=leaf, percent="120", actor=leaf.user)
    with pytest.raises(NotAllowed):  # another partner acting for the leaf
        rebate_set(partner=leaf, percent="5", actor=network["mid"].user)
    assert Rebate.objects.count() == 2


def test_the_partner_sets_and_reads_its_rebates_in_its_area(client, network):
    leaf = network["leaf"]
    login(client, leaf.user)
    page = client.get("/partners/rebates/")
    assert page.status_code == 200 and "All my clients" in page.content.decode()
    bad = client.post("/partners/rebates/", {"client": "", "percent": "lots"})
    assert bad.status_code == 400 and "percent" in bad.content.decode()
    other = client.post("/partners/rebates/", {"client": "999999", "percent": "10"})
    assert other.status_code == 400 and "your own clients" in other.content.decode()
    saved = client.post(
        "/partners/rebates/", {"client": str(network["client"].pk), "percent": "12.5"}
    )
    assert saved.status_code == 302
    shown = client.get("/partners/rebates/").content.decode()
    assert "12.5%" in shown and network["client"].user.email not in shown  # masked
    assert Rebate.objects.get().percent == D("12.5")
