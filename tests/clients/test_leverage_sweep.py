"""The book sweep of leverage: accounts above their client's cap (as the demo's bulk book of
retail EEA and UK clients at 1:100 was) are found in one query, lowered on the platform, each
audited with the limit named and its client told in their language; a limit edited sweeps the
jurisdictions it touches, a client's new residence sweeps theirs, and a lifted cap restores."""

import pytest
from django.core import mail
from django.db.models import Q

from brokerage.models import AuditEvent
from clients import audit_events
from clients.models import ClientActivity, PlatformRestraint, TradingAccount
from clients.platforms import platform_for
from clients.services import client_residence_set
from clients.tasks import leverage_sweep_task
from clients.trading.sweep import leverage_above_cap, leverage_book_sweep
from compliance.leverage import leverage_limit_remove, leverage_limit_set
from tests.conftest import make_client_user, make_staff

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("limits")]


def booked(mt5_server, email, *, country, leverage=100, language="en", category="retail"):
    """A client of the bulk book: an account opened at `leverage` on the platform and recorded
    as the demo's bulk book records it, without the opening's checks."""
    client = make_client_user(email).client
    client.country, client.language, client.category = country, language, category
    client.save()
    info = platform_for(mt5_server).account_create(
        group="real\\standard-usd",
        leverage=leverage,
        name=email,
        email=email,
        country=country,
        password="Pa55word!x",
        comment="book",
    )
    account = TradingAccount.objects.create(
        client=client,
        server=mt5_server,
        login=info.login,
        group="real\\standard-usd",
        currency="USD",
        leverage=leverage,
    )
    return client, account


def retail_limit_set(jurisdiction, instrument_class, max_leverage, basis, officer):
    return leverage_limit_set(
        jurisdiction=jurisdiction,
        category="retail",
        instrument_class=instrument_class,
        max_leverage=max_leverage,
        basis=basis,
        actor=officer,
    )


def on_platform(mt5_server, account) -> int:
    return platform_for(mt5_server).account_user(account.login).leverage


def test_the_sweep_finds_the_accounts_above_their_cap_in_one_query(
    mt5_server, django_assert_num_queries
):
    _, uk = booked(mt5_server, "uk@test.example", country="GB")
    _, de = booked(mt5_server, "de@test.example", country="DE")
    booked(mt5_server, "de30@test.example", country="DE", leverage=30)  # at its cap
    booked(mt5_server, "ae@test.example", country="AE")  # no limit there
    booked(mt5_server, "pro@test.example", country="GB", category="professional")
    # Limits and regions, the book's (country, nationality, category), the accounts: the same
    # four queries however large the book.
    with django_assert_num_queries(4):
        found = leverage_above_cap()
    assert found == sorted([uk.pk, de.pk])
    with django_assert_num_queries(4):
        assert leverage_above_cap(Q(country="GB")) == [uk.pk]


def test_the_nightly_sweep_lowers_them_audits_each_and_tells_each_client(
    mt5_server, eager, django_capture_on_commit_callbacks
):
    uk_client, uk = booked(mt5_server, "uk@test.example", country="GB", language="es")
    _, de = booked(mt5_server, "de@test.example", country="DE")
    _, ae = booked(mt5_server, "ae@test.example", country="AE")
    with django_capture_on_commit_callbacks(execute=True):
        assert leverage_sweep_task() == 2
    assert (on_platform(mt5_server, uk), on_platform(mt5_server, de)) == (30, 30)
    assert on_platform(mt5_server, ae) == 100
    uk.refresh_from_db()
    assert uk.leverage == 30
    lowered = AuditEvent.objects.filter(action=audit_events.TRADING_ACCOUNT_LEVERAGE_LOWERED)
    assert {e.subject_client_id for e in lowered} == {uk.client_id, de.client_id}
    event = lowered.get(subject_client_id=uk.client_id)
    assert "FCA COBS 22.5" in event.evidence["limit"] and event.evidence["leverage_before"] == 100
    told = ClientActivity.objects.get(client=uk_client, template="trading_account_leverage_lowered")
    assert told.data["language"] == "es" and "1:30" in told.subject
    assert "FCA COBS 22.5" in told.body and told.sent_at is not None
    assert sorted(m.to[0] for m in mail.outbox) == ["de@test.example", "uk@test.example"]
    # Run again, nothing is left to do.
    with django_capture_on_commit_callbacks(execute=True):
        assert leverage_book_sweep() == []


