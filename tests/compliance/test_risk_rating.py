"""The client risk rating: each named factor moves the score, thresholds give the rating, every
change is kept with its factors, high risk means enhanced due diligence, and periodic reviews
fall due by rating in a queue only compliance officers see."""

from datetime import date, timedelta

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from brokerage.errors import InvalidInput, NotAllowed
from brokerage.models import AuditEvent
from clients.models import Client, Deal
from compliance.models import CountryRisk, PeriodicReview, RiskAssessment
from compliance.rating import (
    add_months,
    country_risk_set,
    review_complete,
    risk_assess,
    risk_rate_many,
    risk_sweep,
)
from compliance.risk import rating_for
from compliance.services import alert_confirm
from finance.models import PaymentInstrument
from kyc.financial_profile import financial_profile_save
from tests.clients.factories import make_account, make_deal
from tests.compliance.test_alerts import eager, listed_client, watch_list  # noqa: F401
from tests.conftest import login, make_client_user, make_staff
from tests.finance.conftest import deposit_paid, methods, verified_client  # noqa: F401
from tests.kyc.conftest import FINANCES, prepared

pytestmark = pytest.mark.django_db


def points(client, code: str) -> int:
    risk_assess(client_id=client.pk, cause="test")
    latest = RiskAssessment.objects.filter(client=client).first()
    return next(f["points"] for f in latest.factors if f["code"] == code)


def score(client) -> int:
    risk_assess(client_id=client.pk, cause="test")
    return Client.objects.get(pk=client.pk).risk_score


def test_residence_moves_the_score_by_the_country_risk_table():
    client = make_client_user().client
    client.country = "VN"
    client.save()
    assert points(client, "residence") == 0
    officer = make_staff("compliance_officer")
    country_risk_set(country="VN", level="medium", note="grey list", actor=officer)
    assert points(client, "residence") == 10
    country_risk_set(country="VN", level="high", note="call for action", actor=officer)
    assert points(client, "residence") == 30
    assert AuditEvent.objects.filter(action="risk.country_set").count() == 2


def test_nationality_moves_the_score():
    user, submission = prepared(nationality="VN")
    from kyc.services import kyc_submission_submit

    kyc_submission_submit(submission=submission, actor=user)
    assert points(user.client, "nationality") == 0
    CountryRisk.objects.create(country="VN", level="high")
    assert points(user.client, "nationality") == 15


def test_a_confirmed_match_and_open_alerts_move_the_score():
    watch_list()
    client, alert = listed_client()
    assert points(client, "open_alerts") == 10
    assert points(client, "screening") == 0
    alert_confirm(alert=alert, actor=make_staff("compliance_officer"), reason="Same person")
    assert points(client, "open_alerts") == 0
    assert points(client, "screening") == 30  # an internal watch list: not sanctions


def test_deposits_beyond_what_was_declared_move_the_score(methods):  # noqa: F811
    client = verified_client()
    assert points(client, "declared_finances") == 10  # nothing declared
    financial_profile_save(
        client=client,
        actor=client.user,
        data={**FINANCES, "currency": "USD", "expected_deposits_amount": "1000"},
    )
    assert points(client, "declared_finances") == 0
    deposit_paid(client, methods["stripe"], "2000.00")
    assert points(client, "declared_finances") == 5  # beyond the expected deposits
    financial_profile_save(
        client=client,
        actor=client.user,
        data={
            **FINANCES,
            "currency": "USD",
            "annual_income": "under_25k",
            "net_worth": "under_25k",
        },
    )
    deposit_paid(client, methods["stripe"], "30000.00")
    assert points(client, "declared_finances") == 25  # beyond the declared net worth
    factors = RiskAssessment.objects.filter(client=client).first().factors
    declared = next(f for f in factors if f["code"] == "declared_finances")
    assert "net worth" in declared["explanation"]


def test_leverage_and_volume_move_the_score():
    client = make_client_user().client
    assert points(client, "product") == 0
    account = make_account(client, leverage=500)
    assert points(client, "product") == 10
    assert points(client, "volume") == 0
    make_deal(account, volume=150 * 10000)
    assert points(client, "volume") == 5
    make_deal(account, volume=900 * 10000, days_ago=400)  # more than a year ago: not counted
    assert points(client, "volume") == 5


def test_a_trade_counts_its_lots_once_when_closed():
    client = make_client_user().client
    account = make_account(client)
    make_deal(account, volume=60 * 10000, entry=Deal.Entry.IN)  # opened: not counted yet
    make_deal(account, volume=60 * 10000, action=Deal.Action.SELL)  # closed: 60 lots
    assert points(client, "volume") == 0  # 60 lots, not 120
    make_deal(account, volume=50 * 10000, entry=Deal.Entry.OUT_BY)
    assert points(client, "volume") == 5
    latest = RiskAssessment.objects.filter(client=client).first()
    volume = next(f for f in latest.factors if f["code"] == "volume")
    assert (volume["points"], volume["explanation"]) == (5, "110 lots closed in the last year.")


