"""Opening trading accounts exactly once, and a new MT5 password from the portal.

MT5's user/add has no idempotency key: the opening's reference travels as the account's
comment, and a lost answer is looked up by it (at once, then by the sweeper) instead of
opening a second account."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from brokerage.errors import DomainError
from brokerage.models import AuditEvent
from clients.models import AccountOpening, PlatformRestraint, TradingAccount
from clients.platforms import PlatformOutcomeUnknown, platform_for
from clients.trading.services import (
    MAX_ACCOUNTS_PER_CLIENT,
    PASSWORD_RESETS_PER_HOUR,
    _opening_link,
    _opening_resolve,
    account_openings_resolve,
    trading_account_open,
)
from tests.conftest import login, make_client_user, make_staff
from tests.mt5_support import RawClient

pytestmark = pytest.mark.django_db


def _usd(mt5_server):
    return mt5_server.account_types.get(currency="USD")


def _open(client, mt5_server, leverage=100):
    return trading_account_open(
        client=client, account_type=_usd(mt5_server), leverage=leverage, actor="test"
    )


def _sandbox_users(mt5_server) -> int:
    return mt5_server.sandbox.control("GET", "state")[1]["accounts"]


def _fault(mt5_server, faults):
    mt5_server.sandbox.control("POST", "faults", faults)


def _platform_account(api, comment: str, name: str = "Tia Trader"):
    """An account opened straight on the platform (as a request whose answer was lost)."""
    return api.account_create(
        group="real\\standard-usd",
        leverage=100,
        name=name,
        email="tia@test.example",
        country="CY",
        password="Secret#123",
        comment=comment,
    )


def _password_works(mt5_server, login_, password) -> bool:
    raw = RawClient(mt5_server.sandbox.url)
    raw.handshake()
    _, body = raw.get("/api/user/check_password", login=str(login_), password=password)
    return body["retcode"] == "0 Done"


def test_an_opening_carries_its_reference_and_is_recorded(mt5_server):
    client = make_client_user().client
    account, password = _open(client, mt5_server)
    opening = AccountOpening.objects.get()
    assert opening.status == "opened" and opening.account == account and opening.lookups == 0
    assert opening.reference.startswith("BO-AO-")
    api = platform_for(mt5_server)
    try:
        found = api.account_find(group=account.group, comment=opening.reference)
        assert found.login == account.login and found.currency == "USD"
        assert api.account_find(group=account.group, comment="BO-AO-NOSUCH") is None
    finally:
        api.close()
    assert _password_works(mt5_server, account.login, password)
    event = AuditEvent.objects.get(action="trading_account.opened")
    assert event.evidence["reference"] == opening.reference


def test_the_adapter_never_sends_user_add_twice(mt5_server):
    _fault(mt5_server, {"drop_after_write": {"path": "/api/user/add", "count": 1}})
    api = platform_for(mt5_server, timeout=3)
    try:
        with pytest.raises(PlatformOutcomeUnknown):
            _platform_account(api, "BO-AO-ONCE", "Once Only")
    finally:
        api.close()
    assert _sandbox_users(mt5_server) == 1


def test_a_lost_answer_is_found_by_reference_at_once(mt5_server):
    """The connection drops after the server opened the account: the client still gets it,
    with the password they were shown, and no second account exists."""
    client = make_client_user().client
    _fault(mt5_server, {"drop_after_write": {"path": "/api/user/add", "count": 1}})
    account, password = _open(client, mt5_server)
    assert _sandbox_users(mt5_server) == 1
    assert TradingAccount.objects.filter(client=client).count() == 1
    opening = AccountOpening.objects.get()
    assert opening.status == "opened" and opening.lookups == 1
    assert _password_works(mt5_server, account.login, password)


def test_a_lost_answer_not_yet_found_is_linked_by_the_sweeper(
    mt5_server, client, django_capture_on_commit_callbacks
):
    user = make_client_user()
    # The answer is lost and the immediate lookup fails too.
    _fault(
        mt5_server,
        {
            "drop_after_write": {"path": "/api/user/add", "count": 1},
            "malformed": {"path": "/api/user/logins", "count": 1},
        },
    )
    with pytest.raises(DomainError) as refused:
        _open(user.client, mt5_server)
    assert refused.value.code == "platform_unavailable"
    assert "appears under your trading accounts" in refused.value.message
    opening = AccountOpening.objects.get()
    assert opening.status == "pending" and not TradingAccount.objects.exists()
    assert AuditEvent.objects.filter(action="trading_account.open_unknown").count() == 1

    login(client, user)
    page = client.get("/portal/trading/")
    assert b'data-opening-status="pending"' in page.content

    # Too early for the sweeper: a request may still be in flight.
    assert account_openings_resolve()["opened"] == 0
    with django_capture_on_commit_callbacks(execute=True):
        counts = account_openings_resolve(look_after=timedelta(0))
    assert counts == {"opened": 1, "failed": 0, "pending": 0}
    opening.refresh_from_db()
    account = opening.account
    assert opening.status == "opened" and account.client == user.client
    assert _sandbox_users(mt5_server) == 1
    event = AuditEvent.objects.get(action="trading_account.opened")
    assert "lost answer" in event.reason and event.actor_label == "rule:account-openings"
    # its client's standing may have changed meanwhile: the account is brought in step with it
    assert PlatformRestraint.objects.filter(account=account).exists()
    assert mail.outbox[-1].to == [user.email]
    assert str(account.login) in mail.outbox[-1].subject
    assert f"/portal/trading/{account.pk}/" in mail.outbox[-1].body

    # Found once, linked once.
    assert account_openings_resolve(look_after=timedelta(0)) == {
        "opened": 0,
        "failed": 0,
        "pending": 0,
    }
    page = client.get("/portal/trading/")
    assert b"data-opening-status" not in page.content
    assert f'data-account="{account.login}"'.encode() in page.content

    # Ops see the openings whose answer was lost, and how they ended.
    login(client, make_staff("ops_admin"))
    ops = client.get("/backoffice/platforms/")
    assert b"data-openings" in ops.content and opening.reference.encode() in ops.content
    assert f'Opened <span class="font-monospace">{account.login}<'.encode() in ops.content


def test_an_opening_the_server_never_made_fails_after_the_grace_period(mt5_server, client):
    user = make_client_user()
    opening = AccountOpening.objects.create(
        client=user.client, account_type=_usd(mt5_server), leverage=100, reference="BO-AO-LOST"
    )
    assert account_openings_resolve(look_after=timedelta(0))["pending"] == 1
    AccountOpening.objects.filter(pk=opening.pk).update(
        requested_at=timezone.now() - timedelta(minutes=20)
    )
    assert account_openings_resolve() == {"opened": 0, "failed": 1, "pending": 0}
    opening.refresh_from_db()
    assert opening.status == "failed" and opening.lookups == 2
    assert "no account" in opening.failure_reason
    assert AuditEvent.objects.filter(action="trading_account.open_failed").count() == 1
    login(client, user)
    page = client.get("/portal/trading/")
    assert b'data-opening-status="failed"' in page.content and b"was not opened" in page.content


def test_a_refused_opening_is_failed_at_once(mt5_server):
    client = make_client_user().client
    usd = _usd(mt5_server)
    usd.group = "real\\no-such-group"
    usd.save()
    with pytest.raises(DomainError) as refused:
        _open(client, mt5_server)
    assert "cannot open accounts" in refused.value.message
    opening = AccountOpening.objects.get()
    assert opening.status == "failed" and opening.lookups == 0 and opening.failure_reason
    assert _sandbox_users(mt5_server) == 0


def test_the_account_limit_and_an_opening_being_confirmed_stop_another(mt5_server):
    client = make_client_user().client
    for _ in range(MAX_ACCOUNTS_PER_CLIENT):
        _open(client, mt5_server)
    with pytest.raises(DomainError) as refused:
        _open(client, mt5_server)
    assert "At most" in refused.value.message
    assert _sandbox_users(mt5_server) == MAX_ACCOUNTS_PER_CLIENT

    other = make_client_user("other@test.example").client
    AccountOpening.objects.create(
        client=other, account_type=_usd(mt5_server), leverage=100, reference="BO-AO-INFLIGHT"
    )
    with pytest.raises(DomainError) as refused:
        _open(other, mt5_server)
    assert refused.value.code == "opening_pending"
    assert _sandbox_users(mt5_server) == MAX_ACCOUNTS_PER_CLIENT


def test_an_unreadable_answer_to_user_add_is_looked_up(mt5_server):
    """The server opened the account and its answer is cut short: found, not failed."""
    client = make_client_user().client
    _fault(mt5_server, {"malformed": {"path": "/api/user/add", "count": 1}})
    account, password = _open(client, mt5_server)
    assert _sandbox_users(mt5_server) == 1
    opening = AccountOpening.objects.get()
    assert opening.status == "opened" and opening.lookups == 1 and opening.account == account
    assert _password_works(mt5_server, account.login, password)


def test_the_sweeper_and_the_request_link_an_opening_once(
    mt5_server, django_capture_on_commit_callbacks
):
    client = make_client_user().client
    opening = AccountOpening.objects.create(
        client=client, account_type=_usd(mt5_server), leverage=100, reference="BO-AO-RACE"
    )
    api = platform_for(mt5_server)
    try:
        info = _platform_account(api, "BO-AO-RACE", "Race")
        stale = AccountOpening.objects.get(pk=opening.pk)  # as the sweeper read it
        account, linked = _opening_link(opening, info, actor="test")  # the request got there first
        assert linked
        with django_capture_on_commit_callbacks() as callbacks:
            outcome = _opening_resolve(
                stale, api, now=timezone.now(), give_up_after=timedelta(minutes=15)
            )
    finally:
        api.close()
    assert outcome == "opened" and callbacks == []  # no "set its password" email
    assert TradingAccount.objects.get() == account


def test_before_giving_up_the_sweeper_reads_the_whole_group(mt5_server, monkeypatch):
    client = make_client_user().client
    api = platform_for(mt5_server)
    try:
        for n in range(3):
            _platform_account(api, "BO-AO-OLDER" if n == 0 else "", f"Other {n}" if n else "Ours")
    finally:
        api.close()
    monkeypatch.setattr("clients.platforms.mt5.RECENT_LOGINS", 1)
    opening = AccountOpening.objects.create(
        client=client, account_type=_usd(mt5_server), leverage=100, reference="BO-AO-OLDER"
    )
    assert account_openings_resolve(look_after=timedelta(0))["pending"] == 1
    AccountOpening.objects.filter(pk=opening.pk).update(
        requested_at=timezone.now() - timedelta(minutes=20)
    )
    assert account_openings_resolve()["opened"] == 1
    opening.refresh_from_db()
    assert opening.status == "opened" and opening.account.login == 500001


def test_a_new_password_from_the_portal(mt5_server, client, django_capture_on_commit_callbacks):
    user = make_client_user()
    account, old = _open(user.client, mt5_server)
    login(client, user)
    detail = client.get(f"/portal/trading/{account.pk}/")
    assert f"/portal/trading/{account.pk}/password/".encode() in detail.content
    confirm = client.get(f"/portal/trading/{account.pk}/password/")
    assert confirm.status_code == 200 and b"data-set-password" in confirm.content
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(f"/portal/trading/{account.pk}/password/")
    assert done.status_code == 200 and "no-store" in done["Cache-Control"]
    new = done.content.split(b"data-password>")[1].split(b"<")[0].decode()
    assert new and new != old
    assert _password_works(mt5_server, account.login, new)
    assert not _password_works(mt5_server, account.login, old)
    assert AuditEvent.objects.filter(action="trading_account.password_reset").count() == 1
    assert mail.outbox[-1].to == [user.email] and "was changed" in mail.outbox[-1].subject

    # Someone else's account is not found; a closed account gets no new password.
    other = make_client_user("other@test.example")
    login(client, other)
    assert client.get(f"/portal/trading/{account.pk}/password/").status_code == 404
    assert client.post(f"/portal/trading/{account.pk}/password/").status_code == 404
    login(client, user)
    TradingAccount.objects.filter(pk=account.pk).update(status=TradingAccount.Status.CLOSED)
    closed = client.post(f"/portal/trading/{account.pk}/password/")
    assert closed.status_code == 200 and b"data-error" in closed.content
    assert _password_works(mt5_server, account.login, new)


def test_a_new_password_whose_answer_is_lost(mt5_server, client):
    user = make_client_user()
    account, old = _open(user.client, mt5_server)
    _fault(mt5_server, {"drop_after_write": {"path": "/api/user/change_password", "count": 1}})
    login(client, user)
    response = client.post(f"/portal/trading/{account.pk}/password/")
    assert b"did not confirm the new password" in response.content
    assert not _password_works(mt5_server, account.login, old)  # it was changed, unseen
    again = client.post(f"/portal/trading/{account.pk}/password/")
    new = again.content.split(b"data-password>")[1].split(b"<")[0].decode()
    assert _password_works(mt5_server, account.login, new)


def test_a_new_password_when_the_server_is_down(mt5_server, client):
    user = make_client_user()
    account, old = _open(user.client, mt5_server)
    mt5_server.url = "http://127.0.0.1:9"
    mt5_server.save()
    login(client, user)
    response = client.post(f"/portal/trading/{account.pk}/password/")
    assert response.status_code == 200 and b"could not set a new password" in response.content
    assert not AuditEvent.objects.filter(action="trading_account.password_reset").exists()


def test_new_passwords_are_limited_per_hour(mt5_server, client):
    user = make_client_user()
    account, _ = _open(user.client, mt5_server)
    login(client, user)
    url = f"/portal/trading/{account.pk}/password/"
    for _ in range(PASSWORD_RESETS_PER_HOUR):
        assert b"data-password>" in client.post(url).content
    refused = client.post(url)
    assert refused.status_code == 200 and b"data-error" in refused.content
    assert b"Please try again later" in refused.content
    count = AuditEvent.objects.filter(action="trading_account.password_reset").count()
    assert count == PASSWORD_RESETS_PER_HOUR


def test_the_client_360_shows_openings_whose_answer_was_lost(mt5_server, client):
    user = make_client_user()
    usd = _usd(mt5_server)
    AccountOpening.objects.create(
        client=user.client, account_type=usd, leverage=100, reference="BO-AO-WAITING"
    )
    AccountOpening.objects.create(
        client=user.client,
        account_type=usd,
        leverage=100,
        reference="BO-AO-NEVER",
        status="failed",
        lookups=3,
        failure_reason="The trading server has no account carrying this reference.",
    )
    AccountOpening.objects.create(  # refused at once: the client was told there and then
        client=user.client, account_type=usd, leverage=100, reference="BO-AO-REFUSED",
        status="failed", failure_reason="refused",
    )  # fmt: skip
    login(client, make_staff("ops_admin"))
    page = client.get(f"/backoffice/clients/{user.client.pk}/")
    assert page.status_code == 200
    assert b'data-opening-status="pending"' in page.content
    assert b'data-opening-status="failed"' in page.content and b"BO-AO-NEVER" in page.content
    assert b"BO-AO-REFUSED" not in page.content
    titles = [e.title for e in page.context["view"].timeline]
    assert "Account opening being confirmed" in titles and "Account opening not opened" in titles


def test_one_opening_that_cannot_be_linked_does_not_stall_the_others(mt5_server):
    from tests.clients.factories import make_account

    first, second = make_client_user("a@test.example"), make_client_user("b@test.example")
    usd = _usd(mt5_server)
    api = platform_for(mt5_server)
    try:
        taken = _platform_account(api, "BO-AO-TAKEN")
        _platform_account(api, "BO-AO-FINE")
    finally:
        api.close()
    # Ops recorded the first account by hand for somebody else meanwhile.
    make_account(make_client_user("c@test.example").client, server=mt5_server, login=taken.login)
    for user, reference in ((first, "BO-AO-TAKEN"), (second, "BO-AO-FINE")):
        AccountOpening.objects.create(
            client=user.client, account_type=usd, leverage=100, reference=reference
        )
    counts = account_openings_resolve(look_after=timedelta(0))
    assert counts == {"opened": 1, "failed": 0, "pending": 1}
    assert AccountOpening.objects.get(reference="BO-AO-FINE").status == "opened"
    assert AccountOpening.objects.get(reference="BO-AO-TAKEN").status == "pending"


def test_ops_look_again_from_admin_links_an_account_that_came_late(mt5_server, client):
    user = make_client_user()
    opening = AccountOpening.objects.create(
        client=user.client,
        account_type=_usd(mt5_server),
        leverage=100,
        reference="BO-AO-LATE",
        status="failed",
        lookups=5,
        failure_reason="The trading server has no account carrying this reference.",
    )
    api = platform_for(mt5_server)
    try:
        late = _platform_account(api, "BO-AO-LATE")  # the server got there after all
    finally:
        api.close()
    ops = make_staff("ops_admin")
    login(client, ops)
    changelist = client.get("/admin/clients/accountopening/")
    assert changelist.status_code == 200 and b"BO-AO-LATE" in changelist.content
    done = client.post(
        "/admin/clients/accountopening/",
        {"action": "look_again", "_selected_action": [opening.pk]},
        follow=True,
    )
    assert b"1 linked" in done.content
    opening.refresh_from_db()
    assert opening.status == "opened" and opening.account.login == late.login
    assert opening.account.client == user.client
    event = AuditEvent.objects.get(action="trading_account.opened")
    assert event.actor == ops and "lost answer" in event.reason


def test_an_open_aml_case_blocks_opening_an_account(mt5_server):
    from clients.services import client_aml_case_set
    from clients.standing import UNDER_REVIEW

    client = make_client_user().client
    client_aml_case_set(client=client, is_open=True, actor="rule:aml", reason="Structuring")
    with pytest.raises(DomainError) as refused:
        _open(client, mt5_server)
    assert refused.value.message == UNDER_REVIEW
    assert not AccountOpening.objects.exists() and _sandbox_users(mt5_server) == 0
    client_aml_case_set(
        client=client, is_open=False, actor=make_staff("compliance_officer"), reason="Cleared"
    )
    account, _ = _open(client, mt5_server)
    assert account.status == "active"
