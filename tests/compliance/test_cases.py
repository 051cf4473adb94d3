"""AML cases: open -> investigating -> escalated -> reported or closed, four eyes on an escalated
case, every step audited with the client as subject, and the client's AML case reason standing
exactly while one of their cases is active (never told to the client)."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_fsm import TransitionNotAllowed
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from brokerage.errors import InvalidInput, NotAllowed
from brokerage.models import AuditEvent
from clients.models import Client
from clients.services import client_aml_case_set
from clients.standing import UNDER_REVIEW, Purpose, client_standing
from compliance import audit_events
from compliance.cases import (
    case_alert_add,
    case_assign,
    case_close,
    case_escalate,
    case_investigate,
    case_note_add,
    case_open,
    case_report,
)
from compliance.models import Case, CaseStatus
from finance.services import DepositNotAllowed, deposit_create
from tests.compliance.test_alerts import listed_client, watch_list
from tests.conftest import make_staff
from tests.finance.conftest import methods, verified_client  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def officers(db):
    return make_staff("compliance_officer", email="ana@test.example"), make_staff(
        "compliance_officer", email="ben@test.example"
    )


def aml_open(client) -> bool:
    return Client.objects.get(pk=client.pk).aml_case_open


def actions(case) -> list[str]:
    return list(
        AuditEvent.objects.filter(target_type="compliance.case", target_id=str(case.pk))
        .order_by("pk")
        .values_list("action", flat=True)
    )


def test_a_case_runs_its_whole_life_with_four_eyes_and_the_block_follows_it(officers):
    ana, ben = officers
    watch_list()
    client, alert = listed_client()
    case = case_open(client=client, actor=ana, summary="Name hit on W-1", screening_alerts=[alert])
    assert case.status == CaseStatus.OPEN and list(case.screening_alerts.all()) == [alert]
    assert case.assigned_to == ana and case.reference == f"CASE-{case.pk:06d}"
    assert case.due_at - case.opened_at == timedelta(days=30)
    assert aml_open(client)
    standing = client_standing(Client.objects.get(pk=client.pk), Purpose.WITHDRAW)
    refusal = standing.refusal(reviewable=True)
    assert refusal.code == "aml_case_open" and refusal.client_message == UNDER_REVIEW

    case = case_investigate(case=case, actor=ana)
    case_note_add(case=case, actor=ana, text="Asked for the source of funds.")
    case = case_escalate(case=case, actor=ana, reason="Funds from an unexplained third party")
    assert case.status == CaseStatus.ESCALATED and case.escalated_by == ana
    with pytest.raises(NotAllowed) as refused:
        case_close(case=case, actor=ana, reason="Fine after all")
    assert refused.value.code == "four_eyes"
    assert Case.objects.get(pk=case.pk).status == CaseStatus.ESCALATED and aml_open(client)

    with pytest.raises(InvalidInput) as undecided:
        case_close(case=case, actor=ben, reason="Source of funds documented: inheritance")
    assert undecided.value.code == "hits_undecided"
    assert list(undecided.value.fields) == [f"hit_{alert.pk}"]
    assert Case.objects.get(pk=case.pk).status == CaseStatus.ESCALATED and aml_open(client)
    case = case_close(
        case=case,
        actor=ben,
        reason="Source of funds documented: inheritance",
        hit_decisions={alert.pk: "true_match"},
    )
    assert case.status == CaseStatus.CLOSED and case.decided_by == ben
    assert not aml_open(client)
    assert (
        "aml_case_open" not in client_standing(Client.objects.get(pk=client.pk), "withdraw").codes
    )
    assert actions(case) == [
        audit_events.CASE_OPENED,
        audit_events.CASE_INVESTIGATING,
        audit_events.CASE_NOTE_ADDED,
        audit_events.CASE_ESCALATED,
        audit_events.CASE_CLOSED,
    ]
    closed = AuditEvent.objects.get(action=audit_events.CASE_CLOSED)
    assert closed.actor_id == ben.pk and closed.subject_client_id == client.pk
    assert closed.evidence["four_eyes"] is True and closed.evidence["escalated_by"] == ana.pk
    assert closed.reason == "Source of funds documented: inheritance"
    assert closed.evidence["screening_hits_decided"] == {str(alert.pk): "confirmed"}
    client_events = AuditEvent.objects.filter(
        target_id=str(client.pk), action__startswith="client.aml_case"
    ).order_by("pk")
    assert list(client_events.values_list("action", flat=True)) == [
        "client.aml_case_opened",
        "client.aml_case_closed",
    ]


def test_an_escalated_case_is_reported_by_a_second_officer_with_the_reference(officers):
    ana, ben = officers
    client = verified_client()
    case = case_open(client=client, actor=ana, summary="Structuring")
    case = case_investigate(case=case, actor=ana)
    case = case_escalate(case=case, actor=ana, reason="Three deposits just under 10,000")
    today = timezone.localdate()
    with pytest.raises(NotAllowed):
        case_report(case=case, actor=ana, reference="SAR-1", filed_on=today)
    with pytest.raises(InvalidInput, match="between"):
        case_report(case=case, actor=ben, reference="SAR-1", filed_on=today + timedelta(days=1))
    with pytest.raises(InvalidInput):
        case_report(case=case, actor=ben, reference="  ", filed_on=today)
    assert Case.objects.get(pk=case.pk).status == CaseStatus.ESCALATED
    case = case_report(case=case, actor=ben, reference="NCA-2026-0042", filed_on=today)
    assert case.status == CaseStatus.REPORTED and case.sar_reference == "NCA-2026-0042"
    assert case.sar_filed_on == today and not aml_open(client)
    event = AuditEvent.objects.get(action=audit_events.CASE_REPORTED)
    assert event.evidence["sar_reference"] == "NCA-2026-0042" and event.actor_id == ben.pk


def test_the_reason_stands_until_the_last_active_case_ends(officers):
    ana, _ = officers
    client = verified_client()
    first = case_open(client=client, actor=ana, summary="Velocity")
    second = case_open(client=client, actor="rule:aml-monitoring", summary="Third-party payer")
    assert second.opened_by is None and second.actor_label == "rule:aml-monitoring"
    case_close(case=first, actor=ana, reason="Salary bonus, payslip on file")
    assert aml_open(client)
    case_close(case=second, actor=ana, reason="Payer is the client's spouse, documented")
    assert not aml_open(client)
    with pytest.raises(InvalidInput, match="closed"):
        case_close(case=second, actor=ana, reason="again")


def test_the_reason_cannot_be_lifted_by_hand_while_a_case_is_active(officers):
    """Lifting the AML case reason directly (`client_aml_case_set`) is refused while a case is
    active, by whoever asks, and nothing changes; once the last case ends it is lifted."""
    ana, ben = officers
    client = verified_client()
    first = case_open(client=client, actor=ana, summary="Velocity")
    second = case_open(client=client, actor=ana, summary="Structuring")
    for officer in officers:
        with pytest.raises(NotAllowed) as refused:
            client_aml_case_set(client=client, is_open=False, actor=officer, reason="Looks fine")
        assert refused.value.code == "aml_case_active"
        assert first.reference in refused.value.message
        assert second.reference in refused.value.message
    assert aml_open(client)
    assert not AuditEvent.objects.filter(action="client.aml_case_closed").exists()
    assert "aml_case_open" in client_standing(Client.objects.get(pk=client.pk), "deposit").codes
    case_close(case=first, actor=ben, reason="Salary bonus, payslip on file")
    with pytest.raises(NotAllowed, match=second.reference):
        client_aml_case_set(client=client, is_open=False, actor=ana, reason="Looks fine")
    assert aml_open(client)
    case_close(case=second, actor=ben, reason="Documented")
    assert not aml_open(client)
    # Setting it again by hand, then lifting it with no case active, still works.
    client_aml_case_set(client=client, is_open=True, actor=ana, reason="Tip-off")
    client_aml_case_set(client=client, is_open=False, actor=ana, reason="Tip-off unfounded")
    assert not aml_open(client)


def test_an_open_case_refuses_a_deposit_and_tells_the_client_only_that_it_is_under_review(
    officers,
    methods,  # noqa: F811
):
    client = verified_client()
    case_open(client=client, actor=officers[0], summary="Dormant then active")
    with pytest.raises(DepositNotAllowed) as refused:
        deposit_create(client=client, method=methods["stripe"], amount="100", actor="t")
    assert refused.value.message == UNDER_REVIEW


def test_bad_requests_are_refused_and_change_nothing(officers):
    ana, ben = officers
    watch_list()
    listed, alert = listed_client()
    other = verified_client("other@test.example")
    with pytest.raises(InvalidInput, match="another client"):
        case_open(client=other, actor=ana, summary="x", screening_alerts=[alert])
    with pytest.raises(InvalidInput):
        case_open(client=other, actor=ana, summary="   ")
    with pytest.raises(NotAllowed):
        case_open(client=other, actor=make_staff("finance_officer"), summary="Looks odd")
    clerk = make_staff("retention_agent", email="clerk@test.example")
    with pytest.raises(InvalidInput, match="compliance officers"):
        case_open(client=other, actor=ana, summary="Looks odd", assigned_to=clerk)
    assert not Case.objects.exists() and not aml_open(other)

    case = case_open(client=other, actor=ana, summary="Looks odd")
    with pytest.raises(InvalidInput, match="only a case under investigation"):
        case_escalate(case=case, actor=ana, reason="why not")
    with pytest.raises(InvalidInput, match="another client"):
        case_alert_add(case=case, alert=alert, actor=ana)
    with pytest.raises(NotAllowed, match="not a rule"):
        case_close(case=case, actor="rule:aml-monitoring", reason="auto")
    with pytest.raises(InvalidInput, match="already assigned"):
        case_assign(case=case, actor=ana, officer=ana)
    with pytest.raises(InvalidInput):
        case_note_add(case=case, actor=ana, text=" \n ")
    with pytest.raises(InvalidInput):
        case_escalate(case=case_investigate(case=case, actor=ben), actor=ben, reason="")
    case = Case.objects.get(pk=case.pk)
    assert case.status == CaseStatus.INVESTIGATING and case.assigned_to == ana
    with pytest.raises(AttributeError):  # only a transition changes the status
        case.status = CaseStatus.CLOSED
    with pytest.raises(TransitionNotAllowed):
        Case.objects.get(pk=case.pk).report()


def test_assigning_and_adding_a_screening_hit_are_audited(officers):
    ana, ben = officers
    watch_list()
    client, alert = listed_client()
    case = case_open(client=client, actor=ana, summary="Adverse media")
    case_alert_add(case=case, alert=alert, actor=ana)
    with pytest.raises(InvalidInput, match="already in"):
        case_alert_add(case=case, alert=alert, actor=ana)
    case = case_assign(case=case, actor=ana, officer=ben)
    assert case.assigned_to == ben
    assigned = AuditEvent.objects.get(action=audit_events.CASE_ASSIGNED)
    assert assigned.evidence["assigned_to"] == ben.pk and assigned.evidence["previously"] == ana.pk
    added = AuditEvent.objects.get(action=audit_events.CASE_ALERT_ADDED)
    assert added.evidence["screening_alert"] == alert.pk


STEPS = st.lists(
    st.tuples(
        st.sampled_from(["open", "investigate", "escalate", "close", "report"]),
        st.integers(0, 2),
        st.booleans(),
    ),
    max_size=12,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=STEPS)
def test_the_reason_stands_exactly_while_a_case_is_active_whatever_is_tried(officers, steps):
    """Any sequence of steps, allowed or refused: the client's AML case reason is there exactly
    while one of their cases is open, investigating or escalated, and no decision on an
    escalated case is the escalating officer's."""
    ana, ben = officers
    client = verified_client(f"p{Client.objects.count()}@test.example")
    cases = []
    for step, index, second in steps:
        actor = ben if second else ana
        case = cases[index % len(cases)] if cases else None
        try:
            if step == "open" or case is None:
                cases.append(case_open(client=client, actor=actor, summary="Property"))
            elif step == "investigate":
                case_investigate(case=case, actor=actor)
            elif step == "escalate":
                case_escalate(case=case, actor=actor, reason="Needs the MLRO")
            elif step == "close":
                case_close(case=case, actor=actor, reason="Explained")
            else:
                case_report(case=case, actor=actor, reference="R-1", filed_on=timezone.localdate())
        except (InvalidInput, NotAllowed):
            pass
        active = Case.objects.filter(
            client=client, status__in=["open", "investigating", "escalated"]
        ).exists()
        assert aml_open(client) == active
    for case in Case.objects.filter(client=client, status__in=["closed", "reported"]):
        if case.escalated_by_id:
            assert case.decided_by_id != case.escalated_by_id


