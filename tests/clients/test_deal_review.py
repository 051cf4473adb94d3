"""The deals review finds the deals a dealer corrected or deleted on the MT5 server (the sandbox,
through its documented deal/update and deal/delete) after we stored them: an append-only
revision each, the deal taking the platform's values (a removed deal marked, never deleted),
an audit event; unchanged deals, deals outside the window, accounts not asked about and a
failed answer mark nothing; a second run finds nothing more."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from brokerage.models import AuditEvent
from clients.deal_review import deals_review_run
from clients.models import Deal, DealRevision, SyncRun, TradingAccount, TradingServer
from clients.sync import server_sync, sync_runs_prune
from tests.clients.test_sync import _account, _trade

pytestmark = pytest.mark.django_db


def _synced(mt5_server, n=3):
    account = _account(mt5_server)
    trades = [_trade(mt5_server, account, "EURUSD", "10.00") for _ in range(n)]
    server_sync(server_id=mt5_server.pk)
    closing = [Deal.objects.get(ticket=t["deals"][-1]) for t in trades]
    return account, closing


def _control(mt5_server, path, payload):
    status, answer = mt5_server.sandbox.control("POST", path, payload)
    assert status == 200 and answer["retcode"] == "0 Done", answer
    return answer


def test_a_correction_and_a_removal_are_found_once(mt5_server, django_capture_on_commit_callbacks):
    _, (fixed, gone, same) = _synced(mt5_server)
    _control(
        mt5_server,
        "deal_update",
        {"ticket": fixed.ticket, "fields": {"Volume": "500", "Profit": "4.20"}},
    )
    _control(mt5_server, "deal_delete", {"ticket": gone.ticket})

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        result = deals_review_run(server_id=mt5_server.pk)

    assert (result["corrected"], result["removed"]) == (1, 1)
    # the commissions are told after each revision commits
    assert sum("revision_pay_task" in repr(c) for c in callbacks) == 2
    revision = DealRevision.objects.get(deal=fixed)
    assert revision.kind == "corrected" and revision.number == 1
    assert set(revision.changed) == {"volume", "volume_ext", "profit_amount"}
    assert revision.before["volume"] == 1000 and revision.after["volume"] == 500
    assert revision.before["profit_amount"] == "10" and revision.after["profit_amount"] == "4.2"
    run = revision.sync_run
    assert run.kind == SyncRun.Kind.REVIEW and run.ingested == 2 and not run.error
    fixed.refresh_from_db()
    assert (fixed.volume, fixed.profit_amount, fixed.revision) == (500, Decimal("4.20"), 1)
    assert fixed.revision_label == "Corrected on the platform"
    gone.refresh_from_db()  # kept: commission lines reference it
    assert gone.removed_at is not None and gone.revision == 1
    assert DealRevision.objects.get(deal=gone).after is None
    assert not DealRevision.objects.filter(deal=same).exists()
    same.refresh_from_db()
    assert same.revision == 0 and same.removed_at is None
    # the account's running figures (the 360's all-time totals) follow the deals as they stand
    account = TradingAccount.objects.get(pk=fixed.account_id)
    standing = Deal.objects.filter(account=account, removed_at__isnull=True, action__in=(0, 1))
    closed = [d for d in standing if d.entry in (1, 2, 3)]
    assert account.trade_deals == len(standing) and account.closed_trades == len(closed) == 2
    assert account.closed_volume == sum(d.volume for d in closed) == 1500
    assert account.realized_pl_amount == sum(d.net_amount for d in standing)
    audit = AuditEvent.objects.get(action="deal.corrected", target_id=str(fixed.pk))
    assert "volume 0.10 -> 0.05 lots" in audit.reason and audit.subject_client_id == fixed.client_id
    assert AuditEvent.objects.filter(action="deal.removed", target_id=str(gone.pk)).exists()

    again = deals_review_run(server_id=mt5_server.pk)
    assert (again["corrected"], again["removed"]) == (0, 0)
    assert DealRevision.objects.count() == 2
    # a later correction of the same deal is its second revision
    _control(mt5_server, "deal_update", {"ticket": fixed.ticket, "fields": {"Price": "1.2"}})
    assert deals_review_run(server_id=mt5_server.pk)["corrected"] == 1
    assert list(fixed.revisions.order_by("number").values_list("number", flat=True)) == [1, 2]
    # the runs that found revisions outlive the pruning
    SyncRun.objects.update(started_at=timezone.now() - timedelta(days=30))
    sync_runs_prune()
    assert SyncRun.objects.filter(kind=SyncRun.Kind.REVIEW, ingested__gt=0).count() == 2


def test_deals_outside_the_window_and_accounts_not_asked_about_are_never_marked(mt5_server):
    account, (old, other, _) = _synced(mt5_server)
    Deal.objects.filter(pk=old.pk).update(time=timezone.now() - timedelta(days=5))
    _control(mt5_server, "deal_delete", {"ticket": old.ticket})
    result = deals_review_run(server_id=mt5_server.pk)
    # the platform answered for the last 3 days only: a deal older is not "missing"
    assert (result["corrected"], result["removed"]) == (0, 0)

    _control(mt5_server, "deal_delete", {"ticket": other.ticket})
    TradingAccount.objects.filter(pk=account.pk).update(status=TradingAccount.Status.CLOSED)
    assert deals_review_run(server_id=mt5_server.pk)["removed"] == 0  # not asked about
    TradingServer.objects.filter(pk=mt5_server.pk).update(deals_review_days=0)
    assert "off" in deals_review_run(server_id=mt5_server.pk)["skipped"]
    assert not DealRevision.objects.exists()
    assert not Deal.objects.filter(removed_at__isnull=False).exists()


def test_a_failed_answer_marks_nothing(mt5_server):
    _, (first, unreadable, _) = _synced(mt5_server)
    # a deal the platform now reports with a symbol we cannot read: neither corrected nor gone
    _control(mt5_server, "deal_update", {"ticket": unreadable.ticket, "fields": {"Symbol": "ZZZ"}})
    result = deals_review_run(server_id=mt5_server.pk)
    assert (result["corrected"], result["removed"]) == (0, 0)
    _control(mt5_server, "deal_delete", {"ticket": first.ticket})
    mt5_server.sandbox.control(
        "POST", "faults", {"malformed": {"path": "/api/deal/get_batch", "count": 1}}
    )
    result = deals_review_run(server_id=mt5_server.pk)
    assert "not JSON" in result["error"] and result["removed"] == 0
    assert SyncRun.objects.filter(kind=SyncRun.Kind.REVIEW).latest("started_at").error
    # the platform cannot say whether a missing deal exists: nothing is marked either
    mt5_server.sandbox.control(
        "POST", "faults", {"malformed": {"path": "/api/deal/get", "count": 1}}
    )
    assert deals_review_run(server_id=mt5_server.pk)["removed"] == 0
    assert not DealRevision.objects.exists()
    # answered in full, the removal is found
    assert deals_review_run(server_id=mt5_server.pk)["removed"] == 1


def test_ops_set_a_servers_review_window_in_admin(root_admin):
    from tests.clients.factories import make_server

    server = make_server()
    page = root_admin.get(f"/admin/clients/tradingserver/{server.pk}/change/").content.decode()
    assert 'name="deals_review_days"' in page and 'value="3"' in page


def test_a_review_runs_beside_the_sync_and_never_holds_up_the_new_deals(mt5_server):
    """A review reads days of deals (one lookup per deal the platform no longer reports): it
    holds a lock of its own, so the deal sync goes on meanwhile; two reviews never overlap."""
    from clients import sync

    account, _ = _synced(mt5_server, n=1)
    with sync.server_held(mt5_server.pk, purpose="review") as (server, platform, problem):
        assert problem is None
        _trade(mt5_server, account, "EURUSD", "5.00")
        assert server_sync(server_id=mt5_server.pk)["deals"]["ingested"] == 2  # not held up
        assert "review" in deals_review_run(server_id=mt5_server.pk)["skipped"]
    with sync.server_held(mt5_server.pk) as (server, platform, problem):  # a pass running
        assert problem is None
        assert "skipped" not in deals_review_run(server_id=mt5_server.pk)