def instrument(client, kind: str, key: str) -> PaymentInstrument:
    now = timezone.now()
    return PaymentInstrument.objects.create(
        client=client,
        kind=kind,
        provider="coinpayments" if kind == "crypto" else "stripe",
        key=key,
        label=key,
        first_seen_at=now,
        last_seen_at=now,
    )


def test_crypto_and_shared_payment_methods_move_the_score():
    a, b = make_client_user("a@test.example").client, make_client_user("b@test.example").client
    assert points(a, "payment_methods") == 0
    for client in (a, b):
        instrument(client, "card", "fp_shared")
    assert points(a, "payment_methods") == 10
    instrument(a, "crypto", "BTC:bc1q")
    assert points(a, "payment_methods") == 20


def test_a_jurisdiction_rule_moves_the_score():
    from compliance.jurisdictions import country_rule_add

    client = make_client_user().client
    client.country = "PA"
    client.save()
    assert points(client, "jurisdiction") == 0
    country_rule_add(
        actor=make_staff("compliance_officer"), country="PA", kind="edd", basis="FATF grey list"
    )
    assert points(client, "jurisdiction") == 20


@override_settings(RISK_MEDIUM_SCORE=20, RISK_HIGH_SCORE=40)
def test_thresholds_give_the_rating():
    assert [rating_for(s) for s in (0, 19, 20, 39, 40, 90)] == [
        "low",
        "low",
        "medium",
        "medium",
        "high",
        "high",
    ]
    with override_settings(RISK_MEDIUM_SCORE=5, RISK_HIGH_SCORE=10):
        assert rating_for(10) == "high"


def test_every_change_is_kept_with_its_factors_and_high_risk_means_edd():
    client = make_client_user().client
    client.country = "VN"
    client.save()
    first = risk_assess(client_id=client.pk, cause="registration")
    assert first.rating == "low" and len(first.factors) == 9
    assert risk_assess(client_id=client.pk, cause="again") is None  # nothing changed
    CountryRisk.objects.create(country="VN", level="high")
    second = risk_assess(client_id=client.pk, cause="country risk of VN changed")
    assert (second.rating, second.score) == ("high", 40)
    assert list(RiskAssessment.objects.filter(client=client)) == [second, first]
    client.refresh_from_db()
    assert client.risk_rating == "high" and client.enhanced_due_diligence
    event = AuditEvent.objects.get(action="client.risk_rated", evidence__to="high")
    assert event.evidence["factors"] == {"residence": 30, "declared_finances": 10}


def test_the_nightly_sweep_rates_only_what_changed(django_assert_max_num_queries):
    clients = [make_client_user(f"c{n}@test.example").client for n in range(5)]
    assert risk_sweep() == 5
    assert risk_sweep() == 0
    Client.objects.filter(pk=clients[0].pk).update(country="VN")
    CountryRisk.objects.create(country="VN", level="medium")
    assert risk_sweep() == 1


def test_the_sweep_writes_a_batch_in_as_many_queries_for_thirty_clients_as_for_three():
    """Set-based: a night that rates the whole book (the first, or after a rate changed)
    writes each batch's assessments, ratings with their history, audit events and reviews in
    a fixed number of statements, not a dozen a client."""

    def sweep_queries(emails) -> int:
        ids = [make_client_user(email).client.pk for email in emails]
        Client.objects.filter(pk__in=ids).update(country="VN")
        with CaptureQueriesContext(connection) as ctx:
            assert risk_rate_many(ids, cause="nightly rating") == len(ids)
        return len(ctx)

    CountryRisk.objects.create(country="VN", level="high")
    three = sweep_queries([f"a{n}@test.example" for n in range(3)])
    thirty = sweep_queries([f"b{n}@test.example" for n in range(30)])
    assert thirty == three
    assert Client.objects.filter(risk_rating="high", enhanced_due_diligence=True).count() == 33
    assert AuditEvent.objects.filter(action="client.risk_rated", evidence__to="high").count() == 33
    assert PeriodicReview.objects.filter(status="open", rating="high").count() == 33
    rated = Client.objects.get(user__email="b7@test.example")
    assert rated.history.first().risk_rating == "high"  # the change is in the client's history


