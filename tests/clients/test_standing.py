"""A client's standing: one question for deposits, withdrawals, transfers and account openings;
reasons from clients and, through the hook, from the apps above it; only compliance lifts an
AML case; one lock on the client's row, taken in one place."""

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from brokerage import hooks
from brokerage.errors import InvalidInput, NotAllowed
from brokerage.models import AuditEvent
from clients.models import Client
from clients.services import client_aml_case_set
from clients.standing import UNDER_REVIEW, Purpose, Reason, Severity, client_standing
from tests.conftest import make_client_user, make_staff

pytestmark = pytest.mark.django_db


def _client(**standing) -> Client:
    client = make_client_user().client
    for field, value in standing.items():
        setattr(client, field, value)
    client.save()
    return client


def test_a_clear_client_may_do_everything():
    client = _client(kyc_level=1, id_document_expires_on=timezone.now().date() + timedelta(9))
    for purpose in Purpose:
        standing = client_standing(client, purpose, amount_usd=100)
        assert standing.clear and standing.refusal() is None


def test_an_open_aml_case_blocks_every_purpose_and_tells_the_client_nothing_more():
    client = _client(kyc_level=1, aml_case_open=True)
    for purpose in Purpose:
        refusal = client_standing(client, purpose).refusal(reviewable=True)
        assert refusal.code == "aml_case_open" and refusal.severity == Severity.BLOCK
        assert refusal.client_message == UNDER_REVIEW and "AML" not in refusal.client_message


def test_review_reasons_refuse_only_where_nobody_reviews():
    client = _client(restricted=True, restriction_reason="Source of funds requested")
    withdraw = client_standing(client, Purpose.WITHDRAW)
    assert withdraw.codes == ["restricted", "kyc_not_verified"]
    assert {r.severity for r in withdraw.reasons} == {Severity.REVIEW}
    assert withdraw.refusal(reviewable=True) is None  # finance's queue decides
    transfer = client_standing(client, Purpose.TRANSFER)
    assert transfer.refusal().client_message == "Source of funds requested"


def test_kyc_and_finance_add_their_reasons_through_the_hook():
    limit = settings.KYC_UNVERIFIED_DEPOSIT_LIMIT_USD
    client = _client(risk_flags=["chargeback"])
    assert client_standing(client, Purpose.DEPOSIT, amount_usd=limit).clear
    over = client_standing(client, Purpose.DEPOSIT, amount_usd=limit + 1)
    assert over.codes == ["kyc_deposit_limit"] and "Verify your identity" in (
        over.refusal().client_message
    )
    assert client_standing(client, Purpose.WITHDRAW).codes == [
        "kyc_not_verified",
        "chargeback_history",
    ]
    client.kyc_level, client.id_document_expires_on = 1, timezone.now().date() - timedelta(1)
    assert client_standing(client, Purpose.WITHDRAW).codes == ["kyc_expired", "chargeback_history"]
    assert client_standing(client, Purpose.OPEN_ACCOUNT).clear


@pytest.fixture
def sanctions_rule(monkeypatch):
    """A rule as compliance will contribute it, added to the hook for one test."""
    registry = {name: list(entries) for name, entries in hooks._registry.items()}
    monkeypatch.setattr(hooks, "_registry", registry)

    def sanctions(client, purpose, *, amount_usd=None):
        if client.country == "KP":
            yield Reason("sanctions_match", Severity.BLOCK, "A confirmed sanctions match.")

    hooks.contribute(hooks.CLIENT_STANDING, sanctions)
    return sanctions


def test_an_app_above_clients_blocks_through_the_hook(sanctions_rule):
    client = _client(kyc_level=1, country="KP")
    refusal = client_standing(client, Purpose.WITHDRAW).refusal(reviewable=True)
    assert refusal.code == "sanctions_match"
    client.country = "GB"
    assert client_standing(client, Purpose.WITHDRAW).refusal(reviewable=True) is None


def test_a_rule_that_answers_something_else_fails_loudly(monkeypatch):
    registry = {name: list(entries) for name, entries in hooks._registry.items()}
    monkeypatch.setattr(hooks, "_registry", registry)
    hooks.contribute(hooks.CLIENT_STANDING, lambda client, purpose, **_: ["not allowed"])
    with pytest.raises(TypeError, match="not a Reason"):
        client_standing(_client(), Purpose.DEPOSIT)


def test_only_a_compliance_officer_closes_an_aml_case_and_it_is_audited():
    client = _client(kyc_level=1)
    compliance = make_staff("compliance_officer")
    client_aml_case_set(client=client, is_open=True, actor="rule:aml_velocity", reason="Alert 7")
    assert Client.objects.get(pk=client.pk).aml_case_open
    for actor in (make_staff("finance_officer"), make_staff("ops_admin"), "rule:aml_velocity"):
        with pytest.raises(NotAllowed):
            client_aml_case_set(client=client, is_open=False, actor=actor, reason="Looks fine")
    assert Client.objects.get(pk=client.pk).aml_case_open
    with pytest.raises(InvalidInput):
        client_aml_case_set(client=client, is_open=False, actor=compliance, reason=" ")
    client_aml_case_set(client=client, is_open=False, actor=compliance, reason="Cleared: SoF")
    assert not Client.objects.get(pk=client.pk).aml_case_open
    closed = AuditEvent.objects.get(action="client.aml_case_closed")
    assert closed.actor_id == compliance.pk and closed.reason == "Cleared: SoF"
    assert AuditEvent.objects.filter(action="client.aml_case_opened").count() == 1


def test_the_client_row_is_locked_in_one_place_only():
    """Every lock on a client's row goes through clients.locks.lock_client, so where it sits in
    the lock order (last) is decided there and in finance.locks, nowhere else."""
    root = Path(settings.BASE_DIR)
    pattern = re.compile(r"\bClient\.objects\.select_for_update\(")
    found = [
        str(path.relative_to(root))
        for app in ("brokerage", "clients", "leads", "kyc", "finance", "ib", "compliance")
        for path in (root / app).rglob("*.py")
        if "migrations" not in path.parts and pattern.search(path.read_text())
    ]
    assert found == ["clients/locks.py"]


def test_trading_stops_only_on_a_block_and_a_restriction_leaves_it():
    """Purpose.TRADE: a restriction (staff's hold on money and requests) does not stop trading
    on the platform; an open AML case (a block) does, like every other block."""
    client = _client(kyc_level=1, restricted=True, restriction_reason="Docs requested")
    assert client_standing(client, Purpose.TRADE).clear
    assert client_standing(client, Purpose.WITHDRAW).codes == ["restricted"]
    client.aml_case_open = True
    assert client_standing(client, Purpose.TRADE).codes == ["aml_case_open"]
