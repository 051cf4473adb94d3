"""What an instrument is: its class (and the migration that mapped the coarse asset classes),
its point value, an account type's markup on it, and the server symbols that resolve to it."""

import importlib
from decimal import Decimal

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from hypothesis import given
from hypothesis import strategies as st

from clients import instruments as spec
from clients.models import AccountType, AccountTypeMarkup, Instrument
from clients.trading.selectors import InstrumentResolver, instrument_resolve, markup_for
from tests.clients.factories import make_server

pytestmark = pytest.mark.django_db

MIGRATION = importlib.import_module("clients.migrations.0016_instrument_classes_specs_markups")


# --- Classes -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "symbol, expected",
    [
        *[(s, "fx_major") for s in sorted(spec.MAJORS)],
        ("EURGBP", "fx_minor"),
        ("EURJPY", "fx_minor"),
        ("GBPJPY", "fx_minor"),
        ("AUDNZD", "fx_minor"),
        ("CADCHF", "fx_minor"),
        ("USDNZD", "fx_minor"),  # two G10 currencies, but not as the market quotes the major
        ("eurchf.m", "fx_minor"),
        ("USDTRY", "fx_exotic"),
        ("EURZAR", "fx_exotic"),
        ("USDSEK", "fx_exotic"),  # SEK is G10 but not among the eight
        ("USDUSD", "fx_exotic"),
        ("", "fx_exotic"),
    ],
)
def test_an_fx_pair_is_major_minor_or_exotic_by_its_currencies(symbol, expected):
    assert spec.fx_class(symbol) == expected


def test_each_coarse_asset_class_has_a_class_and_nothing_is_guessed():
    assert spec.class_for("metal", "XAUUSD") == "metals"
    assert spec.class_for("commodity", "USOIL") == "energies"
    assert spec.class_for("index", "US30") == "indices"
    assert spec.class_for("crypto", "BTCUSD") == "crypto"
    assert spec.class_for("stock", "AAPL") == "stocks"
    assert spec.class_for("fx", "USDJPY") == "fx_major"
    assert spec.class_for("fx_minor", "EURGBP") == "fx_minor"  # run twice: unchanged
    with pytest.raises(ValueError, match="bond"):
        spec.class_for("bond", "US10Y")


def _old(symbol, asset_class, **fields):
    """A row as it stood before the migration (the coarse code, no quote currency, no finer
    class)."""
    instrument, _ = Instrument.objects.get_or_create(symbol=symbol, defaults={"asset_class": "x"})
    Instrument.objects.filter(pk=instrument.pk).update(
        asset_class=asset_class, quote_currency="", subclass="", **fields
    )


def test_the_migration_maps_every_row_to_its_class_and_quote_currency():
    for symbol, coarse in [
        ("EURUSD", "fx"),
        ("USDJPY", "fx"),
        ("EURGBP", "fx"),
        ("USDTRY", "fx"),
        ("XAUUSD", "metal"),
        ("USOIL", "commodity"),
        ("US30", "index"),
        ("BTCUSD", "crypto"),
        ("AAPL", "stock"),
    ]:
        _old(symbol, coarse)
    _old("XAGUSD", "metal")
    Instrument.objects.filter(symbol="XAGUSD").update(quote_currency="EUR")  # set by ops: kept

    MIGRATION.forwards(apps, None)

    rows = dict(Instrument.objects.values_list("symbol", "asset_class"))
    assert rows["EURUSD"] == rows["USDJPY"] == "fx_major"
    assert rows["EURGBP"] == "fx_minor" and rows["USDTRY"] == "fx_exotic"
    assert rows["XAUUSD"] == rows["XAGUSD"] == "metals"
    assert (rows["USOIL"], rows["US30"], rows["BTCUSD"], rows["AAPL"]) == (
        "energies",
        "indices",
        "crypto",
        "stocks",
    )
    assert set(rows.values()) <= set(Instrument.AssetClass.values)
    quotes = dict(Instrument.objects.values_list("symbol", "quote_currency"))
    assert (quotes["EURUSD"], quotes["USDJPY"], quotes["USDTRY"]) == ("USD", "JPY", "TRY")
    assert (quotes["XAUUSD"], quotes["XAGUSD"]) == ("USD", "EUR")
    assert quotes["US30"] == quotes["BTCUSD"] == quotes["AAPL"] == ""  # not guessed

    Instrument.objects.update(subclass="")  # going back, the finer classes went first
    MIGRATION.backwards(apps, None)
    rows = dict(Instrument.objects.values_list("symbol", "asset_class"))
    assert (rows["EURGBP"], rows["XAUUSD"], rows["USOIL"], rows["US30"]) == (
        "fx",
        "metal",
        "commodity",
        "index",
    )