def aml_alert(client, code="structuring"):
    """An AML alert on `client` (the shipped scenarios put back first: a transactional test
    before may have emptied the database of them)."""
    from tests.compliance.monitoring.test_models import _alert
    from tests.conftest import shipped_defaults

    shipped_defaults()
    return _alert(client, code)


def test_aml_alerts_move_into_the_case_and_close_with_it(officers):
    from compliance.monitoring.models import Alert as AmlAlert

    ana, ben = officers
    client = verified_client()
    first, second = aml_alert(client), aml_alert(client, "velocity")
    case = case_open(client=client, actor=ana, summary="Structuring", aml_alerts=[first])
    assert AmlAlert.objects.get(pk=first.pk).status == "in_case"
    case_alert_add(case=case, alert=second, actor=ana)
    assert AmlAlert.objects.get(pk=second.pk).status == "in_case"
    with pytest.raises(InvalidInput, match="already in"):
        case_alert_add(case=case, alert=second, actor=ana)
    assert set(case.aml_alerts.values_list("pk", flat=True)) == {first.pk, second.pk}
    moved = AuditEvent.objects.filter(action="aml.alert_moved_to_case").order_by("pk")
    assert [e.evidence["case"] for e in moved] == [case.pk, case.pk]

    case_investigate(case=case, actor=ana)
    case_escalate(case=case, actor=ana, reason="Pattern across weeks")
    case = case_report(case=case, actor=ben, reference="SAR-77", filed_on=timezone.localdate())
    for alert in AmlAlert.objects.filter(pk__in=[first.pk, second.pk]):
        assert alert.status == "closed" and "SAR-77" in alert.closed_reason
        assert alert.closed_by == ben
    reported = AuditEvent.objects.get(action=audit_events.CASE_REPORTED)
    assert sorted(reported.evidence["aml_alerts_closed"]) == sorted([first.pk, second.pk])