def test_review_due_dates_follow_the_rating_and_a_higher_rating_brings_it_forward():
    today = timezone.now().date()
    client = make_client_user().client
    risk_assess(client_id=client.pk, cause="first")
    review = PeriodicReview.objects.get(client=client, status="open")
    assert (review.rating, review.due_on) == ("low", add_months(today, 36))
    client.country = "VN"
    client.save()
    CountryRisk.objects.create(country="VN", level="medium")
    risk_assess(client_id=client.pk, cause="medium")
    assert PeriodicReview.objects.get(client=client, status="open").due_on == add_months(today, 24)
    moved = AuditEvent.objects.get(action="risk.review_rescheduled")
    assert moved.subject_client_id == client.pk and moved.actor_label == "rule:risk_rating"
    assert moved.evidence == {
        "from_rating": "low",
        "to_rating": "medium",
        "from_due_on": str(add_months(today, 36)),
        "to_due_on": str(add_months(today, 24)),
    }
    assert moved.reason == "Rated medium: medium"
    CountryRisk.objects.filter(country="VN").update(level="high")
    risk_assess(client_id=client.pk, cause="high")
    assert PeriodicReview.objects.get(client=client, status="open").due_on == add_months(today, 12)
    assert AuditEvent.objects.filter(action="risk.review_rescheduled").count() == 2
    CountryRisk.objects.all().delete()
    risk_assess(client_id=client.pk, cause="low again")
    assert PeriodicReview.objects.get(client=client, status="open").due_on == add_months(
        today, 12
    )  # never pushed back
    assert AuditEvent.objects.filter(action="risk.review_rescheduled").count() == 2


def test_add_months_keeps_the_end_of_the_month():
    assert add_months(date(2024, 2, 29), 12) == date(2025, 2, 28)
    assert add_months(date(2026, 11, 30), 3) == date(2027, 2, 28)


def test_completing_a_review_records_it_and_schedules_the_next():
    client = make_client_user().client
    risk_assess(client_id=client.pk, cause="first")
    review = PeriodicReview.objects.get(client=client)
    officer = make_staff("compliance_officer")
    with pytest.raises(NotAllowed):
        review_complete(
            review=review, actor=make_staff("sales_agent"), outcome="satisfactory", notes="ok"
        )
    with pytest.raises(InvalidInput) as refused:
        review_complete(review=review, actor=officer, outcome="nope", notes="")
    assert set(refused.value.fields) == {"outcome", "notes"}
    review_complete(review=review, actor=officer, outcome="satisfactory", notes="Docs current")
    done = PeriodicReview.objects.get(pk=review.pk)
    assert (done.status, done.completed_by, done.outcome) == ("completed", officer, "satisfactory")
    following = PeriodicReview.objects.get(client=client, status="open")
    assert following.due_on == add_months(timezone.now().date(), 36)
    assert AuditEvent.objects.filter(action="risk.review_completed").count() == 1
    with pytest.raises(InvalidInput):
        review_complete(review=review, actor=officer, outcome="satisfactory", notes="again")


def test_the_reviews_queue_is_for_compliance_officers_only(client, django_assert_max_num_queries):
    for n in range(4):
        risk_assess(client_id=make_client_user(f"r{n}@test.example").client.pk, cause="t")
    PeriodicReview.objects.update(due_on=timezone.now().date() - timedelta(days=3))
    for role in ("sales_agent", "finance_officer", "ops_admin"):
        login(client, make_staff(role))
        assert client.get("/backoffice/compliance/reviews/").status_code == 403
        client.logout()
    login(client, make_staff("compliance_officer"))
    with django_assert_max_num_queries(12):
        page = client.get("/backoffice/compliance/reviews/")
    assert page.content.count(b'data-due="danger"') == 4
    assert (
        client.get("/backoffice/compliance/reviews/?due=completed").content.count(b"data-review=")
        == 0
    )
    review = PeriodicReview.objects.first()
    bad = client.post(f"/backoffice/compliance/reviews/{review.pk}/", {"outcome": "exit"})
    assert bad.status_code == 400
    done = client.post(
        f"/backoffice/compliance/reviews/{review.pk}/",
        {"outcome": "concerns", "notes": "Asked for new payslips"},
    )
    assert done.status_code == 302
    assert PeriodicReview.objects.get(pk=review.pk).status == "completed"


def test_a_deposit_rates_the_client_again(methods, eager, django_capture_on_commit_callbacks):  # noqa: F811
    client = verified_client()
    with django_capture_on_commit_callbacks(execute=True):
        deposit_paid(client, methods["stripe"], "100.00")
    assessment = RiskAssessment.objects.filter(client=client).first()
    assert assessment is not None and assessment.cause == "deposit credited"


def test_the_360_shows_the_rating_to_compliance_only(client):
    holder = make_client_user().client
    risk_assess(client_id=holder.pk, cause="first")
    login(client, make_staff("compliance_officer"))
    page = client.get(f"/backoffice/clients/{holder.pk}/")
    assert b"data-360-risk" in page.content and b'data-factor="residence"' in page.content
    client.logout()
    login(client, make_staff("ops_admin"))
    assert b"data-360-risk" not in client.get(f"/backoffice/clients/{holder.pk}/").content
