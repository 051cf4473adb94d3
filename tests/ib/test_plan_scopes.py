"""Rates narrowed to an account type and to the client's country or region: the lookup order,
the engine paying by them (by the country the client had when the deal closed), sub-IB caps
scope by scope, recompute and preview through the same lookup, the editor and regions."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.utils import timezone

from brokerage.errors import InvalidInput
from brokerage.models import AuditEvent, Region
from brokerage.regions import region_save
from clients.models import AccountType, Client, TradingAccount
from ib.engine import commissions_recompute
from ib.models import CommissionLine, PartnerPlan, Plan, PlanRule, PlanVersion, UnpricedDeal
from ib.plans import partner_plan_set, plan_create, plan_version_create
from ib.preview import version_preview
from ib.world import ClientScope, Timeline, World, rate_lookup
from tests.conftest import login, make_staff, shipped_defaults
from tests.ib.test_commissions import ACTOR, START, lines_of, pay_all, trade

pytestmark = pytest.mark.django_db
D = Decimal
T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(autouse=True)
def regions(db):
    """The regions an installation ships (a transactional test elsewhere may have flushed
    them)."""
    shipped_defaults()


def lookup_world(rules):
    """One version (1) with `rules`: {(kind, inst, key, account type, country, region): rate};
    EURUSD is an FX major; regions 1 (EEA, big) and 2 (DACH, small) both contain AT."""
    eea = frozenset(["AT", "BE", "DE", "FR", "IT", "NL"])
    return World(
        parents={},
        plans={},
        versions={},
        rules={1: {key: (n, D(rate)) for n, (key, rate) in enumerate(rules.items(), 1)}},
        version_info={1: SimpleNamespace(number=1)},
        groups={"EURUSD": "fx_major", "XAUUSD": "metals"},
        cuts=[T0],
        regions={1: ("EEA", eea), 2: ("DACH", frozenset({"AT", "DE", "CH"}))},
        account_types={7: "Pro"},
    )


def rate(world, symbol, at=0, country="", regions=()):
    found = rate_lookup(world, 1, "per_lot", symbol, ClientScope(at, country, frozenset(regions)))
    return (found[1], found[2]) if found else None


def test_the_lookup_order_instrument_first_then_the_most_specific_client_scope():
    world = lookup_world(
        {
            ("per_lot", "s", "XAUUSD", 0, "", 0): "12",
            ("per_lot", "g", "metals", 0, "DE", 0): "20",
            ("per_lot", "g", "fx_major", 0, "", 0): "10",
            ("per_lot", "g", "fx_major", 0, "", 1): "11",
            ("per_lot", "g", "fx_major", 0, "", 2): "13",
            ("per_lot", "g", "fx_major", 0, "FR", 0): "14",
            ("per_lot", "g", "fx_major", 7, "", 0): "15",
            ("per_lot", "g", "fx_major", 7, "FR", 0): "16",
            ("per_lot", "g", "fx_major", 7, "", 1): "17",
            ("per_lot", "d", "", 0, "", 0): "4",
            ("per_lot", "d", "", 0, "IT", 0): "5",
        }
    )
    # a symbol's rate for anyone beats its group's rate for the client's country
    assert rate(world, "XAUUSD", country="DE", regions={2}) == (D("12"), "symbol XAUUSD")
    # within the group: account type + country > account type + region > account type >
    # country > region > any
    assert rate(world, "EURUSD", 7, "FR", {1}) == (D("16"), "FX major, account type Pro, France")
    assert rate(world, "EURUSD", 7, "NL", {1})[0] == D("17")
    assert rate(world, "EURUSD", 7, "US") == (D("15"), "FX major, account type Pro")
    assert rate(world, "EURUSD", 0, "FR", {1}) == (D("14"), "FX major, France")
    assert rate(world, "EURUSD", 0, "NL", {1}) == (D("11"), "FX major, region EEA")
    # a country in two regions: the smaller region is the more specific
    assert rate(world, "EURUSD", 0, "AT", {1, 2}) == (D("13"), "FX major, region DACH")
    assert rate(world, "EURUSD", 0, "US") == (D("10"), "FX major")
    # a country's rate beats the plan default; an instrument with none falls to the default
    assert rate(world, "US30", country="IT", regions={1}) == (D("5"), "plan default, Italy")
    assert rate(world, "US30", country="FR", regions={1}) == (D("4"), "plan default")


@pytest.fixture
def scoped(network):
    """The top plan's v2 (from START + 1 min, before any deal): FX majors 10 for anyone, 14
    for clients in Germany, 12 in the EEA, 11 on the Pro account type; mid 8 and leaf 5 (any
    client) below it. The client trades on a Pro account or a Standard one."""
    account = network["account"]
    pro = AccountType.objects.create(
        server=account.server, name="Pro", group="real\\pro", currency="USD"
    )
    standard = AccountType.objects.create(
        server=account.server, name="Standard", group="real\\std", currency="USD"
    )
    TradingAccount.objects.filter(pk=account.pk).update(account_type=standard)
    pro_account = TradingAccount.objects.create(
        client=account.client,
        server=account.server,
        account_type=pro,
        login=account.login + 1,
        group="real\\pro",
        currency="USD",
        leverage=100,
    )
    top_plan = Plan.objects.get(name="Top")
    v2 = plan_version_create(
        plan=top_plan,
        valid_from=START + timedelta(minutes=1),
        rules=[
            {"symbol_group": "fx_major", "rate": "10"},
            {"symbol_group": "fx_major", "country": "de", "rate": "14"},
            {"symbol_group": "fx_major", "region": "EEA", "rate": "12"},
            {"symbol_group": "fx_major", "account_type": pro.pk, "rate": "11"},
            {"symbol": "XAUUSD", "rate": "12"},
            {"rate": "4"},
        ],
        actor=ACTOR,
        publish=True,
    )
    return network | {"pro": pro, "pro_account": pro_account, "v2": v2}


def set_country(client, country, ago):
    """As the client's profile is saved (its history keeps the change), `ago` before now."""
    client = Client.objects.get(pk=client.pk)
    client.country = country
    client.save()
    newest = client.history.order_by("-history_id").first()
    Client.history.filter(history_id=newest.history_id).update(history_date=timezone.now() - ago)


