"""Restrictions reach the trading platform: a confirmed sanctions match disables trading on the
client's MT5 accounts (the sandbox then refuses their orders), and its lift restores exactly
what was there before; a platform that cannot be reached leaves the account due, and the
sweeper brings it in step later."""

from datetime import timedelta

import pytest
from celery import current_app

from brokerage.models import AuditEvent
from clients import audit_events
from clients.models import ClientActivity, PlatformRestraint, TradingAccount
from clients.platforms import platform_for
from clients.standing import Purpose, client_standing
from clients.trading.reach import platform_reach_request, platform_reach_sweep
from clients.trading.services import trading_account_open
from compliance.models import Alert
from compliance.services import alert_block_lift, alert_confirm, client_screen
from tests.compliance.test_alerts import watch_list
from tests.conftest import make_client_user, make_staff
from tests.mt5_support import RawClient

pytestmark = pytest.mark.django_db

TRADE_DISABLED = 0x4  # IMTUser::EnUsersRights USER_RIGHT_TRADE_DISABLED
RIGHTS_DEFAULT = 0x163


@pytest.fixture
def eager():
    current_app.conf.task_always_eager = True
    yield
    current_app.conf.task_always_eager = False


def listed_trader(mt5_server, *, leverage=100):
    """A client registered under a listed name, with a funded MT5 account and its alert."""
    watch_list()
    user = make_client_user("ivan@test.example")
    user.first_name, user.last_name = "Ivan", "Zlobnikov"
    user.save()
    client = user.client
    account_type = mt5_server.account_types.get(currency="USD")
    account, _ = trading_account_open(
        client=client, account_type=account_type, leverage=leverage, actor="test"
    )
    client_screen(client_id=client.pk, reason="on_demand")
    return client, account, Alert.objects.get(client=client)


def raw(mt5_server) -> RawClient:
    sandbox = mt5_server.sandbox
    api = RawClient(sandbox.url, sandbox.login, sandbox.password)
    assert api.handshake()["retcode"] == "0 Done"
    return api


def rights(mt5_server, login) -> int:
    return int(raw(mt5_server).answer("/api/user/get", login=str(login))["Rights"])


def trade(mt5_server, login) -> dict:
    _, body = mt5_server.sandbox.control(
        "POST", "trade", {"login": login, "symbol": "EURUSD", "side": "buy", "volume": "0.01"}
    )
    return body


def test_a_confirmed_match_disables_trading_and_its_lift_restores_exactly(
    mt5_server, eager, django_capture_on_commit_callbacks
):
    client, account, alert = listed_trader(mt5_server)
    api = raw(mt5_server)
    api.answer(
        "/api/trade/balance",
        login=str(account.login),
        type="2",
        balance="1000.00",
        comment="Deposit",
    )
    # Someone at the dealing desk had switched Expert Advisors off: not ours to restore.
    custom = RIGHTS_DEFAULT & ~0x40
    api.answer("/api/user/update", login=str(account.login), rights=str(custom))
    officer = make_staff("compliance_officer")
    with django_capture_on_commit_callbacks(execute=True):
        alert_confirm(alert=alert, actor=officer, reason="DOB and passport match")
    assert "sanctions_match" in client_standing(client, Purpose.TRADE).codes
    assert rights(mt5_server, account.login) == custom | TRADE_DISABLED
    assert trade(mt5_server, account.login) == {"retcode": "10017 Trade disabled"}
    restraint = PlatformRestraint.objects.get(account=account)
    assert restraint.trading_disabled and restraint.due_since is None
    assert restraint.rights_before == custom and restraint.reasons == ["sanctions_match"]
    event = AuditEvent.objects.get(action=audit_events.TRADING_ACCOUNT_TRADING_DISABLED)
    assert event.subject_client_id == client.pk and event.reason == "sanctions_match"
    assert event.evidence["rights_before"] == custom
    # Told only that the account is under review (compliance's neutral email, no list and no
    # reason: a client frozen for a sanctions match must not be tipped off); nothing about
    # trading being disabled.
    emails = ClientActivity.objects.filter(client=client, kind="email")
    assert [e.template for e in emails] == ["account_under_review"]
    assert "sanction" not in emails[0].body.lower()

    with django_capture_on_commit_callbacks(execute=True):
        alert_block_lift(alert=alert, actor=officer, reason="Delisted")
    assert rights(mt5_server, account.login) == custom  # exactly as before, EAs still off
    assert trade(mt5_server, account.login)["retcode"] == "0 Done"
    restraint.refresh_from_db()
    assert not restraint.trading_disabled and restraint.due_since is None
    assert AuditEvent.objects.filter(
        action=audit_events.TRADING_ACCOUNT_TRADING_RESTORED, subject_client_id=client.pk
    ).exists()


