"""Scenarios and versions as shipped, the one-live rule, alerts moved to a case and closed,
versions drafted, validated and published: each audited."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from brokerage.errors import InvalidInput, NotAllowed
from brokerage.models import AuditEvent
from compliance.monitoring import audit_events
from compliance.monitoring.catalogue import CODES, TYPOLOGIES
from compliance.monitoring.models import Alert, Scenario, ScenarioVersion
from compliance.monitoring.services import version_draft, version_publish, version_update
from tests.conftest import make_client_user, make_staff

pytestmark = pytest.mark.django_db


def test_every_typology_ships_live_with_the_spec_defaults():
    assert sorted(Scenario.objects.values_list("code", flat=True)) == sorted(CODES)
    assert len(CODES) == 10
    for v in ScenarioVersion.objects.select_related("scenario"):
        assert (v.number, v.status, v.alert_score, v.hold_score) == (1, "live", 50, 80)
        assert v.params == TYPOLOGIES[v.scenario.code].defaults
    live = ScenarioVersion.objects.get(scenario__code="quick_in_out").params
    assert live == {
        "window_days": 14,
        "min_deposit_usd": "2000",
        "withdrawal_ratio": "0.8",
        "max_lots": "1.0",
    }


def test_one_live_version_per_scenario_is_the_databases_rule():
    scenario = Scenario.objects.get(code="velocity")
    with pytest.raises(IntegrityError), transaction.atomic():
        ScenarioVersion.objects.create(scenario=scenario, number=2, status="live")


def _alert(client, code="structuring"):
    version = ScenarioVersion.objects.get(scenario__code=code, status="live")
    now = timezone.now()
    return Alert.objects.create(
        client=client,
        scenario=version.scenario,
        scenario_version=version,
        score=70,
        action="alert",
        explanation="3 deposits of USD 9,500-9,900 within 7 days",
        window_start=now - timedelta(days=7),
        window_end=now,
        params=version.params,
        source="realtime",
    )


def test_one_open_alert_per_client_and_scenario():
    client = make_client_user().client
    _alert(client)
    with pytest.raises(IntegrityError), transaction.atomic():
        _alert(client)


def test_alert_moves_to_a_case_and_closes_with_a_reason_audited():
    client = make_client_user().client
    officer = make_staff("compliance_officer")
    alert = _alert(client)
    alert.move_to_case()
    assert Alert.objects.get(pk=alert.pk).status == "in_case"
    with pytest.raises(InvalidInput):
        alert.close("", officer)
    alert.close("Salary paid in instalments, payslips on file.", officer)
    alert.refresh_from_db()
    assert (alert.status, alert.closed_by) == ("closed", officer)
    assert alert.closed_reason.startswith("Salary")
    actions = list(
        AuditEvent.objects.filter(target_id=str(alert.pk)).values_list("action", flat=True)
    )
    assert audit_events.ALERT_MOVED_TO_CASE in actions
    assert audit_events.ALERT_CLOSED in actions
    with pytest.raises(InvalidInput):
        alert.move_to_case()
    # Closed: a new hit may open a new alert.
    _alert(client)


def test_only_compliance_closes_an_alert():
    client = make_client_user().client
    alert = _alert(client)
    with pytest.raises(NotAllowed):
        alert.close("Not mine to close.", make_staff("sales_agent"))


def test_a_draft_is_validated_backtestable_and_published_retiring_the_live_one():
    officer = make_staff("compliance_officer")
    scenario = Scenario.objects.get(code="structuring")
    with pytest.raises(InvalidInput) as err:
        version_draft(
            scenario=scenario,
            actor=officer,
            params={"min_count": "two", "band": "5", "nonsense": 1},
            alert_score=70,
            hold_score=60,
        )
    assert set(err.value.fields) == {"min_count", "band", "nonsense"}
    with pytest.raises(InvalidInput) as err:
        version_draft(scenario=scenario, actor=officer, params={}, alert_score=70, hold_score=60)
    assert "hold_score" in err.value.fields
    draft = version_draft(
        scenario=scenario, actor=officer, params={"min_count": 4}, alert_score=60, hold_score=""
    )
    assert draft.number == 2 and draft.status == "draft" and draft.hold_score is None
    assert draft.params["min_count"] == 4 and draft.params["threshold_usd"] == "10000"
    draft = version_update(
        version=draft, actor=officer, params={"min_count": 5}, alert_score=65, hold_score=90
    )
    published = version_publish(version=draft, actor=officer, reason="Fewer false hits.")
    assert published.status == "live" and published.published_by == officer
    assert ScenarioVersion.objects.get(scenario=scenario, number=1).status == "retired"
    with pytest.raises(InvalidInput):
        version_update(version=published, actor=officer, params={}, alert_score=50, hold_score=80)
    assert AuditEvent.objects.filter(action=audit_events.VERSION_PUBLISHED).count() == 1
    with pytest.raises(NotAllowed):
        version_draft(scenario=scenario, actor=make_staff("finance_officer"))
