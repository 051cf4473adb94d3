"""The commission engine: multi-tier rates by difference, lookups, filters, exactly once."""

import itertools
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import DatabaseError, transaction
from django.utils import timezone

from brokerage.errors import InvalidInput
from clients.models import Client, Deal, Instrument
from ib.engine import commissions_pay
from ib.models import CommissionLine, PlanRule, UnpricedDeal
from ib.plans import (
    partner_parent_set,
    partner_plan_set,
    plan_create,
    plan_version_create,
    programme_create,
)
from ib.services import referral_attribute
from tests.clients.factories import make_account, make_server
from tests.conftest import make_client_user, make_partner_user

pytestmark = pytest.mark.django_db
D = Decimal
ACTOR = "test"
_ids = itertools.count(50_000_000)
START = timezone.now() - timedelta(days=2)


@pytest.fixture
def network():
    """top (10/lot on FX, 12 on XAUUSD, 4 by default) > mid (8 FX) > leaf (5 FX); a client of
    leaf trades."""
    Instrument.objects.get_or_create(symbol="EURUSD", defaults={"asset_class": "fx_major"})
    Instrument.objects.get_or_create(symbol="XAUUSD", defaults={"asset_class": "metals"})
    Instrument.objects.get_or_create(symbol="US30", defaults={"asset_class": "indices"})
    programme = programme_create(name="Standard", actor=ACTOR)

    def plan(name, rules):
        p = plan_create(programme=programme, name=name, actor=ACTOR)
        plan_version_create(plan=p, valid_from=START, rules=rules, actor=ACTOR, publish=True)
        return p

    top = make_partner_user("top@test.example", "TOPIB001").partner
    mid = make_partner_user("mid@test.example", "MIDIB001").partner
    leaf = make_partner_user("leaf@test.example", "LEAFIB01").partner
    for child, parent in ((mid, top), (leaf, mid)):
        partner_parent_set(
            partner=child, parent=parent, actor=ACTOR, reason="test tree", valid_from=START
        )
    partner_plan_set(
        partner=top,
        plan=plan(
            "Top",
            [
                {"symbol_group": "fx_major", "rate": "10"},
                {"symbol": "XAUUSD", "rate": "12"},
                {"rate": "4"},
            ],
        ),
        actor=ACTOR,
        valid_from=START,
    )
    partner_plan_set(
        partner=mid,
        plan=plan("Mid", [{"symbol_group": "fx_major", "rate": "8"}]),
        actor=ACTOR,
        valid_from=START,
    )
    partner_plan_set(
        partner=leaf,
        plan=plan("Leaf", [{"symbol_group": "fx_major", "rate": "5"}]),
        actor=ACTOR,
        valid_from=START,
    )
    client = make_client_user().client
    Client.objects.filter(pk=client.pk).update(created_at=START)
    client.refresh_from_db()
    referral_attribute(client=client, code="LEAFIB01", actor=ACTOR)
    account = make_account(client, server=make_server())
    # mid has a client of its own: a sub-IB with none would be a phantom (ib.fraud)
    referral_attribute(
        client=make_client_user("mids-own@test.example").client, code="MIDIB001", actor=ACTOR
    )
    return {"top": top, "mid": mid, "leaf": leaf, "client": client, "account": account}


def trade(
    account,
    *,
    symbol="EURUSD",
    volume=10000,
    held=timedelta(minutes=5),
    at=None,
    entry_in=True,
    commission="0",
    action=Deal.Action.BUY,
):
    """An opening deal and its closing deal `held` later; returns the closing deal."""
    closed = at or timezone.now() - timedelta(hours=1)
    position = next(_ids)
    made = []
    for entry, when in ((Deal.Entry.IN, closed - held), (Deal.Entry.OUT, closed)):
        if entry == Deal.Entry.IN and not entry_in:
            continue
        made.append(
            Deal.objects.create(
                server=account.server,
                ticket=next(_ids),
                account=account,
                client=account.client,
                time=when,
                action=action,
                entry=entry,
                symbol=symbol,
                volume=volume,
                price=D("1.1"),
                commission_amount=D(commission),
                position_id=position,
            )
        )
    return made[-1]


def lines_of(deal):
    return {
        (line.partner.user.email.split("@")[0], line.tier): line.amount
        for line in CommissionLine.objects.filter(deal=deal).select_related("partner__user")
    }


def pay_all():
    return commissions_pay(
        start=timezone.now() - timedelta(days=30), end=timezone.now() + timedelta(days=1)
    )


