"""Portal trading pages, wallet transfers over HTTP, and the back-office sync page."""

import pytest

from clients.models import TradingAccount
from clients.sync import server_sync
from finance.models import Transfer
from finance.transfers import transfer_execute
from tests.clients.factories import fund_wallet
from tests.conftest import login, make_client_user, make_staff

pytestmark = pytest.mark.django_db


def _fund(client_obj, amount="500.00"):
    fund_wallet(client_obj, amount)


def test_open_an_account_fund_it_and_see_it(client, mt5_server):
    user = make_client_user()
    _fund(user.client)
    login(client, user)
    page = client.get("/portal/trading/")
    assert b"No trading account yet" in page.content

    form = client.get("/portal/trading/open/")
    assert b"Standard USD" in form.content
    usd = mt5_server.account_types.get(currency="USD")
    bad = client.post("/portal/trading/open/", {"account_type": usd.pk, "leverage": 500})
    assert bad.status_code == 200 and b"Select a valid choice" in bad.content
    opened = client.post("/portal/trading/open/", {"account_type": usd.pk, "leverage": 200})
    account = TradingAccount.objects.get(client=user.client)
    assert f"data-login>{account.login}<".encode() in opened.content
    assert b"data-password>" in opened.content and account.leverage == 200
    assert "no-store" in opened["Cache-Control"]

    # Transfer: the form validates, the service holds and queues, the status page reports.
    bad = client.post(
        "/portal/wallet/transfer/",
        {"trading_account": account.pk, "direction": "to_trading", "amount": "9999"},
    )
    assert bad.status_code == 200 and b"available" in bad.content
    assert not Transfer.objects.exists()
    done = client.post(
        "/portal/wallet/transfer/",
        {"trading_account": account.pk, "direction": "to_trading", "amount": "250.00"},
    )
    t = Transfer.objects.get()
    assert done.status_code == 302 and done["Location"].endswith(f"/transfer/{t.comment}/")
    pending = client.get(done["Location"])
    assert b'data-transfer-status="pending"' in pending.content
    transfer_execute(transfer_id=t.pk)
    finished = client.get(done["Location"], HTTP_HX_REQUEST="true")
    assert b'data-transfer-status="completed"' in finished.content

    mt5_server.sandbox.control(
        "POST",
        "trade",
        {"login": account.login, "symbol": "EURUSD", "side": "buy", "volume": "0.10"},
    )
    server_sync(server_id=mt5_server.pk)
    page = client.get("/portal/trading/")
    assert b"data-positions" in page.content and b"EURUSD" in page.content
    assert b"250.00" in page.content
    detail = client.get(f"/portal/trading/{account.pk}/")
    assert detail.status_code == 200 and t.comment.encode() in detail.content
    assert client.get(f"/portal/trading/{account.pk}/?symbol=EURUSD").status_code == 200


def test_another_clients_account_and_transfer_are_404(client, mt5_server):
    from tests.clients.factories import make_account

    owner = make_client_user("owner@test.example")
    account = make_account(owner.client, server=mt5_server)
    _fund(owner.client)
    from finance.transfers import transfer_request

    t = transfer_request(
        client=owner.client,
        trading_account=account,
        direction="to_trading",
        amount="5.00",
        actor="test",
    )
    login(client, make_client_user("intruder@test.example"))
    assert client.get(f"/portal/trading/{account.pk}/").status_code == 404
    assert client.get(f"/portal/wallet/transfer/{t.comment}/").status_code == 404
    response = client.post(
        "/portal/wallet/transfer/",
        {"trading_account": account.pk, "direction": "from_trading", "amount": "5.00"},
    )
    assert response.status_code == 200 and Transfer.objects.count() == 1


def test_sync_page_for_ops_only(client, mt5_server, django_assert_max_num_queries):
    server_sync(server_id=mt5_server.pk)
    for role in ("retention_agent", "finance_officer"):
        login(client, make_staff(role))
        assert client.get("/backoffice/platforms/").status_code == 403
    login(client, make_staff("ops_admin"))
    with django_assert_max_num_queries(30):
        page = client.get("/backoffice/platforms/")
    assert page.status_code == 200 and b'data-server="MT5 Sandbox"' in page.content
    assert b"data-sync-status>ok<" in page.content
