"""Disputes of commission lines and the review of withheld lines, through the services: a
disputed line is held out of settlement, one open dispute per line, rejections and adjustments
(a line of its own, settled in the next period), four eyes above the threshold, the partner
told in its language, withheld lines released or cancelled."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from brokerage.errors import InvalidInput, NotAllowed
from brokerage.models import AuditEvent
from clients.models import ClientActivity
from ib.disputes import (
    dispute_adjust,
    dispute_approve,
    dispute_open,
    dispute_reject,
    lines_cancel,
    lines_release,
)
from ib.engine import deal_recompute
from ib.models import CommissionDispute, CommissionLine, PartnerStatement
from ib.periods import period_close
from tests.conftest import make_staff
from tests.ib.test_commissions import network, pay_all, trade  # noqa: F401

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def managers():
    return make_staff("ib_manager", email="ibm1@test.example"), make_staff(
        "ib_manager", email="ibm2@test.example"
    )


def leaf_line(network, volume=15000, at=None):  # noqa: F811
    deal = trade(network["account"], volume=volume, at=at)
    pay_all()
    return CommissionLine.objects.get(deal=deal, partner=network["leaf"])


def close(network, start, end):  # noqa: F811
    programme = network["top"].plans.first().plan.programme
    return period_close(programme=programme, start=start, end=end, actor="test")


def open_dispute(network, line, reason="The trade was 2 lots, not 1.5."):  # noqa: F811
    leaf = network["leaf"]
    return dispute_open(partner=leaf, line_id=line.pk, reason=reason, actor=leaf.user)


def test_a_disputed_line_is_held_out_of_settlement_until_rejected(network, managers):  # noqa: F811
    line = leaf_line(network, at=timezone.now() - timedelta(hours=2))
    dispute = open_dispute(network, line)
    line.refresh_from_db()
    assert line.status == "disputed" and dispute.line_status == "pending"
    first = close(network, timezone.now() - timedelta(days=3), timezone.now() - timedelta(hours=1))
    line.refresh_from_db()
    assert line.status == "disputed" and line.period is None  # never settled while open
    assert not PartnerStatement.objects.filter(period=first, partner=network["leaf"]).exists()

    dispute_reject(dispute=dispute, reason="The deal closed 1.5 lots.", actor=managers[0])
    line.refresh_from_db()
    dispute.refresh_from_db()
    assert line.status == "pending" and dispute.status == "rejected"
    assert dispute.decided_by == "ibm1@test.example" and dispute.adjustment is None
    second = close(network, timezone.now() - timedelta(hours=1), timezone.now())
    line.refresh_from_db()
    assert line.status == "settled" and line.period == second  # the next close takes it
    actions = list(
        AuditEvent.objects.filter(
            target_id=str(dispute.pk), action__startswith="commission_dispute."
        )
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["commission_dispute.opened", "commission_dispute.rejected"]
    told = ClientActivity.objects.get(event_key=f"ib.dispute:{dispute.pk}:decided")
    assert told.client == network["leaf"].holder and "the line stands" in told.subject
    assert "The deal closed 1.5 lots." in told.body and "/partners/disputes/" in told.body


def test_one_open_dispute_per_line_in_the_service_and_in_the_database(network, managers):  # noqa: F811
    line = leaf_line(network)
    first = open_dispute(network, line)
    with pytest.raises(InvalidInput, match="disputed already"):
        open_dispute(network, line)
    with pytest.raises(IntegrityError), transaction.atomic():
        CommissionDispute.objects.create(
            line=line,
            partner=network["leaf"],
            reason="twice",
            line_status="pending",
            opened_by=network["leaf"].user,
        )
    dispute_reject(dispute=first, reason="Correct as paid.", actor=managers[0])
    second = open_dispute(network, line, reason="Still wrong: see the platform's report.")
    assert second.status == "open" and CommissionDispute.objects.filter(line=line).count() == 2


def test_an_adjustment_is_a_line_of_its_own_settled_in_the_next_period(network, managers):  # noqa: F811
    line = leaf_line(network, at=timezone.now() - timedelta(hours=3))  # 1.5 lots x 5 = 7.5
    dispute = open_dispute(network, line)
    dispute_adjust(dispute=dispute, amount="2.50", reason="0.5 lots unpaid.", actor=managers[0])
    dispute.refresh_from_db()
    line.refresh_from_db()
    adjustment = dispute.adjustment
    assert dispute.status == "adjusted" and dispute.approved_by == ""
    assert line.status == "pending" and line.amount == D("7.5")  # the line itself never changes
    assert adjustment.kind == "adjustment" and adjustment.amount == D("2.50")
    assert adjustment.reverses_id == line.pk and adjustment.deal_id is None
    assert adjustment.partner == network["leaf"] and adjustment.version_id == line.version_id
    assert "0.5 lots unpaid." in adjustment.formula
    # A second dispute of the same line can be adjusted too (no unique key in the way).
    again = open_dispute(network, line, reason="And the swap day.")
    dispute_adjust(dispute=again, amount="-0.75", reason="Over by 0.75.", actor=managers[1])
    assert CommissionLine.objects.filter(reverses=line, kind="adjustment").count() == 2

    period = close(network, timezone.now() - timedelta(days=1), timezone.now())
    statement = PartnerStatement.objects.get(period=period, partner=network["leaf"])
    lines = CommissionLine.objects.filter(period=period, partner=network["leaf"])
    assert set(lines.values_list("status", flat=True)) == {"settled"}
    assert lines.count() == 3 and statement.lines == 3
    assert statement.exact_amount == sum(lines.values_list("amount", flat=True)) == D("9.25")
    assert statement.amount == D("9.25")


def test_a_settled_line_stays_settled_and_its_adjustment_is_paid_later(network, managers):  # noqa: F811
    line = leaf_line(network, at=timezone.now() - timedelta(hours=3))
    first = close(network, timezone.now() - timedelta(days=1), timezone.now() - timedelta(hours=2))
    line.refresh_from_db()
    assert line.status == "settled"
    dispute = open_dispute(network, line)
    line.refresh_from_db()
    assert line.status == "settled" and dispute.line_status == "settled"
    dispute_adjust(dispute=dispute, amount="1.00", reason="Rate was 5.5.", actor=managers[0])
    line.refresh_from_db()
    assert line.status == "settled" and line.period == first
    later = close(network, timezone.now() - timedelta(hours=2), timezone.now())
    dispute.refresh_from_db()
    assert dispute.adjustment.period == later and dispute.adjustment.status == "settled"
    assert PartnerStatement.objects.get(period=later, partner=network["leaf"]).amount == D("1.00")


def test_four_eyes_above_the_threshold_the_proposer_cannot_approve(network, managers, settings):  # noqa: F811
    settings.IB_ADJUSTMENT_APPROVAL_THRESHOLD = "100"
    line = leaf_line(network)
    dispute = open_dispute(network, line)
    dispute_adjust(dispute=dispute, amount="-150.00", reason="Clawback.", actor=managers[0])
    dispute.refresh_from_db()
    line.refresh_from_db()
    assert dispute.status == "awaiting_approval" and dispute.proposed_amount == D("-150.00")
    assert line.status == "disputed"  # still held while the proposal waits
    assert not CommissionLine.objects.filter(kind="adjustment").exists()
    with pytest.raises(NotAllowed, match="Four eyes"):
        dispute_approve(dispute=dispute, actor=managers[0])
    with pytest.raises(IntegrityError), transaction.atomic():  # and the database says so too
        CommissionDispute.objects.filter(pk=dispute.pk).update(approved_by="ibm1@test.example")
    with pytest.raises(InvalidInput, match="awaiting approval"):
        dispute_adjust(dispute=dispute, amount="1", reason="again", actor=managers[1])
    with pytest.raises(NotAllowed):
        dispute_approve(dispute=dispute, actor=make_staff("finance_officer"))
    dispute_approve(dispute=dispute, actor=managers[1])
    dispute.refresh_from_db()
    assert dispute.status == "adjusted" and dispute.adjustment.amount == D("-150.00")
    assert (dispute.decided_by, dispute.approved_by) == ("ibm1@test.example", "ibm2@test.example")
    assert list(
        AuditEvent.objects.filter(
            target_id=str(dispute.pk), action__startswith="commission_dispute."
        )
        .order_by("id")
        .values_list("action", flat=True)
    ) == [
        "commission_dispute.opened",
        "commission_dispute.adjustment_proposed",
        "commission_dispute.adjusted",
    ]
    # exactly the threshold needs no second manager
    other = open_dispute(network, leaf_line(network, volume=20000))
    dispute_adjust(dispute=other, amount="100", reason="At the limit.", actor=managers[0])
    other.refresh_from_db()
    assert other.status == "adjusted"


def test_bad_input_is_refused_and_nothing_is_written(network, managers):  # noqa: F811
    line = leaf_line(network)
    for reason in ("", "   ", "x" * 1001):
        with pytest.raises(InvalidInput):
            open_dispute(network, line, reason=reason)
    mid_line = CommissionLine.objects.get(deal=line.deal, partner=network["mid"])
    with pytest.raises(InvalidInput, match="no such"):  # another partner's line
        open_dispute(network, mid_line)
    with pytest.raises(NotAllowed):  # a partner acting for another
        dispute_open(
            partner=network["mid"], line_id=mid_line.pk, reason="x", actor=network["leaf"].user
        )
    assert not CommissionDispute.objects.exists()
    CommissionLine.objects.filter(pk=line.pk).update(status="withheld")
    with pytest.raises(InvalidInput, match="withheld for review"):
        open_dispute(network, line)
    CommissionLine.objects.filter(pk=line.pk).update(status="pending")
    dispute = open_dispute(network, line)
    for amount in ("abc", "1.234", "0", "", "NaN", "1e30", "--5"):
        with pytest.raises(InvalidInput):
            dispute_adjust(dispute=dispute, amount=amount, reason="x", actor=managers[0])
    with pytest.raises(NotAllowed):
        dispute_adjust(dispute=dispute, amount="1", reason="x", actor=make_staff("sales_agent"))
    with pytest.raises(InvalidInput):
        dispute_reject(dispute=dispute, reason=" ", actor=managers[0])
    dispute.refresh_from_db()
    assert (
        dispute.status == "open" and not CommissionLine.objects.filter(kind="adjustment").exists()
    )
    dispute_reject(dispute=dispute, reason="Correct.", actor=managers[0])
    with pytest.raises(InvalidInput, match="nothing to decide"):
        dispute_reject(dispute=dispute, reason="Again.", actor=managers[1])


def test_the_outcome_is_emailed_in_the_partners_language(network, managers):  # noqa: F811
    holder = network["leaf"].holder
    holder.language = "es"
    holder.save(update_fields=["language"])
    dispute = open_dispute(network, leaf_line(network))
    with transaction.atomic():
        dispute_adjust(
            dispute=dispute, amount="2.50", reason="Faltaban 0,5 lotes.", actor=managers[0]
        )
    told = ClientActivity.objects.get(event_key=f"ib.dispute:{dispute.pk}:decided")
    assert told.subject.startswith("Su reclamación de comisión") and "USD 2.50" in told.subject
    assert "área de socio" in told.body and "Faltaban 0,5 lotes." in told.body


def test_the_recompute_of_a_deal_equals_what_was_stored(network):  # noqa: F811
    line = leaf_line(network)
    again = deal_recompute(deal_id=line.deal_id, partner_id=line.partner_id)
    assert [(r["tier"], r["amount"], r["formula"]) for r in again] == [
        (line.tier, line.amount, line.formula)
    ]
    assert CommissionLine.objects.filter(deal=line.deal).count() == 3  # nothing written


def withhold(lines, code="own_client", message="The partner's own account traded."):
    CommissionLine.objects.filter(pk__in=[line.pk for line in lines]).update(
        status="withheld", hold_reasons=[{"code": code, "message": message}]
    )


def test_withheld_lines_are_released_or_cancelled_with_a_reason(network, managers):  # noqa: F811
    deal = trade(network["account"], at=timezone.now() - timedelta(hours=2))
    pay_all()
    lines = list(CommissionLine.objects.filter(deal=deal).order_by("tier"))
    withhold(lines)
    with pytest.raises(InvalidInput):
        lines_release(line_ids=[lines[0].pk], reason="", actor=managers[0])
    with pytest.raises(NotAllowed):
        lines_release(line_ids=[lines[0].pk], reason="ok", actor=make_staff("finance_officer"))
    released = lines_release(line_ids=[lines[0].pk], reason="Not the partner's.", actor=managers[0])
    cancelled = lines_cancel(
        line_ids=[lines[1].pk, lines[2].pk], reason="Self-dealing.", actor=managers[0]
    )
    assert (released, cancelled) == (1, 2)
    statuses = dict(CommissionLine.objects.filter(deal=deal).values_list("tier", "status"))
    assert statuses == {0: "pending", 1: "cancelled", 2: "cancelled"}
    # a selection with a line decided already changes nothing
    with pytest.raises(InvalidInput, match="no longer withheld"):
        lines_cancel(line_ids=[lines[0].pk, lines[1].pk], reason="x", actor=managers[0])
    assert CommissionLine.objects.get(pk=lines[0].pk).status == "pending"
    events = AuditEvent.objects.filter(
        action__in=["commission_line.released", "commission_line.cancelled"]
    )
    assert events.count() == 3
    assert events.filter(reason="Self-dealing.").count() == 2
    # the released line settles at the next close; cancelled ones never
    period = close(network, timezone.now() - timedelta(days=1), timezone.now())
    assert CommissionLine.objects.get(pk=lines[0].pk).period == period
    assert not CommissionLine.objects.filter(pk__in=[lines[1].pk, lines[2].pk], period=period)