def test_each_level_earns_the_difference_and_the_levels_sum_to_the_top_rate(network):
    deal = trade(network["account"], volume=1)  # 0.0001 lot: partial lots exact, never rounded
    big = trade(network["account"], volume=25000)  # 2.5 lots
    assert pay_all()["lines"] == 6
    assert lines_of(big) == {("leaf", 0): D("12.5"), ("mid", 1): D("7.5"), ("top", 2): D("5")}
    assert lines_of(deal) == {
        ("leaf", 0): D("0.0005"),
        ("mid", 1): D("0.0003"),
        ("top", 2): D("0.0002"),
    }
    line = CommissionLine.objects.get(deal=big, tier=1)
    assert "2.5 lots" in line.formula and "less 5" in line.formula and "FX major" in line.formula
    assert line.version.plan.name == "Mid" and line.rule.symbol_group == "fx_major"
    # a rerun (or a race) writes nothing twice
    assert pay_all()["lines"] == 0
    assert CommissionLine.objects.count() == 6


def test_symbol_rule_then_group_then_default_and_no_rate_is_reported(network):
    gold = trade(network["account"], symbol="XAUUSD")
    index = trade(network["account"], symbol="US30")
    unknown = trade(network["account"], symbol="ZZZUSD")
    pay_all()
    # XAUUSD: top pays 12 by symbol; mid and leaf have no metal rate, so the top earns it all
    assert lines_of(gold) == {("top", 2): D("12")}
    assert lines_of(index) == {("top", 2): D("4")}  # the plan default
    assert lines_of(unknown) == {("top", 2): D("4")}
    top_plan = network["top"].plans.first().plan
    # a plan without a default: a symbol it does not price is reported, not paid as zero
    v2 = plan_version_create(
        plan=top_plan,
        valid_from=timezone.now(),
        rules=[{"symbol_group": "fx_major", "rate": "10"}],
        actor=ACTOR,
        publish=True,
    )
    later = trade(network["account"], symbol="US30", at=timezone.now() + timedelta(minutes=1))
    pay_all()
    assert lines_of(later) == {}
    unpriced = UnpricedDeal.objects.get(deal=later)
    assert unpriced.version == v2 and unpriced.partner == network["leaf"]


def test_filters_hold_time_entry_agent_deals_demo_accounts_and_own_accounts(network):
    quick = trade(network["account"], held=timedelta(seconds=30))  # under the 60 s minimum
    enough = trade(network["account"], held=timedelta(seconds=61))
    balance = Deal.objects.create(
        server=network["account"].server,
        ticket=next(_ids),
        account=network["account"],
        client=network["client"],
        time=timezone.now() - timedelta(hours=1),
        action=Deal.Action.BALANCE,
        entry=Deal.Entry.IN,
        symbol="",
        volume=0,
        price=0,
        profit_amount=D("100"),
    )
    agent = Deal.objects.create(
        server=network["account"].server,
        ticket=next(_ids),
        account=network["account"],
        client=network["client"],
        time=timezone.now() - timedelta(hours=1),
        action=18,
        entry=Deal.Entry.IN,
        symbol="EURUSD",
        volume=10000,
        price=0,
    )
    demo = make_account(network["client"], group="demo\\standard-usd")
    on_demo = trade(demo)
    pay_all()
    assert lines_of(quick) == {}
    assert lines_of(enough)[("leaf", 0)] == D("5")
    assert lines_of(balance) == {} and lines_of(agent) == {} and lines_of(on_demo) == {}
    # opening deals are not paid under "closing deals"
    opening = Deal.objects.filter(position_id=enough.position_id, entry=Deal.Entry.IN).get()
    assert lines_of(opening) == {}


def test_a_deal_is_paid_by_the_tree_as_it_stood_when_it_closed(network):
    before = trade(network["account"], at=timezone.now() - timedelta(hours=3))
    partner_parent_set(
        partner=network["leaf"],
        parent=network["top"],
        actor=ACTOR,
        reason="moved under top",
        valid_from=timezone.now() - timedelta(hours=2),
    )
    after = trade(network["account"], at=timezone.now() - timedelta(hours=1))
    pay_all()
    assert set(lines_of(before)) == {("leaf", 0), ("mid", 1), ("top", 2)}
    assert lines_of(after) == {("leaf", 0): D("5"), ("top", 1): D("5")}


