"""IB managers' actions on the partner page: move a partner in the tree, attach a plan,
re-attribute a client, each from a date with a reason; history shown; only IB managers."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from brokerage.errors import InvalidInput, NotAllowed
from brokerage.models import AuditEvent
from ib.models import Attribution, ParentLink, PartnerPlan, Referral, ReferralLink
from ib.plans import plan_create, plan_version_create
from ib.services import referral_move
from tests.conftest import login, make_client_user, make_partner_user, make_staff
from tests.ib.test_commissions import ACTOR, START, lines_of, pay_all, trade

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager(client):
    user = make_staff("ib_manager")
    login(client, user)
    return user


def fx_plan(programme, name, rate):
    plan = plan_create(programme=programme, name=name, actor=ACTOR)
    rules = [{"symbol_group": "fx_major", "rate": rate}]
    plan_version_create(plan=plan, valid_from=START, rules=rules, actor=ACTOR, publish=True)
    return plan


def url(partner):
    return f"/backoffice/ib/partners/{partner.pk}/"


def post(http, target, action, **fields):
    data = {"action": action, **{f"{action}-{k}": v for k, v in fields.items()}}
    return http.post(url(target), data)


def test_a_manager_moves_a_partner_to_the_top_and_the_history_shows_both_links(
    client, manager, network
):
    leaf = network["leaf"]
    response = post(client, leaf, "move", parent="", reason="Leaves the mid IB's network")
    assert response.status_code == 302
    leaf.refresh_from_db()
    assert leaf.parent is None
    links = list(ParentLink.objects.filter(partner=leaf).order_by("valid_from"))
    assert [link.parent_id for link in links] == [network["mid"].pk, None]
    assert links[-1].set_by == manager.email and links[-1].reason == "Leaves the mid IB's network"
    assert AuditEvent.objects.filter(action="partner.parent_moved", actor=manager).exists()
    page = client.get(url(leaf))
    assert [link.parent_id for link in page.context["parents"]] == [None, network["mid"].pk]
    assert b"Leaves the mid IB" in page.content


def test_a_move_from_a_past_date_pays_later_deals_by_the_new_tree(client, manager, network):
    before = trade(network["account"], at=timezone.now() - timedelta(hours=5))
    after = trade(network["account"], at=timezone.now() - timedelta(hours=1))
    at = (timezone.now() - timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M")
    response = post(
        client, network["leaf"], "move", parent="TOPIB001", valid_from=at, reason="Was misplaced"
    )
    assert response.status_code == 302
    pay_all()
    assert set(lines_of(before)) == {("leaf", 0), ("mid", 1), ("top", 2)}
    assert set(lines_of(after)) == {("leaf", 0), ("top", 1)}


def test_bad_moves_are_form_errors_and_change_nothing(client, manager, network):
    top, leaf = network["top"], network["leaf"]
    cases = [
        ({"parent": "LEAFIB01", "reason": "make a loop"}, "own sub-IB"),
        ({"parent": "NOSUCH99", "reason": "unknown parent"}, "No partner has this"),
        ({"parent": "", "reason": "x"}, "at least 5"),
        (
            {
                "parent": "",
                "reason": "ahead of time",
                "valid_from": (timezone.now() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"),
            },
            "not ahead",
        ),
        ({"parent": "", "reason": "bad date", "valid_from": "31/31/2026"}, "valid date"),
    ]
    for fields, message in cases:
        response = post(client, top, "move", **fields)
        assert response.status_code == 400, fields
        assert message in response.content.decode(), (fields, response.content.decode()[:300])
    top.refresh_from_db()
    leaf.refresh_from_db()
    assert top.parent is None and leaf.parent == network["mid"]
    assert not ParentLink.objects.filter(partner=top).exists()
    assert client.post(url(top), {"action": "nonsense"}).status_code == 400


def test_a_manager_attaches_a_plan_from_a_date_and_the_cap_is_kept(client, manager, network):
    programme = network["top"].plans.first().plan.programme
    small, greedy = (fx_plan(programme, name, rate) for name, rate in (("Small", 3), ("Big", 9)))
    leaf = network["leaf"]
    refused = post(client, leaf, "plan", plan=greedy.pk, reason="asks for more")
    assert refused.status_code == 400 and b"at most what its parent" in refused.content
    at = timezone.now() - timedelta(hours=1)
    done = post(
        client,
        leaf,
        "plan",
        plan=small.pk,
        valid_from=at.strftime("%Y-%m-%dT%H:%M"),
        reason="Lower volume tier",
    )
    assert done.status_code == 302
    link = PartnerPlan.objects.filter(partner=leaf).order_by("-valid_from").first()
    assert link.plan == small and link.set_by == manager.email
    assert link.valid_from == at.replace(second=0, microsecond=0)
    deal = trade(network["account"], at=timezone.now() - timedelta(minutes=30))
    pay_all()
    assert lines_of(deal)[("leaf", 0)] == Decimal("3")
    assert post(client, leaf, "plan", plan="999999", reason="no such plan").status_code == 400


def test_a_client_is_re_attributed_from_now_and_earlier_deals_stay_with_the_old_ib(
    client, manager, network
):
    earlier = trade(network["account"], at=timezone.now() - timedelta(hours=2))
    response = post(
        client,
        network["leaf"],
        "client",
        client=network["client"].user.email,
        partner="MIDIB001",
        reason="Client asked to move to the mid IB",
    )
    assert response.status_code == 302
    later = trade(network["account"], at=timezone.now() + timedelta(seconds=1))
    assert Referral.objects.get(client=network["client"]).partner == network["mid"]
    pay_all()
    assert set(lines_of(earlier)) == {("leaf", 0), ("mid", 1), ("top", 2)}
    assert set(lines_of(later)) == {("mid", 0), ("top", 1)}
    event = AuditEvent.objects.get(action="referral.moved")
    assert event.actor == manager and event.reason == "Client asked to move to the mid IB"
    history = client.get(url(network["leaf"])).context["moves"]
    assert [(m.client_id, m.partner_id) for m in history][:2] == [
        (network["client"].pk, network["mid"].pk),
        (network["client"].pk, network["leaf"].pk),
    ]


def test_re_attribution_from_a_stated_date_only_and_never_before_the_last_change(network):
    manager = make_staff("ib_manager", totp=False)
    c = network["client"]
    at = timezone.now() - timedelta(hours=1)
    referral_move(
        client=c, partner=network["mid"], actor=manager, reason="from an hour ago", valid_from=at
    )
    assert ReferralLink.objects.filter(client=c, partner=network["mid"], valid_from=at).exists()
    with pytest.raises(InvalidInput, match="last changed"):
        referral_move(
            client=c,
            partner=network["top"],
            actor=manager,
            reason="earlier still",
            valid_from=at - timedelta(minutes=5),
        )
    with pytest.raises(InvalidInput, match="already this partner"):
        referral_move(client=c, partner=network["mid"], actor=manager, reason="same again")
    with pytest.raises(NotAllowed):
        referral_move(
            client=c,
            partner=network["top"],
            actor=make_staff("sales_agent"),
            reason="not mine to move",
        )


def test_the_clients_lead_follows_a_re_attribution(network):
    from leads.models import Lead

    c = network["client"]
    lead = Lead.objects.create(email=c.user.email, client=c, first_name="Tia")
    Attribution.objects.create(
        lead=lead, partner=network["leaf"], source="link", made_by_label="x", made_at=START
    )
    referral_move(
        client=c,
        partner=network["top"],
        actor=make_staff("ib_manager"),
        reason="Moved to the master",
    )
    attribution = Attribution.objects.get(lead=lead)
    assert attribution.partner == network["top"] and attribution.source == "manual"


def test_bad_re_attributions_are_form_errors(client, manager, network):
    leaf = network["leaf"]
    cases = [
        (
            {"client": "nobody@test.example", "partner": "MIDIB001", "reason": "a reason"},
            "No client has this",
        ),
        (
            {"client": network["client"].user.email, "partner": "NOPE0001", "reason": "a reason"},
            "No partner has this",
        ),
        (
            {"client": "ib@test.example", "partner": "MIDIB001", "reason": "a partner, no client"},
            "No client has this",
        ),
    ]
    make_partner_user()
    for fields, message in cases:
        response = post(client, leaf, "client", **fields)
        assert response.status_code == 400 and message in response.content.decode(), fields
    assert Referral.objects.get(client=network["client"]).partner == leaf


@pytest.mark.parametrize("audience", ["sales_agent", "finance_officer", "partner", "client"])
def test_only_ib_managers_act_on_a_partner(client, network, audience):
    user = {
        "partner": lambda: make_partner_user("p2@test.example", "P2CODE01"),
        "client": lambda: make_client_user("c2@test.example"),
    }.get(audience, lambda: make_staff(audience))()
    login(client, user)
    response = post(client, network["leaf"], "move", parent="", reason="not allowed to")
    assert response.status_code == 403
    network["leaf"].refresh_from_db()
    assert network["leaf"].parent == network["mid"]
    client.logout()
    anonymous = post(client, network["leaf"], "move", parent="", reason="not signed in")
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]


def test_the_partner_page_queries_do_not_grow_with_history(
    client, manager, network, django_assert_max_num_queries
):
    for n in range(8):
        referral_move(
            client=make_client_user(f"c{n}@test.example").client,
            partner=network["leaf"],
            actor=manager,
            reason="moved in bulk",
        )
    with django_assert_max_num_queries(40):
        page = client.get(url(network["leaf"]))
    assert page.status_code == 200 and len(page.context["moves"]) >= 9


def test_a_back_dated_change_never_pays_a_paid_deal_twice(client, manager, network):
    paid = trade(network["account"], at=timezone.now() - timedelta(hours=2))
    pay_all()
    before = lines_of(paid)
    early = (timezone.now() - timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M")
    moved = post(client, network["leaf"], "move", parent="", valid_from=early, reason="back")
    assert moved.status_code == 400 and b"already paid" in moved.content
    client_move = post(
        client,
        network["leaf"],
        "client",
        client=network["client"].user.email,
        partner="TOPIB001",
        valid_from=early,
        reason="back-dated move",
    )
    assert client_move.status_code == 400 and b"already paid" in client_move.content
    after_it = (timezone.now() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    ok = post(
        client,
        network["leaf"],
        "client",
        client=network["client"].user.email,
        partner="TOPIB001",
        valid_from=after_it,
        reason="from after the paid deal",
    )
    assert ok.status_code == 302
    pay_all()
    assert lines_of(paid) == before