def test_the_engine_pays_by_the_override_and_the_why_names_its_scope(scoped):
    set_country(scoped["client"], "DE", timedelta(hours=3))
    german = trade(scoped["account"], volume=10000)
    on_pro = trade(scoped["pro_account"], volume=10000)
    assert pay_all()["lines"] == 6
    # Germany: top 14 -> leaf 5, mid 8 - 5, top 14 - 8
    assert lines_of(german) == {("leaf", 0): D("5"), ("mid", 1): D("3"), ("top", 2): D("6")}
    top_line = CommissionLine.objects.get(deal=german, tier=2)
    assert "FX major, Germany" in top_line.formula and top_line.rule.country == "DE"
    # on the Pro account: the account type is a more specific client scope than the country
    # (no rate for Pro + Germany): 11
    assert lines_of(on_pro)[("top", 2)] == D("3")
    assert "account type Pro" in CommissionLine.objects.get(deal=on_pro, tier=2).formula
    # Austria is in the EEA (no rate of its own): the region's 12
    set_country(scoped["client"], "AT", timedelta(minutes=40))
    austrian = trade(scoped["account"], volume=10000, at=timezone.now() - timedelta(minutes=30))
    # anywhere else: the group's 10
    set_country(scoped["client"], "US", timedelta(minutes=25))
    american = trade(scoped["account"], volume=10000, at=timezone.now() - timedelta(minutes=20))
    pay_all()
    assert lines_of(austrian)[("top", 2)] == D("4")
    assert (
        "region European Economic Area" in CommissionLine.objects.get(deal=austrian, tier=2).formula
    )
    assert lines_of(american)[("top", 2)] == D("2")
    # each deal by the country the client had when it closed: a recompute now (the client in
    # the US) reproduces every stored line to the cent
    window = {"start": timezone.now() - timedelta(days=30), "end": timezone.now() + timedelta(1)}
    again = commissions_recompute(**window)
    assert again.same and again.lines == again.stored_lines == 12