def test_an_aml_alert_of_another_client_or_closed_is_refused(officers):
    ana, _ = officers
    client, other = verified_client(), verified_client("other@test.example")
    theirs = aml_alert(other)
    with pytest.raises(InvalidInput, match="another client"):
        case_open(client=client, actor=ana, summary="x", aml_alerts=[theirs])
    assert not Case.objects.exists() and theirs.status == "open"
    closed = aml_alert(client)
    closed.close("Explained by payslips", ana)
    with pytest.raises(InvalidInput, match="closed"):
        case_open(client=client, actor=ana, summary="x", aml_alerts=[closed])
    case = case_open(client=client, actor=ana, summary="Velocity")
    with pytest.raises(InvalidInput, match="another client"):
        case_alert_add(case=case, alert=theirs, actor=ana)
    held = aml_alert(client, "velocity")
    case_alert_add(case=case, alert=held, actor=ana)
    second = case_open(client=client, actor=ana, summary="Same alert, other angle")
    case_alert_add(case=second, alert=held, actor=ana)
    case_close(case=case, actor=ana, reason="Covered by the second case")
    from compliance.monitoring.models import Alert as AmlAlert

    assert AmlAlert.objects.get(pk=held.pk).status == "in_case"  # still worked in `second`
    case_close(case=second, actor=ana, reason="Explained")
    assert AmlAlert.objects.get(pk=held.pk).status == "closed"