def test_a_sub_ib_cannot_be_set_above_its_parent_and_the_engine_caps_it_anyway(network):
    programme = network["top"].plans.first().plan.programme
    greedy = plan_create(programme=programme, name="Greedy", actor=ACTOR)
    plan_version_create(
        plan=greedy,
        valid_from=START,
        rules=[{"symbol_group": "fx_major", "rate": "9"}],
        actor=ACTOR,
        publish=True,
    )
    with pytest.raises(InvalidInput, match="at most what its parent"):
        partner_plan_set(partner=network["leaf"], plan=greedy, actor=ACTOR, valid_from=START)
    # forced past the check (as a bad import would): still never more than the top rate
    from ib.models import PartnerPlan

    PartnerPlan.objects.create(
        partner=network["leaf"], plan=greedy, valid_from=START + timedelta(seconds=1), set_by="x"
    )
    deal = trade(network["account"])
    pay_all()
    assert lines_of(deal) == {("leaf", 0): D("8"), ("top", 2): D("2")}
    assert sum(lines_of(deal).values()) == D("10")


def test_cycles_are_refused_and_a_paid_version_is_immutable(network):
    with pytest.raises(InvalidInput, match="own sub-IB"):
        partner_parent_set(
            partner=network["top"], parent=network["leaf"], actor=ACTOR, reason="loop it"
        )
    trade(network["account"])
    pay_all()
    version = network["leaf"].plans.first().plan.versions.get()
    version.refresh_from_db()
    assert version.paid_lines
    with pytest.raises(DatabaseError, match="cannot change"), transaction.atomic():
        PlanRule.objects.filter(version=version).update(rate=D("1"))
    with pytest.raises(InvalidInput, match="already paid"):
        plan_version_create(
            plan=version.plan, valid_from=START, rules=[{"rate": "1"}], actor=ACTOR, publish=True
        )


def test_percent_of_commission_rules_and_shares_by_tier(network):
    programme = network["top"].plans.first().plan.programme
    share = plan_create(programme=programme, name="Share", actor=ACTOR)
    plan_version_create(
        plan=share,
        valid_from=START + timedelta(seconds=5),
        rules=[{"kind": "pct_commission", "rate": "50"}],
        tiers="percent",
        tier_percent="20",
        actor=ACTOR,
        publish=True,
    )
    partner_plan_set(
        partner=network["top"], plan=share, actor=ACTOR, valid_from=START + timedelta(seconds=5)
    )
    deal = trade(network["account"], commission="-7.00")
    pay_all()
    # the top's plan pays 50% of the client's commission; the leaf's and mid's own plans
    # price per lot, not a share of commission, so they have no rate of that kind: the top
    # earns it all, and says why
    assert lines_of(deal) == {("top", 2): D("3.5")}
    line = CommissionLine.objects.get(deal=deal)
    assert line.base_amount == D("7") and "7.00 commission x 50 %" in line.formula


def test_recompute_reproduces_the_stored_lines_and_shows_what_differs(network, capsys):
    from django.core.management import call_command

    from ib.engine import commissions_recompute
    from ib.models import ReferralLink

    deals = [trade(network["account"], volume=v) for v in (1, 12345, 30000)]
    pay_all()
    window = {
        "start": timezone.now() - timedelta(days=30),
        "end": timezone.now() + timedelta(days=1),
    }
    same = commissions_recompute(**window)
    assert same.same and same.lines == same.stored_lines == 9
    assert same.total == sum(CommissionLine.objects.values_list("amount", flat=True))
    month = timezone.now().strftime("%Y-%m")
    call_command("ib_recompute", "--period", month)
    assert "same: the stored lines reproduce to the cent" in capsys.readouterr().out
    # The client re-attributed back to the start, to the top partner directly: a recompute
    # now differs from what was paid (and writes nothing)
    ReferralLink.objects.filter(client=network["client"]).update(partner=network["top"])
    changed = commissions_recompute(**window)
    assert not changed.same and changed.lines == 3 and CommissionLine.objects.count() == 9
    sides = {(side, deal) for side, deal, *_ in changed.differences}
    assert ("stored only", deals[0].pk) in sides and ("recomputed only", deals[0].pk) in sides
    with pytest.raises(SystemExit):
        call_command("ib_recompute", "--period", month, "--partner", "LEAFIB01")
    assert "stored only" in capsys.readouterr().out


