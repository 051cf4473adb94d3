"""Leverage limits by the client's country of residence and category: a UK retail client is
offered and allowed 1:30 and refused 1:500, naming the limit; a professional client (approved
by compliance on two of three criteria) gets more; a category change lowers an account's
leverage on the platform and a change back restores it."""

import pytest
from django.core import mail

from brokerage.errors import InvalidInput, NotAllowed
from brokerage.leverage_limits import account_cap, class_caps
from brokerage.models import AuditEvent, LeverageLimit
from clients import audit_events
from clients.categories import (
    LeverageNotAllowed,
    category_request_decide,
    category_request_submit,
    client_category_set,
)
from clients.models import AccountType, ClientActivity, PlatformRestraint
from clients.platforms import platform_for
from clients.trading.services import (
    AccountNotAllowed,
    trading_account_leverage_change,
    trading_account_open,
)
from clients.views_trading import OpenAccountForm
from tests.conftest import login, make_client_user, make_staff

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("limits")]


STATEMENT = "I trade FX daily for a fund and hold a EUR 800,000 portfolio."


@pytest.fixture
def high(mt5_server):
    """An account type offering up to 1:500 (what a UK retail client was offered before)."""
    return AccountType.objects.create(
        server=mt5_server,
        name="Pro USD",
        group="real\\pro-usd",
        currency="USD",
        leverages=[30, 100, 500],
        default_leverage=500,
    )


def uk_client(email="uk@test.example", language="en"):
    client = make_client_user(email).client
    client.country, client.language = "GB", language
    client.save()
    return client


def decide(request, actor, *, approve, met=(False, False, False), evidence="", reason=""):
    trades, portfolio, experience = met
    return category_request_decide(
        category_request=request,
        approve=approve,
        trades_met=trades,
        portfolio_met=portfolio,
        experience_met=experience,
        evidence=evidence,
        reason=reason,
        actor=actor,
    )


def retail_limit(jurisdiction, instrument_class, max_leverage, basis) -> LeverageLimit:
    return LeverageLimit.objects.create(
        jurisdiction=jurisdiction,
        category="retail",
        instrument_class=instrument_class,
        max_leverage=max_leverage,
        basis=basis,
    )


def sandbox_leverage(mt5_server, login_) -> int:
    return platform_for(mt5_server).account_user(login_).leverage


def test_the_defaults_cap_uk_eea_and_au_retail_clients_by_class():
    caps = class_caps(country="GB", category="retail")
    assert {k: c.max_leverage for k, c in caps.items()} == {
        "fx_major": 30,
        "fx_minor": 20,
        "fx_exotic": 20,
        "gold": 20,
        "metals": 10,
        "indices_major": 20,
        "indices": 10,
        "energies": 10,
        "stocks": 5,
        "crypto": 0,  # not allowed (FCA PS20/10); 1:2 in the EEA and Australia
    }
    assert class_caps(country="DE", category="retail")["crypto"].max_leverage == 2
    assert caps["fx_major"].jurisdiction_name == "United Kingdom"
    assert "FCA" in caps["fx_major"].limit.basis
    assert account_cap(country="DE", category="retail").max_leverage == 30  # the EEA's
    assert "ESMA" in account_cap(country="DE", category="retail").limit.basis
    assert account_cap(country="AU", category="retail").limit.jurisdiction == "AU"
    assert account_cap(country="GB", category="professional") is None
    assert account_cap(country="AE", category="retail") is None  # no limit there
    # A country's own limit wins over its region's.
    retail_limit("CY", "fx_major", 25, "CySEC stricter")
    cy = class_caps(country="CY", category="retail")
    assert cy["fx_major"].max_leverage == 25 and cy["fx_minor"].max_leverage == 20
    # A country's limit on a class caps its finer class (gold among metals) too, where no
    # limit of the country names the finer class.
    retail_limit("CY", "metals", 5, "CySEC metals")
    cy = class_caps(country="CY", category="retail")
    assert (cy["gold"].max_leverage, cy["metals"].max_leverage) == (5, 5)
    assert cy["gold"].limit.basis == "CySEC metals"
    assert class_caps(country="AE", category="retail") == {}
    retail_limit("AE", "indices", 10, "SCA")
    ae = class_caps(country="AE", category="retail")
    assert set(ae) == {"indices", "indices_major"} and ae["indices_major"].max_leverage == 10


