"""The demo book's year (`demo.book`) and its planted AML cases (`demo.book_planted`)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db.models import Count, Sum
from django.utils import timezone

from brokerage.models import User
from clients.models import Client, Deal, TradingAccount, TradingServer
from demo.book import MAX_DEPOSIT_USD, install_book_year, usd
from demo.models import PlantedCase
from demo.planted import TYPOLOGIES, book_seeded_at, planted_cases
from finance.ledger import ledger_verify
from finance.models import Chargeback, Deposit, PaymentInstrument, Withdrawal
from kyc.models import BAND_CEILING, FinancialProfile, KycSubmission
from leads.models import Lead

pytestmark = pytest.mark.django_db

COUNTRIES = ["GB", "DE", "FR", "AE", "SG", "ZA", "PL", "CH"]


def make_book(size: int) -> list[Client]:
    """`size` book clients with a USD trading account each and a month of small deals, as the
    sandbox's bulk history makes them (without the sandbox)."""
    server = TradingServer.objects.create(name="Book", url="https://mt5.book.invalid")
    users = User.objects.bulk_create(
        [
            User(email=f"client{n:06d}@book.demo.test", first_name="Ava", last_name=f"N{n}")
            for n in range(size)
        ]
    )
    now = timezone.now()
    clients = Client.objects.bulk_create(
        [
            Client(user=u, status="active", country=COUNTRIES[n % len(COUNTRIES)], kyc_level=1)
            for n, u in enumerate(users)
        ]
    )
    accounts = TradingAccount.objects.bulk_create(
        [
            TradingAccount(
                client=c, server=server, login=500_000 + n, group="real\\standard-usd",
                currency="USD", leverage=100,
            )
            for n, c in enumerate(clients)
        ]
    )  # fmt: skip
    deals, ticket = [], 1
    for account in accounts:
        for k in range(10):
            opened = now - timedelta(days=29 - 3 * k, minutes=account.pk % 500)
            for entry, at in ((0, opened), (1, opened + timedelta(minutes=30))):
                deals.append(
                    Deal(
                        server=server, ticket=ticket, account=account, client_id=account.client_id,
                        time=at, action=(k + entry) % 2, entry=entry, symbol="EURUSD",
                        volume=500, price=Decimal("1.08"), position_id=ticket - entry,
                    )
                )  # fmt: skip
                ticket += 1
    Deal.objects.bulk_create(deals)
    return clients


@pytest.fixture
def book():
    make_book(120)
    now = timezone.now()
    result = install_book_year(now=now, per_typology=2)
    return result | {"now": now}


def test_the_year_keeps_the_ledger_clean_and_plants_every_typology(book):
    assert book["planted"] == 2 * len(TYPOLOGIES)
    counts, problem = ledger_verify()
    assert problem is None and counts["transactions"] > 120
    cases = planted_cases()
    assert set(cases) == set(TYPOLOGIES)
    assert all(len(ids) == 2 for ids in cases.values())
    # Every book client has a converted lead, an approved KYC, a profile and a first deposit.
    book_clients = Client.objects.filter(user__email__endswith="@book.demo.test")
    assert Lead.objects.filter(client__in=book_clients, status="converted").count() == 120
    assert KycSubmission.objects.filter(client__in=book_clients, state="approved").count() == 120
    assert FinancialProfile.objects.filter(client__in=book_clients).count() == 120
    assert not book_clients.filter(first_deposit_at__isnull=True).exists()
    assert Lead.objects.filter(client__isnull=True).exists()
    assert KycSubmission.objects.exclude(state="approved").exists()
    assert Deposit.objects.filter(status="failed").exists()
    assert Withdrawal.objects.filter(status="paid").exists()


def test_a_second_run_adds_nothing(book):
    before = (Deposit.objects.count(), PlantedCase.objects.count(), Lead.objects.count())
    again = install_book_year(now=timezone.now(), per_typology=2)
    assert again == {"clients": 0}
    assert (Deposit.objects.count(), PlantedCase.objects.count(), Lead.objects.count()) == before


