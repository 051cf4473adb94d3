"""The one regions table (`brokerage.Region`): who may change a region, how a change is checked,
audited and kept in history, how an app refuses a change through the kernel's hook, and the
migration that made one table of the leverage limits' regions and ib's."""

from importlib import import_module

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from brokerage.errors import InvalidInput, NotAllowed
from brokerage.hooks import REGION_CHANGE_REFUSALS, _registry, contribute
from brokerage.leverage_limits import class_caps
from brokerage.models import AuditEvent, LeverageLimit, Region
from brokerage.regions import region_change_refusals, region_save, regions_of
from tests.conftest import make_staff, shipped_defaults

pytestmark = pytest.mark.django_db


@pytest.fixture
def shipped(db):
    shipped_defaults()


def test_the_shipped_regions_serve_leverage_limits_and_ib_rates(shipped):
    assert set(Region.objects.values_list("code", flat=True)) >= {"EEA", "UK", "AU", "GCC", "LATAM"}
    eea = Region.objects.get(code="EEA")
    assert len(eea.countries) == 30 and "DE" in eea.countries and "GB" not in eea.countries
    assert [r.code for r in regions_of("de")] == ["EEA"]
    # a leverage limit names the region by its code, as before
    caps = class_caps(country="DE", category="retail")
    assert caps["fx_major"].max_leverage == 30
    assert caps["fx_major"].jurisdiction_name == "European Economic Area"


def test_a_region_is_checked_audited_and_kept_in_history(shipped):
    officer = make_staff("compliance_officer")
    region = region_save(actor=officer, code=" dach ", name="  DACH  ", countries="de, at ch")
    assert (region.code, region.name, region.countries) == ("DACH", "DACH", ["AT", "CH", "DE"])
    assert region.updated_by_label == officer.email
    event = AuditEvent.objects.get(action="region.saved", target_id=str(region.pk))
    assert event.evidence["before"] is None
    with pytest.raises(InvalidInput) as bad:
        region_save(actor=officer, code="DACH", name="Again", countries="DE")
    assert bad.value.fields == {"code": ["There is already a region DACH."]}
    with pytest.raises(InvalidInput, match="Not countries") as bad:
        region_save(actor=officer, region=region, code="DACH", name="DACH", countries="DE ZZ")
    assert bad.value.fields == {"countries": ["Unknown codes."]}
    with pytest.raises(InvalidInput):
        region_save(actor=officer, region=region, code="DACH", name=" ", countries="DE")
    with pytest.raises(InvalidInput):
        region_save(actor=officer, code="D", name="Too short", countries="DE")
    assert Region.objects.get(pk=region.pk).countries == ["AT", "CH", "DE"]  # nothing lost
    region_save(
        actor=make_staff("ib_manager"), region=region, code="X", name="DACH", countries="DE AT"
    )
    region.refresh_from_db()
    assert region.code == "DACH" and region.countries == ["AT", "DE"]
    assert [h.countries for h in region.history.order_by("history_id")] == [
        ["AT", "CH", "DE"],
        ["AT", "DE"],
    ]
    last = AuditEvent.objects.filter(action="region.saved").order_by("-pk").first()
    assert last.evidence["before"] == {"name": "DACH", "countries": ["AT", "CH", "DE"]}


@pytest.mark.parametrize("role", ["sales_agent", "finance_officer", "retention_agent"])
def test_only_ib_managers_compliance_officers_and_ops_admins_change_regions(shipped, role):
    with pytest.raises(NotAllowed):
        region_save(actor=make_staff(role), code="DACH", name="DACH", countries="DE")
    assert not Region.objects.filter(code="DACH").exists()
    region_save(actor=make_staff("ops_admin"), code="DACH", name="DACH", countries="DE")


