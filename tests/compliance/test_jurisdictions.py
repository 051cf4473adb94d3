"""Country rules: the kernel data and selectors, the default set the migration ships, and
compliance's audited services that add and end rules."""

from datetime import timedelta
from importlib import import_module

import pytest
from django.apps import apps as django_apps
from django.utils import timezone

from brokerage.country_rules import client_country_rules, country_rules_for, country_rules_in_force
from brokerage.errors import InvalidInput, NotAllowed
from brokerage.models import AuditEvent, CountryRule
from compliance.jurisdictions import country_rule_add, country_rule_end
from tests.conftest import make_client_user, make_staff

pytestmark = pytest.mark.django_db

default_set = import_module("brokerage.migrations.0010_country_rules_default")


@pytest.fixture
def officer():
    return make_staff("compliance_officer")


def add(officer, country="GB", kind="restricted", **kwargs):
    kwargs.setdefault("basis", "FCA notice 2026/12")
    return country_rule_add(actor=officer, country=country, kind=kind, **kwargs)


def test_the_migration_ships_the_default_set():
    rules = {(r.country, r.kind) for r in CountryRule.objects.all()}
    assert rules == {
        ("US", "blocked"),
        ("IR", "blocked"),
        ("KP", "blocked"),
        ("SY", "edd"),
        ("MM", "edd"),
    }
    us = CountryRule.objects.get(country="US")
    assert us.effective_to is None and us.in_force() and us.created_by_label == "system:migration"
    assert us.history.count() == 1  # the shipped defaults are in the rules' history
    # ...and not in the audit log, which starts with the installation's first decision
    assert not AuditEvent.objects.filter(actor_label="system:migration").exists()


def test_the_migration_reads_the_former_setting_and_runs_once(monkeypatch):
    monkeypatch.setenv("KYC_FOUR_EYES_COUNTRIES", "ir, af,AF, xx1")
    assert default_set.four_eyes_countries() == ["IR", "AF"]
    before = CountryRule.objects.count()
    default_set.forwards(django_apps, None)
    assert CountryRule.objects.count() == before + 1  # AF; IR is blocked, the rest are there
    assert CountryRule.objects.get(country="AF").kind == "edd"
    default_set.forwards(django_apps, None)
    assert CountryRule.objects.count() == before + 1


def test_rules_in_force_by_time_and_what_applies_to_a_client(officer):
    now = timezone.now()
    later = add(officer, "GB", effective_from=now + timedelta(days=2))
    edd = add(officer, "DE", "edd")
    assert list(country_rules_in_force("GB")) == []
    assert list(country_rules_in_force("GB", at=now + timedelta(days=3))) == [later]
    applied = country_rules_for(residence="de", nationality="IR")
    assert [(a.rule.country, a.kind, a.via) for a in applied] == [
        ("IR", "blocked", "nationality"),
        ("DE", "edd", "residence"),
    ]
    assert "jurisdiction rule" in applied[0].message and "Iran" in applied[0].message
    client = make_client_user().client
    client.country, client.nationality = "DE", ""
    assert [a.rule for a in client_country_rules(client)] == [edd]


def test_an_overlapping_rule_is_refused_naming_the_one_in_the_way(officer):
    first = add(officer, "GB")
    with pytest.raises(InvalidInput) as exc:
        add(officer, "GB", effective_from=timezone.now() + timedelta(days=1))
    assert exc.value.code == "rule_overlaps" and f"rule {first.pk}" in exc.value.message
    add(officer, "GB", "edd")  # another kind is fine


def test_bad_input_is_refused_field_by_field(officer):
    with pytest.raises(InvalidInput) as exc:
        country_rule_add(
            actor=officer,
            country="XX",
            kind="forbidden",
            basis=" ",
            effective_from=timezone.now() - timedelta(days=1),
        )
    assert set(exc.value.fields) == {"country", "kind", "basis", "effective_from"}
    assert not CountryRule.objects.filter(country="XX").exists()


def test_ending_a_rule_is_scheduled_audited_and_kept_in_history(officer):
    rule = add(officer, "GB")
    end = timezone.now() + timedelta(days=10)
    rule = country_rule_end(actor=officer, rule=rule, reason="Notice withdrawn", effective_to=end)
    assert rule.in_force() and rule.effective_to == end
    assert not rule.in_force(end)
    rule = country_rule_end(actor=officer, rule=rule, reason="Withdrawn today")
    assert not rule.in_force() and rule.ended_by == officer
    with pytest.raises(InvalidInput):
        country_rule_end(actor=officer, rule=rule, reason="again")
    assert [h.history_type for h in rule.history.order_by("history_id")] == ["+", "~", "~"]
    assert rule.history.latest().history_user == officer
    assert list(
        AuditEvent.objects.filter(target_id=str(rule.pk), target_type="brokerage.countryrule")
        .order_by("id")
        .values_list("action", flat=True)
    ) == ["countryrule.added", "countryrule.ended", "countryrule.ended"]
    # A new rule of the same kind may start once it ended.
    add(officer, "GB")


def test_a_scheduled_rule_ended_before_its_start_never_applies(officer):
    start = timezone.now() + timedelta(days=5)
    rule = add(officer, "GB", effective_from=start)
    rule = country_rule_end(actor=officer, rule=rule, reason="Cancelled")
    assert rule.effective_to == start and not rule.in_force(start)
    add(officer, "GB", effective_from=start)  # it covers no time


@pytest.mark.parametrize("role", ["sales_agent", "retention_agent", "ib_manager"])
def test_only_compliance_officers_write_rules(role, officer):
    staff = make_staff(role)
    with pytest.raises(NotAllowed):
        add(staff)
    rule = add(officer)
    with pytest.raises(NotAllowed):
        country_rule_end(actor=staff, rule=rule, reason="no")
