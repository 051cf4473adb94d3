"""Real time through a real Celery worker: money that moved is evaluated on the `compliance`
queue once it commits; a withdrawal monitoring holds waits in finance review for an officer
(no payout task is sent) until one approves it."""

import time

import pytest
from django.db import transaction

from compliance.monitoring.models import Alert, Evaluation
from finance.models import Withdrawal
from finance.moved import money_moved
from finance.services import withdrawal_approve, withdrawal_request
from tests.clients.factories import fund_wallet
from tests.conftest import make_staff, shipped_defaults, wait_for

from . import factories as f

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_the_worker_evaluates_committed_money_and_a_held_withdrawal_waits(worker):
    shipped_defaults()
    c = f.verified_client()
    funding = f.deposit(c, 40000, at=f.ago(60))
    fund_wallet(c, "40000.00", key="worker-funds")
    deposits = [f.deposit(c, amount, at=f.ago(n + 1)) for n, amount in enumerate([9500, 9600])]
    third = f.deposit(c, 9700)
    with transaction.atomic():
        money_moved("deposit", third.pk)  # as deposit_credit calls it
        time.sleep(0.5)
        assert not Evaluation.objects.filter(kind="deposit", object_id=third.pk).exists()
    assert wait_for(lambda: Evaluation.objects.filter(kind="deposit", object_id=third.pk).exists())
    alert = Alert.objects.get(client=c, scenario__code="structuring")
    assert alert.score == 70 and alert.evidence.count() == 3
    assert {d.pk for d in deposits} < set(alert.evidence.values_list("object_id", flat=True))

    for n, amount in enumerate([9500, 9600]):
        f.withdrawal(c, amount, at=f.ago(n + 1), funding=funding, status="paid")
    w = withdrawal_request(client=c, amount="9700", currency="USD", psp="stripe", actor=c.user)
    assert w.status == Withdrawal.Status.IN_REVIEW
    assert "aml_hold" in [r["code"] for r in w.check_reasons]
    time.sleep(2)  # the worker is idle: nothing pays a withdrawal in review
    w = Withdrawal.objects.get(pk=w.pk)
    assert (w.status, w.payout_attempts) == (Withdrawal.Status.IN_REVIEW, 0)
    first = make_staff("finance_officer")
    second = make_staff("finance_officer", email="second@test.example")
    w = withdrawal_approve(withdrawal=w, actor=first, reason="Compliance looked: salary.")
    if w.status == Withdrawal.Status.IN_REVIEW:
        w = withdrawal_approve(withdrawal=w, actor=second, reason="Agreed.")
    assert w.status in (Withdrawal.Status.APPROVED, Withdrawal.Status.PROCESSING)
