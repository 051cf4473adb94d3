"""A sync pass's new deals are paid by a real Celery worker on the `commissions` queue."""

from datetime import timedelta

import pytest
from django.utils import timezone

from clients.sync import _deals_synced
from ib.engine import commissions_pay
from ib.models import CommissionLine
from ib.services import referral_attribute
from tests.clients.factories import make_account
from tests.conftest import make_client_user, wait_for
from tests.ib.test_commissions import ACTOR, trade

pytestmark = pytest.mark.django_db(transaction=True)


def test_new_deals_are_paid_by_the_worker_once_the_sync_pass_commits(network, worker):
    deal = trade(network["account"], volume=20000)
    _deals_synced([deal.pk])  # what the sync pass does after it stores them
    assert wait_for(lambda: CommissionLine.objects.filter(deal=deal).count() == 3, timeout=30)
    _deals_synced([deal.pk])  # told twice: nothing written twice
    assert not wait_for(lambda: CommissionLine.objects.filter(deal=deal).count() > 3, timeout=3)
    amounts = sorted(CommissionLine.objects.filter(deal=deal).values_list("amount", flat=True))
    assert sum(amounts) == 20  # 2 lots x the top rate of 10, shared 10 / 6 / 4


def test_a_window_run_split_by_client_pays_every_client_once(network, settings):
    """Outside a transaction a window's run is split by client over several connections at once:
    every client's deals paid, each once, and a rerun writes nothing."""
    settings.IB_RUN_SHARDS = 3
    deals = [trade(network["account"], volume=10000)]
    for i in range(5):  # clients whose ids leave every remainder
        client = make_client_user(f"shard{i}@test.example").client
        referral_attribute(client=client, code="LEAFIB01", actor=ACTOR)
        account = make_account(client, server=network["account"].server)
        deals.append(trade(account, volume=10000, at=timezone.now()))
    now = timezone.now()
    paid = commissions_pay(start=now - timedelta(days=1), end=now)
    assert paid["shards"] == 3 and paid["lines"] == 3 * len(deals)
    for deal in deals:
        assert CommissionLine.objects.filter(deal=deal).count() == 3
    assert commissions_pay(start=now - timedelta(days=1), end=now)["lines"] == 0