def test_the_installed_instruments_read_as_labels():
    gold = Instrument.objects.get(symbol="XAUUSD")
    assert gold.get_asset_class_display() == "Metals"
    assert Instrument.objects.get(symbol="EURGBP").get_asset_class_display() == "FX minor"


# --- Contract, digits, point value ---------------------------------------------------------


@pytest.mark.parametrize(
    "contract, digits, point, value",
    [
        ("100000", 5, "0.00001", "1"),  # EURUSD: 1 USD a point a lot
        ("100000", 3, "0.001", "100"),  # USDJPY: 100 JPY
        ("100", 2, "0.01", "1"),  # XAUUSD: 1 USD
        ("5000", 3, "0.001", "5"),  # XAGUSD: 5 USD
        ("1", 1, "0.1", "0.1"),  # an index CFD
        ("1000", 2, "0.01", "10"),  # USOIL
    ],
)
def test_point_and_point_value(contract, digits, point, value):
    instrument = Instrument(symbol="X", contract_size=Decimal(contract), digits=digits)
    assert instrument.point == Decimal(point)
    assert instrument.point_value == Decimal(value)
    assert spec.point_value(Decimal(contract), digits) == Decimal(value)


@given(
    contract=st.decimals(min_value=Decimal("0.0001"), max_value=Decimal(10**12), places=4),
    digits=st.integers(min_value=0, max_value=8),
)
def test_a_point_value_is_exact(contract, digits):
    value = spec.point_value(contract, digits)
    assert value * Decimal(10) ** digits == contract
    assert isinstance(value, Decimal)


def test_without_a_contract_or_digits_there_is_no_point_value():
    assert Instrument(symbol="X").point is None
    assert Instrument(symbol="X", digits=5).point_value is None
    assert Instrument(symbol="X", contract_size=Decimal(1)).point_value is None


@pytest.mark.parametrize(
    "fields, error",
    [
        ({"contract_size": Decimal(0)}, "contract_size"),
        ({"contract_size": Decimal(-100)}, "contract_size"),
        ({"digits": 9}, "digits"),
        ({"quote_currency": "usd"}, "quote_currency"),
    ],
)
def test_a_bad_specification_is_refused_by_the_form_and_the_database(fields, error):
    instrument = Instrument(symbol="BAD", asset_class="stocks", **fields)
    with pytest.raises(ValidationError) as exc:
        instrument.full_clean()
    assert error in exc.value.message_dict
    if error != "quote_currency":
        with pytest.raises(IntegrityError), transaction.atomic():
            Instrument.objects.create(symbol="BAD", asset_class="stocks", **fields)


def test_a_negative_markup_is_refused():
    account_type = _account_type()
    markup = AccountTypeMarkup(
        account_type=account_type,
        instrument=Instrument.objects.get(symbol="EURUSD"),
        markup_points=Decimal("-1"),
    )
    with pytest.raises(ValidationError):
        markup.full_clean()
    with pytest.raises(IntegrityError), transaction.atomic():
        markup.save()


# --- Markups and resolving server symbols --------------------------------------------------


def _account_type(name="Standard", **kwargs):
    return AccountType.objects.create(
        server=make_server(symbol_suffixes=[".m", ".pro", ".cash"]),
        name=name,
        group="real\\standard",
        currency="USD",
        leverages=[100],
        **kwargs,
    )