def test_an_app_refuses_a_change_through_the_hook_with_its_reason(shipped):
    eea = Region.objects.get(code="EEA")

    def refuse(region, countries):
        return f"{region.code} is relied on ({len(countries)} countries asked)."

    contribute(REGION_CHANGE_REFUSALS, refuse)
    try:
        assert region_change_refusals(eea, eea.countries) == []  # same countries: no question
        with pytest.raises(InvalidInput, match="EEA is relied on") as refused:
            region_save(actor="system:test", region=eea, code="EEA", name=eea.name, countries="DE")
        assert refused.value.fields == {"countries": ["EEA is relied on (1 countries asked)."]}
        assert len(Region.objects.get(pk=eea.pk).countries) == 30
        region_save(
            actor="system:test", region=eea, code="EEA", name="EEA", countries=eea.countries
        )
    finally:
        _registry[REGION_CHANGE_REFUSALS] = [
            e for e in _registry[REGION_CHANGE_REFUSALS] if e.item is not refuse
        ]


# --- The migration -------------------------------------------------------------------------

BEFORE = [("brokerage", "0013_leverage_limits_finer_classes"), ("ib", "0021_rule_client_scope")]
AFTER = [("brokerage", "0014_regions"), ("ib", "0022_kernel_regions")]
EEA = sorted(import_module("brokerage.migrations.0014_regions").EEA.split())


def _migrate(targets):
    """Migrate to `targets`; the models as they stand there."""
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    executor.loader.build_graph()
    return executor.loader.project_state(targets).apps


def _rule(apps, region, *, paid: bool, name: str):
    Programme = apps.get_model("ib", "Programme")
    Plan = apps.get_model("ib", "Plan")
    Version = apps.get_model("ib", "PlanVersion")
    Rule = apps.get_model("ib", "PlanRule")
    programme, _ = Programme.objects.get_or_create(name="Migration")
    plan = Plan.objects.create(programme=programme, name=name)
    version = Version.objects.create(plan=plan, number=1, valid_from=timezone.now())
    rule = Rule.objects.create(version=version, kind="per_lot", region=region, rate=5)
    if paid:
        Version.objects.filter(pk=version.pk).update(paid_lines=True)
    return rule.pk


@pytest.mark.django_db(transaction=True)
def test_the_migration_makes_one_table_keeping_what_paid_lines_priced():
    """The EEA in both with the same countries is one region; ib's own regions follow with
    their rates; an ib region whose countries differ from the regulator's is merged into the
    regulator's, unless a paid version priced by it: then it is kept under a code of its own."""
    # going back undoes the later migrations too, which may refuse rows written since (a
    # ban's limit of 0 before leverage limits allowed one): the test needs no limits
    LeverageLimit.objects.all().delete()
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes()
    try:
        _check_migration()
    finally:
        # every app back at its latest migration: later tests need the whole schema
        MigrationExecutor(connection).migrate(latest)


def _check_migration():
    apps = _migrate(BEFORE)
    try:
        Leverage = apps.get_model("brokerage", "LeverageRegion")
        IbRegion = apps.get_model("ib", "Region")
        Leverage.objects.create(code="EEA", name="European Economic Area", countries=EEA)
        Leverage.objects.create(code="UK", name="United Kingdom", countries=["GB"])
        Leverage.objects.create(code="AU", name="Australia", countries=["AU"])
        ib_eea = IbRegion.objects.create(code="EEA", name="EEA (IB)", countries=EEA)
        gcc = IbRegion.objects.create(code="GCC", name="Gulf", countries=["AE", "SA"])
        ib_uk = IbRegion.objects.create(code="UK", name="UK and Gibraltar", countries=["GB", "GI"])
        ib_au = IbRegion.objects.create(code="AU", name="Oceania", countries=["AU", "NZ"])
        long_code = IbRegion.objects.create(code="SOUTHEASTASIA", name="SEA", countries=["TH"])
        rules = {
            "eea": _rule(apps, ib_eea, paid=True, name="A"),
            "gcc": _rule(apps, gcc, paid=True, name="B"),
            "uk": _rule(apps, ib_uk, paid=False, name="C"),
            "au": _rule(apps, ib_au, paid=True, name="D"),
            "long": _rule(apps, long_code, paid=False, name="E"),
        }
    finally:
        apps = _migrate(AFTER)
    Region = apps.get_model("brokerage", "Region")
    Rule = apps.get_model("ib", "PlanRule")
    History = apps.get_model("brokerage", "HistoricalRegion")
    regions = {r.code: r for r in Region.objects.all()}
    assert set(regions) == {"EEA", "UK", "AU", "GCC", "AU-IB", "SOUTHEAS"}
    assert regions["EEA"].countries == EEA and regions["EEA"].name == "European Economic Area"
    region_of = {k: Rule.objects.get(pk=pk).region.code for k, pk in rules.items()}
    assert region_of == {
        "eea": "EEA",  # the same countries: one region
        "gcc": "GCC",
        "uk": "UK",  # nothing paid by ib's list: the regulator's is kept
        "au": "AU-IB",  # paid by ib's list: kept as it was paid
        "long": "SOUTHEAS",
    }
    assert regions["UK"].countries == ["GB"]
    assert (
        regions["AU-IB"].countries == ["AU", "NZ"] and regions["AU-IB"].name == "Oceania (IB rates)"
    )
    assert regions["GCC"].countries == ["AE", "SA"]
    assert set(History.objects.values_list("code", flat=True)) >= {"GCC", "AU-IB", "SOUTHEAS"}
    # the paid versions' rates are guarded again
    from django.db import DatabaseError, transaction

    with pytest.raises(DatabaseError, match="cannot change"), transaction.atomic():
        Rule.objects.filter(pk=rules["gcc"]).update(rate=6)


