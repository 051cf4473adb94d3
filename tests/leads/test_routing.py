from datetime import timedelta

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from brokerage.models import AuditEvent, StaffProfile
from brokerage.services import staff_deactivate
from leads.models import Lead, NurtureEnrollment, RoutingRule
from leads.services import lead_route, leads_unrouted_route

pytestmark = pytest.mark.django_db


def test_uae_lead_goes_to_an_arabic_speaking_dubai_agent(floor):
    lead = floor.capture(country="AE", language="ar", phone="+971501234567", experience="some")
    assert lead.desk == floor.dubai and lead.assigned_to == floor.dubai_ar
    assert lead.routing["rule"] == "UAE leads to the Dubai desk"
    assert lead.routing["fit"] == "speaks the lead's language"
    event = AuditEvent.objects.get(action="lead.assigned", target_id=str(lead.pk))
    assert (
        event.actor_label == "rule:lead_routing"
        and event.evidence["agent"] == lead.assigned_to.email
    )


def test_wealthy_lead_goes_to_a_senior_account_manager(floor):
    lead = floor.capture(country="GB", net_worth_usd=300000, experience="some")
    assert lead.assigned_to == floor.senior
    assert lead.desk == floor.london  # the senior AM's own desk


def test_first_time_trader_is_nurtured_before_anyone_calls(floor):
    lead = floor.capture(country="GB", experience="none")
    assert lead.assigned_to is None and lead.desk is None
    enrollment = NurtureEnrollment.objects.get(lead=lead)
    assert enrollment.sequence.name == "First-time trader"
    assert enrollment.state == "active" and enrollment.next_send_at <= timezone.now()
    assert AuditEvent.objects.filter(action="lead.nurture_started", target_id=str(lead.pk)).exists()


def test_anyone_else_goes_to_the_global_desk(floor):
    lead = floor.capture(country="FR", experience="some")
    assert lead.desk == floor.global_ and lead.assigned_to in (floor.global_en, floor.global_es)


def test_rule_order_decides_a_uae_millionaire(floor):
    lead = floor.capture(country="AE", net_worth_usd=1000000, experience="experienced")
    assert lead.desk == floor.dubai  # the UAE rule comes first


def test_round_robin_takes_turns_within_the_desk(floor):
    agents = [
        floor.capture(country="DE", experience="some", language="en").assigned_to for _ in range(4)
    ]
    assert agents[0] != agents[1] and agents[:2] == agents[2:]


def test_least_loaded_picks_the_agent_with_fewest_open_leads(floor):
    RoutingRule.objects.filter(name__startswith="Everyone else").update(distribution="least_loaded")
    for _ in range(3):
        lead = floor.capture(country="DE", experience="some", route=False)
        Lead.objects.filter(pk=lead.pk).update(
            assigned_to=floor.global_en, routed_at=timezone.now()
        )
    lead = floor.capture(country="DE", experience="some")
    assert lead.assigned_to == floor.global_es


def test_language_fallback_and_shift(floor):
    StaffProfile.objects.filter(user=floor.dubai_ar).update(is_on_shift=False)
    lead = floor.capture(country="AE", language="ar", experience="some")
    assert lead.assigned_to == floor.dubai_en and lead.routing["fit"] == "fallback"


def test_nobody_on_shift_leaves_the_lead_in_the_desk_queue(floor):
    StaffProfile.objects.filter(desk=floor.dubai).update(is_on_shift=False)
    lead = floor.capture(country="AE", experience="some")
    assert lead.desk == floor.dubai and lead.assigned_to is None
    assert AuditEvent.objects.filter(action="lead.queued", target_id=str(lead.pk)).exists()


def test_no_matching_rule_is_recorded_not_lost(floor):
    RoutingRule.objects.filter(name__startswith="Everyone else").update(is_active=False)
    lead = floor.capture(country="FR", experience="some")
    assert lead.routed_at and lead.desk is None and lead.assigned_to is None
    assert lead.routing["why"] == "no routing rule matched"


def test_routing_twice_changes_nothing(floor):
    lead = floor.capture(country="FR", experience="some")
    events = AuditEvent.objects.count()
    again = lead_route(lead_id=lead.pk)
    assert again.assigned_to == lead.assigned_to and AuditEvent.objects.count() == events


def test_sweeper_routes_leads_left_behind(floor):
    lead = floor.capture(country="AE", experience="some", route=False)
    Lead.objects.filter(pk=lead.pk).update(created_at=timezone.now() - timedelta(minutes=1))
    assert leads_unrouted_route() == 1
    lead = Lead.objects.get(pk=lead.pk)
    assert lead.assigned_to is not None
    assert (
        AuditEvent.objects.get(target_id=str(lead.pk), action="lead.assigned").actor_label
        == "rule:lead_routing_sweeper"
    )
    assert leads_unrouted_route() == 0


def test_deactivated_agents_leads_are_reassigned(floor):
    leads = [floor.capture(country="AE", language="ar", experience="some") for _ in range(2)]
    assert {lead.assigned_to for lead in leads} == {floor.dubai_ar}
    from leads.services import leads_of_departed_agent_reroute

    staff_deactivate(actor=floor.manager, user=floor.dubai_ar, reason="left the company")
    assert leads_of_departed_agent_reroute(user=floor.dubai_ar, actor="test") == 2
    for lead in leads:
        assert Lead.objects.get(pk=lead.pk).assigned_to == floor.dubai_en


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    country=st.sampled_from(["AE", "GB", "FR", "ES"]),
    language=st.sampled_from(["en", "ar", "es"]),
    experience=st.sampled_from(["none", "some", "experienced"]),
    worth=st.sampled_from([None, 1000, 250000, 900000]),
)
def test_every_lead_is_placed_exactly_once_by_the_first_matching_rule(
    floor, country, language, experience, worth
):
    lead = floor.capture(
        country=country,
        language=language,
        experience=experience,
        net_worth_usd=worth,
        email=f"p{Lead.objects.count()}@example.com",
    )
    expected = (
        "UAE leads to the Dubai desk"
        if country == "AE"
        else "Net worth 250k USD+ to a senior account manager"
        if (worth or 0) >= 250000
        else "First-time traders are nurtured first"
        if experience == "none"
        else "Everyone else to the Global desk"
    )
    assert lead.routing["rule"] == expected
    assigned = AuditEvent.objects.filter(
        target_id=str(lead.pk),
        target_type="leads.lead",
        action__in=["lead.assigned", "lead.nurture_started"],
    )
    assert assigned.count() == 1
    if lead.assigned_to:
        profile = lead.assigned_to.staff_profile
        assert profile.is_on_shift and lead.assigned_to.is_active
