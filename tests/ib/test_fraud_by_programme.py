"""Fraud thresholds per programme: the global ones are the default; a programme may have its
own (made from the global values, audited), and goes back to the global ones when an IB
manager says so; each line is screened by its plan's programme's thresholds."""

from datetime import timedelta

import pytest

from brokerage.errors import InvalidInput
from brokerage.models import AuditEvent
from ib.fraud import fraud_thresholds_reset, fraud_thresholds_set
from ib.models import CommissionLine, FraudThresholds
from ib.plans import partner_plan_set, plan_create, plan_version_create, programme_create
from ib.services import referral_attribute
from tests.clients.factories import make_account, make_server
from tests.conftest import login, make_client_user, make_partner_user, make_staff
from tests.ib.test_commissions import ACTOR, START, pay_all, trade
from tests.ib.test_fraud import NOON, THRESHOLDS_FORM, opened

pytestmark = pytest.mark.django_db


def cycling(client):
    """Three trading accounts opened within 30 days: cycling under the global limit of 2."""
    accounts = [make_account(client, server=make_server()) for _ in range(3)]
    for account, days in zip(accounts, (20, 10, 2), strict=True):
        opened(account, days)
    return accounts[0]


@pytest.fixture
def other(network):
    """A partner of another programme, with a cycling client of its own."""
    programme = programme_create(name="Other", actor=ACTOR)
    plan = plan_create(programme=programme, name="Other", actor=ACTOR)
    rules = [{"symbol_group": "fx_major", "rate": "5"}]
    plan_version_create(plan=plan, valid_from=START, rules=rules, actor=ACTOR, publish=True)
    partner = make_partner_user("other@test.example", "OTHERIB1").partner
    partner_plan_set(partner=partner, plan=plan, actor=ACTOR, valid_from=START)
    client = make_client_user("other-client@test.example").client
    client.__class__.objects.filter(pk=client.pk).update(created_at=START)
    client.refresh_from_db()
    referral_attribute(client=client, code="OTHERIB1", actor=ACTOR)
    return {"programme": programme, "partner": partner, "account": cycling(client)}


def test_each_line_is_screened_by_its_programmes_thresholds(network, other):
    standard = network["top"].plans.first().plan.programme
    fraud_thresholds_set(changes={"cycling_accounts": 5}, actor=ACTOR, programme=standard)
    assert FraudThresholds.current().cycling_accounts == 2  # the global ones stay
    mine = trade(cycling(network["client"]), at=NOON)
    theirs = trade(other["account"], at=NOON)
    pay_all()
    # the standard programme allows 5 accounts: nothing withheld; the other one, by the
    # global thresholds, withholds its client's line
    assert set(CommissionLine.objects.filter(deal=mine).values_list("status", flat=True)) == {
        "pending"
    }
    held = CommissionLine.objects.get(deal=theirs)
    assert held.status == "withheld" and held.hold_reasons[0]["code"] == "account_cycling"
    assert "more than 2 within 30 days" in held.hold_reasons[0]["message"]
    event = AuditEvent.objects.filter(action="fraud.thresholds_changed").latest("id")
    assert event.evidence["programme"] == "Standard"
    assert event.evidence["before"]["cycling_accounts"] == "2"
    assert event.evidence["after"]["cycling_accounts"] == "5"
    # back to the global thresholds: the next deal of the standard network is withheld
    fraud_thresholds_reset(programme=standard, actor=ACTOR)
    assert not FraudThresholds.objects.filter(programme=standard).exists()
    assert AuditEvent.objects.filter(action="fraud.thresholds_reset").exists()
    later = trade(network["account"], at=NOON + timedelta(minutes=30))
    pay_all()
    assert CommissionLine.objects.filter(deal=later, status="withheld").count() == 3
    with pytest.raises(InvalidInput, match="global thresholds already"):
        fraud_thresholds_reset(programme=standard, actor=ACTOR)


def test_a_programmes_stricter_threshold_withholds_what_the_global_lets_through(network, other):
    fraud_thresholds_set(changes={"cycling_accounts": 5}, actor=ACTOR)  # global: lenient
    fraud_thresholds_set(changes={"cycling_accounts": 2}, actor=ACTOR, programme=other["programme"])
    mine = trade(cycling(network["client"]), at=NOON)
    theirs = trade(other["account"], at=NOON)
    pay_all()
    assert not CommissionLine.objects.filter(deal=mine, status="withheld").exists()
    assert CommissionLine.objects.get(deal=theirs).status == "withheld"


def test_ib_managers_keep_a_programmes_thresholds_on_the_page(client, network, other):
    url = "/backoffice/ib/fraud/"
    programme = other["programme"]
    login(client, make_staff("finance_officer"))
    assert client.get(url).status_code == 403
    login(client, make_staff("ib_manager"))
    page = client.get(url, {"programme": programme.pk})
    assert page.status_code == 200 and b"uses the global thresholds" in page.content
    assert client.get(url, {"programme": 999999}).status_code == 404
    assert client.get(url, {"programme": "x"}).status_code == 404
    form = {"programme": programme.pk, **THRESHOLDS_FORM}
    bad = client.post(url, {**form, "cycling_days": "0"})
    assert bad.status_code == 400 and b"Account cycling: within days" in bad.content
    assert not FraudThresholds.objects.filter(programme=programme).exists()
    saved = client.post(url, form)
    assert saved.status_code == 302 and saved["Location"] == f"{url}?programme={programme.pk}"
    assert FraudThresholds.objects.get(programme=programme).cycling_accounts == 3
    assert FraudThresholds.current().cycling_accounts == 2
    page = client.get(url, {"programme": programme.pk}).content.decode()
    assert "has thresholds of its own" in page and 'data-action="reset"' in page
    assert client.post(url, {"programme": programme.pk, "action": "reset"}).status_code == 302
    assert not FraudThresholds.objects.filter(programme=programme).exists()
