"""The demo's trading configuration (what `seed_demo` installs before it reaches the sandbox):
instruments with the contracts the MT5 sandbox quotes, account types with a book and markups;
a second run changes nothing and leaves an admin's edits alone. Needs no sandbox: fast."""

from decimal import Decimal

import pytest

from clients.models import AccountType, AccountTypeMarkup, Instrument
from clients.trading.selectors import instrument_resolve, markup_for
from demo.trading import demo_server
from sandbox.mt5 import SYMBOLS

pytestmark = pytest.mark.django_db


def state():
    return {
        "instruments": sorted(
            Instrument.objects.values_list("symbol", "contract_size", "digits", "quote_currency")
        ),
        "types": sorted(AccountType.objects.values_list("name", "book")),
        "markups": sorted(
            AccountTypeMarkup.objects.values_list(
                "account_type__name", "instrument__symbol", "markup_points"
            )
        ),
        "history": (
            Instrument.history.count(),
            AccountType.history.count(),
            AccountTypeMarkup.history.count(),
        ),
    }


def test_the_demo_instruments_are_the_sandboxs_contracts():
    server = demo_server()
    for name, symbol in SYMBOLS.items():
        instrument = instrument_resolve(name, server=server)
        assert instrument is not None, name
        assert instrument.contract_size == Decimal(symbol.contract), name
        assert instrument.digits == symbol.digits and instrument.quote_currency == symbol.quote
    usdjpy = Instrument.objects.get(symbol="USDJPY")
    assert (usdjpy.point_value, usdjpy.quote_currency) == (Decimal(100), "JPY")
    assert Instrument.objects.get(symbol="XAGUSD").point_value == Decimal(5)
    assert Instrument.objects.get(symbol="USOIL").contract_size == 1000
    assert not Instrument.objects.filter(contract_size__isnull=True).exists()

    standard = AccountType.objects.get(server=server, name="Standard USD")
    assert standard.book == "b_book"
    assert markup_for(standard, "XAUUSD.m") == Decimal(25)
    assert markup_for(standard, "US30.cash") is None
    assert AccountType.objects.get(server=server, name="Pro USD").book == "a_book"


def test_seeding_again_changes_nothing_and_keeps_an_admins_edits():
    server = demo_server()
    first = state()
    demo_server()
    assert state() == first

    # An admin sets gold's contract, moves an account type to the A-book, drops a markup.
    gold = Instrument.objects.get(symbol="XAUUSD")
    gold.contract_size = Decimal(10)
    gold.save()
    standard = AccountType.objects.get(server=server, name="Standard USD")
    standard.book = "a_book"
    standard.save()
    standard.markups.get(instrument__symbol="EURUSD").delete()
    edited = state()

    demo_server()
    assert state() == edited
    assert markup_for(standard, "EURUSD") is None
