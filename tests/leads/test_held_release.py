"""Leads a blocked country rule held back from sales are routed once the rule ends: set-based,
through the routing task on the leads queue, each release audited and on the lead's timeline;
a lead another blocked rule covers is held again under it, and nothing is released twice."""

from datetime import timedelta

import pytest
from django.utils import timezone

from brokerage.models import AuditEvent
from compliance.jurisdictions import country_rule_add, country_rule_end
from compliance.tasks import jurisdiction_apply_task
from leads.held import leads_held_release
from leads.models import Lead, LeadActivity
from leads.services import leads_unrouted_route
from tests.compliance.test_alerts import eager
from tests.conftest import make_staff
from tests.leads.conftest import floor  # noqa: F401

pytestmark = pytest.mark.django_db
eager_tasks = eager  # the routing task runs as the release commits


@pytest.fixture
def officer():
    return make_staff("compliance_officer")


def ban(officer, country="GB", **kwargs):
    return country_rule_add(actor=officer, country=country, kind="blocked", basis="Ban", **kwargs)


def test_the_leads_a_rule_held_are_routed_when_an_officer_ends_it(
    floor,  # noqa: F811
    officer,
    eager_tasks,
    django_capture_on_commit_callbacks,
):
    rule = ban(officer)
    held = [floor.capture(country="GB", language="en") for _ in range(3)]
    lost = floor.capture(country="GB", language="en")
    Lead.objects.filter(pk=lost.pk).update(status=Lead.Status.LOST)
    other = floor.capture(country="FR", language="en")
    assert all(lead.routing["jurisdiction_rule"] == rule.pk for lead in held)
    assert all(lead.assigned_to is None and lead.desk is None for lead in held)
    with django_capture_on_commit_callbacks(execute=True):
        country_rule_end(actor=officer, rule=rule, reason="Licence granted")
    for lead in held:
        lead = Lead.objects.get(pk=lead.pk)
        assert lead.routed_at is not None and "jurisdiction_rule" not in lead.routing
        assert lead.routing["rule"]  # the demo rules decided where it goes
        assert AuditEvent.objects.get(
            action="lead.released_by_jurisdiction", target_id=str(lead.pk)
        ).evidence == {"rule": rule.pk, "country": "GB"}
        routed = AuditEvent.objects.filter(target_id=str(lead.pk), action__startswith="lead.")
        assert routed.exclude(action__contains="jurisdiction").exists()
        assert LeadActivity.objects.filter(lead=lead, data__released_from=rule.pk).exists()
    # a lead lost meanwhile, and one never held, are left as they are
    assert Lead.objects.get(pk=lost.pk).routing["jurisdiction_rule"] == rule.pk
    assert not AuditEvent.objects.filter(
        action="lead.released_by_jurisdiction", target_id__in=[str(lost.pk), str(other.pk)]
    ).exists()
    assert leads_held_release() == 0  # run again: nothing


def test_a_scheduled_end_releases_nothing_before_its_time(
    floor,  # noqa: F811
    officer,
):
    rule = ban(officer)
    lead = floor.capture(country="GB", language="en")
    end = timezone.now() + timedelta(hours=1)
    country_rule_end(actor=officer, rule=rule, reason="Ends in an hour", effective_to=end)
    assert leads_held_release() == 0  # still in force
    assert Lead.objects.get(pk=lead.pk).routed_at is not None
    assert leads_held_release(at=end + timedelta(seconds=1)) == 1
    lead = Lead.objects.get(pk=lead.pk)
    assert lead.routed_at is None  # to be routed by the task once this commits
    assert lead.routing["released_from"] == rule.pk


def test_a_lost_routing_task_is_recovered_by_the_sweeper(
    floor,  # noqa: F811
    officer,
):
    rule = ban(officer)
    lead = floor.capture(country="GB", language="en")
    country_rule_end(actor=officer, rule=rule, reason="Lifted")  # on_commit never runs here
    assert Lead.objects.get(pk=lead.pk).routed_at is None
    Lead.objects.filter(pk=lead.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    assert leads_unrouted_route() == 1
    lead = Lead.objects.get(pk=lead.pk)
    assert lead.routed_at is not None and "jurisdiction_rule" not in lead.routing


def test_the_beat_releases_what_ended_at_its_time(
    floor,  # noqa: F811
    officer,
    eager_tasks,
    django_capture_on_commit_callbacks,
):
    rule = ban(officer)
    lead = floor.capture(country="GB", language="en")
    # the end came while nobody looked: set in the past, as the beat finds it
    type(rule).objects.filter(pk=rule.pk).update(effective_to=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        result = jurisdiction_apply_task()
    assert result["leads_released"] == 1
    lead = Lead.objects.get(pk=lead.pk)
    assert lead.routed_at is not None and "jurisdiction_rule" not in lead.routing
