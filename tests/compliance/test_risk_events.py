"""The risk rating follows what a sync pass stores (the clients whose deals it committed are
rated again on the compliance queue) and refuses to guess a deposit's USD value: a currency
without a rate makes the declared-finances factor unknown, with the reason shown."""

from decimal import Decimal

import pytest

from clients.sync import _deals_synced
from compliance.models import RiskAssessment
from compliance.rating import risk_assess
from finance.models import FxRate
from kyc.financial_profile import financial_profile_save
from tests.clients.factories import make_account, make_deal
from tests.compliance.test_alerts import eager
from tests.conftest import login, make_client_user, make_staff
from tests.finance.conftest import deposit_paid, verified_client
from tests.finance.conftest import methods as methods_fixture
from tests.kyc.conftest import FINANCES

pytestmark = pytest.mark.django_db
eager_tasks = eager  # the compliance queue's task runs as the pass commits
methods = methods_fixture


def factor(client, code):
    latest = RiskAssessment.objects.filter(client=client).first()
    return next(f for f in latest.factors if f["code"] == code)


def test_the_clients_of_a_sync_passs_deals_are_rated_again(
    eager_tasks, django_capture_on_commit_callbacks
):
    trader = make_client_user("trader@test.example").client
    idle = make_client_user("idle@test.example").client
    risk_assess(client_id=trader.pk, cause="test")
    risk_assess(client_id=idle.pk, cause="test")
    account = make_account(trader)
    deals = [make_deal(account, volume=1_000_000) for _ in range(2)]  # 200 lots
    with django_capture_on_commit_callbacks(execute=True):
        _deals_synced([d.pk for d in deals])  # what the sync pass does after it stores them
    latest = RiskAssessment.objects.filter(client=trader).first()
    assert latest.cause == "deals synced"
    assert factor(trader, "volume")["points"] == 5
    assert RiskAssessment.objects.filter(client=idle).first().cause == "test"
    with django_capture_on_commit_callbacks(execute=True):
        _deals_synced([d.pk for d in deals])  # told twice: nothing changed, nothing stored
    assert RiskAssessment.objects.filter(client=trader).count() == 2


def test_a_deposit_in_a_currency_without_a_rate_makes_the_factor_unknown(client, methods):
    customer = verified_client("euro@test.example")
    financial_profile_save(
        client=customer,
        actor=customer.user,
        data={**FINANCES, "currency": "USD", "expected_deposits_amount": "1000"},
    )
    deposit_paid(customer, methods["skrill"], "5000.00")  # EUR
    risk_assess(client_id=customer.pk, cause="test")
    assert factor(customer, "declared_finances")["points"] == 5  # at the EUR rate
    FxRate.objects.filter(currency="EUR").delete()
    risk_assess(client_id=customer.pk, cause="rate removed")
    unknown = factor(customer, "declared_finances")
    assert unknown["unknown"] is True and unknown["points"] == 0
    assert "no USD rate for EUR" in unknown["explanation"]
    login(client, make_staff("compliance_officer"))
    page = client.get(f"/backoffice/clients/{customer.pk}/").content.decode()
    assert "data-factor-unknown" in page and "no USD rate for EUR" in page
    FxRate.objects.create(currency="EUR", usd_rate=Decimal("1.08"))
    risk_assess(client_id=customer.pk, cause="rate back")
    known = factor(customer, "declared_finances")
    assert known["points"] == 5 and "unknown" not in known


def test_a_declared_currency_without_a_rate_is_not_counted_at_par():
    customer = make_client_user("gbp@test.example").client
    FxRate.objects.filter(currency="GBP").delete()
    financial_profile_save(
        client=customer, actor=customer.user, data={**FINANCES, "currency": "GBP"}
    )
    risk_assess(client_id=customer.pk, cause="test")
    unknown = factor(customer, "declared_finances")
    assert unknown["unknown"] is True and "no USD rate for GBP" in unknown["explanation"]
