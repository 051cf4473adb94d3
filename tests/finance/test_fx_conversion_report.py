"""Finance reads the broker's FX conversion account (`/backoffice/finance/fx/`): its postings by
UTC day and currency pair, the rates used, the running balance in each currency and the FX
result valued at each day's rates; filters with clear errors, pages, CSV; finance officers
only."""

import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from finance.models import FxRate
from finance.services import commission_credit
from tests.conftest import login, make_client_user, make_staff

pytestmark = pytest.mark.django_db
D = Decimal
URL = "/backoffice/finance/fx/"


def midday(days_ago):
    today = timezone.now().astimezone(UTC).date()
    day = today - timedelta(days=days_ago)
    return datetime(day.year, day.month, day.day, 12, tzinfo=UTC)


def euro(rate, at):
    eur, _ = FxRate.objects.update_or_create(currency="EUR", defaults={"usd_rate": D(rate)})
    eur.history.filter(usd_rate=D(rate)).update(history_date=at)


def convert(monkeypatch, holder, at, owed, paid, key):
    """`owed` USD of commissions credited as `paid` EUR, posted at `at`."""
    monkeypatch.setattr("finance.ledger.timezone.now", lambda: at)
    commission_credit(
        holder=holder,
        amount=D(owed),
        currency="USD",
        key=key,
        actor="test",
        description="IB commissions",
        paid_amount=D(paid),
        paid_currency="EUR",
    )
    monkeypatch.undo()


@pytest.fixture
def conversions(monkeypatch):
    euro("1.25", midday(10))
    euro("1.20", midday(2) - timedelta(hours=6))  # the euro falls on the second day
    holder = make_client_user("fx-holder@test.example").client
    convert(monkeypatch, holder, midday(3), "10.00", "8.00", "fx-1")
    convert(monkeypatch, holder, midday(3) + timedelta(hours=1), "5.00", "4.10", "fx-2")
    convert(monkeypatch, holder, midday(2), "20.00", "16.00", "fx-3")
    return holder


def test_finance_reads_the_account_by_day_and_pair_with_rates_balances_and_result(
    client, conversions, django_assert_max_num_queries
):
    login(client, make_staff("finance_officer"))
    with django_assert_max_num_queries(25):
        page = client.get(URL)
    assert page.status_code == 200
    rows = list(page.context["page"])
    assert [(r.day, r.source, r.target) for r in rows] == [
        (midday(2).date(), "USD", "EUR"),
        (midday(3).date(), "USD", "EUR"),
    ]
    second, first = rows
    # the first day: 15 USD received, 12.10 EUR paid; each conversion's rate, and the day's
    assert (first.conversions, first.source_amount, first.target_amount) == (2, D("15"), D("12.1"))
    assert (first.rate, first.rate_low, first.rate_high) == (D("0.806667"), D("0.8"), D("0.82"))
    # the running balance at each day's end, and the result at that day's rates: 15 USD less
    # 12.10 EUR at 1.25 = -0.125, half up -0.13; then 35 USD less 28.10 EUR at 1.20 = 1.28
    assert (first.source_balance, first.target_balance) == (D("15"), D("-12.1"))
    assert first.result_usd == D("-0.13")
    assert (second.source_balance, second.target_balance) == (D("35"), D("-28.1"))
    assert second.result_usd == D("1.28") and second.rate == D("0.8")
    html = page.content.decode()
    assert "USD → EUR" in html and "0.8 – 0.82" in html and "data-fx-day" in html


def test_filters_narrow_the_days_and_bad_filters_are_clear_errors(client, conversions):
    login(client, make_staff("finance_officer"))
    day = midday(2).date().isoformat()
    one = client.get(URL, {"start": day})
    assert [r.day.isoformat() for r in one.context["page"]] == [day]
    # the running balance still counts the days before the filter's start
    assert one.context["page"][0].source_balance == D("35")
    assert client.get(URL, {"currency": "EUR"}).context["page"].paginator.count == 2
    for bad, message in (
        ({"start": "2026-13-01"}, b"Enter a valid date."),
        ({"currency": "GBP"}, b"Select a valid choice"),
        ({"start": day, "end": midday(3).date().isoformat()}, b"The end comes on or after"),
        ({"start": "1999-01-01"}, b"A date between 2000 and 2100."),
    ):
        response = client.get(URL, bad)
        assert response.status_code == 400 and message in response.content, bad
        assert b"data-form-errors" in response.content
    assert client.get(URL + "?start=nope").status_code == 400
    assert client.get("/backoffice/finance/fx.csv", {"start": "nope"}).status_code == 400


def test_the_csv_export_gives_every_row(client, conversions):
    login(client, make_staff("finance_officer"))
    response = client.get("/backoffice/finance/fx.csv")
    assert response.status_code == 200 and response["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:3] == ["day_utc", "received_currency", "paid_currency"]
    assert rows[1] == [
        midday(2).date().isoformat(), "USD", "EUR", "1", "20.00", "16.00", "0.800000",
        "0.800000", "0.800000", "35.00", "-28.10", "1.28",
    ]  # fmt: skip
    assert len(rows) == 3


def test_pages_of_25_days(client, monkeypatch):
    euro("1.25", midday(40))
    holder = make_client_user("fx-many@test.example").client
    for n in range(30):
        convert(monkeypatch, holder, midday(n + 1), "1.00", "0.80", f"fx-many-{n}")
    login(client, make_staff("finance_officer"))
    first = client.get(URL)
    assert len(first.context["page"]) == 25 and first.context["page"].paginator.count == 30
    assert len(client.get(URL, {"page": 2}).context["page"]) == 5


@pytest.mark.parametrize("role", ["compliance_officer", "ib_manager", "sales_agent"])
def test_only_finance_officers_read_it(client, role):
    login(client, make_staff(role))
    assert client.get(URL).status_code == 403
    assert client.get("/backoffice/finance/fx.csv").status_code == 403


def test_no_conversion_yet_says_so(client):
    login(client, make_staff("finance_officer"))
    page = client.get(URL)
    assert page.status_code == 200 and b"No conversion yet." in page.content
