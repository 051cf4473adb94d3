"""Opposite trades: a buy and a sell opened on one symbol within seconds by two clients of a
set, found in one query over the opening deals' (symbol, time) index."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from clients.links import opposite_trades
from clients.models import Deal
from tests.clients.factories import make_account, make_deal
from tests.conftest import make_client_user

pytestmark = pytest.mark.django_db
T0 = timezone.now().replace(microsecond=0) - timedelta(hours=1)
BUY, SELL, IN, OUT = Deal.Action.BUY, Deal.Action.SELL, Deal.Entry.IN, Deal.Entry.OUT


@pytest.fixture
def accounts(db):
    a = make_account(make_client_user("a@test.example").client)
    b = make_account(make_client_user("b@test.example").client)
    a2 = make_account(a.client)  # the same client's second account
    outside = make_account(make_client_user("c@test.example").client)
    return a, b, a2, outside


def opened(account, action, seconds, symbol="EURUSD", entry=IN):
    return make_deal(
        account, at=T0 + timedelta(seconds=seconds), action=action, entry=entry, symbol=symbol
    )


def test_a_buy_and_a_sell_within_ten_seconds_are_a_pair(accounts):
    a, b, *_ = accounts
    buy, sell = opened(a, BUY, 0), opened(b, SELL, 10)
    (pair,) = opposite_trades(account_ids=[a.pk, b.pk])
    assert (pair.buy_deal_id, pair.sell_deal_id, pair.symbol) == (buy.pk, sell.pk, "EURUSD")
    assert (pair.buy_client_id, pair.sell_client_id) == (a.client_id, b.client_id)
    assert (pair.buy_ticket, pair.sell_ticket, pair.buy_volume) == (buy.ticket, sell.ticket, 10000)
    assert pair.seconds_apart == 10
    # the sell first is the same pair; asked by clients, the same answer
    assert opposite_trades(client_ids=[a.client_id, b.client_id]) == [pair]


def test_the_sell_may_come_first(accounts):
    a, b, *_ = accounts
    opened(b, SELL, 0)
    opened(a, BUY, 9.5)
    assert [p.seconds_apart for p in opposite_trades(account_ids=[a.pk, b.pk])] == [9.5]


def test_eleven_seconds_apart_is_no_pair_unless_the_window_says_so(accounts):
    a, b, *_ = accounts
    opened(a, BUY, 0)
    opened(b, SELL, 11)
    assert opposite_trades(account_ids=[a.pk, b.pk]) == []
    assert len(opposite_trades(account_ids=[a.pk, b.pk], window_seconds=11)) == 1


def test_same_side_other_symbol_closing_deal_or_same_client_is_no_pair(accounts):
    a, b, a2, _ = accounts
    opened(a, BUY, 0)
    opened(b, BUY, 1)  # same side
    opened(b, SELL, 2, symbol="GBPUSD")  # another symbol
    opened(b, SELL, 3, entry=OUT)  # a closing deal
    assert opposite_trades(account_ids=[a.pk, b.pk]) == []
    opened(a2, SELL, 4)  # the same client's other account: no pair with a's buy...
    pairs = opposite_trades(account_ids=[a.pk, b.pk, a2.pk])
    assert [(p.buy_client_id, p.sell_account_id) for p in pairs] == [(b.client_id, a2.pk)]
    assert opposite_trades(account_ids=[a.pk, a2.pk]) == []  # ...only with b's


def test_only_accounts_of_the_set(accounts):
    a, b, _, outside = accounts
    opened(a, BUY, 0)
    opened(outside, SELL, 1)
    assert opposite_trades(account_ids=[a.pk, b.pk]) == []
    assert len(opposite_trades(account_ids=[a.pk, outside.pk])) == 1
    assert len(opposite_trades(account_ids=[a.pk, outside.pk], since=T0 + timedelta(1))) == 0
    assert opposite_trades(account_ids=[]) == []


def test_bad_questions_are_refused_clearly():
    with pytest.raises(ValueError, match="not both"):
        opposite_trades(account_ids=[1], client_ids=[1])
    with pytest.raises(ValueError, match="not both"):
        opposite_trades()
    with pytest.raises(ValueError, match="window_seconds"):
        opposite_trades(account_ids=[1], window_seconds=-1)


def test_one_query_reads_the_opening_deals_once_and_hashes_the_sides(accounts):
    a, b, _, outside = accounts
    for i in range(20):
        opened(a, BUY, i * 60)
        opened(b, SELL, i * 60 + 5)
    # A book around them: opening deals of another client on ten symbols over a month.
    symbols = [f"SYM{n}" for n in range(10)] + ["EURUSD"]
    Deal.objects.bulk_create(
        Deal(
            server=outside.server,
            ticket=90_000_000 + i,
            account=outside,
            client=outside.client,
            time=T0 - timedelta(minutes=10 * i),
            action=i % 2,
            entry=IN,
            symbol=symbols[i % len(symbols)],
            volume=10000,
        )
        for i in range(4000)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE clients_deal")
    with CaptureQueriesContext(connection) as ran:
        assert len(opposite_trades(account_ids=[a.pk, b.pk, outside.pk])) == 20
    (query,) = [q for q in ran if "clients_deal" in q["sql"]]
    # The set's opening deals are read once and the sides meet in a hash join: no probe per
    # buy, whatever the size of the set.
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_mergejoin = off")
        cursor.execute("SET LOCAL enable_nestloop = off")
        cursor.execute("EXPLAIN " + query["sql"])
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert plan.count(" on clients_deal ") == 1, plan
    assert "Hash Join" in plan, plan


def test_only_the_pairs_touching_given_deals_positions(accounts):
    """A sync pass asks only about the positions of its deals: a pair is found through the
    position's opening deal, whichever of the position's deals is given."""
    a, b, _, outside = accounts
    opened(a, BUY, 0)
    sell = opened(b, SELL, 5)
    early_buy = opened(a, BUY, 100)
    opened(b, SELL, 103)
    close = make_deal(b, at=T0 + timedelta(seconds=60), action=BUY, entry=OUT)
    Deal.objects.filter(pk__in=[sell.pk, close.pk]).update(position_id=777)
    ids = [a.pk, b.pk]
    everything = opposite_trades(account_ids=ids)
    assert len(everything) == 2
    assert opposite_trades(account_ids=ids, touching=[close.pk]) == [everything[0]]
    assert opposite_trades(account_ids=ids, touching=[early_buy.pk]) == [everything[1]]
    assert opposite_trades(account_ids=ids, touching=[sell.pk, early_buy.pk]) == everything
    assert opposite_trades(account_ids=ids, touching=[]) == []
    assert opposite_trades(account_ids=[a.pk, outside.pk], touching=[early_buy.pk]) == []


def test_the_join_hashes_on_symbol_and_bucket_whatever_the_planner_estimates():
    """Each buy is written out once per bucket it probes, so the hash join's keys are the
    symbol and the bucket: with the bucket step as a third relation, a low estimate of the set
    let the planner hash on the symbol alone and compare every buy with every sell of it (a
    night of the large book ran over 5 minutes instead of 4 s)."""
    import re
    from datetime import timedelta

    from django.db import connection

    from clients import links

    sql = links.OPPOSITE_SQL.format(
        deal="clients_deal", column="client_id", period="", volume="", range=""
    )
    params = {"ids": [1, 2, 3], "window": timedelta(seconds=10), "width": 10.0}
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_mergejoin = off")
        cursor.execute("SET LOCAL enable_nestloop = off")
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    # one hash join, between the buys and the sells, on two plain columns of each: no key
    # reaches across to the step (joined in some other order, the bucket could not be a key)
    (cond,) = re.findall(r"Hash Cond: (.*)", plan)
    assert "symbol" in cond and "bucket" in cond and "VALUES" not in cond, plan
