"""Wallet <-> trading account transfers against the sandbox MT5 server: exactly once."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from brokerage.errors import DomainError
from clients.platforms import platform_for
from clients.trading.services import trading_account_open
from finance.ledger import ledger_verify, wallet_for
from finance.models import Transfer
from finance.transfers import transfer_execute, transfer_request
from tests.clients.factories import fund_wallet
from tests.conftest import make_client_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def funded(mt5_server):
    client = make_client_user("mover@test.example").client
    fund_wallet(client, "1000.00")
    account, _ = trading_account_open(
        client=client,
        account_type=mt5_server.account_types.get(currency="USD"),
        leverage=100,
        actor="test",
    )
    return client, account


def _platform_balance(account):
    api = platform_for(account.server)
    try:
        return api.account_get(account.login).balance
    finally:
        api.close()


def _balance_deals(account, comment):
    api = platform_for(account.server)
    try:
        since = datetime.now(UTC) - timedelta(hours=1)
        batch = api.deals(logins=[account.login], since=since, until=datetime.now(UTC))
        return [d for d in batch.records if d.action == 2 and d.comment == comment]
    finally:
        api.close()


def _request(client, account, direction, amount):
    return transfer_request(
        client=client, trading_account=account, direction=direction, amount=amount, actor="test"
    )


def test_to_trading_and_back(funded):
    client, account = funded
    t = _request(client, account, "to_trading", "300.00")
    wallet = wallet_for(client, "USD")
    assert wallet.available_amount == Decimal("700.00")  # held at once
    assert transfer_execute(transfer_id=t.pk) == "completed"
    t = Transfer.objects.get(pk=t.pk)
    assert t.platform_ticket and t.ledger_transaction_id
    wallet.refresh_from_db()
    assert (wallet.balance_amount, wallet.held_amount) == (Decimal("700.00"), Decimal("0.00"))
    assert _platform_balance(account) == Decimal("300.00")
    assert transfer_execute(transfer_id=t.pk) == "already completed"  # a repeat does nothing
    assert len(_balance_deals(account, t.comment)) == 1

    back = _request(client, account, "from_trading", "120.50")
    assert transfer_execute(transfer_id=back.pk) == "completed"
    wallet.refresh_from_db()
    assert wallet.balance_amount == Decimal("820.50")
    assert _platform_balance(account) == Decimal("179.50")
    counts, problem = ledger_verify()
    assert problem is None


def test_from_trading_beyond_free_margin_fails_and_moves_nothing(funded):
    client, account = funded
    t = _request(client, account, "from_trading", "50.00")
    assert transfer_execute(transfer_id=t.pk) == "failed"
    t = Transfer.objects.get(pk=t.pk)
    assert "free margin" in t.failure_reason
    assert wallet_for(client, "USD").balance_amount == Decimal("1000.00")
    assert _platform_balance(account) == Decimal("0.00")


def test_more_than_the_wallet_is_refused_up_front(funded):
    client, account = funded
    with pytest.raises(DomainError) as err:
        _request(client, account, "to_trading", "1000.01")
    assert "available" in err.value.message
    assert not Transfer.objects.exists()
    for bad in ("abc", "-5", "0", "1e30", "10.001"):
        with pytest.raises(DomainError):
            _request(client, account, "to_trading", bad)


def test_another_clients_account_is_refused(funded):
    client, account = funded
    other = make_client_user("other@test.example").client
    with pytest.raises(DomainError):
        _request(other, account, "to_trading", "10.00")


def test_answer_lost_after_the_platform_executed(funded, mt5_server):
    """The connection drops after the balance operation is written: the ticket is found by the
    transfer's comment and the operation is never sent twice."""
    client, account = funded
    t = _request(client, account, "to_trading", "200.00")
    mt5_server.sandbox.control(
        "POST", "faults", {"drop_after_write": {"path": "/api/trade/balance", "count": 1}}
    )
    assert transfer_execute(transfer_id=t.pk) == "completed"
    assert len(_balance_deals(account, t.comment)) == 1
    assert _platform_balance(account) == Decimal("200.00")
    assert wallet_for(client, "USD").balance_amount == Decimal("800.00")