def test_a_lift_leaves_trading_disabled_when_it_was_disabled_before(
    mt5_server, eager, django_capture_on_commit_callbacks
):
    client, account, alert = listed_trader(mt5_server)
    api = raw(mt5_server)
    api.answer(
        "/api/user/update", login=str(account.login), rights=str(RIGHTS_DEFAULT | TRADE_DISABLED)
    )
    officer = make_staff("compliance_officer")
    with django_capture_on_commit_callbacks(execute=True):
        alert_confirm(alert=alert, actor=officer, reason="match")
    assert PlatformRestraint.objects.get(account=account).was_trading_disabled
    assert not AuditEvent.objects.filter(
        action=audit_events.TRADING_ACCOUNT_TRADING_DISABLED
    ).exists()  # nothing was changed on the platform
    with django_capture_on_commit_callbacks(execute=True):
        alert_block_lift(alert=alert, actor=officer, reason="Delisted")
    assert rights(mt5_server, account.login) == RIGHTS_DEFAULT | TRADE_DISABLED


def test_the_sweeper_retries_after_the_platform_failed(
    mt5_server, eager, django_capture_on_commit_callbacks
):
    client, account, alert = listed_trader(mt5_server)
    officer = make_staff("compliance_officer")
    # The server's answer to reading the account cannot be read: nothing is changed, and
    # the account stays due.
    mt5_server.sandbox.control(
        "POST", "faults", {"malformed": {"path": "/api/user/get", "count": 1}}
    )
    with django_capture_on_commit_callbacks(execute=True):
        alert_confirm(alert=alert, actor=officer, reason="match")
    restraint = PlatformRestraint.objects.get(account=account)
    assert restraint.due_since is not None and restraint.attempts == 1
    assert restraint.last_error and not restraint.trading_disabled
    assert rights(mt5_server, account.login) == RIGHTS_DEFAULT
    assert platform_reach_sweep(after=timedelta(0)) == {
        "done": 1,
        "unchanged": 0,
        "failed": 0,
    }
    assert rights(mt5_server, account.login) == RIGHTS_DEFAULT | TRADE_DISABLED
    restraint.refresh_from_db()
    assert restraint.due_since is None and restraint.attempts == 0 and restraint.trading_disabled


def test_a_request_is_kept_when_its_task_is_lost(mt5_server):
    """The mark is made in the caller's transaction: no task ran, the sweeper still does it."""
    client, account, alert = listed_trader(mt5_server)
    alert_confirm(alert=alert, actor=make_staff("compliance_officer"), reason="match")
    assert PlatformRestraint.objects.get(account=account).due_since is not None
    assert rights(mt5_server, account.login) == RIGHTS_DEFAULT  # no task ran (not committed)
    assert platform_reach_sweep(after=timedelta(0))["done"] == 1
    assert rights(mt5_server, account.login) == RIGHTS_DEFAULT | TRADE_DISABLED
    # Reconciling again changes nothing and writes no second event.
    platform_reach_request(clients=[client])
    assert platform_reach_sweep(after=timedelta(0)) == {"done": 0, "unchanged": 1, "failed": 0}
    assert (
        AuditEvent.objects.filter(action=audit_events.TRADING_ACCOUNT_TRADING_DISABLED).count() == 1
    )
    assert TradingAccount.objects.get(pk=account.pk).leverage == 100
    info = platform_for(mt5_server).account_user(account.login)
    assert info.trading_disabled and info.leverage == 100


def test_a_reconcile_whose_view_went_stale_leaves_the_account_due_until_in_step(
    mt5_server, monkeypatch
):
    """An AML case opened then closed at once: the reconcile for the opening is still talking
    to the platform (it is about to disable trading) when the one for the closing runs start
    to end and finds nothing to do. The first must not record the account as in step: trading
    would stay disabled on the platform with no case open."""
    from clients.services import client_aml_case_set
    from clients.trading import reach

    client = make_client_user("both@test.example").client
    account_type = mt5_server.account_types.get(currency="USD")
    account, _ = trading_account_open(
        client=client, account_type=account_type, leverage=100, actor="test"
    )
    officer = make_staff("compliance_officer")
    client_aml_case_set(client=client, is_open=True, actor=officer, reason="opened")
    real = reach.platform_for
    meanwhile = []

    class Slow:
        """The platform, on which the case's closing and its whole reconcile happen just
        before this reconcile's own change arrives."""

        def __init__(self, server):
            self.platform = real(server)

        def __getattr__(self, name):
            return getattr(self.platform, name)

        def account_update(self, **kwargs):
            if not meanwhile:
                meanwhile.append(True)
                client_aml_case_set(client=client, is_open=False, actor=officer, reason="closed")
                assert reach.trading_account_reconcile(account=account) == "unchanged"
            return self.platform.account_update(**kwargs)

    monkeypatch.setattr(reach, "platform_for", Slow)
    reach.trading_account_reconcile(account=account)
    monkeypatch.setattr(reach, "platform_for", real)
    assert rights(mt5_server, account.login) & TRADE_DISABLED  # done, from a stale view
    restraint = PlatformRestraint.objects.get(account=account)
    assert restraint.trading_disabled and restraint.due_since is not None  # left due
    assert reach.trading_account_reconcile(account=account) == "done"  # from a fresh view
    assert not rights(mt5_server, account.login) & TRADE_DISABLED
    restraint.refresh_from_db()
    assert not restraint.trading_disabled and restraint.due_since is None
