"""Screening hits become alerts: every client and partner is screened once their registration
commits (and by the sweeper if that task was lost); a hit is confirmed (a block on the client's
standing until lifted) or dismissed (four eyes at a high score); a dismissed pair is not raised
again until the list entry changes."""

from decimal import Decimal

import pytest
from celery import current_app
from django.contrib.auth import get_user_model
from django.test import override_settings

from brokerage.errors import InvalidInput, NotAllowed
from brokerage.models import AuditEvent
from clients.services import client_register
from clients.standing import UNDER_REVIEW, Purpose, client_standing
from compliance import audit_events
from compliance.models import Alert, AlertStatus, ScreeningRun
from compliance.services import (
    alert_block_lift,
    alert_confirm,
    alert_dismiss,
    client_screen,
    never_screened_sweep,
    snapshot_import,
)
from demo.compliance import MAPPING
from finance.models import Deposit, Withdrawal
from finance.services import (
    DepositNotAllowed,
    WithdrawalNotAllowed,
    deposit_create,
    withdrawal_request,
)
from ib.services import partner_create
from tests.conftest import make_staff
from tests.finance.conftest import deposit_paid, methods, verified_client  # noqa: F401

pytestmark = pytest.mark.django_db

WATCH_CSV = (
    "Ref,Full name,Also known as,Born,Country,Programme,Notes\n"
    "W-1,Ivan Zlobnikov,Ivan Petrovich Zlobnikov,1970-03-04,RU,Arms trading,\n"
    "W-2,Orlan Trading Kontor,,,,Front company,\n"
)


def watch_list(text=WATCH_CSV):
    """A small internal watch list, read through the demo's column mapping."""
    return snapshot_import(
        fmt="csv",
        files=[("watch.csv", text.encode())],
        actor="tests",
        list_code="internal-watch",
        mapping=MAPPING,
    )


@pytest.fixture
def eager():
    current_app.conf.task_always_eager = True
    yield
    current_app.conf.task_always_eager = False


def register(first, last, email=None):
    user = get_user_model().objects.create_user(
        email=email or f"{first.lower()}@test.example",
        password="x-long-pass",
        first_name=first,
        last_name=last,
    )
    return client_register(user=user, actor="test")


def listed_client(email="ivan@test.example"):
    """A client who registered under a listed name, screened, with the alert it raised."""
    client = register("Ivan", "Zlobnikov", email)
    client_screen(client_id=client.pk, reason="on_demand")
    return client, Alert.objects.get(client=client)


def test_registration_screens_and_raises_an_alert_for_a_listed_name(
    eager, django_capture_on_commit_callbacks
):
    snapshot = watch_list()
    with django_capture_on_commit_callbacks(execute=True):
        client = register("Ivan", "Zlobnikov")
    run = ScreeningRun.objects.get(client=client)
    assert run.reason == "registration" and run.names == ["Ivan Zlobnikov"]
    assert list(run.snapshots.all()) == [snapshot]
    alert = Alert.objects.get(client=client)
    assert (alert.list_id, alert.status, alert.snapshot) == ("W-1", "open", snapshot)
    assert alert.score == Decimal("1.0000") and alert.breakdown["tokens"]
    event = AuditEvent.objects.get(action=audit_events.CLIENT_SCREENED)
    assert event.subject_client_id == client.pk and event.evidence["alerts"] == [alert.pk]


def test_a_clean_name_is_screened_and_raises_nothing(eager, django_capture_on_commit_callbacks):
    watch_list()
    with django_capture_on_commit_callbacks(execute=True):
        client = register("Nora", "Ng")
    assert ScreeningRun.objects.get(client=client).hit_count == 0
    assert not Alert.objects.exists()


def test_a_partner_is_screened_by_its_company_name_too(eager, django_capture_on_commit_callbacks):
    watch_list()
    user = get_user_model().objects.create_user(
        email="ib@test.example", password="x-long-pass", first_name="Ian", last_name="Bell"
    )
    with django_capture_on_commit_callbacks(execute=True):
        partner = partner_create(actor="test", user=user, company_name="Orlan Trading Kontor")
    run = ScreeningRun.objects.get(client=partner.holder)
    assert run.names == ["Ian Bell", "Orlan Trading Kontor"]
    assert list(Alert.objects.values_list("list_id", flat=True)) == ["W-2"]


def test_the_sweeper_screens_whoever_was_never_screened():
    watch_list()
    client = register("Ivan", "Zlobnikov")  # its task never ran (no commit in a test)
    assert never_screened_sweep() == 1
    assert ScreeningRun.objects.get(client=client).reason == "sweep"
    assert Alert.objects.filter(client=client).count() == 1
    assert never_screened_sweep() == 0


def test_a_new_client_is_screened_once_whichever_task_or_sweep_gets_there_first():
    """A worker killed mid-screening leaves its message unacknowledged: the sweeper screens the
    client, and the task redelivered later (or a second sweep running beside the first) finds
    the run and adds none, so the client has one run and one alert."""
    watch_list()
    client = register("Ivan", "Zlobnikov")
    first = client_screen(client_id=client.pk, reason="sweep")
    again = client_screen(client_id=client.pk, reason="registration")  # the redelivered task
    assert again.pk == first.pk
    assert client_screen(client_id=client.pk, reason="sweep").pk == first.pk
    assert ScreeningRun.objects.filter(client=client).count() == 1
    assert Alert.objects.filter(client=client).count() == 1
    # Screening for a new reason (an officer's request) still runs.
    client_screen(client_id=client.pk, reason="on_demand")
    assert ScreeningRun.objects.filter(client=client).count() == 2