def test_a_uk_retail_client_is_offered_and_allowed_1_30_and_refused_1_500(mt5_server, high):
    client = uk_client()
    form = OpenAccountForm(client=client)
    assert [v for v, _ in form.fields["leverage"].choices] == [30]  # not 100, 200 or 500
    assert form.initial["leverage"] == 30 and "1:30" in form.fields["leverage"].help_text
    with pytest.raises(LeverageNotAllowed) as refused:
        trading_account_open(client=client, account_type=high, leverage=500, actor="test")
    message = refused.value.message
    assert "1:500 is above the 1:30 a retail client residing in United Kingdom" in message
    assert "leverage limit" in message and "FCA COBS 22.5" in message
    with pytest.raises(LeverageNotAllowed):
        trading_account_open(client=client, account_type=high, leverage=100, actor="test")
    account, _ = trading_account_open(client=client, account_type=high, leverage=30, actor="t")
    assert account.leverage == 30 and sandbox_leverage(mt5_server, account.login) == 30


def test_the_portal_refuses_a_leverage_change_above_the_limit_naming_it(client, mt5_server, high):
    trader = uk_client()
    account, _ = trading_account_open(client=trader, account_type=high, leverage=30, actor="t")
    login(client, trader.user)
    page = client.get(f"/portal/trading/{account.pk}/")
    assert page.status_code == 200
    assert b"up to 1:30" in page.content and b"Crypto" in page.content
    refused = client.post(f"/portal/trading/{account.pk}/leverage/", {"leverage": "500"})
    assert refused.status_code == 400
    assert sandbox_leverage(mt5_server, account.login) == 30
    with pytest.raises(LeverageNotAllowed, match="FCA"):
        trading_account_leverage_change(account=account, leverage=500, actor="test")


def test_a_professional_client_approved_by_compliance_gets_more(
    mt5_server, high, eager, django_capture_on_commit_callbacks
):
    trader = uk_client(language="es")
    request = category_request_submit(client=trader, statement=STATEMENT, actor=trader.user)
    officer = make_staff("compliance_officer")
    with pytest.raises(NotAllowed):
        decide(
            request,
            make_staff("sales_agent"),
            approve=True,
            met=(True, True, False),
            evidence="statements",
        )
    with pytest.raises(InvalidInput) as incomplete:
        decide(request, officer, approve=True, met=(True, False, False))
    assert "2 of the 3 criteria" in incomplete.value.message
    assert "evidence" in incomplete.value.fields
    with django_capture_on_commit_callbacks(execute=True):
        decide(
            request,
            officer,
            approve=True,
            met=(True, True, False),
            evidence="Broker statements Q1-Q4; custody statement EUR 812k",
        )
    trader.refresh_from_db()
    assert trader.category == "professional"
    assert [v for v, _ in OpenAccountForm(client=trader).fields["leverage"].choices] == [
        30,
        100,
        200,
        500,
    ]
    account, _ = trading_account_open(client=trader, account_type=high, leverage=500, actor="t")
    assert sandbox_leverage(mt5_server, account.login) == 500
    # Told in their language, and in their communication history; every step audited.
    told = ClientActivity.objects.get(client=trader, template="category_decided")
    assert told.data["language"] == "es" and "Profesional" in told.subject
    assert [m.subject for m in mail.outbox] == [told.subject]
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {
        audit_events.CATEGORY_REQUESTED,
        audit_events.CATEGORY_REQUEST_APPROVED,
        audit_events.CLIENT_CATEGORY_CHANGED,
    } <= actions
    assert trader.history.filter(category="retail").exists()  # the history keeps the change


def test_a_refusal_needs_a_reason_and_tells_the_client_it(mt5_server, eager):
    trader = uk_client()
    request = category_request_submit(client=trader, statement=STATEMENT, actor=trader.user)
    with pytest.raises(InvalidInput, match="already"):
        category_request_submit(client=trader, statement=STATEMENT, actor=trader.user)
    officer = make_staff("compliance_officer")
    with pytest.raises(InvalidInput):
        decide(request, officer, approve=False, reason=" ")
    decide(
        request,
        officer,
        approve=False,
        met=(True, False, False),
        reason="No evidence of the portfolio.",
    )
    trader.refresh_from_db()
    assert trader.category == "retail"
    told = ClientActivity.objects.get(client=trader, template="category_decided")
    assert "No evidence of the portfolio." in told.body


