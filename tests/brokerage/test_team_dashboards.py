"""The team dashboards (brokerage.teams): sales, retention, finance, compliance and dealing,
each for the roles that lead the team and executives, built from the leadership pieces, each
figure as counted from the records, a fixed number of queries for any size of book, and the
lists they link to counting what the figure counts."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from brokerage.models import Desk
from brokerage.rollups import rollups_refresh
from brokerage.teams import TEAMS
from clients.models import Client, Instrument, Position
from compliance.workspace import workspace_queues
from leads.models import Lead
from tests.brokerage.test_rollups import _deposit_ended
from tests.clients.factories import make_account, make_deal, make_position
from tests.conftest import login, make_staff
from tests.finance.conftest import deposit_paid, verified_client

pytestmark = pytest.mark.django_db

# Who opens each dashboard; every other role is refused.
LEADERS = {
    "sales": {"desk_manager", "executive"},
    "retention": {"desk_manager", "executive"},
    "finance": {"finance_officer", "executive"},
    "compliance": {"compliance_officer", "executive"},
    "dealing": {"dealer", "executive"},
}
ROLES = [
    "sales_agent", "senior_account_manager", "retention_agent", "desk_manager", "executive",
    "compliance_officer", "finance_officer", "ib_manager", "ops_admin", "dealer",
]  # fmt: skip


def _figures(page) -> dict:
    return {f["key"]: f for group in page.context["groups"] for f in group["figures"]}


def _tables(page) -> dict:
    return {t["id"]: t for t in page.context["tables"]}


@pytest.fixture
def book():
    """A desk with three clients: leads contacted in time, late and never; deposits completed,
    declined and expired; open positions long and short; one client winning, one losing."""
    from finance.models import PaymentMethod

    stripe = PaymentMethod.objects.create(
        psp="stripe", name="Stripe", currency="USD", min_amount=10, max_amount=50_000
    )
    Instrument.objects.update_or_create(  # shipped, unless a transactional test flushed it
        symbol="EURUSD",
        defaults={
            "asset_class": Instrument.AssetClass.FX_MAJOR,
            "contract_size": 100_000,
            "quote_currency": "USD",
        },
    )
    desk = Desk.objects.create(name="London", sla_minutes=15)
    now = timezone.now()
    agent = make_staff("sales_agent", email="agent@team.test", desk=desk)
    clients = []
    for n, contact in enumerate([5, 60, None]):
        client = verified_client(f"c{n}@team.test", "GB")
        Client.objects.filter(pk=client.pk).update(desk=desk)
        clients.append(client)
        assigned = now - timedelta(hours=3)
        Lead.objects.create(
            email=f"c{n}@team.test", country="GB", channel="api", desk=desk, client=client,
            assigned_to=agent, assigned_at=assigned,
            first_contact_at=assigned + timedelta(minutes=contact) if contact else None,
        )  # fmt: skip
    deposit_paid(clients[0], stripe, "100.00")
    deposit_paid(clients[1], stripe, "200.00")
    _deposit_ended(clients[1], stripe, "failed")
    _deposit_ended(clients[2], stripe, "expired")
    _deposit_ended(clients[2], stripe, "open")
    winner, loser = make_account(clients[0]), make_account(clients[1])
    make_deal(winner, at=now - timedelta(hours=1), entry=1, profit="250.00")
    make_deal(loser, at=now - timedelta(hours=1), entry=1, profit="-400.00")
    make_position(winner, volume=30_000)  # 3 lots long
    short = make_position(loser, volume=10_000)  # 1 lot short
    Position.objects.filter(pk=short.pk).update(action=1)
    rollups_refresh()
    return {"desk": desk, "stripe": stripe, "clients": clients, "agent": agent}


@pytest.mark.parametrize("team", list(TEAMS))
def test_each_dashboard_opens_for_the_roles_that_lead_its_team(client, team):
    for role in ROLES:
        login(client, make_staff(role, email=f"{role}@team.test"))
        answer = client.get(f"/backoffice/dashboards/{team}/")
        expected = 200 if role in LEADERS[team] else 403
        assert answer.status_code == expected, (team, role, answer.status_code)
        if expected == 200:
            assert answer.context["team"].slug == team
        client.logout()


def test_the_sales_dashboard_counts_contact_and_the_sla(client, book):
    manager = make_staff("desk_manager", email="dm@team.test", desk=book["desk"])
    login(client, manager)
    page = client.get("/backoffice/dashboards/sales/")
    figures = _figures(page)
    assert figures["leads"]["value"] == "3"
    assert figures["contact_rate"]["value"] == "66.7%"  # two of three contacted
    assert figures["contacted_late"]["value"] == "1"  # after the desk's 15 minutes
    assert figures["waiting_past_sla"]["value"] == "1"  # the third, assigned 3 hours ago
    board = _tables(page)["sales-leaderboard"]
    name = book["agent"].get_full_name() or book["agent"].email
    assert board["rows"][0]["cells"][:4] == [name, "3", "66.7", "1"]
    # The leads figure opens the desk's leads of the period: the same three.
    listed = client.get(figures["leads"]["link"])
    assert listed.status_code == 200 and listed.context["page"].paginator.count == 3


def test_the_finance_dashboard_counts_psp_success_and_declines(client, book):
    login(client, make_staff("finance_officer", email="fo@team.test"))
    page = client.get("/backoffice/dashboards/finance/")
    figures = _figures(page)
    assert figures["deposits_usd"]["value"] == "$300"  # the leadership's money figures
    # Five started: two completed, one declined, one expired, one still open.
    assert figures["psp_success"]["value"] == "50.0%"
    assert figures["psp_declines"]["value"] == "25.0%"
    assert figures["chargeback_ratio"]["value"] == "0.0%"
    row = _tables(page)["psp-success"]["rows"][0]
    assert row["cells"][:4] == ["Stripe (cards)", "5", "2", "1"]
    # Each links to the deposits behind it, counted alike.
    for key, n in (("psp_success", 2), ("psp_declines", 1), ("deposits_usd", 2)):
        listed = client.get(figures[key]["link"])
        assert listed.status_code == 200 and listed.context["page"].paginator.count == n, key
    listed = client.get(row["link"])
    assert listed.context["page"].paginator.count == 5


def test_the_dealing_dashboard_nets_long_and_short_and_names_winners(client, book):
    login(client, make_staff("dealer", email="dealer@team.test"))
    page = client.get("/backoffice/dashboards/dealing/")
    figures = _figures(page)
    assert figures["open_positions"]["value"] == "2"
    exposure = _tables(page)["exposure-by-symbol"]["rows"][0]["cells"]
    # 3 lots long less 1 short = 2 lots net, at 1.08125 x 100,000 a lot.
    assert exposure[:2] == ["EURUSD", "2.00"] and exposure[2] == "216,250"
    assert figures["net_notional_usd"]["value"] == "$216,250"
    assert figures["gross_notional_usd"]["value"] == "$432,500"
    winners, losers = _tables(page)["top-winners"], _tables(page)["top-losers"]
    assert [r["cells"][1] for r in winners["rows"]] == ["250"]
    assert [r["cells"][1] for r in losers["rows"]] == ["-400"]
    target = book["clients"][0].pk
    assert winners["rows"][0]["link"] == f"/backoffice/clients/{target}/"
    assert client.get(winners["rows"][0]["link"]).status_code == 200
    # The dealer reads clients and records nothing on them.
    assert client.post(f"/backoffice/clients/{target}/note/", {"body": "x"}).status_code == 403


def test_the_compliance_dashboard_shows_the_workspace_queues(client, book):
    queues = {q.key: q for q in workspace_queues()}
    login(client, make_staff("compliance_officer", email="co@team.test"))
    figures = _figures(client.get("/backoffice/dashboards/compliance/"))
    for key, q in queues.items():
        assert figures[f"queue_{key}"]["value"] == f"{q.count:,}"
        assert figures[f"queue_{key}"]["link"] == q.url
    client.logout()
    login(client, make_staff("executive", email="boss@team.test"))
    figures = _figures(client.get("/backoffice/dashboards/compliance/"))
    assert figures["queue_kyc"]["link"] == ""  # the queues are compliance's to open


def test_the_retention_dashboard_splits_by_desk_and_account_manager(client, book):
    from clients.models import RetentionFlag

    agent = make_staff("retention_agent", email="ra@team.test", desk=book["desk"])
    target = book["clients"][2]
    Client.objects.filter(pk=target.pk).update(account_manager=agent)
    now = timezone.now()
    RetentionFlag.objects.create(
        client=target, desk=book["desk"], days_inactive=40, flagged_at=now, refreshed_at=now
    )
    rollups_refresh()
    login(client, make_staff("executive", email="boss@team.test"))
    page = client.get("/backoffice/dashboards/retention/")
    assert _figures(page)["retention_flagged"]["value"] == "1"
    by_desk = _tables(page)["retention-by-desk"]["rows"]
    assert by_desk[0]["cells"][:2] == ["London", "1"]
    by_agent = _tables(page)["retention-by-agent"]["rows"]
    assert by_agent[0]["cells"][:2] == [agent.get_full_name() or agent.email, "1"]


@pytest.mark.parametrize("team", list(TEAMS))
def test_each_dashboard_reads_a_fixed_number_of_queries_at_two_sizes(client, book, team):
    login(client, make_staff("executive", email="boss@team.test"))
    filters = [{}, {"country": "GB"}, {"desk": book["desk"].pk}]
    counts = []
    for size in (0, 6):
        for n in range(size):
            extra = verified_client(f"more{size}-{n}@team.test", "FR")
            deposit_paid(extra, book["stripe"], "50.00")
            make_position(make_account(extra), symbol="GBPUSD" if n % 2 else "EURUSD")
            make_deal(extra.trading_accounts.first(), entry=1, profit=f"{n}.00")
        rollups_refresh()
        for params in filters:
            with CaptureQueriesContext(connection) as ctx:
                assert client.get(f"/backoffice/dashboards/{team}/", params).status_code == 200
            counts.append(len(ctx.captured_queries))
    assert len(set(counts)) == 1, (team, counts)


def test_a_bad_filter_is_named_on_a_team_dashboard(client, book):
    login(client, make_staff("executive", email="boss@team.test"))
    page = client.get("/backoffice/dashboards/finance/", {"start": "x", "psp": "paypal"})
    assert page.status_code == 200 and b"data-filter-errors" in page.content
    assert b"Enter a valid date" in page.content and b"Select a valid choice" in page.content
    # The dealing dashboard offers no PSP: a PSP in the query string is not a filter there.
    page = client.get("/backoffice/dashboards/dealing/", {"psp": "stripe"})
    assert b"data-filter-errors" not in page.content
    assert "psp" not in page.context["form"].fields


# --- Drill-down: each figure opens a list that counts what it counts ---------------------------


def test_an_executive_opens_the_leads_behind_the_funnel_read_only(client, book):
    login(client, make_staff("executive", email="boss@team.test"))
    link = _figures(client.get("/backoffice/"))["leads"]["link"]
    assert link.startswith("/backoffice/leads/figures/?")
    page = client.get(link)
    assert page.status_code == 200 and page.context["page"].paginator.count == 3
    assert b"bulk-reassign" not in page.content  # nothing to reassign with
    assert b'href="/backoffice/leads/' + str(Lead.objects.first().pk).encode() not in page.content
    lead = Lead.objects.first()
    assert client.post(f"/backoffice/leads/{lead.pk}/note/", {"body": "x"}).status_code == 403


def test_a_psp_filter_narrows_the_ftd_drill_down_as_the_figure(client, book):
    from finance.models import PaymentMethod

    skrill = PaymentMethod.objects.create(
        psp="skrill", name="Skrill", currency="USD", min_amount=10, max_amount=50_000
    )
    deposit_paid(book["clients"][2], skrill, "70.00")  # an FTD through another PSP
    rollups_refresh()
    login(client, make_staff("executive", email="boss@team.test"))
    for psp, n in (("stripe", 2), ("skrill", 1), ("", 3)):
        figure = _figures(client.get("/backoffice/", {"psp": psp} if psp else {}))["ftds"]
        assert figure["value"] == str(n)
        listed = client.get(figure["link"])
        assert listed.context["page"].paginator.count == n, psp
    # An unknown PSP narrows nothing and fails nothing.
    assert client.get("/backoffice/clients/", {"psp": "paypal"}).status_code == 200


def test_lots_notional_and_revenue_open_the_deals_behind_them(client, book):
    login(client, make_staff("executive", email="boss@team.test"))
    page = client.get("/backoffice/")
    figures = _figures(page)
    for key in ("lots", "notional_usd", "revenue_usd", "client_pl_usd"):
        assert figures[key]["link"].startswith("/backoffice/clients/deals/?"), key
    listed = client.get(figures["lots"]["link"])
    assert listed.status_code == 200
    assert f"{listed.context['totals']['lots']:.2f}" == figures["lots"]["value"]
    assert listed.context["totals"]["deals"] == 2
    row = _tables(page)["trading-by-symbol"]["rows"][0]
    assert "symbol=EURUSD" in row["link"]
    assert client.get(row["link"]).context["totals"]["deals"] == 2
    # A desk manager's list holds their desks' clients' deals only.
    client.logout()
    login(client, make_staff("desk_manager", email="dm2@team.test"))  # on no desk
    assert client.get(figures["lots"]["link"]).context["totals"]["deals"] == 0


def test_the_deposit_list_narrows_by_the_days_they_completed(client, book):
    login(client, make_staff("finance_officer", email="fo@team.test"))
    today = timezone.now().date()
    page = client.get(
        "/backoffice/finance/deposits/",
        {"start": today.isoformat(), "end": today.isoformat(), "status": "completed"},
    )
    assert page.context["page"].paginator.count == 2
    yesterday = (today - timedelta(days=1)).isoformat()
    page = client.get("/backoffice/finance/deposits/", {"start": yesterday, "end": yesterday})
    assert page.context["page"].paginator.count == 0
    page = client.get("/backoffice/finance/deposits/", {"start": "x", "end": "2026-13-01"})
    assert page.status_code == 200 and page.context["page"].paginator.count == 5


def test_an_exposure_row_opens_the_open_positions_behind_it(client, book):
    other = Desk.objects.create(name="Dubai")
    elsewhere = verified_client("far@team.test", "AE")
    Client.objects.filter(pk=elsewhere.pk).update(desk=other)
    make_position(make_account(elsewhere), volume=50_000)  # 5 lots long, on another desk
    for role in ("dealer", "executive"):
        client.logout()
        login(client, make_staff(role, email=f"{role}@team.test"))
        for params, lots, count in (({}, "7.00", 3), ({"desk": book["desk"].pk}, "2.00", 2)):
            page = client.get("/backoffice/dashboards/dealing/", params)
            row = _tables(page)["exposure-by-symbol"]["rows"][0]
            assert row["cells"][0] == "EURUSD" and row["cells"][1] == lots
            assert row["link"].startswith("/backoffice/clients/positions/?")
            listed = client.get(row["link"])
            assert listed.status_code == 200, role
            totals = listed.context["totals"]
            assert totals["positions"] == count == int(row["cells"][5])
            assert f"{totals['net_lots']:.2f}" == lots
            # Read only: no form on the page but the top bar's sign-out.
            assert listed.content.count(b'method="post"') == 1
    # A desk manager's list holds their desks' clients' positions only.
    client.logout()
    login(client, make_staff("desk_manager", email="dm3@team.test", desk=book["desk"]))
    listed = client.get("/backoffice/clients/positions/", {"symbol": "EURUSD"})
    assert listed.context["totals"]["positions"] == 2
    # A bad filter narrows nothing and fails nothing.
    assert (
        client.get("/backoffice/clients/positions/", {"desk": "x", "country": "ZZ"}).status_code
        == 200
    )


def test_money_cards_open_the_money_behind_them_read_only_for_those_who_lead(client, book):
    manager = make_staff("desk_manager", email="dm4@team.test", desk=book["desk"])
    for user in (make_staff("executive", email="boss@team.test"), manager):
        client.logout()
        login(client, user)
        page = client.get("/backoffice/")
        figures = _figures(page)
        assert figures["deposits_usd"]["value"] == "$300"
        for key in ("ftd_usd", "deposits_usd", "withdrawals_usd", "net_deposits_usd"):
            assert figures[key]["link"].startswith("/backoffice/finance/figures/?"), key
        listed = client.get(figures["deposits_usd"]["link"])
        assert listed.status_code == 200
        tabs = {t["kind"]: t["n"] for t in listed.context["tabs"]}
        # Two deposits completed (100 and 200 USD); the declined, expired and open are not.
        assert tabs == {"deposits": 2, "withdrawals": 0, "refunds": 0, "chargebacks": 0}
        assert listed.context["page"].paginator.count == 2
        assert [(t["n"], t["total"]) for t in listed.context["totals"]] == [(2, 300)]
        assert listed.content.count(b'method="post"') == 1  # only the top bar's sign-out
        ftds = client.get(figures["ftd_usd"]["link"])
        assert ftds.context["page"].paginator.count == 2
        paid = client.get(figures["withdrawals_usd"]["link"])
        assert paid.context["kind"] == "withdrawals" and paid.context["page"].paginator.count == 0
        row = _tables(page)["money-by-psp"]["rows"][0]
        assert "psp=stripe" in row["link"]
        assert client.get(row["link"]).context["page"].paginator.count == 2
    # A desk manager of no desk reads no desk's money, as their figures.
    client.logout()
    login(client, make_staff("desk_manager", email="dm5@team.test"))
    assert _figures(client.get("/backoffice/"))["deposits_usd"]["value"] in ("$0", "—")
    assert client.get("/backoffice/finance/figures/").context["page"].paginator.count == 0
    # Finance keeps its own lists, where it decides.
    client.logout()
    login(client, make_staff("finance_officer", email="fo2@team.test"))
    link = _figures(client.get("/backoffice/dashboards/finance/"))["deposits_usd"]["link"]
    assert link.startswith("/backoffice/finance/deposits/?")
    # Roles that lead nothing have no such list.
    client.logout()
    login(client, make_staff("sales_agent", email="sa2@team.test"))
    assert client.get("/backoffice/finance/figures/").status_code == 403