def test_a_deal_no_rate_covers_is_reported_not_paid(network):
    top_plan = Plan.objects.get(name="Top")
    plan_version_create(
        plan=top_plan,
        valid_from=START + timedelta(minutes=1),
        rules=[{"symbol_group": "fx_major", "country": "DE", "rate": "14"}],
        actor=ACTOR,
        publish=True,
    )
    set_country(network["client"], "GB", timedelta(hours=3))
    british = trade(network["account"])
    pay_all()
    assert lines_of(british) == {}
    assert UnpricedDeal.objects.get(deal=british).partner == network["leaf"]
    set_country(network["client"], "DE", timedelta(minutes=20))
    german = trade(network["account"], at=timezone.now() - timedelta(minutes=10))
    pay_all()
    assert sum(lines_of(german).values()) == D("14")
    assert not UnpricedDeal.objects.filter(deal=german).exists()


def test_a_sub_ib_is_capped_by_its_parent_scope_by_scope(scoped):
    programme = scoped["v2"].plan.programme
    greedy = plan_create(programme=programme, name="Greedy DE", actor=ACTOR)
    plan_version_create(
        plan=greedy,
        valid_from=START,
        rules=[
            {"symbol_group": "fx_major", "rate": "8"},
            {"symbol_group": "fx_major", "country": "DE", "rate": "11"},
        ],
        actor=ACTOR,
        publish=True,
    )
    # under the top, Germany pays 14 (11 on the Pro account type): 11 is allowed for the mid
    after = START + timedelta(minutes=2)  # the top's v2 in force
    partner_plan_set(partner=scoped["mid"], plan=greedy, actor=ACTOR, valid_from=after)
    # under the mid (8 for anyone, 11 for Germany), a leaf at 9 in France is too much
    leafy = plan_create(programme=programme, name="Leafy FR", actor=ACTOR)
    plan_version_create(
        plan=leafy,
        valid_from=START,
        rules=[
            {"symbol_group": "fx_major", "rate": "5"},
            {"symbol_group": "fx_major", "country": "FR", "rate": "9"},
        ],
        actor=ACTOR,
        publish=True,
    )
    with pytest.raises(InvalidInput, match="France pays 9, more than the parent's 8"):
        partner_plan_set(partner=scoped["leaf"], plan=leafy, actor=ACTOR, valid_from=after)
    # forced past the check (as a bad import would): the engine caps it at the mid's rate for
    # a French client, and the levels still sum to the top's 12 (EEA)
    PartnerPlan.objects.create(
        partner=scoped["leaf"], plan=leafy, valid_from=after + timedelta(seconds=1), set_by="x"
    )
    set_country(scoped["client"], "FR", timedelta(hours=3))
    deal = trade(scoped["account"])
    pay_all()
    assert lines_of(deal) == {("leaf", 0): D("8"), ("top", 2): D("4")}
    assert "capped at 8" in CommissionLine.objects.get(deal=deal, tier=0).formula


def test_the_preview_prices_a_draft_with_overrides_by_the_same_lookup(scoped):
    set_country(scoped["client"], "DE", timedelta(hours=3))
    now = timezone.now()
    trade(scoped["account"], volume=20000, at=now - timedelta(minutes=50))
    pay_all()
    draft = plan_version_create(
        plan=Plan.objects.get(name="Leaf"),
        valid_from=now + timedelta(days=3),
        rules=[
            {"symbol_group": "fx_major", "rate": "5"},
            {"symbol_group": "fx_major", "country": "DE", "rate": "7"},
        ],
        actor=ACTOR,
    )
    preview = version_preview(version=draft, start=now - timedelta(hours=2), end=now)
    rows = {r.partner.referral_code: (r.paid, r.would) for r in preview.rows}
    assert rows == {"LEAFIB01": (D("10"), D("14")), "MIDIB001": (D("6"), D("2"))}


def test_rules_are_checked_and_the_database_holds_one_rule_per_scope(network):
    plan = Plan.objects.get(name="Top")

    def draft(*rules):
        return plan_version_create(
            plan=plan, valid_from=timezone.now(), rules=list(rules), actor=ACTOR
        )

    for rules, message in (
        ([{"country": "DE", "region": "EEA", "rate": "1"}], "a country or a region, not both"),
        ([{"country": "XX", "rate": "1"}], "'XX' is not a country"),
        ([{"region": "MARS", "rate": "1"}], "no such region"),
        ([{"account_type": "999999", "rate": "1"}], "no such account type"),
        ([{"kind": "revshare", "symbol": "EURUSD", "rate": "1"}], "a country or a region, not"),
        (
            [{"country": "DE", "rate": "1"}, {"country": "de", "rate": "2"}],
            "plan default, Germany is set twice",
        ),
    ):
        with pytest.raises(InvalidInput, match=message):
            draft(*rules)
    version = draft({"country": "DE", "rate": "1"}, {"rate": "2"})
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        PlanRule.objects.create(version=version, country="DE", rate=3)
    with pytest.raises(IntegrityError), transaction.atomic():
        PlanRule.objects.create(
            version=version, country="FR", region=Region.objects.get(code="EEA"), rate=3
        )


