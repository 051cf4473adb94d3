"""The partner's earnings over a range (charts, tables, CSV) and its payouts: statements
settled to its wallet, its withdrawals, and a payout asked for through the withdrawal
workflow."""

import csv
import io
import json
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client as Browser
from django.utils import timezone

from clients.services import client_kyc_level_set
from finance.ledger import wallet_for
from finance.models import Withdrawal
from ib.models import CommissionLine, PartnerStatement
from ib.periods import period_close
from tests.conftest import login, make_staff
from tests.ib.test_commissions import ACTOR, pay_all, trade

pytestmark = pytest.mark.django_db
IBAN = "DE89370400440532013000"


def charts(response) -> dict:
    found = re.search(
        r'<script id="dashboard-charts" type="application/json">(.*?)</script>',
        response.content.decode(),
        re.S,
    )
    return {c["id"]: c for c in json.loads(found.group(1))}


def test_earnings_by_day_symbol_client_and_level_over_a_range_and_as_csv(
    network, client, django_assert_max_num_queries
):
    now = timezone.now()
    trade(network["account"], volume=20000, at=now - timedelta(hours=40))
    gold = trade(network["account"], symbol="XAUUSD", volume=10000, at=now - timedelta(hours=2))
    pay_all()
    top = network["top"]
    login(client, top.user)
    with django_assert_max_num_queries(15):
        page = client.get("/partners/earnings/")
    assert page.status_code == 200
    drawn = charts(page)
    # top earns the difference above mid on its sub-sub-IB's client: level 2
    lines = CommissionLine.objects.filter(partner=top, deal_time__gte=now - timedelta(days=29))
    total = sum(lines.values_list("amount", flat=True))
    assert sum(drawn["earnings-by-day"]["datasets"][0]["data"]) == pytest.approx(float(total))
    assert len(drawn["earnings-by-day"]["labels"]) == 30
    assert set(drawn["earnings-by-symbol"]["labels"]) == {"EURUSD", "XAUUSD"}
    assert drawn["earnings-by-level"]["labels"] == ["Sub-IB level 2"]
    assert drawn["earnings-by-client"]["labels"] == ["T***"]
    assert "T*** (t***@test.example)" in page.content.decode()  # the table's row
    body = page.content.decode()
    assert "trader@test.example" not in body and "Tia" not in body  # masked

    # one day's range: that day's deals only
    day = gold.time.date()
    narrow = charts(client.get("/partners/earnings/", {"date_from": day, "date_to": day}))
    assert narrow["earnings-by-symbol"]["labels"] == ["XAUUSD"]
    assert narrow["earnings-by-day"]["datasets"][0]["data"] == [
        float(sum(lines.filter(symbol="XAUUSD").values_list("amount", flat=True)))
    ]

    exported = client.get("/partners/earnings/", {"format": "csv"})
    assert exported.status_code == 200 and exported["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(exported.streaming_content).decode())))
    assert rows[0] == ["breakdown", "key", "currency", "lines", "amount"]
    by = {}
    for breakdown, key, currency, count, amount in rows[1:]:
        by.setdefault(breakdown, []).append((key, Decimal(amount)))
    for breakdown in ("day", "symbol", "client", "level"):
        assert sum(a for _, a in by[breakdown]) == total, breakdown
    assert by["total"] == [("", total)]
    assert by["client"][0][0] == "T*** (t***@test.example)"

    # bad ranges are refused with a message, never a 500
    for params in (
        {"date_from": "2026-05-02", "date_to": "2026-05-01"},
        {"date_from": "2024-01-01", "date_to": "2026-01-01"},
        {"date_from": "not-a-date"},
    ):
        refused = client.get("/partners/earnings/", params)
        assert refused.status_code == 400 and b'data-field-error="date_from"' in refused.content

    # a partner sees only its own lines; nobody else opens the page
    login(client, network["leaf"].user)
    leafs = charts(client.get("/partners/earnings/"))
    assert leafs["earnings-by-level"]["labels"] == ["Your clients"]
    for user in (network["client"].user, make_staff("ib_manager")):
        browser = Browser()
        login(browser, user)
        assert browser.get("/partners/earnings/").status_code == 403


def settled(network) -> PartnerStatement:
    trade(network["account"], volume=15000, at=timezone.now() - timedelta(minutes=10))
    programme = network["top"].plans.first().plan.programme
    period_close(
        programme=programme,
        start=timezone.now() - timedelta(days=1),
        end=timezone.now() - timedelta(minutes=1),
        actor=ACTOR,
    )
    return PartnerStatement.objects.get(partner=network["leaf"])


def test_payouts_show_the_settlement_and_a_payout_goes_through_the_withdrawal_workflow(
    network, client, django_assert_max_num_queries
):
    statement = settled(network)
    leaf = network["leaf"]
    assert statement.outcome == "credited" and statement.amount == Decimal("7.50")
    login(client, leaf.user)
    with django_assert_max_num_queries(15):
        page = client.get("/partners/payouts/")
    body = page.content.decode()
    assert page.status_code == 200 and f'data-statement="{statement.pk}"' in body
    assert "Credited" in body and "USD 7.50" in body and "No payouts yet" in body

    # no payout before the partner's own KYC
    form = client.get("/partners/payouts/request/")
    assert b"data-needs-kyc" in form.content
    refused = client.post(
        "/partners/payouts/request/", {"currency": "USD", "amount": "5", "iban": IBAN}
    )
    assert refused.status_code == 403 and not Withdrawal.objects.exists()

    client_kyc_level_set(client=leaf.holder, level=1, actor="test", reason="partner verified")
    for data, field in [
        ({"currency": "USD", "amount": "5", "iban": "DE00 1234"}, "iban"),
        ({"currency": "USD", "amount": "-1", "iban": IBAN}, "amount"),
        ({"currency": "EUR", "amount": "5", "iban": IBAN}, "currency"),
    ]:
        bad = client.post("/partners/payouts/request/", data)
        assert bad.status_code == 400, data
        assert f'data-field-error="{field}"'.encode() in bad.content, data
    too_much = client.post(
        "/partners/payouts/request/", {"currency": "USD", "amount": "8.00", "iban": IBAN}
    )
    assert too_much.status_code == 400 and not Withdrawal.objects.exists()

    made = client.post(
        "/partners/payouts/request/", {"currency": "USD", "amount": "5.00", "iban": IBAN}
    )
    assert made.status_code == 302 and made["Location"] == "/partners/payouts/"
    w = Withdrawal.objects.get()
    assert w.client == leaf.holder and w.psp == "bank_wire" and w.amount == Decimal("5.00")
    assert wallet_for(leaf.holder, "USD").held_amount == Decimal("5.00")
    body = client.get("/partners/payouts/").content.decode()
    assert f'data-withdrawal="{w.reference}"' in body

    # another partner sees none of it; nobody but partners opens the pages
    login(client, network["top"].user)
    assert w.reference not in client.get("/partners/payouts/").content.decode()
    for user in (network["client"].user, make_staff("finance_officer")):
        browser = Browser()
        login(browser, user)
        assert browser.get("/partners/payouts/").status_code == 403
        assert browser.post("/partners/payouts/request/", {}).status_code == 403