# --- The regions page ----------------------------------------------------------------------


def test_the_regions_page_lists_countries_by_name_in_a_fixed_number_of_queries(
    shipped, client, django_assert_max_num_queries
):
    from tests.conftest import login

    login(client, make_staff("ib_manager"))
    with django_assert_max_num_queries(12):
        page = client.get("/backoffice/regions/")
    body = page.content.decode()
    assert page.status_code == 200
    assert "European Economic Area" in body and "Germany" in body and "United Arab Emirates" in body
    assert ", DE," not in body  # names, never raw codes
    for n in range(8):
        region_save(actor="system:test", code=f"R{n}", name=f"Region {n}", countries="FR IT")
    with django_assert_max_num_queries(12):
        assert client.get("/backoffice/regions/").status_code == 200


def test_an_officer_makes_and_changes_a_region_and_reads_its_history(shipped, client):
    from tests.conftest import login

    login(client, make_staff("compliance_officer"))
    refused = client.post(
        "/backoffice/regions/", {"code": "eea", "name": "Again", "countries": ["DE"]}
    )
    assert (
        refused.status_code == 400 and "There is already a region EEA." in refused.content.decode()
    )
    made = client.post(
        "/backoffice/regions/", {"code": "dach", "name": "DACH", "countries": ["DE", "AT"]}
    )
    assert made.status_code == 302
    dach = Region.objects.get(code="DACH")
    assert dach.countries == ["AT", "DE"]
    page = client.get(f"/backoffice/regions/{dach.pk}/").content.decode()
    assert 'value="DE" selected' in page and "Germany (DE)" in page
    bad = client.post(f"/backoffice/regions/{dach.pk}/", {"name": "DACH", "countries": ["ZZ"]})
    assert bad.status_code == 400 and Region.objects.get(pk=dach.pk).countries == ["AT", "DE"]
    changed = client.post(
        f"/backoffice/regions/{dach.pk}/", {"name": "DACH", "countries": ["DE", "AT", "CH"]}
    )
    assert changed.status_code == 302
    history = client.get(f"/backoffice/regions/{dach.pk}/").content.decode()
    assert "Added</span> Switzerland" in history
    assert "Added</span> Austria, Germany" in history


def test_roles_without_the_regions_permission_are_refused(shipped, client):
    from tests.conftest import login

    eea = Region.objects.get(code="EEA")
    for role in ("sales_agent", "finance_officer", "ops_admin"):
        login(client, make_staff(role))
        assert client.get("/backoffice/regions/").status_code == 403
        posted = client.post(f"/backoffice/regions/{eea.pk}/", {"name": "X", "countries": ["DE"]})
        assert posted.status_code == 403
    assert len(Region.objects.get(pk=eea.pk).countries) == 30
