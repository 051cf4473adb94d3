"""Instruments and account types in Django admin: the ops admin sets an instrument's contract
and an account type's book and markups (inline); each save keeps history and is audited; bad
input is refused whole."""

from decimal import Decimal

import pytest

from brokerage.models import AuditEvent
from clients.models import AccountType, AccountTypeMarkup, Instrument
from tests.clients.factories import make_server

pytestmark = pytest.mark.django_db


@pytest.fixture
def account_type(db):
    return AccountType.objects.create(
        server=make_server(),
        name="Standard USD",
        group="real\\standard-usd",
        currency="USD",
        leverages=[30, 100],
    )


def _form(account_type, markups=(), existing=(), **fields):
    """The account type's change form as the browser posts it, with markup rows inline."""
    data = {
        "server": account_type.server_id,
        "name": account_type.name,
        "group": account_type.group,
        "currency": account_type.currency,
        "leverages": "[30, 100]",
        "default_leverage": 100,
        "min_kyc_level": 0,
        "is_active": "on",
        "order": 0,
        "book": "b_book",
        **fields,
        "markups-INITIAL_FORMS": len(existing),
        "markups-MIN_NUM_FORMS": 0,
        "markups-MAX_NUM_FORMS": 1000,
    }
    rows = [*existing, *markups]
    data["markups-TOTAL_FORMS"] = len(rows)
    for i, row in enumerate(rows):
        data[f"markups-{i}-account_type"] = account_type.pk
        for key, value in row.items():
            data[f"markups-{i}-{key}"] = value
    return data


def _ids(*symbols):
    return [Instrument.objects.get(symbol=s).pk for s in symbols]


