"""CPA and revenue share narrowed to where the client lives: the most specific rule for the
client's country (its own country, then the smaller region containing it, then the plan's
default), read from the client's history at the first deposit (CPA) or at the period's last
moment (revenue share); the same in `ib_recompute`; a property over random rule sets."""

from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from brokerage.errors import InvalidInput
from brokerage.models import Region
from clients.models import Client
from ib.client_rules import cpa_pay
from ib.models import CommissionLine
from ib.periods import period_close
from ib.recompute import client_lines_recompute
from ib.world import World, rate_lookup
from tests.conftest import shipped_defaults
from tests.ib.test_client_rules import CPA_TERMS, earned, version
from tests.ib.test_commissions import START, trade
from tests.ib.test_plan_scopes import set_country

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture(autouse=True)
def regions(db):
    shipped_defaults()


def cpa_by_country(network):
    """Every level pays a CPA of 100 by default, 300 in the Gulf, 500 in Saudi Arabia; the
    leaf's own rates are 40, 120 and 200."""
    for key, (default, gulf, saudi) in {
        "top": ("100", "300", "500"),
        "mid": ("60", "200", "300"),
        "leaf": ("40", "120", "200"),
    }.items():
        version(
            network[key],
            [
                {"symbol_group": "fx_major", "rate": "5"},
                {"kind": "cpa", "rate": default, **CPA_TERMS},
                {"kind": "cpa", "region": "GCC", "rate": gulf, **CPA_TERMS},
                {"kind": "cpa", "country": "SA", "rate": saudi, **CPA_TERMS},
            ],
        )


def fund(network, methods, country, amount="200.00"):
    from django.utils import timezone

    from tests.finance.conftest import deposit_paid

    client = network["client"]
    Client.objects.filter(pk=client.pk).update(
        kyc_level=1, id_document_expires_on=timezone.now().date() + timedelta(900)
    )
    set_country(client, country, timedelta(0))
    return deposit_paid(Client.objects.get(pk=client.pk), methods["stripe"], amount)


@pytest.mark.parametrize(
    ("country", "paid"),
    [
        ("AE", {"leaf": D("120"), "mid": D("80"), "top": D("100")}),  # the Gulf's
        ("SA", {"leaf": D("200"), "mid": D("100"), "top": D("200")}),  # its own country's
        ("FR", {"leaf": D("40"), "mid": D("20"), "top": D("40")}),  # the plan default
    ],
)
def test_a_cpa_is_priced_by_the_clients_country_at_the_first_deposit(
    network, methods, country, paid
):
    from django.utils import timezone

    cpa_by_country(network)
    fund(network, methods, country)
    # moving after the first deposit changes nothing: the country then picked the CPA
    set_country(network["client"], "DE", -timedelta(minutes=1))  # a minute after it
    trade(network["account"], volume=10000, at=timezone.now() + timedelta(minutes=5))
    assert cpa_pay() == 3
    assert earned("cpa") == paid
    line = CommissionLine.objects.get(kind="cpa", tier=0)
    where = {"AE": "region Gulf Cooperation Council", "SA": "Saudi Arabia", "FR": "plan default,"}
    assert where[country] in line.formula
    # ib_recompute finds the same CPA by the same lookup
    recomputed = client_lines_recompute(
        start=timezone.now() - timedelta(days=1), end=timezone.now() + timedelta(days=1)
    )
    assert recomputed.same and recomputed.lines == 3


def test_a_cpa_only_for_one_region_pays_nobody_elsewhere(network, methods):
    from django.utils import timezone

    for key in ("top", "mid", "leaf"):
        version(network[key], [{"kind": "cpa", "region": "GCC", "rate": "50", **CPA_TERMS}])
    fund(network, methods, "FR")
    trade(network["account"], volume=10000, at=timezone.now() + timedelta(minutes=5))
    assert cpa_pay() == 0


