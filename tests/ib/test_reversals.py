"""A reversal (an INOUT deal: a sell bigger than the open buy, or the other way round) pays only
the side the plan pays: closing deals earn on the volume it closes, opening deals on the
volume it opens; a plan paying both sides pays it whole."""

import itertools
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from clients.models import Deal
from ib.models import CommissionLine, Plan
from ib.plans import plan_version_create
from tests.ib.test_commissions import ACTOR, START, pay_all

pytestmark = pytest.mark.django_db
D = Decimal
_tickets = itertools.count(900_000)


def deal(account, *, action, entry, volume, minutes_ago, position=77):
    return Deal.objects.create(
        server=account.server,
        ticket=next(_tickets),
        account=account,
        client=account.client,
        time=timezone.now() - timedelta(minutes=minutes_ago),
        action=action,
        entry=entry,
        symbol="EURUSD",
        volume=volume,
        price=D("1.1"),
        position_id=position,
    )


def reversal(account):
    """Buy 1 lot; sell 3 (closes the 1, opens 2 short); buy 2 back (closes them)."""
    opened = deal(
        account, action=Deal.Action.BUY, entry=Deal.Entry.IN, volume=10000, minutes_ago=30
    )
    flipped = deal(
        account, action=Deal.Action.SELL, entry=Deal.Entry.INOUT, volume=30000, minutes_ago=20
    )
    closed = deal(
        account, action=Deal.Action.BUY, entry=Deal.Entry.OUT, volume=20000, minutes_ago=10
    )
    return opened, flipped, closed


def leaf_lots(deal_):
    line = CommissionLine.objects.filter(deal=deal_, tier=0).first()
    return line and (D(line.volume) / 10000, line.amount)


def entry_for_all(entry):
    for name in ("Top", "Mid", "Leaf"):
        plan = Plan.objects.get(name=name)
        rules = [
            {"symbol_group": r.symbol_group, "symbol": r.symbol, "rate": r.rate}
            for r in plan.versions.get(number=1).rules.all()
        ]
        plan_version_create(
            plan=plan, valid_from=START + timedelta(hours=1), rules=rules, actor=ACTOR,
            entry=entry, publish=True,
        )  # fmt: skip


def test_closing_deals_pay_the_volume_a_reversal_closes(network):
    opened, flipped, closed = reversal(network["account"])
    pay_all()
    assert leaf_lots(opened) is None
    assert leaf_lots(flipped) == (D("1"), D("5"))  # 1 of its 3 lots closed the buy
    assert leaf_lots(closed) == (D("2"), D("10"))
    assert "1 lots x" in CommissionLine.objects.get(deal=flipped, tier=0).formula


def test_opening_deals_pay_the_volume_a_reversal_opens(network):
    entry_for_all("in")
    opened, flipped, closed = reversal(network["account"])
    pay_all()
    assert leaf_lots(opened) == (D("1"), D("5"))
    assert leaf_lots(flipped) == (D("2"), D("10"))  # 2 of its 3 lots opened the short
    assert leaf_lots(closed) is None


def test_both_sides_pay_a_reversal_whole(network):
    entry_for_all("both")
    opened, flipped, closed = reversal(network["account"])
    pay_all()
    assert [leaf_lots(d)[0] for d in (opened, flipped, closed)] == [D("1"), D("3"), D("2")]
