"""A rollup being rebuilt (the nightly rebuild, `rollups_rebuild`) keeps being read: pages read
its rows as they were until the rebuild commits, and a refresh meanwhile skips it instead of
waiting for it (brokerage.rollups). Transactional: the rebuild holds its own transaction in
a thread while this one reads."""

import threading

import pytest
from django.db import connection, transaction

from brokerage.models import RollupState
from brokerage.rollups import rollup_get, rollups_refresh
from tests.brokerage.test_rollups import _methods
from tests.finance.conftest import deposit_paid, verified_client

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_rebuild_blocks_neither_the_pages_nor_the_refresh():
    method = _methods()[0]
    for n in range(3):
        deposit_paid(verified_client(f"online{n}@rollups.test"), method, "100.00")
    rollups_refresh()
    with connection.cursor() as cur:
        cur.execute("SELECT count(*), sum(deposit_count) FROM finance_rollup_money")
        before = cur.fetchone()
    assert before[1] == 3

    started, release, failed = threading.Event(), threading.Event(), []

    def rebuild_held_open():
        try:
            with transaction.atomic():
                RollupState.objects.select_for_update().get(name="money")
                rollup_get("money").rebuild(None)
                started.set()
                release.wait(20)
        except Exception as exc:  # noqa: BLE001  (reported below)
            failed.append(exc)
            started.set()
        finally:
            connection.close()

    thread = threading.Thread(target=rebuild_held_open)
    thread.start()
    try:
        assert started.wait(20) and not failed
        with connection.cursor() as cur:
            cur.execute("SET lock_timeout = '2s'")  # a page waiting for the rebuild would fail
            cur.execute("SELECT count(*), sum(deposit_count) FROM finance_rollup_money")
            assert cur.fetchone() == before  # the rows as they were
            cur.execute("SET lock_timeout = 0")
        assert rollups_refresh(["money"]) == {"money": None}  # skipped, not waited for
    finally:
        release.set()
        thread.join(30)
    assert not failed
    assert rollups_refresh(["money"])["money"] is not None  # its turn again once committed