def test_a_resumed_transfer_looks_up_before_sending(funded):
    """A worker died after the platform executed: the next attempt finds the ticket."""
    client, account = funded
    t = _request(client, account, "to_trading", "150.00")
    api = platform_for(account.server)
    ticket = api.balance_operation(login=account.login, amount=Decimal("150.00"), comment=t.comment)
    api.close()
    stale = timezone.now() - timedelta(minutes=5)
    Transfer.objects.filter(pk=t.pk).update(attempts=1, started_at=stale)
    assert transfer_execute(transfer_id=t.pk) == "completed"
    t = Transfer.objects.get(pk=t.pk)
    assert t.platform_ticket == ticket and t.attempts == 2
    assert len(_balance_deals(account, t.comment)) == 1
    assert _platform_balance(account) == Decimal("150.00")


def test_a_claimed_transfer_is_not_run_twice(funded):
    client, account = funded
    t = _request(client, account, "to_trading", "10.00")
    Transfer.objects.filter(pk=t.pk).update(attempts=1, started_at=timezone.now())
    assert transfer_execute(transfer_id=t.pk) == "in progress"
    assert _balance_deals(account, t.comment) == []


def test_unreachable_platform_keeps_the_transfer_pending(funded, mt5_server):
    from clients.models import TradingServer
    from finance.transfers import TransferRetry

    client, account = funded
    t = _request(client, account, "to_trading", "10.00")
    TradingServer.objects.filter(pk=mt5_server.pk).update(url="http://127.0.0.1:9")
    with pytest.raises(TransferRetry):
        transfer_execute(transfer_id=t.pk)
    t = Transfer.objects.get(pk=t.pk)
    assert t.status == "pending" and t.started_at is None
    assert wallet_for(client, "USD").held_amount == Decimal("10.00")


def test_a_lookup_that_fails_never_fails_an_executed_transfer(funded, mt5_server):
    """The answer is lost and the lookup itself errors: the transfer stays pending (the
    platform did credit the account), and the next attempt finds the ticket."""
    from finance.transfers import TransferRetry

    client, account = funded
    t = _request(client, account, "to_trading", "75.00")
    mt5_server.sandbox.control(
        "POST",
        "faults",
        {
            "drop_after_write": {"path": "/api/trade/balance", "count": 1},
            "malformed": {"path": "/api/deal/get_batch", "count": 1},
        },
    )
    with pytest.raises(TransferRetry):
        transfer_execute(transfer_id=t.pk)
    t = Transfer.objects.get(pk=t.pk)
    assert t.status == "pending" and t.started_at is None
    assert wallet_for(client, "USD").held_amount == Decimal("75.00")
    assert transfer_execute(transfer_id=t.pk) == "completed"
    assert len(_balance_deals(account, t.comment)) == 1
    assert _platform_balance(account) == Decimal("75.00")


def test_a_restricted_client_cannot_transfer(funded):
    from clients.services import client_restrict

    client, account = funded
    client_restrict(client=client, actor="test", reason="AML review")
    with pytest.raises(DomainError) as err:
        _request(client, account, "to_trading", "10.00")
    assert "AML review" in err.value.message
    assert not Transfer.objects.exists()


def test_a_slow_answer_past_the_timeout_is_looked_up_not_resent(funded, mt5_server, settings):
    settings.PLATFORM_TIMEOUT_SECONDS = 1.0
    client, account = funded
    t = _request(client, account, "to_trading", "60.00")
    mt5_server.sandbox.control(
        "POST", "faults", {"slow": {"path": "/api/trade/balance", "seconds": 2.5, "count": 1}}
    )
    assert transfer_execute(transfer_id=t.pk) == "completed"
    assert len(_balance_deals(account, t.comment)) == 1
    assert _platform_balance(account) == Decimal("60.00")


def test_an_open_aml_case_blocks_transfers_both_ways(funded):
    from clients.services import client_aml_case_set
    from clients.standing import UNDER_REVIEW

    client, account = funded
    assert transfer_execute(transfer_id=_request(client, account, "to_trading", "50").pk)
    client_aml_case_set(client=client, is_open=True, actor="rule:aml", reason="Structuring")
    for direction in ("to_trading", "from_trading"):
        with pytest.raises(DomainError) as refused:
            _request(client, account, direction, "10.00")
        assert refused.value.message == UNDER_REVIEW
    assert Transfer.objects.count() == 1
    assert wallet_for(client, "USD").available_amount == Decimal("950.00")