def _hit(client_email: str, score: str):
    """A screening hit on a newly listed client, scored `score`."""
    from decimal import Decimal

    from compliance.models import Alert

    client, alert = listed_client(email=client_email)
    Alert.objects.filter(pk=alert.pk).update(score=Decimal(score))
    return client, Alert.objects.get(pk=alert.pk)


def _case_on_hit(officer, client_email: str, score: str):
    """A case `officer` opened on a screening hit scoring `score`."""
    client, hit = _hit(client_email, score)
    case = case_open(client=client, actor=officer, summary="Listed name", screening_alerts=[hit])
    return client, hit, case


def test_closing_a_case_decides_its_hits_with_four_eyes_on_a_high_scoring_false_positive(
    officers,
):
    from compliance.models import Alert
    from compliance.services import alert_dismiss

    ana, ben = officers
    watch_list()
    client, high, case = _case_on_hit(ana, "ivan@test.example", "0.95")
    for decisions, field in (
        ({}, f"hit_{high.pk}"),
        ({high.pk: "maybe"}, f"hit_{high.pk}"),
        ({high.pk: "true_match", high.pk + 99: "true_match"}, f"hit_{high.pk + 99}"),
    ):
        with pytest.raises(InvalidInput) as refused:
            case_close(case=case, actor=ana, reason="Other person", hit_decisions=decisions)
        assert field in refused.value.fields
    # A false positive scoring at or above the four-eyes score: one officer cannot decide it.
    with pytest.raises(NotAllowed) as four_eyes:
        case_close(
            case=case, actor=ana, reason="Other person", hit_decisions={high.pk: "false_positive"}
        )
    assert four_eyes.value.code == "four_eyes" and "second compliance officer" in str(
        four_eyes.value
    )
    assert Case.objects.get(pk=case.pk).status == CaseStatus.OPEN and aml_open(client)
    assert Alert.objects.get(pk=high.pk).status == "open"  # nothing changed
    assert not AuditEvent.objects.filter(action__startswith="screening.alert_dismiss").exists()
    # Ana proposes the dismissal on the hit's page; Ben ends the case, approving it.
    alert_dismiss(alert=high, actor=ana, reason="Different date of birth")
    with pytest.raises(NotAllowed):  # not the officer who proposed it
        case_close(
            case=case, actor=ana, reason="Other person", hit_decisions={high.pk: "false_positive"}
        )
    case = case_close(
        case=case, actor=ben, reason="Other person", hit_decisions={high.pk: "false_positive"}
    )
    high.refresh_from_db()
    assert case.status == CaseStatus.CLOSED and not aml_open(client)
    assert high.status == "dismissed" and high.decided_by == ben and high.proposed_by == ana
    assert (
        "sanctions_match" not in client_standing(Client.objects.get(pk=client.pk), "deposit").codes
    )


