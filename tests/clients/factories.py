"""Trading data written straight into our tables, for tests of what reads it (360, retention).

The sync itself is tested against the sandbox MT5 server (tests/clients/test_sync.py)."""

import itertools
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from clients.models import Client, Deal, Position, TradingAccount, TradingServer

_tickets = itertools.count(10_000_000)
_logins = itertools.count(700_000)


def make_server(name="MT5 Test", **kwargs) -> TradingServer:
    server, _ = TradingServer.objects.get_or_create(
        name=name,
        defaults={
            "url": "http://127.0.0.1:9",
            "manager_login": "1000",
            "manager_password": "unused",
            "symbol_suffixes": [".m", ".pro", ".cash"],
            **kwargs,
        },
    )
    return server


def make_account(client: Client, *, server=None, currency="USD", balance="1000.00", **kwargs):
    balance = Decimal(balance)
    return TradingAccount.objects.create(
        client=client,
        server=server or make_server(),
        login=kwargs.pop("login", next(_logins)),
        group=kwargs.pop("group", f"real\\standard-{currency.lower()}"),
        currency=currency,
        leverage=kwargs.pop("leverage", 100),
        balance_amount=balance,
        equity_amount=kwargs.pop("equity", balance),
        margin_free_amount=kwargs.pop("margin_free", balance),
        refreshed_at=timezone.now(),
        backfill_pending=False,
        **kwargs,
    )


def make_deal(
    account: TradingAccount,
    *,
    at=None,
    days_ago: float | None = None,
    action=Deal.Action.BUY,
    entry=Deal.Entry.OUT,
    symbol="EURUSD",
    volume=10000,
    profit="0.00",
    swap="0.00",
    commission="0.00",
    comment="",
    update_last_trade=True,
) -> Deal:
    """One deal; a closing deal (entry OUT) with `profit` by default. Keeps the account's and
    client's last_trade_at as the sync would."""
    if at is None:
        at = timezone.now() - timedelta(days=days_ago or 0)
    deal = Deal.objects.create(
        server=account.server,
        ticket=next(_tickets),
        account=account,
        client=account.client,
        time=at,
        action=action,
        entry=entry,
        symbol="" if action == Deal.Action.BALANCE else symbol,
        volume=0 if action == Deal.Action.BALANCE else volume,
        price=Decimal("1.08500"),
        profit_amount=Decimal(profit),
        swap_amount=Decimal(swap),
        commission_amount=Decimal(commission),
        position_id=next(_tickets),
        comment=comment,
    )
    if update_last_trade and action in (Deal.Action.BUY, Deal.Action.SELL):
        for model, pk in ((TradingAccount, account.pk), (Client, account.client_id)):
            row = model.objects.get(pk=pk)
            if row.last_trade_at is None or row.last_trade_at < at:
                model.objects.filter(pk=pk).update(last_trade_at=at)
    return deal


def make_position(account: TradingAccount, *, symbol="EURUSD", profit="12.50", volume=10000):
    now = timezone.now()
    return Position.objects.create(
        server=account.server,
        position_id=next(_tickets),
        account=account,
        client=account.client,
        symbol=symbol,
        action=0,
        volume=volume,
        price_open=Decimal("1.08000"),
        price_current=Decimal("1.08125"),
        profit_amount=Decimal(profit),
        opened_at=now - timedelta(hours=3),
        synced_at=now,
    )


def fund_wallet(client: Client, amount="1000.00", currency="USD", key: str | None = None):
    """Credit the client's wallet as a completed deposit would (the ledger's own posting)."""
    from finance.ledger import Leg, clearing_for, ledger_post, wallet_for
    from finance.models import LedgerTransaction

    amount = Decimal(amount)
    ledger_post(
        kind=LedgerTransaction.Kind.DEPOSIT,
        idempotency_key=key or f"test-funding:{client.pk}:{currency}:{amount}",
        legs=[
            Leg(wallet_for(client, currency), amount),
            Leg(clearing_for("stripe", currency), -amount),
        ],
        actor="test",
        client=client,
    )
