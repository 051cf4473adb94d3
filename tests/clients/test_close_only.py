"""Close-only as MetaQuotes documents it: MT5 has no close-only right per account, close-only is
a symbol trade mode in a group's symbol settings. Where an account type names a close-only
group, a client who may not trade (a confirmed sanctions match) has their accounts moved there
(`user/update` `Group`) instead of having trading disabled: the sandbox refuses an order
opening a position there ("10044 Only position closing is allowed") and closes positions; the
lift moves the account back to exactly the group it was in. Without such a group, trading is
disabled as before (`test_platform_reach`)."""

import pytest

from brokerage.models import AuditEvent
from clients import audit_events
from clients.models import PlatformRestraint
from compliance.services import alert_block_lift, alert_confirm
from tests.clients.test_platform_reach import TRADE_DISABLED, listed_trader, raw, trade
from tests.conftest import make_staff

pytestmark = pytest.mark.django_db

CLOSE_ONLY = "real\\close-only-usd"


def user(mt5_server, login) -> dict:
    return raw(mt5_server).answer("/api/user/get", login=str(login))


def close(mt5_server, position) -> dict:
    _, body = mt5_server.sandbox.control("POST", "trade", {"close": position})
    return body


def test_the_sandbox_group_of_close_only_symbols_refuses_opening_and_allows_closing(mt5_server):
    api = raw(mt5_server)
    group = api.answer("/api/group/get", group=CLOSE_ONLY)
    assert group["Symbols"] == [{"Path": "*", "TradeMode": "3"}]  # SYMBOL_TRADE_MODE_CLOSEONLY
    assert api.answer("/api/group/get", group="real\\standard-usd")["Symbols"][0]["TradeMode"] == (
        "4"
    )


def test_a_confirmed_match_moves_the_accounts_to_the_close_only_group_and_its_lift_back(
    mt5_server, eager, django_capture_on_commit_callbacks
):
    mt5_server.account_types.filter(currency="USD").update(close_only_group=CLOSE_ONLY)
    client, account, alert = listed_trader(mt5_server)
    api = raw(mt5_server)
    api.answer(
        "/api/trade/balance", login=str(account.login), type="2", balance="1000.00", comment="Dep"
    )
    opened = trade(mt5_server, account.login)
    assert opened["retcode"] == "0 Done"
    home = user(mt5_server, account.login)["Group"]
    officer = make_staff("compliance_officer")
    with django_capture_on_commit_callbacks(execute=True):
        alert_confirm(alert=alert, actor=officer, reason="DOB and passport match")
    record = user(mt5_server, account.login)
    assert record["Group"] == CLOSE_ONLY
    assert not int(record["Rights"]) & TRADE_DISABLED  # close-only, not disabled
    assert trade(mt5_server, account.login) == {"retcode": "10044 Only position closing is allowed"}
    assert close(mt5_server, opened["position"])["retcode"] == "0 Done"
    restraint = PlatformRestraint.objects.get(account=account)
    assert (restraint.moved_to_group, restraint.group_before) == (CLOSE_ONLY, home)
    account.refresh_from_db()
    assert account.group == CLOSE_ONLY  # the record says where the platform holds it
    assert not restraint.trading_disabled and restraint.due_since is None
    event = AuditEvent.objects.get(action=audit_events.TRADING_ACCOUNT_CLOSE_ONLY)
    assert event.subject_client_id == client.pk and event.reason == "sanctions_match"
    assert (event.evidence["group_before"], event.evidence["group"]) == (home, CLOSE_ONLY)
    assert not AuditEvent.objects.filter(
        action=audit_events.TRADING_ACCOUNT_TRADING_DISABLED
    ).exists()

    with django_capture_on_commit_callbacks(execute=True):
        alert_block_lift(alert=alert, actor=officer, reason="Delisted")
    assert user(mt5_server, account.login)["Group"] == home
    assert trade(mt5_server, account.login)["retcode"] == "0 Done"
    restraint.refresh_from_db()
    assert (restraint.moved_to_group, restraint.group_before) == ("", "")
    account.refresh_from_db()
    assert account.group == home
    assert restraint.due_since is None
    restored = AuditEvent.objects.get(action=audit_events.TRADING_ACCOUNT_GROUP_RESTORED)
    assert (restored.evidence["group_before"], restored.evidence["group"]) == (CLOSE_ONLY, home)


def test_an_account_moved_by_hand_meanwhile_is_not_moved_back(
    mt5_server, eager, django_capture_on_commit_callbacks
):
    mt5_server.account_types.filter(currency="USD").update(close_only_group=CLOSE_ONLY)
    _client, account, alert = listed_trader(mt5_server)
    officer = make_staff("compliance_officer")
    with django_capture_on_commit_callbacks(execute=True):
        alert_confirm(alert=alert, actor=officer, reason="DOB and passport match")
    assert user(mt5_server, account.login)["Group"] == CLOSE_ONLY
    # The dealing desk moved it to another group meanwhile: theirs stands.
    raw(mt5_server).answer("/api/user/update", login=str(account.login), group="real\\pro-usd")
    with django_capture_on_commit_callbacks(execute=True):
        alert_block_lift(alert=alert, actor=officer, reason="Delisted")
    assert user(mt5_server, account.login)["Group"] == "real\\pro-usd"
    assert PlatformRestraint.objects.get(account=account).moved_to_group == ""
    account.refresh_from_db()
    assert account.group == "real\\pro-usd"  # what the platform had when the lift read it
    assert not AuditEvent.objects.filter(
        action=audit_events.TRADING_ACCOUNT_GROUP_RESTORED
    ).exists()