def test_a_low_scoring_false_positive_is_decided_by_one_officer_and_a_report_decides_hits(
    officers,
):
    ana, ben = officers
    watch_list()
    client, low, case = _case_on_hit(ana, "ivan@test.example", "0.80")
    case = case_close(
        case=case, actor=ana, reason="Namesake", hit_decisions={str(low.pk): "false_positive"}
    )
    low.refresh_from_db()
    assert low.status == "dismissed" and low.decided_by == ana
    assert low.decision_reason == f"{case.reference} closed: Namesake"

    other, hit, case = _case_on_hit(ana, "olga@test.example", "0.99")
    case = case_escalate(case=case_investigate(case=case, actor=ana), actor=ana, reason="MLRO")
    today = timezone.localdate()
    with pytest.raises(InvalidInput, match="Decide each screening hit"):
        case_report(case=case, actor=ben, reference="NCA-1", filed_on=today)
    case = case_report(
        case=case,
        actor=ben,
        reference="NCA-1",
        filed_on=today,
        hit_decisions={hit.pk: "true_match"},
    )
    hit.refresh_from_db()
    assert case.status == CaseStatus.REPORTED and hit.status == "confirmed"
    reported = AuditEvent.objects.get(action=audit_events.CASE_REPORTED)
    assert reported.evidence["screening_hits_decided"] == {str(hit.pk): "confirmed"}