@override_settings(COMPLIANCE_FOUR_EYES_SCORE=1.5)
def test_a_dismissed_pair_is_not_raised_again_until_the_entry_changes():
    watch_list()
    client, alert = listed_client()
    officer = make_staff("compliance_officer")
    with pytest.raises(InvalidInput, match="Say why"):
        alert_dismiss(alert=alert, actor=officer, reason=" ")
    alert = alert_dismiss(alert=alert, actor=officer, reason="Born 1991, Latvian citizen")
    assert alert.status == "dismissed"
    # The same list imported again: the same entry, the same content: nothing raised.
    again = watch_list()
    assert again.changed_count == 0
    run = client_screen(client_id=client.pk, reason="on_demand")
    assert (run.hit_count, run.raised_count) == (1, 0)
    # An open alert is not raised twice either.
    assert Alert.objects.count() == 1
    # The entry changes: raised again, from the new snapshot.
    changed = watch_list(WATCH_CSV.replace("Arms trading", "Arms trading; shipping"))
    assert changed.changed_count == 1
    run = client_screen(client_id=client.pk, reason="on_demand")
    assert run.raised_count == 1
    fresh = Alert.objects.get(status="open")
    assert fresh.snapshot == changed and fresh.content_hash != alert.content_hash


def test_dismissing_a_high_score_needs_a_second_officer():
    watch_list()
    client, alert = listed_client()
    first = make_staff("compliance_officer", email="c1@test.example")
    second = make_staff("compliance_officer", email="c2@test.example")
    alert = alert_dismiss(alert=alert, actor=first, reason="Different person: DOB 1991")
    assert alert.status == AlertStatus.DISMISSAL_PROPOSED and alert.proposed_by == first
    with pytest.raises(NotAllowed) as refused:
        alert_dismiss(alert=alert, actor=first)
    assert refused.value.code == "four_eyes"
    alert = alert_dismiss(alert=alert, actor=second)
    assert alert.status == "dismissed" and alert.decided_by == second
    assert alert.decision_reason == "Different person: DOB 1991"
    actions = list(
        AuditEvent.objects.filter(subject_client_id=client.pk, action__startswith="screening.alert")
        .order_by("pk")
        .values_list("action", flat=True)
    )
    assert actions == [audit_events.ALERT_DISMISSAL_PROPOSED, audit_events.ALERT_DISMISSED]
    with pytest.raises(InvalidInput, match="already decided"):
        alert_confirm(alert=alert, actor=first, reason="second thoughts")


def test_a_confirmed_match_blocks_money_with_the_reason_until_lifted(methods):  # noqa: F811
    watch_list()
    client = verified_client("ivan@test.example")
    client.user.first_name, client.user.last_name = "Ivan", "Zlobnikov"
    client.user.save()
    deposit_paid(client, methods["stripe"], "500.00")
    client_screen(client_id=client.pk, reason="on_demand")
    alert = Alert.objects.get(client=client)
    officer = make_staff("compliance_officer")
    # the service itself refuses anyone but a compliance officer, whatever page calls it
    for role in ("finance_officer", "sales_agent"):
        with pytest.raises(NotAllowed):
            alert_confirm(alert=alert, actor=make_staff(role), reason="looks like him")
    assert Alert.objects.get(pk=alert.pk).status == AlertStatus.OPEN
    alert_confirm(alert=alert, actor=officer, reason="DOB and passport match")
    for purpose in Purpose:
        standing = client_standing(client, purpose)
        assert "sanctions_match" in standing.codes
        assert standing.refusal().severity == "block"
    with pytest.raises(DepositNotAllowed) as refused:
        deposit_create(client=client, method=methods["stripe"], amount="100", actor="t")
    # The client is told only that the account is under review (no tipping off); staff see
    # the reason named in the standing.
    assert refused.value.message == UNDER_REVIEW
    assert client_standing(client, Purpose.DEPOSIT).refusal().code == "sanctions_match"
    with pytest.raises(WithdrawalNotAllowed) as refused:
        withdrawal_request(client=client, amount="100", currency="USD", psp="stripe", actor="t")
    assert refused.value.message == UNDER_REVIEW
    assert Deposit.objects.count() == 1 and not Withdrawal.objects.exists()
    with pytest.raises(InvalidInput, match="Say why"):
        alert_block_lift(alert=alert, actor=officer, reason="")
    alert_block_lift(alert=alert, actor=officer, reason="Delisted on 2026-12-01")
    assert "sanctions_match" not in client_standing(client, Purpose.DEPOSIT).codes
    deposit_create(client=client, method=methods["stripe"], amount="100", actor="t")
    lifted = AuditEvent.objects.get(action=audit_events.BLOCK_LIFTED)
    assert lifted.subject_client_id == client.pk and lifted.reason == "Delisted on 2026-12-01"
    assert (
        AuditEvent.objects.get(action=audit_events.ALERT_CONFIRMED).subject_client_id == client.pk
    )


def test_a_registration_commits_even_when_the_broker_is_down(
    monkeypatch, django_capture_on_commit_callbacks
):
    from compliance import tasks

    def down(*args, **kwargs):
        raise OSError("Connection refused")

    monkeypatch.setattr(tasks.client_screen_task, "delay", down)
    with django_capture_on_commit_callbacks(execute=True):
        client = register("Ivan", "Zlobnikov")
    assert client.pk and not ScreeningRun.objects.exists()
    assert never_screened_sweep() == 1  # the sweeper screens it