def test_revenue_share_is_priced_by_the_clients_country_at_the_period_end(network):
    from django.utils import timezone

    for key, (default, eea) in {"top": ("30", "40"), "leaf": ("20", "25")}.items():
        version(
            network[key],
            [
                {"kind": "revshare", "rate": default},
                {"kind": "revshare", "region": "EEA", "rate": eea},
            ],
        )
    programme = network["top"].plans.first().plan.programme
    now = timezone.now()
    set_country(network["client"], "GB", timedelta(hours=8))
    lost = trade(network["account"], volume=10000, at=now - timedelta(hours=5))
    lost.__class__.objects.filter(pk=lost.pk).update(profit_amount=D("-1000"))
    set_country(network["client"], "DE", timedelta(hours=4, minutes=30))  # before the end
    period_close(
        programme=programme,
        start=now - timedelta(hours=6),
        end=now - timedelta(hours=4),
        actor="system:test",
    )
    # Germany at the period's end: the EEA's 25% and 40% of 1,000 lost
    assert earned("revshare") == {"leaf": D("250"), "top": D("150")}
    assert "region European Economic Area" in CommissionLine.objects.get(tier=0).formula
    set_country(network["client"], "GB", timedelta(hours=1))  # a later move changes nothing
    recomputed = client_lines_recompute(start=now - timedelta(days=1), end=now)
    assert recomputed.same and recomputed.lines == 2


def test_a_cpa_cannot_be_narrowed_to_a_symbol_or_an_account_type(network):
    with pytest.raises(InvalidInput, match="narrowed to a country or a region"):
        version(network["top"], [{"kind": "cpa", "symbol_group": "fx_major", "rate": "50"}])
    version(network["top"], [{"kind": "cpa", "country": "AE", "rate": "50"}])


# --- The lookup, over random rule sets -----------------------------------------------------

COUNTRIES = ["DE", "AT", "CH", "FR", "AE", "US"]
REGIONS = {1: ("EEA", frozenset({"DE", "AT", "FR"})), 2: ("DACH", frozenset({"DE", "AT", "CH"}))}


def expected(rules: dict, country: str):
    """The most specific rule by hand: the country's own, else the smaller region holding it
    (DACH, 3 countries, before the EEA's 3 by name), else the default, else none."""
    if ("c", country) in rules:
        return rules[("c", country)]
    holding = sorted(
        (r for r, (_, members) in REGIONS.items() if country in members),
        key=lambda r: (len(REGIONS[r][1]), REGIONS[r][0]),
    )
    for r in holding:
        if ("r", r) in rules:
            return rules[("r", r)]
    return rules.get(("d", ""))


@settings(max_examples=200, deadline=None)
@given(
    rules=st.dictionaries(
        st.one_of(
            st.tuples(st.just("c"), st.sampled_from(COUNTRIES)),
            st.tuples(st.just("r"), st.sampled_from(list(REGIONS))),
            st.just(("d", "")),
        ),
        st.integers(1, 1000),
        max_size=6,
    ),
    country=st.sampled_from([*COUNTRIES, ""]),
)
def test_a_per_client_rate_is_always_the_most_specific_for_the_country(rules, country):
    keyed = {}
    for n, ((what, key), rate) in enumerate(rules.items(), 1):
        scope = (0, key if what == "c" else "", key if what == "r" else 0)
        keyed[("cpa", "d", "", *scope)] = (n, D(rate))
    world = World(
        parents={},
        plans={},
        versions={},
        rules={1: keyed},
        version_info={1: SimpleNamespace(number=1)},
        groups={},
        cuts=[START],
        regions=REGIONS,
        account_types={},
    )
    found = rate_lookup(world, 1, "cpa", "", world.client_scope(country))
    want = expected(rules, country) if country else rules.get(("d", ""))
    assert (found[1] if found else None) == (D(want) if want is not None else None)


def test_the_region_fixture_is_the_shipped_gulf():
    assert "SA" in Region.objects.get(code="GCC").countries
