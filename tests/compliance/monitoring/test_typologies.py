"""Each typology fires on activity built for it and stays silent on ordinary activity, through
the whole-book statement (nightly) and the one-client statement (real time) alike."""

from decimal import Decimal

import pytest
from django.utils import timezone

from clients.models import AccessRecord, Deal
from compliance.models import CountryRisk
from compliance.monitoring.catalogue import TYPOLOGIES
from compliance.monitoring.explain import explain
from compliance.monitoring.typologies import find, name_similarity
from finance.models import FxRate
from kyc.models import FinancialProfile
from tests.clients.factories import make_account

from . import factories as f

pytestmark = pytest.mark.django_db


def hits(code, **override):
    params = {**TYPOLOGIES[code].defaults, **override}
    now = timezone.now()
    book = {h.client_id: h for h in find(code, params, as_of=now)}
    # The one-client statement agrees with the whole book's for every client it found.
    for cid, hit in book.items():
        (own,) = find(code, params, as_of=now, client_id=cid)
        assert own.score == hit.score
    return book, params


def fired(code, planted, ordinary, **override):
    book, params = hits(code, **override)
    assert planted.pk in book, f"{code} did not fire on the client built for it"
    assert ordinary.pk not in book, f"{code} fired on ordinary activity"
    assert find(code, params, as_of=timezone.now(), client_id=ordinary.pk) == []
    hit = book[planted.pk]
    return hit, explain(code, hit, params)


def test_quick_in_out():
    planted, ordinary = f.client(), f.client()
    f.deposit(planted, 5000, at=f.ago(5))
    f.withdrawal(planted, 4500, at=f.ago(2))
    f.closed_lots(planted, "0.2", at=f.ago(3))
    f.deposit(ordinary, 5000, at=f.ago(5))
    f.withdrawal(ordinary, 4500, at=f.ago(2))
    f.closed_lots(ordinary, 12, at=f.ago(3))  # traded in between
    hit, text = fired("quick_in_out", planted, ordinary)
    assert hit.score == 60
    assert "USD 5,000.00 deposited within 14 days" in text and "0.20 lots" in text
    assert {e["kind"] for e in hit.evidence} == {"deposit", "withdrawal"}


def test_structuring_deposits_and_withdrawals_that_hold():
    planted, ordinary, splitter = f.client(), f.client(), f.client()
    for n, amount in enumerate([9500, 9700, 9900]):
        f.deposit(planted, amount, at=f.ago(n + 1))
        f.withdrawal(splitter, amount, at=f.ago(n + 1))
    for n, amount in enumerate([9500, 12000, 400]):  # one just under, the rest not
        f.deposit(ordinary, amount, at=f.ago(n + 1))
    hit, text = fired("structuring", planted, ordinary)
    assert hit.score == 70
    assert text == (
        "3 deposits of USD 9,500.00-9,900.00 within 7 days, each just under USD 10,000.00."
    )
    book, _ = hits("structuring")
    assert book[splitter.pk].score == 80  # three withdrawals: hold


def test_velocity_against_own_history():
    planted, ordinary = f.client(), f.client()
    for c in (planted, ordinary):
        for week in range(2, 20):
            f.deposit(c, 500, at=f.ago(week * 7))
    f.deposit(planted, 6000, at=f.ago(1))  # 12 x the weekly average of 500
    f.deposit(ordinary, 700, at=f.ago(1))
    hit, text = fired("velocity", planted, ordinary)
    assert hit.score == 80
    assert "times the client's weekly average" in text


def test_third_party_payer_and_shared_instrument():
    planted, ordinary = f.client("Anna Kowalska"), f.client("John Smith")
    f.deposit(planted, 800, inst=f.instrument(planted, holder="Viktor Petrov"))
    f.deposit(ordinary, 800, inst=f.instrument(ordinary, holder="JOHN A. SMITH"))
    hit, text = fired("third_party_funding", planted, ordinary)
    assert hit.score == 60 and "Viktor Petrov" in text
    a, b = f.client("Li Wei"), f.client("Maria Garcia")
    f.deposit(a, 300, inst=f.instrument(a, holder="Li Wei", key="fp_shared_card_1"))
    f.deposit(b, 300, inst=f.instrument(b, holder="Maria Garcia", key="fp_shared_card_1"))
    book, _ = hits("third_party_funding")
    assert book[a.pk].score == 70 and book[b.pk].score == 70
    assert any(e["kind"] == "client_link" and e["id"] == b.pk for e in book[a.pk].evidence)


def test_name_similarity_uses_the_compliance_normalisation():
    assert name_similarity("JOHN A. SMITH", "John Smith") >= 0.6
    assert name_similarity("Müller, Jörg", "Jorg Muller") == 1.0
    assert name_similarity("Viktor Petrov", "Anna Kowalska") < 0.6


def _profile(c, income="under_25k", worth="25k_100k", expected="5000"):
    FinancialProfile.objects.create(
        client=c,
        version=1,
        employment_status="employed",
        industry="other",
        currency="USD",
        annual_income=income,
        net_worth=worth,
        expected_deposits_amount=Decimal(expected),
        source_of_funds="salary",
        source_of_wealth="salary",
    )


