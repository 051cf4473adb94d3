"""The leadership workspace: the back-office home of desk managers (their desks' figures) and
executives (every desk's), from the rollups, filtered, each figure linked to its records."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from brokerage.models import Desk
from brokerage.rollups import rollups_refresh
from clients.models import Client
from finance.models import FxRate, PaymentMethod
from tests.conftest import login, make_staff
from tests.finance.conftest import deposit_paid, verified_client

pytestmark = pytest.mark.django_db


def make_book() -> dict:
    """Two desks, each with clients who made their first deposit today (100, 101, 102 USD)."""
    FxRate.objects.update_or_create(currency="EUR", defaults={"usd_rate": "1.08"})
    stripe = PaymentMethod.objects.create(
        psp="stripe", name="Stripe", currency="USD", min_amount=10, max_amount=50_000
    )
    london, dubai = Desk.objects.create(name="London"), Desk.objects.create(name="Dubai")
    for n, (desk, country) in enumerate([(london, "GB"), (london, "DE"), (dubai, "AE")]):
        client = verified_client(f"c{n}@lead.test", country)
        Client.objects.filter(pk=client.pk).update(desk=desk)
        deposit_paid(client, stripe, f"{100 + n}.00")
    rollups_refresh()
    return {"london": london, "dubai": dubai, "stripe": stripe}


@pytest.fixture
def book():
    return make_book()


def _figures(page) -> dict:
    return {f["key"]: f for group in page.context["groups"] for f in group["figures"]}


def test_an_executive_sees_every_desk_and_a_desk_manager_their_own(client, book):
    boss = make_staff("executive", email="boss@lead.test")
    login(client, boss)
    page = client.get("/backoffice/")
    assert page.status_code == 200
    assert page.templates[0].name == "backoffice/leadership.html"
    figures = _figures(page)
    assert figures["ftds"]["value"] == "3" and figures["deposits_usd"]["value"] == "$303"
    assert {g["key"] for g in page.context["groups"]} >= {"funnel", "money", "trading"}
    assert b'id="dashboard-charts"' in page.content
    # The FTD card opens the clients behind it; an executive may open the client list.
    assert "/backoffice/clients/?" in figures["ftds"]["link"] and "ftd=1" in figures["ftds"]["link"]
    # Money opens the read-only list of the money behind it (finance's own lists are theirs).
    assert figures["deposits_usd"]["link"].startswith("/backoffice/finance/figures/?")

    manager = make_staff("desk_manager", email="dm@lead.test", desk=book["london"])
    Desk.objects.filter(pk=book["london"].pk).update(manager=manager)
    client.logout()
    login(client, manager)
    figures = _figures(client.get("/backoffice/"))
    assert figures["ftds"]["value"] == "2"  # London's two, not Dubai's
    page = client.get("/backoffice/", {"desk": book["dubai"].pk})  # not theirs: refused
    assert b"data-filter-errors" in page.content
    assert _figures(page)["ftds"]["value"] == "2"


def test_the_filters_narrow_the_figures_and_say_what_they_cannot_split(client, book):
    login(client, make_staff("executive", email="boss@lead.test"))
    page = client.get("/backoffice/", {"country": "GB"})
    assert _figures(page)["ftds"]["value"] == "1"
    page = client.get("/backoffice/", {"psp": "stripe"})
    figures = _figures(page)
    assert figures["ftds"]["value"] == "3" and figures["ftds"]["ignored"] == ""
    assert figures["active_traders"]["ignored"] == "PSP"  # trading has no PSP
    yesterday = (timezone.now() - timedelta(days=1)).date()
    month_before = (yesterday - timedelta(days=30)).isoformat()
    page = client.get("/backoffice/", {"start": month_before, "end": yesterday.isoformat()})
    assert _figures(page)["ftds"]["value"] == "0"
    assert _figures(page)["ftds"]["previous"] == "0"


@pytest.mark.parametrize(
    "params, message",
    [
        ({"start": "yesterday"}, b"Enter a valid date"),
        ({"start": "2026-02-10", "end": "2026-02-01"}, b"The end is before the start"),
        ({"start": "2020-01-01", "end": "2026-01-01"}, b"Choose at most 366 days"),
        ({"country": "XX"}, b"Select a valid choice"),
        ({"psp": "paypal"}, b"Select a valid choice"),
        ({"desk": "abc"}, b"Select a valid choice"),
    ],
)
def test_bad_filters_are_named_and_the_default_period_is_shown(client, book, params, message):
    login(client, make_staff("executive", email="boss@lead.test"))
    page = client.get("/backoffice/", params)
    assert page.status_code == 200
    assert message in page.content and b"Showing the last 30 days instead" in page.content
    assert _figures(page)["ftds"]["value"] == "3"


def test_the_ftd_card_drills_to_the_clients_behind_it(client, book):
    manager = make_staff("desk_manager", email="dm@lead.test", desk=book["london"])
    login(client, manager)
    link = _figures(client.get("/backoffice/"))["ftds"]["link"]
    page = client.get(link)
    assert page.status_code == 200
    shown = {c.user.email for c in page.context["page"]}
    assert shown == {"c0@lead.test", "c1@lead.test"}
    # Outside the period, no one.
    page = client.get(
        "/backoffice/clients/", {"ftd": "1", "start": "2020-01-01", "end": "2020-01-31"}
    )
    assert list(page.context["page"]) == []
    # A bad date narrows nothing and fails nothing.
    assert (
        client.get("/backoffice/clients/", {"ftd": "1", "start": "x", "end": "y"}).status_code
        == 200
    )


def test_the_roles_that_do_not_lead_keep_their_home(as_role, book):
    for role in ("sales_agent", "compliance_officer", "finance_officer", "ops_admin"):
        page = as_role(role).get("/backoffice/")
        assert page.templates[0].name == "backoffice/home.html", role


def test_an_executive_reads_a_client_and_records_nothing(client, book):
    login(client, make_staff("executive", email="boss@lead.test"))
    target = Client.objects.get(user__email="c0@lead.test")
    page = client.get(f"/backoffice/clients/{target.pk}/")
    assert page.status_code == 200 and b'data-form="note"' not in page.content
    assert client.post(f"/backoffice/clients/{target.pk}/note/", {"body": "x"}).status_code == 403
    assert client.post(f"/backoffice/clients/{target.pk}/call/", {}).status_code == 403


def test_the_workspace_reads_a_fixed_number_of_queries_at_two_sizes(client, book):
    login(client, make_staff("executive", email="boss@lead.test"))
    filters = [{}, {"country": "GB", "psp": "stripe"}, {"desk": book["london"].pk}]
    counts = []
    for size in (0, 12):
        for n in range(size):
            c = verified_client(f"more{size}-{n}@lead.test", "FR")
            deposit_paid(c, book["stripe"], "50.00")
        rollups_refresh()
        for params in filters:
            with CaptureQueriesContext(connection) as ctx:
                assert client.get("/backoffice/", params).status_code == 200
            counts.append(len(ctx.captured_queries))
    assert len(set(counts)) == 1, counts
