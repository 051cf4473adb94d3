"""The client's portal pages (home, trading accounts, an account, wallet, transfers) read as
many queries with 30 accounts, positions, deals, fundings and transfers as with 3."""

import pytest

from finance.models import Transfer
from tests.clients.factories import fund_wallet, make_account, make_deal, make_position
from tests.conftest import make_client_user, page_queries

pytestmark = pytest.mark.django_db


def _add(trader, start: int, n: int) -> None:
    for i in range(start, start + n):
        account = make_account(trader, balance="500.00")
        make_position(account)
        make_deal(account, days_ago=i % 5, profit="3.00")
        fund_wallet(trader, amount=f"{100 + i}.00", key=f"portal-queries:{i}")
        Transfer.objects.create(
            client=trader, trading_account=account, direction="to_trading", amount="10.00",
            currency="USD", comment=f"PQ{i}", status="completed",
        )  # fmt: skip


def test_the_portal_pages_read_as_many_queries_with_30_rows_as_with_3(client):
    user = make_client_user()
    trader = user.client
    _add(trader, 0, 3)
    first = trader.trading_accounts.order_by("pk").first()
    urls = [
        "/portal/",
        "/portal/trading/",
        f"/portal/trading/{first.pk}/",
        "/portal/wallet/",
        "/portal/wallet/transfer/",
        "/portal/wallet/withdraw/",
        "/portal/wallet/deposit/",
    ]
    few = page_queries(client, user, urls)
    _add(trader, 3, 27)
    for _ in range(27):
        make_deal(first, profit="-1.00")
    assert page_queries(client, user, urls) == few
