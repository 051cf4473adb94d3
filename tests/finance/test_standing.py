"""Finance asks the client's standing once per deposit and withdrawal: an open AML case
refuses both outright, and no finance officer approves past it while it is open."""

from decimal import Decimal

import pytest
from django.test import override_settings

from brokerage.models import AuditEvent
from clients.services import client_aml_case_set
from clients.standing import UNDER_REVIEW
from finance.ledger import wallet_for
from finance.models import Deposit, Withdrawal
from finance.services import (
    DepositNotAllowed,
    WithdrawalNotAllowed,
    deposit_create,
    withdrawal_approve,
    withdrawal_reject,
    withdrawal_request,
)
from tests.conftest import make_staff
from tests.finance.conftest import deposit_paid, fresh, verified_client

D = Decimal


def _aml(client, is_open: bool):
    actor = "rule:aml_velocity" if is_open else make_staff("compliance_officer")
    client_aml_case_set(client=client, is_open=is_open, actor=actor, reason="Alert 12")


def test_an_open_aml_case_refuses_deposits(methods):
    client = verified_client()
    deposit_create(client=client, method=methods["stripe"], amount="100", actor="t")
    _aml(client, True)
    with pytest.raises(DepositNotAllowed) as refused:
        deposit_create(client=client, method=methods["stripe"], amount="100", actor="t")
    assert refused.value.message == UNDER_REVIEW
    assert Deposit.objects.count() == 1


def test_an_open_aml_case_refuses_a_withdrawal_request_holding_nothing(methods):
    client = verified_client()
    deposit_paid(client, methods["stripe"], "500.00")
    _aml(client, True)
    with pytest.raises(WithdrawalNotAllowed) as refused:
        withdrawal_request(client=client, amount="100", currency="USD", psp="stripe", actor="t")
    assert refused.value.message == UNDER_REVIEW
    assert not Withdrawal.objects.exists()
    assert fresh(wallet_for(client, "USD")).available_amount == D("500.00")
    _aml(client, False)
    w = withdrawal_request(client=client, amount="100", currency="USD", psp="stripe", actor="t")
    assert w.status == "approved"


@override_settings(FINANCE_FOUR_EYES_USD=1000)
def test_no_officer_approves_a_withdrawal_while_an_aml_case_is_open(methods):
    client = verified_client()
    deposit_paid(client, methods["stripe"], "6000.00")
    w = withdrawal_request(client=client, amount="3000", currency="USD", psp="stripe", actor="t")
    assert w.status == "in_review"
    first = make_staff("finance_officer")
    second = make_staff("finance_officer", email="f2@t.example")
    withdrawal_approve(withdrawal=w, actor=first, reason="Source of funds seen")
    _aml(client, True)
    with pytest.raises(WithdrawalNotAllowed) as refused:
        withdrawal_approve(withdrawal=w, actor=second, reason="Agreed")
    assert refused.value.code == "aml_case_open"
    assert fresh(w).status == "in_review"
    assert not AuditEvent.objects.filter(action="withdrawal.approved").exists()
    _aml(client, False)
    assert withdrawal_approve(withdrawal=w, actor=second, reason="Agreed").status == "approved"


def test_a_withdrawal_in_review_can_still_be_rejected_while_a_case_is_open(methods):
    client = verified_client()
    deposit_paid(client, methods["stripe"], "6000.00")
    w = withdrawal_request(client=client, amount="3000", currency="USD", psp="stripe", actor="t")
    _aml(client, True)
    first = make_staff("finance_officer")
    with pytest.raises(WithdrawalNotAllowed):
        withdrawal_approve(withdrawal=w, actor=first, reason="")
    withdrawal_reject(withdrawal=w, actor=first, reason="AML case open")
    assert fresh(wallet_for(client, "USD")).available_amount == D("6000.00")