def test_a_category_change_lowers_the_leverage_and_a_change_back_restores_it(
    mt5_server, high, eager, django_capture_on_commit_callbacks
):
    trader = uk_client()
    officer = make_staff("compliance_officer")
    client_category_set(client=trader, category="professional", actor=officer, reason="ECP test")
    account, _ = trading_account_open(client=trader, account_type=high, leverage=500, actor="t")
    with django_capture_on_commit_callbacks(execute=True):
        client_category_set(client=trader, category="retail", actor=officer, reason="Lapsed")
    assert sandbox_leverage(mt5_server, account.login) == 30
    account.refresh_from_db()
    assert account.leverage == 30
    restraint = PlatformRestraint.objects.get(account=account)
    assert (restraint.leverage_cap, restraint.leverage_before) == (30, 500)
    lowered = AuditEvent.objects.get(action=audit_events.TRADING_ACCOUNT_LEVERAGE_LOWERED)
    assert lowered.evidence["leverage_before"] == 500 and lowered.reason == "cap 1:30"
    with django_capture_on_commit_callbacks(execute=True):
        client_category_set(client=trader, category="professional", actor=officer, reason="Back")
    assert sandbox_leverage(mt5_server, account.login) == 500
    restraint.refresh_from_db()
    assert restraint.leverage_cap is None and restraint.leverage_before is None
    assert AuditEvent.objects.filter(action=audit_events.TRADING_ACCOUNT_LEVERAGE_RESTORED).exists()


def test_a_leverage_changed_on_the_platform_meanwhile_is_not_restored_over(
    mt5_server, high, eager, django_capture_on_commit_callbacks
):
    trader = uk_client()
    officer = make_staff("compliance_officer")
    client_category_set(client=trader, category="professional", actor=officer, reason="x")
    account, _ = trading_account_open(client=trader, account_type=high, leverage=500, actor="t")
    with django_capture_on_commit_callbacks(execute=True):
        client_category_set(client=trader, category="retail", actor=officer, reason="Lapsed")
    platform_for(mt5_server).account_update(login=account.login, leverage=10)  # the dealer
    with django_capture_on_commit_callbacks(execute=True):
        client_category_set(client=trader, category="professional", actor=officer, reason="Back")
    assert sandbox_leverage(mt5_server, account.login) == 10  # the dealer's stands


def test_an_account_type_with_no_leverage_within_the_limit_is_refused_naming_the_limit(high):
    """Not 'choose a leverage of 1:100, 1:500' (each of which would be refused in turn)."""
    high.leverages = [100, 500]
    high.save()
    client = uk_client()
    with pytest.raises(LeverageNotAllowed) as refused:
        trading_account_open(client=client, account_type=high, leverage=100, actor="test")
    message = refused.value.message
    assert "Pro USD offers no leverage within the 1:30" in message and "FCA" in message
    assert "Choose a leverage" not in message
    assert not client.trading_accounts.exists()


def test_a_leverage_change_rates_the_client_again_at_once(
    client, mt5_server, high, eager, django_capture_on_commit_callbacks
):
    from compliance.models import RiskAssessment

    trader = uk_client()
    client_category_set(
        client=trader, category="professional", actor=make_staff("compliance_officer"), reason="x"
    )
    account, _ = trading_account_open(client=trader, account_type=high, leverage=30, actor="t")
    login(client, trader.user)
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(f"/portal/trading/{account.pk}/leverage/", {"leverage": "500"})
    assert done.status_code in (200, 302)
    assessment = RiskAssessment.objects.filter(client=trader).order_by("-pk").first()
    assert assessment is not None and assessment.cause == "leverage changed"
    product = next(f for f in assessment.factors if f["code"] == "product")
    assert "1:500" in product["explanation"]


@pytest.fixture
def crypto(high):
    """An account type on a group whose symbols are crypto."""
    high.pk, high.name, high.leverages, high.default_leverage = None, "Crypto USD", [2, 5, 10], 2
    high.instrument_classes = ["crypto"]
    high.save()
    return high


