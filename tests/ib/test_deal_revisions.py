"""Deals the platform corrected or removed produce reversal lines, never edits (`ib.revisions`):
each earlier line reversed once at the exact opposite amount, dated at detection; a corrected
deal paid again at its new values under its new revision; a removed deal reversed only; a
settled line reversed in the next period; a recompute of the month still reproduces it."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from brokerage.models import AuditEvent
from clients.deal_review import FIELDS, deal_revise
from clients.models import Deal, DealRevision
from clients.platforms import DealRecord
from ib.disputes import lines_cancel, lines_release
from ib.engine import commissions_recompute
from ib.models import CommissionLine, PartnerStatement
from ib.periods import period_close
from ib.revisions import revision_pay, revisions_sweep
from tests.ib.test_commissions import lines_of, pay_all, trade

pytestmark = pytest.mark.django_db
D = Decimal
Line = CommissionLine


def record_of(deal: Deal, **changes) -> DealRecord:
    """The platform's record of the deal, with the dealer's `changes`."""
    values = {attr: getattr(deal, field) for field, attr in FIELDS.items()}
    values.update(changes)
    return DealRecord(ticket=deal.ticket, login=deal.account.login, **values)


def corrected(deal: Deal, **changes) -> DealRevision:
    assert deal_revise(deal_id=deal.pk, record=record_of(deal, **changes), changed=list(changes))
    return DealRevision.objects.filter(deal=deal).latest("number")


def removed(deal: Deal) -> DealRevision:
    assert deal_revise(deal_id=deal.pk, record=None, changed=[])
    return DealRevision.objects.filter(deal=deal).latest("number")


def net(deal) -> dict:
    """What each (partner, tier) earns on the deal now: its lines summed."""
    out = {}
    for line in Line.objects.filter(deal=deal).select_related("partner__user"):
        key = (line.partner.user.email.split("@")[0], line.tier)
        out[key] = out.get(key, D(0)) + line.amount
    return {k: v for k, v in out.items() if v}


def test_a_corrected_deal_is_reversed_and_paid_again_once(
    network, django_capture_on_commit_callbacks
):
    deal = trade(network["account"], volume=10000)  # 1 lot: leaf 5, mid 3, top 2
    pay_all()
    first = {line.pk: line.amount for line in Line.objects.filter(deal=deal)}
    assert lines_of(deal) == {("leaf", 0): D("5"), ("mid", 1): D("3"), ("top", 2): D("2")}

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        revision = corrected(deal, volume=5000, volume_ext=50_000_000)
    assert callbacks  # the commissions are told once the revision commits
    result = revision_pay(revision_id=revision.pk)

    assert result == {"reversed": 3, "lines": 3}
    reversals = Line.objects.filter(deal=deal, kind=Line.Kind.REVERSAL)
    assert {r.reverses_id: r.amount for r in reversals} == {pk: -a for pk, a in first.items()}
    for r in reversals:
        assert r.deal_time == revision.detected_at and r.status == Line.Status.PENDING
        assert r.formula.startswith(f"Deal {deal.ticket} corrected on the platform on ")
        assert (
            "volume 1.00 -> 0.50 lots" in r.formula
            and f"reverses line {r.reverses_id}" in r.formula
        )
    again = Line.objects.filter(deal=deal, kind=Line.Kind.COMMISSION, revision=1)
    assert {line.amount for line in again} == {D("2.5"), D("1.5"), D("1")}
    assert all(line.deal_time == deal.time for line in again)  # paid as of its close
    assert net(deal) == {("leaf", 0): D("2.5"), ("mid", 1): D("1.5"), ("top", 2): D("1")}
    # the original lines are untouched
    assert {line.pk: line.amount for line in Line.objects.filter(pk__in=first)} == first
    assert AuditEvent.objects.filter(action="deal_revision.paid").count() == 1

    # again, the sweeper, and the main path: nothing more
    count = Line.objects.count()
    assert revision_pay(revision_id=revision.pk) == {"reversed": 0, "lines": 0}
    assert revisions_sweep(hours=1) == {"reversed": 0, "lines": 0}
    pay_all()
    assert Line.objects.count() == count

    # a second correction reverses the revision-1 lines only, and pays revision 2
    second = corrected(Deal.objects.get(pk=deal.pk), volume=20000, volume_ext=200_000_000)
    assert revision_pay(revision_id=second.pk) == {"reversed": 3, "lines": 3}
    assert net(deal) == {("leaf", 0): D("10"), ("mid", 1): D("6"), ("top", 2): D("4")}
    assert not Line.objects.filter(deal=deal, kind=Line.Kind.REVERSAL, amount__gt=0).exists()


def test_a_lost_task_is_caught_by_the_sweeper_even_after_the_main_path_paid(network):
    deal = trade(network["account"], volume=10000)
    pay_all()
    revision = corrected(deal, price=D("1.2"), profit=D("-3.00"), commission=D("-7.00"))
    pay_all()  # the sweeper's main path first: it pays revision 1 once
    assert Line.objects.filter(deal=deal, revision=1, kind=Line.Kind.COMMISSION).count() == 3
    assert revisions_sweep(hours=1) == {"reversed": 3, "lines": 0}
    assert net(deal) == {("leaf", 0): D("5"), ("mid", 1): D("3"), ("top", 2): D("2")}
    why = Line.objects.filter(deal=deal, kind=Line.Kind.REVERSAL).first().formula
    assert "price 1.1 -> 1.2" in why and "commission 0 -> -7" in why
    assert revision_pay(revision_id=revision.pk) == {"reversed": 0, "lines": 0}


def test_a_removed_deal_gets_reversals_only(network):
    deal = trade(network["account"], volume=10000)
    pay_all()
    revision = removed(deal)
    assert Deal.objects.get(pk=deal.pk).removed_at == revision.detected_at  # kept, marked
    assert revision_pay(revision_id=revision.pk) == {"reversed": 3, "lines": 0}
    assert net(deal) == {}
    assert "removed on the platform" in Line.objects.filter(kind="reversal").first().formula
    pay_all()  # the engine never pays a removed deal
    assert Line.objects.filter(deal=deal).count() == 6
    assert not deal_revise(deal_id=deal.pk, record=None, changed=[])  # once


def test_a_settled_line_is_reversed_in_the_next_period_and_statements_total_to_the_cent(network):
    programme = network["top"].plans.first().plan.programme
    deal = trade(network["account"], volume=12345, at=timezone.now() - timedelta(hours=2))
    first = period_close(
        programme=programme,
        start=timezone.now() - timedelta(days=1),
        end=timezone.now() - timedelta(hours=1),
        actor="test",
    )
    leaf = PartnerStatement.objects.get(period=first, partner=network["leaf"])
    assert leaf.exact_amount == D("6.1725")
    revision = corrected(deal, volume=3333, volume_ext=33_330_000)

    second = period_close(
        programme=programme,
        start=first.end,
        end=timezone.now(),
        actor="test",
    )  # the close reverses what a lost task did not, then pays the deal again

    taken = Line.objects.filter(period=second, deal=deal)
    assert {(line.kind, line.revision) for line in taken} == {("reversal", 0), ("commission", 1)}
    leaf2 = PartnerStatement.objects.get(period=second, partner=network["leaf"])
    # -6.1725 + 5 x 0.3333 = -4.506: carried forward, never credited
    assert leaf2.exact_amount == D("-4.5060") and leaf2.outcome == "carried"
    for s in PartnerStatement.objects.filter(period=second):
        lines = Line.objects.filter(period=second, partner=s.partner)
        assert s.exact_amount == sum(lines.values_list("amount", flat=True))
    assert Line.objects.filter(period=first).count() == 3  # the settled period is untouched
    assert revision.detected_at < second.end


def test_withheld_and_disputed_lines_are_reversed_and_held_the_same_way(network):
    deal = trade(network["account"], volume=10000)
    pay_all()
    leaf, mid, top = (Line.objects.get(deal=deal, tier=t) for t in (0, 1, 2))
    Line.objects.filter(pk=leaf.pk).update(
        status=Line.Status.WITHHELD, hold_reasons=[{"code": "x", "message": "test"}]
    )
    Line.objects.filter(pk=mid.pk).update(status=Line.Status.DISPUTED)
    Line.objects.filter(pk=top.pk).update(status=Line.Status.CANCELLED)
    revision_pay(revision_id=removed(deal).pk)

    held = {r.reverses_id: r for r in Line.objects.filter(kind=Line.Kind.REVERSAL)}
    assert set(held) == {leaf.pk, mid.pk}  # a cancelled line paid nothing: not reversed
    assert held[leaf.pk].status == held[mid.pk].status == Line.Status.WITHHELD
    assert held[leaf.pk].hold_reasons[0]["code"] == "reverses_withheld"

    manager = _ib_manager()
    from brokerage.errors import InvalidInput

    with pytest.raises(InvalidInput, match="decided with the line it reverses"):
        lines_cancel(line_ids=[held[leaf.pk].pk], reason="Reversal not wanted", actor=manager)
    assert lines_release(line_ids=[leaf.pk], reason="Checked: a normal trade", actor=manager) == 2
    statuses = Line.objects.filter(pk__in=[leaf.pk, held[leaf.pk].pk]).values_list(
        "status", flat=True
    )
    assert set(statuses) == {Line.Status.PENDING}  # they net to nothing in the next period


def _ib_manager():
    from tests.conftest import make_staff

    return make_staff("ib_manager", email="ibm-rev@test.example")


def test_recompute_reproduces_a_month_with_a_corrected_and_a_removed_deal(network, capsys):
    kept = trade(network["account"], volume=10000)
    changed = trade(network["account"], volume=20000)
    gone = trade(network["account"], volume=30000)
    pay_all()
    revision_pay(revision_id=corrected(changed, volume=7000, volume_ext=70_000_000).pk)
    revision_pay(revision_id=removed(gone).pk)

    window = {
        "start": timezone.now() - timedelta(days=30),
        "end": timezone.now() + timedelta(days=1),
    }
    result = commissions_recompute(**window)
    assert result.same and result.lines == result.stored_lines == 6
    assert result.checksum == result.stored_checksum
    assert result.total == D("17")  # 1 lot and 0.7 lots, 10 a lot over the three tiers
    call_command("ib_recompute", "--period", f"{kept.time:%Y-%m}")
    assert "same: the stored lines reproduce to the cent" in capsys.readouterr().out
    # an edit would show: the corrected deal's standing line changed by hand
    Line.objects.filter(deal=changed, revision=1, tier=0).update(amount=D("4"))
    assert not commissions_recompute(**window).same


def test_the_pages_show_reversals_with_their_why_and_the_360_marks_the_deals(network, client):
    from tests.conftest import login, make_staff

    fixed = trade(network["account"], volume=10000)
    gone = trade(network["account"], volume=20000)
    pay_all()
    revision_pay(revision_id=corrected(fixed, volume=5000, volume_ext=50_000_000).pk)
    revision_pay(revision_id=removed(gone).pk)

    login(client, network["leaf"].user)
    page = client.get("/partners/commissions/").content.decode()
    assert page.count('data-kind="reversal">Reversal</span>') == 2
    assert f"Deal {fixed.ticket} corrected on the platform on" in page
    assert "volume 1.00 -&gt; 0.50 lots" in page and f"Deal {gone.ticket} removed" in page
    reversal = Line.objects.filter(partner=network["leaf"], kind="reversal").first()
    line_page = client.get(f"/partners/commissions/{reversal.pk}/dispute/").content.decode()
    assert "data-kind>Reversal<" in line_page and "reverses line" in line_page

    client.logout()
    manager = make_staff("ib_manager", email="ibm-pages@test.example")
    login(client, manager)
    staff_page = client.get(f"/backoffice/ib/partners/{network['leaf'].pk}/")
    assert staff_page.status_code == 200
    assert 'data-kind="reversal">Reversal</span>' in staff_page.content.decode()

    client.logout()
    login(client, make_staff("compliance_officer", email="co-360@test.example"))
    page = client.get(f"/backoffice/clients/{network['client'].pk}/").content.decode()
    assert f'data-deal-revision="{fixed.ticket}"' in page and "Corrected on the platform" in page
    assert f'data-deal-revision="{gone.ticket}"' in page and "Removed on the platform" in page


steps = st.lists(
    st.one_of(
        st.tuples(st.just("correct"), st.sampled_from([1000, 5000, 10000, 12345, 30000])),
        st.tuples(st.just("remove"), st.just(0)),
        st.tuples(st.just("pay"), st.integers(min_value=0, max_value=5)),
        st.tuples(st.just("sweep"), st.just(0)),
        st.tuples(st.just("main"), st.just(0)),
    ),
    min_size=1,
    max_size=8,
)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(plan=steps)
def test_whatever_the_order_and_repeats_each_deal_nets_to_its_values_as_they_stand(network, plan):
    """Corrections and a removal, their tasks run late, twice or out of order, the sweeper and
    the main path in between: in the end each level earns exactly what the deal as it stands
    pays (nothing once removed), each line is reversed at most once, by its exact opposite, and
    no line is ever changed."""
    with transaction.atomic():
        deal = trade(network["account"], volume=10000)
        pay_all()
        seen = {}
        for action, value in plan:
            current = Deal.objects.get(pk=deal.pk)
            if action == "correct" and current.removed_at is None:
                record = record_of(current, volume=value, volume_ext=value * 10000)
                deal_revise(deal_id=deal.pk, record=record, changed=["volume"])
            elif action == "remove":
                deal_revise(deal_id=deal.pk, record=None, changed=[])
            elif action == "pay":
                revisions = list(DealRevision.objects.filter(deal=deal).order_by("number"))
                if revisions:
                    revision_pay(revision_id=revisions[value % len(revisions)].pk)
            elif action == "sweep":
                revisions_sweep(hours=1)
            else:
                pay_all()
            for line in Line.objects.filter(deal=deal):
                assert seen.setdefault(line.pk, (line.amount, line.status)) == (
                    line.amount,
                    line.status,
                )  # never edited
        revisions_sweep(hours=1)
        for revision in DealRevision.objects.filter(deal=deal).order_by("-number"):
            revision_pay(revision_id=revision.pk)  # late and out of order: nothing more

        final = Deal.objects.get(pk=deal.pk)
        lots = D(0) if final.removed_at else D(final.volume) / 10000
        expected = {("leaf", 0): 5 * lots, ("mid", 1): 3 * lots, ("top", 2): 2 * lots}
        assert net(deal) == {k: v for k, v in expected.items() if v}
        reversals = Line.objects.filter(deal=deal, kind=Line.Kind.REVERSAL)
        targets = [r.reverses_id for r in reversals]
        assert len(targets) == len(set(targets))
        for r in reversals:
            assert r.amount == -Line.objects.get(pk=r.reverses_id).amount
        transaction.set_rollback(True)