def test_closing_a_period_freezes_states_and_settles_once(network):
    from clients.services import client_kyc_level_set
    from finance.ledger import wallet_for
    from finance.models import Withdrawal
    from ib.models import PartnerStatement
    from ib.periods import period_close

    programme = network["top"].plans.first().plan.programme
    programme.auto_payout_threshold = D("5.00")
    programme.save()
    top = network["top"]
    top.payout_iban = "DE89370400440532013000"
    top.save()
    client_kyc_level_set(client=top.holder, level=1, actor=ACTOR, reason="Partner KYC verified")
    deals = [trade(network["account"], volume=v) for v in (12345, 3333)]
    start, end = timezone.now() - timedelta(days=3), timezone.now() - timedelta(minutes=1)
    period = period_close(programme=programme, start=start, end=end, actor=ACTOR)
    assert period.lines == 6
    assert set(CommissionLine.objects.values_list("status", "period")) == {("settled", period.pk)}
    statements = {s.partner.user.email.split("@")[0]: s for s in PartnerStatement.objects.all()}
    # leaf earns 5/lot on 1.5678 lots = 7.839 exactly; settled 7.84 (rounded once, half up)
    leaf = statements["leaf"]
    assert leaf.exact_amount == D("7.839") and leaf.amount == D("7.84")
    assert leaf.outcome == "credited" and leaf.lines == 2
    assert wallet_for(network["leaf"].holder, "USD").balance_amount == D("7.84")
    # each statement's exact amount is the sum of its lines, to the cent and beyond
    for s in statements.values():
        lines = CommissionLine.objects.filter(period=period, partner=s.partner)
        assert s.exact_amount == sum(lines.values_list("amount", flat=True))
    # the top (3.1356 over the 5.00 threshold? no: 2/lot on 1.5678 lots) is under it
    assert statements["top"].amount == D("3.14") and statements["top"].payout_reference == ""
    # mid earns 3/lot: 4.70 — under the threshold too; lower it and close the next period
    with pytest.raises(InvalidInput, match="overlaps"):
        period_close(programme=programme, start=start, end=end, actor=ACTOR)
    assert CommissionLine.objects.filter(deal__in=deals).count() == 6
    programme.auto_payout_threshold = D("1.00")
    programme.save()
    late = trade(network["account"], volume=20000, at=timezone.now() - timedelta(seconds=30))
    second = period_close(
        programme=programme, start=end, end=timezone.now() - timedelta(seconds=1), actor=ACTOR
    )
    assert second.lines == 3
    top_statement = PartnerStatement.objects.get(period=second, partner=top)
    assert top_statement.amount == D("4.00") and top_statement.payout_reference
    payout = Withdrawal.objects.get(reference=top_statement.payout_reference)
    assert payout.psp == "bank_wire" and payout.amount == D("4.00")
    # the leaf has no payout account: noted, never forced
    assert (
        "No payout account"
        in PartnerStatement.objects.get(period=second, partner=network["leaf"]).payout_note
    )
    assert CommissionLine.objects.get(deal=late, partner=top).period == second