def test_the_editor_saves_overrides_and_shows_them_in_words(client, scoped):
    manager = make_staff("ib_manager")
    login(client, manager)
    plan = Plan.objects.get(name="Leaf")
    eea = Region.objects.get(code="EEA")
    page = client.get(f"/backoffice/ib/plans/{plan.pk}/")
    body = page.content.decode()
    assert "account type and country, account type and region" in body
    assert "European Economic Area (EEA)" in body and ">Germany<" in body
    form = {
        "valid_from": (timezone.now() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"),
        "entry": "out",
        "min_hold_seconds": "60",
        "tiers": "difference",
        "rule-0-kind": "per_lot",
        "rule-0-symbol_group": "fx_major",
        "rule-0-rate": "5",
        "rule-1-kind": "per_lot",
        "rule-1-symbol_group": "fx_major",
        "rule-1-where": f"region:{eea.pk}",
        "rule-1-account_type": str(scoped["pro"].pk),
        "rule-1-rate": "6",
        "rule-2-kind": "per_lot",
        "rule-2-where": "nowhere",
        "rule-2-rate": "1",
    }
    refused = client.post(f"/backoffice/ib/plans/{plan.pk}/", form)
    assert refused.status_code == 400 and "no such region" in refused.content.decode()
    # what was typed stays on the page
    assert f'value="region:{eea.pk}" selected' in refused.content.decode()
    assert PlanVersion.objects.filter(plan=plan).count() == 1
    form["rule-2-where"] = "country:IT"
    made = client.post(f"/backoffice/ib/plans/{plan.pk}/", form)
    assert made.status_code == 302, made.content.decode()[-3000:]
    version = PlanVersion.objects.filter(plan=plan).order_by("-number").first()
    assert {(r.account_type_id, r.country, r.region_id) for r in version.rules.all()} == {
        (None, "", None),
        (scoped["pro"].pk, "", eea.pk),
        (None, "IT", None),
    }
    shown = client.get(f"/backoffice/ib/plans/versions/{version.pk}/").content.decode()
    assert "FX major, account type Pro, region European Economic Area" in shown
    assert "plan default, Italy" in shown
    # the next draft starts from these rows
    again = client.get(f"/backoffice/ib/plans/{plan.pk}/").content.decode()
    assert f'value="region:{eea.pk}" selected' in again and 'value="country:IT" selected' in again


def test_a_region_is_audited_and_fixed_once_a_version_pricing_by_it_has_paid(scoped):
    region = region_save(actor=ACTOR, code="dach", name="DACH", countries="de at, ch")
    assert region.code == "DACH" and region.countries == ["AT", "CH", "DE"]
    assert AuditEvent.objects.filter(action="region.saved").exists()
    with pytest.raises(InvalidInput, match="Not countries"):
        region_save(actor=ACTOR, region=region, code="DACH", name="DACH", countries="DE ZZ")
    eea = Region.objects.get(code="EEA")
    set_country(scoped["client"], "AT", timedelta(hours=3))
    trade(scoped["account"])
    pay_all()  # the top's v2 prices by the EEA and has paid
    with pytest.raises(InvalidInput, match="prices IB plan versions that have paid") as refused:
        region_save(actor=ACTOR, region=eea, code="EEA", name=eea.name, countries="AT")
    assert refused.value.fields == {"countries": [refused.value.message]}
    assert sorted(Region.objects.get(code="EEA").countries) == sorted(eea.countries)
    # its name may change, its countries staying as they were paid; its code never changes
    region_save(actor=ACTOR, region=eea, code="XX", name="EEA", countries=eea.countries)
    assert Region.objects.get(pk=eea.pk).code == "EEA"


def test_ops_admins_keep_regions_in_admin_and_a_paid_one_cannot_change(client, scoped):
    login(client, make_staff("ops_admin"))
    eea = Region.objects.get(code="EEA")
    page = client.get(f"/admin/brokerage/region/{eea.pk}/change/")
    assert page.status_code == 200
    set_country(scoped["client"], "AT", timedelta(hours=3))
    trade(scoped["account"])
    pay_all()
    refused = client.post(
        f"/admin/brokerage/region/{eea.pk}/change/",
        {"code": "EEA", "name": eea.name, "countries": "AT, DE"},
    )
    assert refused.status_code == 200 and "cannot change" in refused.content.decode()
    made = client.post(
        "/admin/brokerage/region/add/", {"code": "gcc2", "name": "Gulf", "countries": "AE SA"}
    )
    assert made.status_code == 302
    assert Region.objects.get(code="GCC2").countries == ["AE", "SA"]


@pytest.mark.parametrize("role", ["ib_manager", "compliance_officer"])
def test_the_regions_page_refuses_to_change_a_paid_region_with_the_reason(client, scoped, role):
    login(client, make_staff(role))
    eea = Region.objects.get(code="EEA")
    set_country(scoped["client"], "AT", timedelta(hours=3))
    trade(scoped["account"])
    pay_all()
    refused = client.post(
        f"/backoffice/regions/{eea.pk}/", {"name": eea.name, "countries": ["AT", "DE"]}
    )
    body = refused.content.decode()
    assert refused.status_code == 400
    assert "prices IB plan versions that have paid commission lines" in body
    assert len(Region.objects.get(pk=eea.pk).countries) == 30
    renamed = client.post(
        f"/backoffice/regions/{eea.pk}/", {"name": "EEA (ESMA)", "countries": eea.countries}
    )
    assert renamed.status_code == 302 and Region.objects.get(pk=eea.pk).name == "EEA (ESMA)"


def test_a_timeline_lookup_is_unchanged():  # the World keeps its old positional shape
    world = World({}, {1: Timeline([T0], [5])}, {}, {}, {}, {}, [T0])
    assert world.version_of([1], 0, T0) is None and world.scoped == set()


def test_a_partner_sees_its_narrowed_rates_and_cannot_set_a_sub_ib_above_them(client, network):
    """The mid is paid 8 on FX majors, 6 for Gulf clients: its sub-IB's 7 is refused, named."""
    mid, leaf = network["mid"], network["leaf"]
    plan_version_create(
        plan=Plan.objects.get(name="Mid"),
        valid_from=START + timedelta(minutes=1),
        rules=[
            {"symbol_group": "fx_major", "rate": "8"},
            {"symbol_group": "fx_major", "region": "GCC", "rate": "6"},
        ],
        actor=ACTOR,
        publish=True,
    )
    login(client, mid.user)
    page = client.get(f"/partners/network/{leaf.pk}/rates/").content.decode()
    assert "FX major, region Gulf Cooperation Council" in page and "data-narrowed" in page
    refused = client.post(f"/partners/network/{leaf.pk}/rates/", {"rate_fx_major": "7"})
    body = refused.content.decode()
    assert refused.status_code == 400
    assert "more than the parent&#x27;s 6 (FX major, region Gulf Cooperation Council)" in body
    done = client.post(f"/partners/network/{leaf.pk}/rates/", {"rate_fx_major": "6"})
    assert done.status_code == 302


def test_a_run_reads_the_country_history_of_its_own_deals_clients_only(scoped):
    """The run tells deals apart by the client's country through time: it reads the history of
    the clients whose deals it pays, not the whole client history table."""
    from django.db import connection, transaction

    from ib.engine import _Clock, _prepare, _window
    from tests.conftest import make_client_user

    set_country(scoped["client"], "DE", timedelta(hours=3))
    bystander = make_client_user("bystander@test.example").client
    set_country(bystander, "FR", timedelta(hours=2))  # history rows, no deals
    deal = trade(scoped["account"], volume=10000)
    window, params = _window([deal.pk], None, None)
    with transaction.atomic(), connection.cursor() as cur:
        prepared = _prepare(cur, window, params, [deal.pk], None, None, _Clock())
        assert prepared.scoped
        cur.execute("SELECT DISTINCT client_id FROM ib_where")
        read = {row[0] for row in cur.fetchall()}
        transaction.set_rollback(True)
    assert read == {scoped["client"].pk}
    assert pay_all()["lines"] == 3
    assert lines_of(deal)[("top", 2)] == D("6")  # Germany's 14 less mid's 8
