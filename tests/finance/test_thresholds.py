"""Money thresholds are audited settings: the environment until finance changes them, a
lowering at once, a raise only with a second finance officer."""

from decimal import Decimal

import pytest
from django.urls import reverse

from brokerage.errors import InvalidInput, NotAllowed
from brokerage.models import AuditEvent
from finance.models import ThresholdChange
from finance.services import (
    threshold_approve,
    threshold_propose,
    threshold_reject,
    threshold_values,
    withdrawal_approve,
    withdrawal_request,
)
from tests.conftest import login, make_staff
from tests.finance.conftest import deposit_paid, verified_client

D = Decimal
AUTO = "withdrawal_auto_approve_max_usd"
URL = "/backoffice/finance/thresholds/"


@pytest.fixture
def officers(db):
    return make_staff("finance_officer"), make_staff("finance_officer", email="f2@t.example")


def test_each_threshold_reads_the_environment_until_finance_changes_it(db, settings):
    settings.FINANCE_VELOCITY_COUNT_24H = 7
    settings.FINANCE_FOUR_EYES_USD = 12000
    values = threshold_values()
    assert values["velocity_count_24h"] == 7 and values["four_eyes_usd"] == D("12000")
    assert values[AUTO] == D(settings.FINANCE_WITHDRAWAL_AUTO_APPROVE_MAX_USD)


def test_a_lower_limit_applies_at_once_and_is_audited(methods, officers):
    client = verified_client()
    deposit_paid(client, methods["stripe"], "1000.00")
    change = threshold_propose(key=AUTO, value="150", actor=officers[0], reason="Fraud wave")
    assert change.status == "applied" and change.previous_value == D("2000")
    assert threshold_values()[AUTO] == D("150")
    w = withdrawal_request(client=client, amount="200", currency="USD", psp="stripe", actor="t")
    assert w.status == "in_review" and [r["code"] for r in w.check_reasons] == ["amount_threshold"]
    event = AuditEvent.objects.get(action="finance.threshold_lowered")
    assert event.actor_id == officers[0].pk and event.reason == "Fraud wave"
    assert event.evidence == {"key": AUTO, "from": "2000", "to": "150.00"}


def test_a_raise_needs_a_second_different_finance_officer(methods, officers):
    first, second = officers
    client = verified_client()
    deposit_paid(client, methods["stripe"], "6000.00")
    change = threshold_propose(key=AUTO, value="5000", actor=first, reason="Fewer reviews")
    assert change.status == "pending" and threshold_values()[AUTO] == D("2000")
    with pytest.raises(NotAllowed, match="second finance officer"):
        threshold_approve(change=change, actor=first)
    assert threshold_values()[AUTO] == D("2000")
    threshold_approve(change=change, actor=second, reason="Agreed")
    assert threshold_values()[AUTO] == D("5000")
    w = withdrawal_request(client=client, amount="3000", currency="USD", psp="stripe", actor="t")
    assert w.status == "approved"
    actions = list(
        AuditEvent.objects.filter(action__startswith="finance.threshold")
        .order_by("pk")
        .values_list("action", "actor_id")
    )
    assert actions == [
        ("finance.threshold_raise_proposed", first.pk),
        ("finance.threshold_raise_approved", second.pk),
    ]


def test_the_four_eyes_amount_is_read_from_the_database(methods, officers):
    first, second = officers
    client = verified_client()
    deposit_paid(client, methods["stripe"], "6000.00")
    threshold_propose(key="four_eyes_usd", value="2500", actor=first, reason="Stricter")
    w = withdrawal_request(client=client, amount="3000", currency="USD", psp="stripe", actor="t")
    w = withdrawal_approve(withdrawal=w, actor=first, reason="Seen")
    assert w.status == "in_review" and w.first_approval_by == first
    assert withdrawal_approve(withdrawal=w, actor=second, reason="Seen").status == "approved"


