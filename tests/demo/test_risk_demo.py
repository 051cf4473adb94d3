"""The demo's risk ratings: a client rated high, one medium whose periodic review is overdue,
and the KYC client (finances declared) low; seeding again changes nothing."""

import pytest
from django.utils import timezone

from clients.models import Client
from compliance.models import PeriodicReview, RiskAssessment
from demo.kyc import DEMO_FINANCES
from demo.risk import install_demo_risk
from kyc.financial_profile import financial_profile_save
from tests.conftest import make_client_user

pytestmark = pytest.mark.django_db


def test_the_demo_rates_clients_low_medium_and_high_with_a_review_overdue():
    user = make_client_user("kyc.review@demo.test")
    financial_profile_save(client=user.client, actor=user, data=DEMO_FINANCES)
    install_demo_risk("pass-for-demo-1")
    ratings = dict(Client.objects.values_list("user__email", "risk_rating"))
    assert ratings["risk.high@demo.test"] == "high"
    assert ratings["risk.medium@demo.test"] == "medium"
    assert ratings["kyc.review@demo.test"] == "low"
    overdue = PeriodicReview.objects.filter(status="open", due_on__lt=timezone.now().date())
    assert list(overdue.values_list("client__user__email", flat=True)) == ["risk.medium@demo.test"]
    stored = RiskAssessment.objects.count()
    install_demo_risk("pass-for-demo-1")
    assert RiskAssessment.objects.count() == stored