def test_the_ops_admin_sets_the_book_and_markups_inline_audited(as_role, account_type):
    admin = as_role("ops_admin")
    eurusd, gold = _ids("EURUSD", "XAUUSD")
    url = f"/admin/clients/accounttype/{account_type.pk}/change/"
    page = admin.get(url)
    assert page.status_code == 200 and "arkups per instrument" in page.content.decode()

    response = admin.post(
        url,
        _form(
            account_type,
            markups=[
                {"instrument": eurusd, "markup_points": "10"},
                {"instrument": gold, "markup_points": "2.5"},
            ],
        ),
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    account_type.refresh_from_db()
    assert account_type.book == "b_book"
    markups = dict(account_type.markups.values_list("instrument__symbol", "markup_points"))
    assert markups == {"EURUSD": Decimal(10), "XAUUSD": Decimal("2.5")}
    event = AuditEvent.objects.get(action="account_type.changed_in_admin")
    assert event.target_id == str(account_type.pk)
    assert "book" in event.evidence["changed"]
    assert len(event.evidence["markups"]["added"]) == 2
    assert account_type.history.count() == 2 and AccountTypeMarkup.history.count() == 2

    # Change one, delete the other: both in the trail.
    first = account_type.markups.get(instrument_id=eurusd)
    second = account_type.markups.get(instrument_id=gold)
    response = admin.post(
        url,
        _form(
            account_type,
            existing=[
                {"id": first.pk, "instrument": eurusd, "markup_points": "12"},
                {"id": second.pk, "instrument": gold, "markup_points": "2.5", "DELETE": "on"},
            ],
        ),
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    assert dict(account_type.markups.values_list("instrument__symbol", "markup_points")) == {
        "EURUSD": Decimal(12)
    }
    event = AuditEvent.objects.filter(action="account_type.changed_in_admin").latest("id")
    rows = event.evidence["markups"]
    assert rows["changed"] == ["EURUSD +12 points: markup_points"]
    assert rows["deleted"] == ["XAUUSD +2.5 points"]


@pytest.mark.parametrize(
    "markups, message",
    [
        ([{"instrument": "EURUSD", "markup_points": "-1"}], "greater than or equal to 0"),
        (
            [
                {"instrument": "EURUSD", "markup_points": "1"},
                {"instrument": "EURUSD", "markup_points": "2"},
            ],
            "Please correct the duplicate data",
        ),
        ([{"instrument": "EURUSD", "markup_points": "many"}], "Enter a number"),
    ],
)
def test_a_bad_markup_saves_nothing(root_admin, account_type, markups, message):
    for row in markups:
        row["instrument"] = _ids(row["instrument"])[0]
    response = root_admin.post(
        f"/admin/clients/accounttype/{account_type.pk}/change/",
        _form(account_type, markups=markups, book="a_book"),
    )
    assert response.status_code == 200 and message in response.content.decode()
    account_type.refresh_from_db()
    assert account_type.book == "" and not account_type.markups.exists()
    assert not AuditEvent.objects.filter(action__startswith="account_type.").exists()


def test_the_ops_admin_sets_an_instruments_contract_audited(as_role):
    admin = as_role("ops_admin")
    gold = Instrument.objects.get(symbol="XAUUSD")
    url = f"/admin/clients/instrument/{gold.pk}/change/"
    form = {
        "symbol": "XAUUSD",
        "description": gold.description,
        "asset_class": "metals",
        "aliases": '["GOLD"]',
        "contract_size": "100",
        "digits": "2",
        "quote_currency": "USD",
    }
    refused = admin.post(url, {**form, "contract_size": "0", "digits": "9"})
    assert refused.status_code == 200
    gold.refresh_from_db()
    assert gold.contract_size is None and gold.digits is None
    assert not AuditEvent.objects.filter(action="instrument.changed_in_admin").exists()

    assert admin.post(url, form).status_code == 302
    gold.refresh_from_db()
    assert (gold.contract_size, gold.digits, gold.point_value) == (100, 2, Decimal(1))
    event = AuditEvent.objects.get(action="instrument.changed_in_admin")
    assert {"contract_size", "digits"} <= set(event.evidence["changed"])

    listing = admin.get("/admin/clients/instrument/").content.decode()
    assert "FX major" in listing and "Metals" in listing and "1 USD" in listing
    assert ">fx_major<" not in listing and ">metals<" not in listing


def test_only_the_ops_admin_edits_markups(as_role, account_type):
    staff = as_role("finance_officer")
    url = f"/admin/clients/accounttype/{account_type.pk}/change/"
    assert staff.get(url).status_code in (302, 403)
    (eurusd,) = _ids("EURUSD")
    staff.post(url, _form(account_type, markups=[{"instrument": eurusd, "markup_points": "1"}]))
    assert not AccountTypeMarkup.objects.exists()
    account_type.refresh_from_db()
    assert account_type.book == ""


def test_gold_and_major_indices_are_told_apart_and_set_in_admin(as_role):
    # As installed: gold and ESMA's major indices flagged, silver and other indices not.
    by_symbol = {i.symbol: i for i in Instrument.objects.all()}
    assert by_symbol["XAUUSD"].leverage_class == "gold"
    assert by_symbol["XAGUSD"].leverage_class == "metals"
    assert by_symbol["US500"].leverage_class == "indices_major"
    assert by_symbol["GER40"].leverage_class == "indices_major"
    assert by_symbol["USOIL"].leverage_class == "energies"
    admin = as_role("ops_admin")
    silver = by_symbol["XAGUSD"]
    url = f"/admin/clients/instrument/{silver.pk}/change/"
    form = {
        "symbol": "XAGUSD",
        "description": silver.description,
        "asset_class": "metals",
        "aliases": '["SILVER"]',
        "subclass": "indices_major",
    }
    refused = admin.post(url, form)
    assert refused.status_code == 200
    assert "Gold is a metal, and a major index an index." in refused.content.decode()
    silver.refresh_from_db()
    assert silver.subclass == ""
    assert admin.post(url, {**form, "subclass": "gold"}).status_code == 302
    silver.refresh_from_db()
    assert silver.leverage_class == "gold"
    listing = admin.get("/admin/clients/instrument/?subclass=gold").content.decode()
    assert "XAGUSD" in listing and "XAUUSD" in listing and "US500" not in listing