def test_rejections_one_waiting_raise_and_a_lowering_supersedes_it(db, officers):
    first, second = officers
    raise_ = threshold_propose(key="velocity_count_24h", value="5", actor=first, reason="More")
    with pytest.raises(InvalidInput) as waiting:
        threshold_propose(key="velocity_count_24h", value="6", actor=second, reason="More")
    assert waiting.value.code == "raise_waiting"
    with pytest.raises(InvalidInput, match="Say why"):
        threshold_reject(change=raise_, actor=second, reason="")
    threshold_reject(change=raise_, actor=first, reason="Withdrawn")  # its proposer may
    assert ThresholdChange.objects.get(pk=raise_.pk).status == "rejected"
    with pytest.raises(InvalidInput, match="rejected"):
        threshold_approve(change=raise_, actor=second)
    again = threshold_propose(key="velocity_count_24h", value="6", actor=first, reason="More")
    threshold_propose(key="velocity_count_24h", value="2", actor=second, reason="Stricter")
    assert ThresholdChange.objects.get(pk=again.pk).status == "superseded"
    assert threshold_values()["velocity_count_24h"] == 2
    assert set(
        AuditEvent.objects.filter(action__startswith="finance.threshold").values_list(
            "action", flat=True
        )
    ) == {
        "finance.threshold_raise_proposed",
        "finance.threshold_raise_rejected",
        "finance.threshold_lowered",
        "finance.threshold_raise_superseded",
    }


def test_only_finance_officers_change_thresholds_and_only_to_sensible_values(db, officers):
    for role in ("compliance_officer", "ops_admin"):
        with pytest.raises(NotAllowed):
            threshold_propose(key=AUTO, value="10", actor=make_staff(role), reason="x")
    with pytest.raises(NotAllowed):
        threshold_propose(key=AUTO, value="10", actor="rule:anything", reason="x")
    for key, value in [(AUTO, "-1"), (AUTO, "1.001"), ("velocity_count_24h", "2.5")]:
        with pytest.raises(InvalidInput):
            threshold_propose(key=key, value=value, actor=officers[0], reason="x")
    with pytest.raises(InvalidInput, match="already"):
        threshold_propose(key=AUTO, value="2000", actor=officers[0], reason="x")
    with pytest.raises(InvalidInput):
        threshold_propose(key="no_such", value="1", actor=officers[0], reason="x")
    assert not ThresholdChange.objects.exists() and not AuditEvent.objects.filter(
        action__startswith="finance.threshold"
    )


def test_the_page_lists_the_values_and_officers_lower_propose_and_approve(client, officers):
    first, second = officers
    login(client, first)
    page = client.get(URL)
    assert page.status_code == 200
    assert b"FINANCE_WITHDRAWAL_AUTO_APPROVE_MAX_USD" in page.content
    lowered = client.post(
        URL, {"form": "propose", "key": AUTO, "value": "1500", "reason": "Fraud wave"}
    )
    assert lowered.status_code == 302 and threshold_values()[AUTO] == D("1500")
    client.post(URL, {"form": "propose", "key": AUTO, "value": "9000", "reason": "Growth"})
    change = ThresholdChange.objects.get(status="pending")
    own = client.post(URL, {"form": "decide", "change": change.pk, "action": "approve"})
    assert own.status_code == 400 and b"second finance officer" in own.content
    login(client, second)
    assert f'data-waiting="{change.pk}"'.encode() in client.get(URL).content
    approved = client.post(URL, {"form": "decide", "change": change.pk, "action": "approve"})
    assert approved.status_code == 302 and threshold_values()[AUTO] == D("9000")


def test_the_page_is_read_only_for_compliance_and_closed_to_others(client, officers):
    compliance = make_staff("compliance_officer")
    login(client, compliance)
    page = client.get(URL)
    assert page.status_code == 200 and b"data-propose-form" not in page.content
    refused = client.post(URL, {"form": "propose", "key": AUTO, "value": "1", "reason": "x"})
    assert refused.status_code == 403 and threshold_values()[AUTO] == D("2000")
    for role in ("sales_agent", "ops_admin"):
        login(client, make_staff(role))
        assert client.get(URL).status_code == 403
        post = client.post(URL, {"form": "propose", "key": AUTO, "value": "1", "reason": "x"})
        assert post.status_code == 403
    assert not ThresholdChange.objects.exists()


def test_the_page_reads_a_fixed_number_of_queries(client, officers, django_assert_max_num_queries):
    first, second = officers
    for value in ("1900", "1800", "1700"):
        threshold_propose(key=AUTO, value=value, actor=first, reason="Stricter")
    for key in ("four_eyes_usd", "velocity_usd_24h"):
        threshold_propose(key=key, value="99999", actor=second, reason="Looser")
    login(client, first)
    assert reverse("finance:thresholds") == URL
    with django_assert_max_num_queries(12):
        assert client.get(URL).status_code == 200