def test_crypto_is_not_allowed_to_uk_retail_clients_naming_the_rule(mt5_server, crypto):
    caps = class_caps(country="GB", category="retail")
    assert caps["crypto"].max_leverage == 0 and caps["crypto"].label == "Not allowed"
    assert "PS20/10" in caps["crypto"].limit.basis
    assert account_cap(country="GB", category="retail").max_leverage == 30  # FX majors still
    trader = uk_client()
    assert crypto not in OpenAccountForm(client=trader).fields["account_type"].queryset
    with pytest.raises(LeverageNotAllowed) as refused:
        trading_account_open(client=trader, account_type=crypto, leverage=2, actor="test")
    assert refused.value.code == "class_not_allowed"
    message = refused.value.message
    assert message.startswith("Crypto is not allowed to a retail client residing in United")
    assert "FCA PS20/10" in message and "Crypto USD trades it" in message
    assert not trader.trading_accounts.exists()
    # An EEA retail client may trade crypto at 1:2; a UK professional client is not barred.
    german = make_client_user("de@test.example").client
    german.country = "DE"
    german.save()
    assert crypto in OpenAccountForm(client=german).fields["account_type"].queryset
    account, _ = trading_account_open(client=german, account_type=crypto, leverage=2, actor="t")
    assert account.leverage == 2
    client_category_set(
        client=trader, category="professional", actor=make_staff("compliance_officer"), reason="x"
    )
    trading_account_open(client=trader, account_type=crypto, leverage=10, actor="t")


def test_the_classes_an_account_type_trades_are_checked():
    from django.core.exceptions import ValidationError

    account_type = AccountType(instrument_classes=["crypto", "bonds"])
    with pytest.raises(ValidationError, match="instrument classes"):
        account_type.clean()
    AccountType(instrument_classes=["crypto", "gold"]).clean()


def outside_the_limits(email: str):
    """A client resident where no leverage limit applies (every leverage of the type offered)."""
    client = uk_client(email)
    client.country = "AE"
    client.save()
    return client


def test_a_leverage_change_whose_answers_were_lost_stands_when_the_platform_has_it(mt5_server):
    trader = outside_the_limits("lost.answer@test.example")
    standard = AccountType.objects.get(server=mt5_server, group="real\\standard-usd")
    account, _ = trading_account_open(client=trader, account_type=standard, leverage=100, actor="t")
    # The change and its resend both carried out by the platform, neither answered.
    mt5_server.sandbox.control(
        "POST", "faults", {"drop_after_write": {"path": "/api/user/update", "count": 2}}
    )
    changed = trading_account_leverage_change(account=account, leverage=200, actor="test")
    account.refresh_from_db()
    assert changed.leverage == account.leverage == 200
    assert sandbox_leverage(mt5_server, account.login) == 200
    audited = AuditEvent.objects.filter(
        action=audit_events.TRADING_ACCOUNT_LEVERAGE_CHANGED, target_id=str(account.pk)
    )
    assert [e.evidence["to"] for e in audited] == [200]


def test_a_leverage_change_neither_answered_nor_readable_is_left_to_the_platform_reach(
    mt5_server,
):
    trader = outside_the_limits("unreadable@test.example")
    standard = AccountType.objects.get(server=mt5_server, group="real\\standard-usd")
    account, _ = trading_account_open(client=trader, account_type=standard, leverage=100, actor="t")
    mt5_server.sandbox.control(
        "POST",
        "faults",
        {"drop_after_write": [{"path": "/api/user/update", "count": 2},
                              {"path": "/api/user/get", "count": 2}]},
    )  # fmt: skip
    with pytest.raises(AccountNotAllowed, match="did not confirm"):
        trading_account_leverage_change(account=account, leverage=200, actor="test")
    assert sandbox_leverage(mt5_server, account.login) == 200  # made, though unconfirmed
    restraint = PlatformRestraint.objects.get(account=account)
    assert restraint.due_since is not None  # the reach reads it and records what it has
    from clients.trading.reach import trading_account_reconcile

    trading_account_reconcile(account=account)
    account.refresh_from_db()
    assert account.leverage == 200
