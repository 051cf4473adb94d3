"""A sync pass's new deals are paid by a real Celery worker on the `commissions` queue."""

import pytest

from clients.sync import _deals_synced
from ib.models import CommissionLine
from tests.conftest import wait_for
from tests.ib.test_commissions import trade

pytestmark = pytest.mark.django_db(transaction=True)


def test_new_deals_are_paid_by_the_worker_once_the_sync_pass_commits(network, worker):
    deal = trade(network["account"], volume=20000)
    _deals_synced([deal.pk])  # what the sync pass does after it stores them
    assert wait_for(lambda: CommissionLine.objects.filter(deal=deal).count() == 3, timeout=30)
    _deals_synced([deal.pk])  # told twice: nothing written twice
    assert not wait_for(lambda: CommissionLine.objects.filter(deal=deal).count() > 3, timeout=3)
    amounts = sorted(CommissionLine.objects.filter(deal=deal).values_list("amount", flat=True))
    assert sum(amounts) == 20  # 2 lots x the top rate of 10, shared 10 / 6 / 4