def test_ordinary_clients_stay_clear_of_the_typologies(book):
    planted = set(PlantedCase.objects.values_list("client_id", flat=True))
    deposits = Deposit.objects.filter(status="completed").exclude(client_id__in=planted)
    by_client: dict[int, list] = {}
    for client_id, amount, currency, at in deposits.values_list(
        "client_id", "amount", "currency", "completed_at"
    ).order_by("completed_at"):
        by_client.setdefault(client_id, []).append((at, usd(amount, currency)))
    for client_id, rows in by_client.items():
        assert all(amount <= MAX_DEPOSIT_USD for _, amount in rows), client_id
        gaps = [b[0] - a[0] for a, b in zip(rows, rows[1:], strict=False)]
        assert all(gap >= timedelta(days=8) for gap in gaps), client_id
        profile = FinancialProfile.objects.get(client_id=client_id)
        total = sum(amount for _, amount in rows)
        assert total * 2 < BAND_CEILING[profile.annual_income]
        assert total < profile.expected_deposits_amount
    for w in Withdrawal.objects.exclude(client_id__in=planted):
        last = (
            Deposit.objects.filter(client_id=w.client_id, status="completed")
            .filter(completed_at__lte=w.requested_at)
            .order_by("-completed_at")
            .first()
        )
        assert last is not None and w.requested_at - last.completed_at >= timedelta(days=15)
    # Their own instruments, in their own name, where they live; one chargeback at most.
    shared = (
        PaymentInstrument.objects.exclude(client_id__in=planted)
        .values("kind", "key")
        .annotate(n=Count("client", distinct=True))
        .filter(n__gt=1)
    )
    assert not shared.exists()
    for instrument in PaymentInstrument.objects.exclude(client_id__in=planted).select_related(
        "client__user"
    ):
        if instrument.holder_name:
            assert instrument.holder_name.lower() == instrument.client.user.get_full_name().lower()
        assert instrument.country in ("", instrument.client.country)
    per_client = (
        Chargeback.objects.exclude(deposit__client_id__in=planted)
        .values("deposit__client_id")
        .annotate(n=Count("id"))
    )
    assert all(row["n"] == 1 for row in per_client)


def test_planted_cases_carry_their_pattern(book):
    cases = planted_cases()
    now = book["now"]
    for client_id in cases["structuring"]:
        amounts = Deposit.objects.filter(client_id=client_id, status="completed").values_list(
            "amount", flat=True
        )
        assert len(amounts) == 3 and all(9000 <= a < 10000 for a in amounts)
    for client_id in cases["chargeback_ratio"]:
        assert Chargeback.objects.filter(deposit__client_id=client_id).count() == 2
    for client_id in cases["high_risk_country"]:
        assert PaymentInstrument.objects.filter(client_id=client_id, country="MM").exists()
    for client_id in cases["dormant_reactivation"]:
        recent = Deposit.objects.filter(
            client_id=client_id, status="completed", completed_at__gte=now - timedelta(days=7)
        ).aggregate(total=Sum("amount"))["total"]
        assert recent >= 10_000
        assert not Deal.objects.filter(client_id=client_id).exists()
    mirror = cases["mirror_trading"]
    from clients.links import links_among, opposite_trades

    assert links_among(mirror)[mirror[0]][mirror[1]]
    pairs = opposite_trades(client_ids=mirror, window_seconds=10)
    assert len(pairs) >= 3


def test_the_seeding_time_is_read_from_the_book():
    """A benchmark on a clone of a book seeded days ago measures the book's month: the time is
    the book's (its planted cases', else its newest money row), not the clock's."""
    assert book_seeded_at() is None  # no book
    make_book(40)
    seeded = timezone.now() - timedelta(days=9)
    install_book_year(now=seeded, per_typology=1)
    assert book_seeded_at() == seeded
    PlantedCase.objects.all().delete()
    newest = book_seeded_at()
    assert seeded - timedelta(days=2) < newest <= seeded