def test_markup_for_a_configured_symbol_and_none_otherwise():
    standard, pro = _account_type(), _account_type("Pro")
    eurusd = Instrument.objects.get(symbol="EURUSD")
    gold = Instrument.objects.get(symbol="XAUUSD")
    AccountTypeMarkup.objects.create(account_type=standard, instrument=eurusd, markup_points=10)
    AccountTypeMarkup.objects.create(account_type=standard, instrument=gold, markup_points="2.5")

    assert markup_for(standard, "EURUSD") == Decimal(10)
    assert markup_for(standard, "XAUUSD.m") == Decimal("2.5")  # the server's name
    assert markup_for(standard, "GOLD") == Decimal("2.5")  # an alias
    assert markup_for(standard, eurusd) == Decimal(10)
    assert markup_for(standard, "GBPUSD") is None  # an instrument without a markup
    assert markup_for(pro, "EURUSD") is None  # another account type's markup is not its
    assert markup_for(standard, "NOPE.m") is None  # no instrument at all
    with pytest.raises(IntegrityError), transaction.atomic():
        AccountTypeMarkup.objects.create(account_type=standard, instrument=eurusd, markup_points=1)


@pytest.mark.parametrize(
    "server_symbol, canonical",
    [
        ("XAUUSD.m", "XAUUSD"),
        ("GOLD", "XAUUSD"),
        ("gold.m", "XAUUSD"),
        ("EURUSD.pro", "EURUSD"),
        ("EURUSD-ECN", "EURUSD"),
        ("EURUSD.raw", "EURUSD"),
        ("EURUSD_i", "EURUSD"),
        ("US30.cash", "US30"),
        ("WS30", "US30"),
        ("BTCUSD.pro", "BTCUSD"),
        (" usdjpy ", "USDJPY"),
    ],
)
def test_a_server_symbol_resolves_to_its_instrument(server_symbol, canonical):
    server = make_server(symbol_suffixes=[".m", ".pro", ".cash"])
    assert instrument_resolve(server_symbol, server=server).symbol == canonical
    assert instrument_resolve(server_symbol).symbol == canonical  # any server's suffixes


def test_a_suffix_only_one_server_uses_resolves_without_a_separator():
    server = make_server(symbol_suffixes=["m"])
    assert instrument_resolve("XAUUSDm", server=server).symbol == "XAUUSD"
    assert instrument_resolve("XAUUSDm").symbol == "XAUUSD"
    assert instrument_resolve("XAUUSDm", server=make_server("Other", symbol_suffixes=[])) is None


def test_what_matches_nothing_is_none_and_reported_never_an_error():
    resolve = InstrumentResolver()
    for raw in ["FOOBAR", "FOO.m", "", None, 42, "XAU"]:
        assert resolve(raw) is None
    assert resolve.unmatched == {"FOOBAR", "FOO.m", "", "None", "42", "XAU"}


def test_a_resolver_reads_the_instruments_once(django_assert_num_queries):
    resolve = InstrumentResolver(make_server())
    with django_assert_num_queries(0):
        symbols = [resolve(s).symbol for s in ["EURUSD", "XAUUSD.m", "GOLD", "US30.cash"] * 50]
    assert set(symbols) == {"EURUSD", "XAUUSD", "US30"}


# --- Symbol groups -------------------------------------------------------------------------


def test_by_default_each_class_is_its_own_group_with_its_label():
    groups = spec.symbol_group_choices()
    assert groups[0] == ("fx_major", "FX major") and len(groups) == 8
    assert Instrument(asset_class="metals").symbol_group == "metals"


def test_settings_map_classes_to_other_groups(settings):
    settings.INSTRUMENT_SYMBOL_GROUPS = {"fx_major": "fx", "fx_minor": "fx", "fx_exotic": "fx"}
    assert Instrument(asset_class="fx_exotic").symbol_group == "fx"
    groups = spec.symbol_group_choices()
    assert groups[0] == ("fx", "FX") and ("metals", "Metals") in groups and len(groups) == 6
