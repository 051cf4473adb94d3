"""A country of residence declared at KYC becomes the client's when the submission is approved
(automatically or by an officer), never when the details are only saved or sent: audited, kept
in the client's history, and the jurisdiction rules, leverage caps and risk rating follow the
new country at once."""

import pytest

from brokerage.errors import InvalidInput
from brokerage.models import AuditEvent
from clients.models import Client, PlatformRestraint
from clients.services import client_residence_set
from clients.standing import Purpose, client_standing
from compliance.jurisdictions import country_rule_add
from compliance.models import RiskAssessment, RuleApplication
from kyc.services import kyc_review_approve, kyc_submission_autocheck, kyc_submission_submit
from tests.clients.factories import make_account
from tests.compliance.rules import worker_runs_it
from tests.compliance.test_alerts import eager
from tests.conftest import make_staff
from tests.kyc.conftest import prepared

pytestmark = pytest.mark.django_db
eager_tasks = eager  # risk_assess_task runs as the change commits


def moved_to(client_id, country):
    return Client.objects.get(pk=client_id).country == country


def residence_events(client):
    return list(
        AuditEvent.objects.filter(action="client.residence_changed", target_id=str(client.pk))
    )


def prev(rows, i):
    return rows[i - 1].country


def registered_in(email, living_in, **details):
    user, submission = prepared(email=email, **details)
    client = Client.objects.get(pk=user.client.pk)
    client.country = living_in
    client.save(update_fields=["country"])
    return user, submission


def test_an_automatic_approval_moves_the_client_to_the_declared_country():
    user, submission = registered_in("mover@test.example", "DE", country="GB")
    kyc_submission_submit(submission=submission, actor=user)
    assert moved_to(user.client.pk, "DE")  # declared and sent, not yet proved
    assert kyc_submission_autocheck(submission_id=submission.pk).state == "approved"
    assert moved_to(user.client.pk, "GB")
    [event] = residence_events(user.client)
    assert event.evidence == {"from": "DE", "to": "GB"} and event.actor_label == (
        "rule:kyc_autocheck"
    )
    assert f"KYC submission {submission.pk}" in event.reason
    rows = Client.history.filter(id=user.client.pk).order_by("history_date", "history_id")
    moves = [c for i, c in enumerate(h.country for h in rows) if i == 0 or c != prev(rows, i)]
    assert moves[-2:] == ["DE", "GB"]  # what the IB engine reads at deal close


def test_an_officers_approval_applies_the_new_countrys_rules_caps_and_rating(
    eager_tasks, django_capture_on_commit_callbacks
):
    officer = make_staff("compliance_officer")
    user, submission = registered_in(
        "banned@test.example", "DE", country="GB", nationality="FR", id_kwargs={"blur": 3}
    )
    account = make_account(user.client, leverage=500)
    rule = country_rule_add(actor=officer, country="GB", kind="restricted", basis="FCA notice")
    kyc_submission_submit(submission=submission, actor=user)
    submission = kyc_submission_autocheck(submission_id=submission.pk)
    assert submission.state == "in_review"
    assert not RuleApplication.objects.filter(client=user.client).exists()
    PlatformRestraint.objects.filter(account=account).update(due_since=None)
    with django_capture_on_commit_callbacks():  # the platform call itself is not this test's
        kyc_review_approve(submission=submission, actor=officer, reason="bill is legible")
    client = Client.objects.get(pk=user.client.pk)
    assert client.country == "GB"
    [application] = RuleApplication.objects.filter(client=client, lifted_at=None)
    assert application.rule == rule and application.via == "residence"
    assert client_standing(client, Purpose.DEPOSIT).refusal().code == "jurisdiction_restricted"
    assert PlatformRestraint.objects.get(account=account).due_since is not None  # leverage cap
    [event] = residence_events(client)
    assert event.actor == officer


def test_the_rating_reads_the_new_country(eager_tasks, django_capture_on_commit_callbacks):
    user, _ = registered_in("rated@test.example", "DE")
    country_rule_add(actor="test", country="YE", kind="edd", basis="High-risk third country")
    with django_capture_on_commit_callbacks(execute=True):
        client_residence_set(client=user.client, country="YE", actor="test", reason="moved")
    latest = RiskAssessment.objects.filter(client=user.client).first()
    assert latest.cause == "country changed"
    residence = next(f for f in latest.factors if f["code"] == "residence")
    assert residence["explanation"].startswith("Yemen")
    rules = next(f for f in latest.factors if f["code"] == "jurisdiction")
    assert rules["points"] == 20  # Yemen: enhanced due diligence


def test_the_same_country_or_a_bad_one_changes_nothing():
    user, _ = registered_in("same@test.example", "GB")
    client_residence_set(client=user.client, country="gb", actor="test", reason="same")
    assert residence_events(user.client) == []
    with pytest.raises(InvalidInput) as refused:
        client_residence_set(client=user.client, country="XX", actor="test", reason="bad")
    assert refused.value.fields == {"country": ["Choose a country."]}
    assert moved_to(user.client.pk, "GB")


def test_a_move_out_of_a_rules_reach_lifts_it_at_once():
    officer = make_staff("compliance_officer")
    user, _ = registered_in("leaver@test.example", "GB")
    with worker_runs_it():
        country_rule_add(actor=officer, country="GB", kind="restricted", basis="FCA notice")
    assert RuleApplication.objects.filter(client=user.client, lifted_at=None).exists()
    client_residence_set(client=user.client, country="FR", actor="test", reason="moved")
    [application] = RuleApplication.objects.filter(client=user.client)
    assert application.lifted_at is not None
    assert application.lift_reason == "The rule no longer reaches the client."