def test_beyond_declared_income_and_net_worth():
    planted, ordinary, rich, unprofiled = f.client(), f.client(), f.client(), f.client()
    for c in (planted, ordinary, rich):
        _profile(c)
    f.deposit(planted, 20000, at=f.ago(30))  # > 1.5 x 5,000 and > 0.5 x 25,000
    f.deposit(ordinary, 6000, at=f.ago(30))
    f.deposit(rich, 120000, at=f.ago(30))  # > net worth ceiling 100,000
    f.deposit(unprofiled, 500000, at=f.ago(30))  # no profile: skipped
    hit, text = fired("beyond_declared", planted, ordinary)
    assert hit.score == 60 and "Under 25,000" in text
    book, _ = hits("beyond_declared")
    assert book[rich.pk].score == 90 and unprofiled.pk not in book


def test_high_risk_country_card_or_wire():
    CountryRisk.objects.create(country="IR", level="high")
    planted, ordinary = f.client(), f.client()
    f.deposit(planted, 12000, at=f.ago(hours=3), inst=f.instrument(planted, country="IR"))
    f.deposit(ordinary, 12000, at=f.ago(hours=3), inst=f.instrument(ordinary, country="GB"))
    hit, text = fired("high_risk_country", planted, ordinary)
    assert hit.score == 80 and "Iran" in text
    listed, _ = hits("high_risk_country", countries=["GB"])
    assert ordinary.pk in listed


def test_psp_switching_after_failures():
    planted, ordinary = f.client(), f.client()
    f.deposit(planted, 500, at=f.ago(hours=5), status="failed", psp="stripe")
    f.deposit(planted, 500, at=f.ago(hours=4), status="failed", psp="checkout")
    f.deposit(planted, 500, at=f.ago(hours=3), psp="skrill")
    f.deposit(ordinary, 500, at=f.ago(hours=5), status="failed", psp="stripe")
    f.deposit(ordinary, 500, at=f.ago(hours=3), psp="stripe")
    hit, text = fired("psp_switching", planted, ordinary)
    assert hit.score == 65 and "3 payment providers" in text and "2 failed" in text


def test_dormant_then_large_amounts():
    planted = f.client(created_at=f.ago(600))
    ordinary = f.client(created_at=f.ago(600))
    f.deposit(planted, 1000, at=f.ago(400))
    f.deposit(planted, 15000, at=f.ago(2))
    f.deposit(ordinary, 1000, at=f.ago(400))
    f.closed_lots(ordinary, 1, at=f.ago(20))  # traded recently: not dormant
    f.deposit(ordinary, 15000, at=f.ago(2))
    hit, text = fired("dormant_reactivation", planted, ordinary)
    assert hit.score == 65 and "No money or trading for 398 days" in text


def test_mirror_trading_between_linked_clients():
    a, b = f.client(), f.client()
    stranger, other = f.client(), f.client()
    for x, y in ((a, b), (stranger, other)):
        ax, by = make_account(x), make_account(y)
        for n in range(4):
            at = f.ago(days=1, seconds=n * 600)
            f.opening_deal(ax, at=at, action=Deal.Action.BUY)
            f.opening_deal(by, at=at + timezone.timedelta(seconds=3), action=Deal.Action.SELL)
    for c in (a, b):  # one device: linked
        AccessRecord.objects.create(
            client=c, kind="login", device_id="dev-1", at=f.ago(3), ip="203.0.113.9"
        )
    hit, text = fired("mirror_trading", a, stranger)
    assert hit.score == 75  # 4 pairs: 70 + 5
    assert f"linked client(s) {b.pk}" in text
    assert sum(e["kind"] == "deal" for e in hit.evidence) == 4


def test_chargeback_ratio():
    planted, ordinary = f.client(), f.client()
    for n in range(4):
        d = f.deposit(planted, 200, at=f.ago(n + 10))
        if n < 2:
            f.chargeback(d, at=f.ago(n + 2))
    for n in range(10):
        d = f.deposit(ordinary, 200, at=f.ago(n + 10))
        if n < 2:
            f.chargeback(d, at=f.ago(n + 2))  # 2 of 10: under 0.25
    hit, text = fired("chargeback_ratio", planted, ordinary)
    assert hit.score == 80 and "2 chargebacks against 4 completed deposits" in text


def test_a_currency_is_valued_through_finance_fx():
    FxRate.objects.update_or_create(currency="EUR", defaults={"usd_rate": Decimal("1.10")})
    planted, ordinary = f.client(), f.client()
    for n, amount in enumerate([8500, 8800, 9000]):  # 9,350-9,900 USD
        f.deposit(planted, amount, at=f.ago(n + 1), currency="EUR")
        f.deposit(ordinary, amount, at=f.ago(n + 1), currency="CHF")  # no rate: left out
    fired("structuring", planted, ordinary)