def test_the_partner_sees_its_lines_with_their_why_and_downloads_its_statements(
    network, client, django_assert_max_num_queries
):
    from ib.models import PartnerStatement
    from ib.periods import period_close
    from tests.conftest import login

    deal = trade(network["account"], volume=15000, at=timezone.now() - timedelta(minutes=10))
    programme = network["top"].plans.first().plan.programme
    period_close(
        programme=programme,
        start=timezone.now() - timedelta(days=1),
        end=timezone.now() - timedelta(minutes=1),
        actor=ACTOR,
    )
    leaf_user = network["leaf"].user
    login(client, leaf_user)
    with django_assert_max_num_queries(25):
        page = client.get("/partners/commissions/").content.decode()
    assert "1.5 lots x 5 per lot" in page and "Your client" in page
    assert "T***" in page and "trader@test.example" not in page  # the client, masked
    assert "mid@test.example" not in page  # never another partner's line
    statement = PartnerStatement.objects.get(partner=network["leaf"])
    listing = client.get("/partners/statements/").content.decode()
    assert f"/partners/statements/{statement.pk}.pdf" in listing
    csv = client.get(f"/partners/statements/{statement.pk}.csv")
    assert csv.status_code == 200 and csv["Content-Type"].startswith("text/csv")
    assert csv.streaming  # sent line by line, never built whole
    body = b"".join(csv.streaming_content).decode()
    assert (
        str(deal.ticket) in body
        and "7.5" in body
        and '"settled (rounded once, half up)",7.50' in body
    )
    pdf = client.get(f"/partners/statements/{statement.pk}.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    other = PartnerStatement.objects.get(partner=network["top"])
    assert client.get(f"/partners/statements/{other.pk}.csv").status_code == 404
    assert client.get(f"/partners/statements/{statement.pk}.exe").status_code == 404
    # staff and clients are not partners
    client.logout()
    login(client, network["client"].user)
    assert client.get("/partners/commissions/").status_code in (302, 403)


def test_ib_managers_see_partners_close_periods_and_unpriced_deals(network, client):
    from tests.conftest import login, make_staff

    trade(network["account"], volume=20000, at=timezone.now() - timedelta(days=1, hours=1))
    trade(network["account"], symbol="ZZZUSD", at=timezone.now() - timedelta(days=1, hours=1))
    pay_all()
    manager = make_staff("ib_manager")
    login(client, manager)
    listing = client.get("/backoffice/ib/").content.decode()
    main = listing[listing.find("<main") :][:4000]
    assert "LEAFIB01" in listing and "USD 10.00" in listing, main  # the leaf's 2 lots x 5
    page = client.get(f"/backoffice/ib/partners/{network['mid'].pk}/").content.decode()
    assert "2 lots x 3 per lot" in page and "Level 1 override" in page
    assert "top@test.example</a>" in page and "leaf@test.example</a>" in page  # above, below
    day = (timezone.now() - timedelta(days=2)).date().isoformat()
    today = timezone.now().date().isoformat()
    response = client.post(
        "/backoffice/ib/periods/",
        {"programme": network["top"].plans.first().plan.programme.pk, "start": day, "end": today},
    )
    assert response.status_code == 302
    periods = client.get("/backoffice/ib/periods/").content.decode()
    assert day in periods
    again = client.post(
        "/backoffice/ib/periods/",
        {"programme": network["top"].plans.first().plan.programme.pk, "start": day, "end": today},
        follow=True,
    ).content.decode()
    assert "overlaps one already closed" in again
    bad = client.post("/backoffice/ib/periods/", {"programme": "", "start": "x", "end": ""})
    assert bad.status_code == 200 and "Choose a programme" in bad.content.decode()
    for junk in ("abc", "9" * 40):  # (a NUL byte is refused with a 400 before any view)
        bad = client.post("/backoffice/ib/periods/", {"programme": junk, "start": day, "end": day})
        assert bad.status_code == 200 and "Choose a programme" in bad.content.decode()
    assert "ZZZUSD" not in client.get("/backoffice/ib/unpriced/").content.decode()  # default rate
    client.logout()
    login(client, make_staff("finance_officer"))
    assert client.get("/backoffice/ib/").status_code == 403


def test_the_client_360_and_the_home_show_what_the_commissions_came_to(network, client):
    from tests.conftest import login, make_staff

    trade(network["account"], volume=10000)
    pay_all()
    login(client, make_staff("compliance_officer"))
    page = client.get(f"/backoffice/clients/{network['client'].pk}/").content.decode()
    assert "data-ib-generated" in page and "level 2 above" in page and "5.00 USD" in page
    client.logout()
    login(client, make_staff("ib_manager"))
    home = client.get("/backoffice/").content.decode()
    assert "IB commissions this month" in home and "10.00 USD" in home


def test_a_statement_of_any_size_streams_in_the_same_memory(network, client):
    """Its CSV is read in chunks and sent line by line: 7,500 lines peak at what 1,500 do
    (both sizes span several chunks: a chunk's rows may wait for the garbage collector while
    the next is read)."""
    import tracemalloc

    from ib.models import PartnerStatement
    from ib.periods import period_close
    from tests.conftest import login

    trade(network["account"], volume=15000, at=timezone.now() - timedelta(minutes=10))
    programme = network["top"].plans.first().plan.programme
    period_close(
        programme=programme,
        start=timezone.now() - timedelta(days=1),
        end=timezone.now() - timedelta(minutes=1),
        actor=ACTOR,
    )
    statement = PartnerStatement.objects.get(partner=network["leaf"])
    line = CommissionLine.objects.get(partner=network["leaf"], period=statement.period)
    revisions = itertools.count(1)

    def grow(n):  # copies of the line (as revisions of its deal), for the statement to list
        copies = []
        for _ in range(n):
            copy = CommissionLine.objects.get(pk=line.pk)
            copy.pk, copy.revision = None, next(revisions)
            copies.append(copy)
        CommissionLine.objects.bulk_create(copies)

    login(client, network["leaf"].user)
    url = f"/partners/statements/{statement.pk}.csv"

    def download():
        response = client.get(url)
        assert response.status_code == 200 and response.streaming
        tracemalloc.start()
        lines = sum(chunk.count(b"\n") for chunk in response.streaming_content)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return lines, peak

    grow(1499)
    few_lines, few_peak = download()
    grow(6000)
    many_lines, many_peak = download()
    assert many_lines - few_lines == 6000
    assert many_peak < few_peak * 1.25, (few_peak, many_peak)
