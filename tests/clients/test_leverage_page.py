"""Staff's page on a client's leverage and category: compliance officers and ops admins change a
live account's leverage (offered only what the limits allow, a refusal naming the limit), which
reaches the platform through the platform reach, audited, the client emailed and rated again;
compliance officers alone set the category directly, with the criteria and the evidence."""

import pytest

from brokerage.models import AuditEvent
from clients import audit_events
from clients.models import AccountType, ClientActivity, PlatformRestraint
from clients.platforms import platform_for
from clients.trading.services import trading_account_leverage_set, trading_account_open
from tests.conftest import login, make_client_user, make_staff

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("limits")]


@pytest.fixture
def trader(mt5_server):
    """A UK retail client with an account at 1:30 on a type offering up to 1:500."""
    account_type = AccountType.objects.create(
        server=mt5_server,
        name="Pro USD",
        group="real\\pro-usd",
        currency="USD",
        leverages=[10, 30, 100, 500],
        default_leverage=30,
    )
    client = make_client_user("uk@test.example").client
    client.country, client.language = "GB", "es"
    client.save()
    account, _ = trading_account_open(
        client=client, account_type=account_type, leverage=30, actor="test"
    )
    return client, account


def url(client) -> str:
    return f"/backoffice/clients/{client.pk}/leverage/"


def test_an_officer_is_offered_only_what_the_limit_allows_and_told_which_limit(client, trader):
    holder, account = trader
    login(client, make_staff("compliance_officer"))
    page = client.get(url(holder))
    assert page.status_code == 200
    html = page.content.decode()
    assert f'data-account="{account.login}"' in html and 'value="500"' not in html
    assert 'value="10"' in html and 'value="30"' in html and "data-category-form" in html
    refused = client.post(
        url(holder),
        {"account": account.pk, f"a{account.pk}-leverage": "500", f"a{account.pk}-reason": "Asked"},
    )
    assert refused.status_code == 400
    message = refused.content.decode()
    assert "1:500 is above the 1:30 a retail client residing in United Kingdom" in message
    assert "FCA COBS 22.5" in message
    assert not PlatformRestraint.objects.filter(account=account, leverage_wanted__isnull=False)


def test_a_change_reaches_the_platform_audited_told_and_rated(
    client, trader, mt5_server, eager, django_capture_on_commit_callbacks
):
    from compliance.models import RiskAssessment

    holder, account = trader
    ops = make_staff("ops_admin")
    login(client, ops)
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(
            url(holder),
            {
                "account": account.pk,
                f"a{account.pk}-leverage": "10",
                f"a{account.pk}-reason": "Margin calls",
            },
        )
    assert done.status_code == 302
    assert platform_for(mt5_server).account_user(account.login).leverage == 10
    account.refresh_from_db()
    restraint = PlatformRestraint.objects.get(account=account)
    assert account.leverage == 10 and restraint.leverage_wanted is None and not restraint.due_since
    asked = AuditEvent.objects.get(action=audit_events.TRADING_ACCOUNT_LEVERAGE_REQUESTED)
    assert asked.actor_id == ops.pk and asked.reason == "Margin calls"
    assert asked.evidence["from"] == 30 and asked.evidence["to"] == 10
    assert AuditEvent.objects.filter(
        action=audit_events.TRADING_ACCOUNT_LEVERAGE_CHANGED, subject_client_id=holder.pk
    ).exists()
    told = ClientActivity.objects.get(client=holder, template="trading_account_leverage_set")
    assert told.data["language"] == "es" and "1:10" in told.body
    assessment = RiskAssessment.objects.filter(client=holder).order_by("-pk").first()
    assert assessment.cause == "leverage changed"
    # Ops sees no category form, and may not post one.
    assert "data-category-form" not in client.get(url(holder)).content.decode()
    denied = client.post(url(holder), {"category": "professional", "reason": "x"})
    assert denied.status_code == 403


def test_a_change_is_marked_due_at_once_and_refused_without_the_permission(trader, mt5_server):
    holder, account = trader
    officer = make_staff("compliance_officer")
    # No task runs here (nothing commits): the mark is the promise the sweeper keeps.
    trading_account_leverage_set(account=account, leverage=10, actor=officer, reason="Asked")
    restraint = PlatformRestraint.objects.get(account=account)
    assert restraint.leverage_wanted == 10 and restraint.due_since is not None
    with pytest.raises(Exception, match="Your role"):
        trading_account_leverage_set(
            account=account, leverage=10, actor=make_staff("finance_officer"), reason="x"
        )


def test_an_officer_sets_the_category_with_the_criteria_and_evidence(
    client, trader, mt5_server, eager, django_capture_on_commit_callbacks
):
    holder, account = trader
    officer = make_staff("compliance_officer")
    login(client, officer)
    form = {"category": "professional", "trades_met": "on", "reason": "Reviewed in person"}
    incomplete = client.post(url(holder), form)
    assert incomplete.status_code == 400
    html = incomplete.content.decode()
    assert "at least 2 of the 3 criteria; 1 ticked" in html and "Note the evidence" in html
    holder.refresh_from_db()
    assert holder.category == "retail"
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(
            url(holder), {**form, "portfolio_met": "on", "evidence": "Custody statement EUR 900k"}
        )
    assert done.status_code == 302
    holder.refresh_from_db()
    assert holder.category == "professional"
    event = AuditEvent.objects.get(action=audit_events.CLIENT_CATEGORY_CHANGED)
    assert event.evidence["portfolio"] and not event.evidence["experience"]
    assert event.evidence["evidence"] == "Custody statement EUR 900k"
    assert ClientActivity.objects.filter(client=holder, template="category_decided").exists()
    # Now 1:500 is offered.
    assert 'value="500"' in client.get(url(holder)).content.decode()


@pytest.mark.parametrize("role", ["sales_agent", "finance_officer", "desk_manager"])
def test_other_roles_are_refused(client, trader, role):
    holder, _ = trader
    login(client, make_staff(role))
    assert client.get(url(holder)).status_code == 403


def test_an_account_of_another_client_is_not_found(client, trader, mt5_server):
    holder, account = trader
    other = make_client_user("other@test.example").client
    login(client, make_staff("compliance_officer"))
    posted = client.post(
        url(other),
        {"account": account.pk, f"a{account.pk}-leverage": "10", f"a{account.pk}-reason": "x"},
    )
    assert posted.status_code == 404