def test_a_limit_edited_sweeps_only_the_jurisdictions_it_touches_and_its_removal_restores(
    mt5_server, eager, django_capture_on_commit_callbacks
):
    de_client, de = booked(mt5_server, "ae@test.example", country="AE", leverage=30)
    _, gb = booked(mt5_server, "gb@test.example", country="GB", leverage=30)
    officer = make_staff("compliance_officer")
    with django_capture_on_commit_callbacks(execute=True):
        limit = retail_limit_set("AE", "fx_major", 20, "SCA decision (stricter)", officer)
    assert on_platform(mt5_server, de) == 20 and on_platform(mt5_server, gb) == 30
    assert PlatformRestraint.objects.filter(account=gb).count() == 0  # never marked
    assert "SCA decision" in ClientActivity.objects.get(client=de_client).body
    with django_capture_on_commit_callbacks(execute=True):
        leverage_limit_remove(limit=limit, actor=officer, reason="Ruling withdrawn")
    assert on_platform(mt5_server, de) == 30  # no cap there any more: back as it was
    back = ClientActivity.objects.get(template="trading_account_leverage_restored")
    assert back.client == de_client and "1:30" in back.subject


def test_a_client_moving_into_a_capped_country_is_lowered(
    mt5_server, eager, django_capture_on_commit_callbacks
):
    client, account = booked(mt5_server, "mover@test.example", country="AE", leverage=100)
    with django_capture_on_commit_callbacks(execute=True):
        client_residence_set(
            client=client, country="FR", actor=make_staff("ops_admin"), reason="Utility bill"
        )
    assert on_platform(mt5_server, account) == 30
    assert AuditEvent.objects.filter(
        action=audit_events.CLIENT_RESIDENCE_CHANGED, evidence__to="FR"
    ).exists()


def test_nationality_caps_only_when_the_brokerage_turns_it_on(
    mt5_server, settings, eager, django_capture_on_commit_callbacks
):
    from clients.categories import leverage_caps_of, leverage_refusal

    client, account = booked(mt5_server, "expat@test.example", country="AE", leverage=100)
    client.nationality = "FR"
    client.save()
    settings.LEVERAGE_LIMITS_BY_NATIONALITY = False  # the default: residence alone
    assert leverage_caps_of(client) == {} and leverage_above_cap() == []
    settings.LEVERAGE_LIMITS_BY_NATIONALITY = True
    caps = leverage_caps_of(client)
    assert caps["fx_major"].max_leverage == 30 and caps["fx_major"].via == "nationality"
    refusal = leverage_refusal(client, 100)
    assert "1:100 is above the 1:30 a retail client of France nationality" in refusal
    assert "ESMA" in refusal
    with django_capture_on_commit_callbacks(execute=True):
        assert leverage_book_sweep() == [account.pk]
    assert on_platform(mt5_server, account) == 30


def test_with_nationality_on_the_stricter_cap_wins_per_class(settings):
    from brokerage.leverage_limits import CapBook
    from clients.categories import caps_from

    settings.LEVERAGE_LIMITS_BY_NATIONALITY = True
    retail_limit_set("IT", "fx_major", 10, "Consob (stricter)", make_staff("compliance_officer"))
    caps = caps_from(CapBook.load(), country="DE", nationality="IT", category="retail")
    assert (caps["fx_major"].max_leverage, caps["fx_major"].via) == (10, "nationality")
    assert (caps["fx_minor"].max_leverage, caps["fx_minor"].via) == (20, "residence")
    # The other way round, the residence's stricter cap stands.
    caps = caps_from(CapBook.load(), country="IT", nationality="DE", category="retail")
    assert (caps["fx_major"].max_leverage, caps["fx_major"].via) == (10, "residence")
