"""A partner's network as a tree with each node's clients, lots and what they paid it, and the
rates a partner sets for its own sub-IBs, capped by its own."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from brokerage.errors import InvalidInput, NotAllowed
from brokerage.models import AuditEvent
from ib.models import CommissionLine, PartnerPlan
from ib.plans import (
    own_rates,
    partner_parent_set,
    partner_plan_set,
    plan_create,
    plan_version_create,
    programme_create,
    sub_ib_rates_set,
)
from ib.selectors import partner_tree
from tests.conftest import login, make_partner_user
from tests.ib.test_commissions import ACTOR, START, lines_of, pay_all, trade

pytestmark = pytest.mark.django_db
D = Decimal


def test_the_tree_shows_each_level_with_clients_lots_and_earnings(network):
    trade(network["account"], volume=25000)
    pay_all()
    nodes = partner_tree(partner=network["top"], since=START)
    assert [(n["partner"].referral_code, n["depth"]) for n in nodes] == [
        ("TOPIB001", 0),
        ("MIDIB001", 1),
        ("LEAFIB01", 2),
    ]
    leaf = nodes[2]
    assert leaf["clients"] == 1 and leaf["lots"] == D("2.5") and leaf["earned"] == D("5")
    assert nodes[1]["clients"] == 1 and nodes[1]["earned"] == 0  # mid's own client: no trades
    assert [n["direct"] for n in nodes] == [False, True, False]


def test_a_partner_sets_its_sub_ibs_rates_within_its_own(network):
    mid, leaf = network["mid"], network["leaf"]
    assert [(key, rate) for key, _, rate in own_rates(mid)] == [("fx_major", D("8"))]
    sub_ib_rates_set(parent=mid, sub=leaf, rates={"fx_major": "6.5"}, actor=mid.user)
    earlier = trade(network["account"], volume=10000)  # closed before: paid as it was
    deal = trade(network["account"], volume=10000, at=timezone.now() + timedelta(minutes=1))
    pay_all()
    assert lines_of(earlier)[("leaf", 0)] == D("5")
    assert lines_of(deal) == {("leaf", 0): D("6.5"), ("mid", 1): D("1.5"), ("top", 2): D("2")}
    line = CommissionLine.objects.get(deal=deal, tier=0)
    assert line.version.plan.name == "LEAFIB01 by MIDIB001"
    event = AuditEvent.objects.filter(action="partner.sub_rates_set").latest("id")
    assert event.evidence["rates"] == {"fx_major": "6.5"}


def test_a_partner_paid_by_an_inherited_plan_sets_rates_in_that_plans_programme(network):
    """A sub-IB without a plan of its own earns by its parent's: the rates it sets for its own
    sub-IB are capped by that plan and filed under that plan's programme, whichever programme
    happens to be first in the database."""
    other = programme_create(name="Another programme", actor=ACTOR)
    plan_create(programme=other, name="Unrelated", actor=ACTOR)
    premium = programme_create(name="Premium", actor=ACTOR)
    plan = plan_create(programme=premium, name="Premium top", actor=ACTOR)
    plan_version_create(
        plan=plan,
        valid_from=START,
        rules=[{"symbol_group": "fx_major", "rate": "9"}],
        actor=ACTOR,
        publish=True,
    )
    head = make_partner_user("head@test.example", "HEADIB01").partner
    partner_plan_set(partner=head, plan=plan, actor=ACTOR, valid_from=START)
    middle = make_partner_user("middle@test.example", "MIDDLE01").partner  # no plan of its own
    sub = make_partner_user("sub@test.example", "SUBIB001").partner
    partner_parent_set(
        partner=middle, parent=head, actor=ACTOR, reason="test tree", valid_from=START
    )
    partner_parent_set(
        partner=sub, parent=middle, actor=ACTOR, reason="test tree", valid_from=START
    )
    assert [(key, rate) for key, _, rate in own_rates(middle)] == [("fx_major", D("9"))]
    with pytest.raises(InvalidInput):
        sub_ib_rates_set(parent=middle, sub=sub, rates={"fx_major": "9.5"}, actor=middle.user)
    link = sub_ib_rates_set(parent=middle, sub=sub, rates={"fx_major": "7"}, actor=middle.user)
    assert link.plan.programme == premium
    assert link.plan.name == "SUBIB001 by MIDDLE01"


def test_rates_above_the_parents_own_or_not_numbers_are_refused_and_nothing_changes(network):
    mid, leaf = network["mid"], network["leaf"]
    before = PartnerPlan.objects.count()
    with pytest.raises(InvalidInput) as refused:
        sub_ib_rates_set(parent=mid, sub=leaf, rates={"fx_major": "9"}, actor=mid.user)
    assert refused.value.fields == {"fx_major": ["At most your own 8 per lot."]}
    with pytest.raises(InvalidInput):
        sub_ib_rates_set(parent=mid, sub=leaf, rates={"fx_major": "lots"}, actor=mid.user)
    with pytest.raises(InvalidInput, match="at least one rate"):
        sub_ib_rates_set(parent=mid, sub=leaf, rates={"fx_major": ""}, actor=mid.user)
    assert PartnerPlan.objects.count() == before


def test_only_the_direct_parent_sets_a_sub_ibs_rates(network):
    top, mid, leaf = network["top"], network["mid"], network["leaf"]
    with pytest.raises(NotAllowed):  # the grandparent
        sub_ib_rates_set(parent=top, sub=leaf, rates={"fx_major": "1"}, actor=top.user)
    with pytest.raises(NotAllowed):  # someone else acting as the parent
        sub_ib_rates_set(parent=mid, sub=leaf, rates={"fx_major": "1"}, actor=leaf.user)


def test_the_partner_pages_show_the_tree_and_set_rates(client, network):
    mid, leaf = network["mid"], network["leaf"]
    login(client, mid.user)
    page = client.get("/partners/network/").content.decode()
    assert "LEAFIB01" in page and f"/partners/network/{leaf.pk}/rates/" in page
    form = client.get(f"/partners/network/{leaf.pk}/rates/")
    assert form.status_code == 200 and "FX major" in form.content.decode()
    refused = client.post(f"/partners/network/{leaf.pk}/rates/", {"rate_fx_major": "12"})
    # refused like other refused forms: 400, the form again with its errors and the input
    assert refused.status_code == 400 and "At most your own 8 per lot." in refused.content.decode()
    assert 'value="12"' in refused.content.decode()
    done = client.post(f"/partners/network/{leaf.pk}/rates/", {"rate_fx_major": "7"})
    assert done.status_code == 302
    assert [(k, r) for k, _, r in own_rates(leaf)] == [("fx_major", D("7"))]
    # the top partner is not leaf's parent: no page for it
    login(client, network["top"].user)
    assert client.get(f"/partners/network/{leaf.pk}/rates/").status_code == 404


def test_the_sub_ib_rates_page_reads_the_plans_once(client, network, monkeypatch):
    """The page shows the partner's caps, its sub-IB's rates and its narrowed rates: the plans,
    tree and rules are loaded once for all three, not once each."""
    from ib.world import World

    loads = []
    original = World.load.__func__

    def counting(cls, symbols):
        loads.append(symbols)
        return original(cls, symbols)

    monkeypatch.setattr(World, "load", classmethod(counting))
    mid, leaf = network["mid"], network["leaf"]
    login(client, mid.user)
    assert client.get(f"/partners/network/{leaf.pk}/rates/").status_code == 200
    assert len(loads) == 1
    loads.clear()
    assert (
        client.post(f"/partners/network/{leaf.pk}/rates/", {"rate_fx_major": "12"}).status_code
        == 400
    )
    assert len(loads) == 2  # the page's, and the service's own (its transaction's)
