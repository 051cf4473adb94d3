"""Retention: the daily inactivity run and its signals, clearing, outreach and outcomes, and the
back-office queue, flag and settings pages."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from brokerage.audit import audit_chain_verify, audit_seal_all
from brokerage.errors import InvalidInput, NotAllowed
from brokerage.models import AuditEvent, Desk
from clients.models import (
    ClientActivity,
    Deal,
    OutreachTemplate,
    RetentionAction,
    RetentionFlag,
    RetentionPolicy,
)
from clients.retention.selectors import retention_queue, template_render, templates_for
from clients.retention.services import (
    retention_action_log,
    retention_flags_clear_on_trade,
    retention_flags_run,
    retention_policy_set,
)
from finance.psp import EventKind
from finance.services import psp_event_apply, withdrawal_request
from tests.clients.factories import make_account, make_deal
from tests.conftest import login, make_client_user, make_staff
from tests.finance import conftest as finance_conftest

methods = finance_conftest.methods  # the PSP payment methods fixture, for failed withdrawals

D = Decimal


def make_client(email, *, desk=None, login_days_ago=1, first_name="Tia", language="en"):
    client = make_client_user(email).client
    user = client.user
    user.first_name, user.last_name = first_name, "Trader"
    user.last_login = (
        None if login_days_ago is None else timezone.now() - timedelta(days=login_days_ago)
    )
    user.save()
    client.desk, client.language = desk, language
    client.save()
    return client


def quiet_loser(email="loser@test.example", *, desk=None, days=19, **kwargs):
    """A funded client whose last three closed trades, 19+ days ago, all lost."""
    client = make_client(email, desk=desk, **kwargs)
    account = make_account(client, balance="2500.00")
    make_deal(account, days_ago=days + 9, symbol="GBPUSD", profit="310.00")  # an old win
    make_deal(account, days_ago=days + 2, entry=Deal.Entry.IN, symbol="EURUSD")
    make_deal(account, days_ago=days + 1.5, symbol="EURUSD", profit="-180.00", swap="-4.25")
    make_deal(account, days_ago=days + 1, symbol="XAUUSD", profit="-150.00", commission="-7.00")
    make_deal(account, days_ago=days + 0.5, entry=Deal.Entry.IN, symbol="EURUSD", profit="5")
    make_deal(account, days_ago=days, symbol="EURUSD", profit="-70.00", commission="-1.25")
    return client, account


def open_flag(client):
    return RetentionFlag.objects.get(client=client, status=RetentionFlag.Status.OPEN)


def codes(flag):
    return [s["code"] for s in flag.signals]


def detail(flag, code):
    return next(s["detail"] for s in flag.signals if s["code"] == code)


@pytest.fixture
def desk_b(db):
    return Desk.objects.create(name="Dubai", languages=["en", "ar"])


# --- The daily run -----------------------------------------------------------------------------


def test_a_quiet_losing_client_appears_in_the_queue_with_the_reasons(db, client, desk):
    loser, _ = quiet_loser(desk=desk)
    result = retention_flags_run()
    assert result["flagged"] == 1 and result["cleared"] == 0

    flag = open_flag(loser)
    assert flag.days_inactive == 19 and flag.desk == desk
    assert codes(flag) == ["inactive", "losing_streak"]
    assert detail(flag, "inactive") == "No trade for 19 days (threshold 12)"
    assert detail(flag, "losing_streak") == (
        "Last 3 closed trades lost USD 412.50 in total (EURUSD, XAUUSD, EURUSD)"
    )
    event = AuditEvent.objects.get(action="retention.flagged")
    assert event.target_id == str(flag.pk) and event.actor_label == "rule:retention"
    assert event.evidence["signals"] == ["inactive", "losing_streak"]
    assert audit_seal_all() and audit_chain_verify().ok

    agent = make_staff("retention_agent", desk=desk)
    login(client, agent)
    page = client.get(reverse("retention:queue")).content.decode()
    assert f'data-flag="{flag.pk}"' in page
    assert 'data-signal="losing_streak"' in page
    assert "Last 3 closed trades lost USD 412.50 in total (EURUSD, XAUUSD, EURUSD)" in page
    detail_page = client.get(reverse("retention:flag", args=[flag.pk])).content.decode()
    assert "No trade for 19 days (threshold 12)" in detail_page
    assert f"/backoffice/clients/{loser.pk}/" in detail_page


def test_active_unfunded_and_winning_clients_are_not_flagged_or_get_no_streak(db):
    active = make_client("active@test.example")
    make_deal(make_account(active), days_ago=5, profit="-20")
    unfunded = make_client("unfunded@test.example")
    make_account(unfunded, balance="0.00")
    # Quiet, but one of the last three closed trades won: no losing streak.
    mixed = make_client("mixed@test.example")
    account = make_account(mixed)
    for days, profit in [(22, "-10"), (21, "15"), (20, "-10")]:
        make_deal(account, days_ago=days, profit=profit)
    retention_flags_run()
    assert not RetentionFlag.objects.filter(client__in=[active, unfunded]).exists()
    assert codes(open_flag(mixed)) == ["inactive"]


def test_a_client_who_never_traded_counts_from_the_first_account(db):
    never = make_client("never@test.example")
    account = make_account(never, balance="300.00")
    type(account).objects.filter(pk=account.pk).update(
        opened_at=timezone.now() - timedelta(days=15)
    )
    fresh = make_client("fresh@test.example")
    make_account(fresh, balance="300.00")
    retention_flags_run()
    flag = open_flag(never)
    assert flag.days_inactive == 15 and flag.last_trade_at is None
    assert detail(flag, "inactive") == (
        "Never traded since the first account opened 15 days ago (threshold 12)"
    )
    assert not RetentionFlag.objects.filter(client=fresh).exists()


def test_a_desk_threshold_overrides_the_default_and_an_inactive_one_does_not(db, desk, desk_b):
    RetentionPolicy.objects.create(desk=desk, inactivity_days=30)
    on_a, _ = quiet_loser("a@test.example", desk=desk)
    on_b, _ = quiet_loser("b@test.example", desk=desk_b)
    retention_flags_run()
    assert not RetentionFlag.objects.filter(client=on_a).exists()
    assert detail(open_flag(on_b), "inactive") == "No trade for 19 days (threshold 12)"

    RetentionPolicy.objects.filter(desk=desk).update(inactivity_days=10)
    retention_flags_run()
    assert detail(open_flag(on_a), "inactive") == "No trade for 19 days (threshold 10)"

    # A desk policy switched off: the default applies again.
    RetentionPolicy.objects.filter(desk=desk).update(inactivity_days=30, is_active=False)
    retention_flags_run()
    assert detail(open_flag(on_a), "inactive") == "No trade for 19 days (threshold 12)"

    # Raised above the client's quiet days: the open flag clears, saying why.
    RetentionPolicy.objects.filter(desk=desk).update(is_active=True)
    assert retention_flags_run()["cleared"] == 1
    flag = RetentionFlag.objects.get(client=on_a)
    assert flag.status == "cleared"
    assert flag.cleared_reason == "Within the inactivity threshold again (30 days)"


def test_balance_drop_is_computed_from_the_last_7_days_and_not_flagged_at_39(db, desk):
    RetentionPolicy.objects.create(desk=desk, inactivity_days=3)
    # 1,000.00 a week ago: lost 250.00 trading, withdrew 200.00 -> 550.00 now (45% down).
    dropped = make_client("dropped@test.example", desk=desk)
    account = make_account(dropped, balance="550.00")
    make_deal(account, days_ago=9, profit="-500.00")  # before the window: not counted
    make_deal(account, days_ago=5, symbol="US30", profit="-250.00")
    make_deal(account, days_ago=2, action=Deal.Action.BALANCE, profit="-200.00")
    # 1,000.00 -> 610.00: 39%, under the 40% threshold.
    almost = make_client("almost@test.example", desk=desk)
    account2 = make_account(almost, balance="610.00")
    make_deal(account2, days_ago=4, profit="-390.00")
    retention_flags_run()

    flag = open_flag(dropped)
    assert codes(flag) == ["inactive", "balance_drop"]
    assert detail(flag, "balance_drop") == (
        f"Balance of account {account.login} fell 45% in 7 days, from USD 1,000.00 to "
        "USD 550.00 (trading USD -250.00, balance operations USD -200.00)"
    )
    assert codes(open_flag(almost)) == ["inactive"]

    # The desk lowers its bar to 35%: the 39% fall is a signal too.
    RetentionPolicy.objects.filter(desk=desk).update(balance_drop_percent=35)
    retention_flags_run()
    assert "fell 39% in 7 days" in detail(open_flag(almost), "balance_drop")


def test_a_failed_withdrawal_is_a_signal_from_finance(db, methods):
    client = finance_conftest.verified_client("payout@test.example")
    client.user.last_login = timezone.now()
    client.user.save()
    finance_conftest.deposit_paid(client, methods["stripe"], "500.00")
    w = withdrawal_request(client=client, amount="250", currency="USD", psp="stripe", actor="t")
    psp_event_apply(
        psp="stripe",
        event=finance_conftest.event(
            EventKind.PAYOUT_FAILED,
            reference=w.reference,
            provider_reference="po_failed",
            detail="The card has expired.",
        ),
    )
    make_deal(make_account(client), days_ago=14, profit="25")
    retention_flags_run()
    flag = open_flag(client)
    today = timezone.now()
    assert codes(flag) == ["inactive", "failed_withdrawal"]
    assert detail(flag, "failed_withdrawal") == (
        f"Withdrawal of USD 250.00 failed on {today.day} {today:%b}: The card has expired."
    )


def test_contributed_signals_are_listed_before_no_login_and_cannot_take_a_code(monkeypatch):
    from brokerage import hooks
    from clients.retention.signals import signal_labels

    assert list(signal_labels()) == [
        "inactive",
        "losing_streak",
        "balance_drop",
        "failed_withdrawal",  # finance's, from finance/contributions.py
        "no_login",
    ]
    monkeypatch.setattr(hooks, "_registry", {k: list(v) for k, v in hooks._registry.items()})
    hooks.contribute(hooks.RETENTION_SIGNALS, ("no_login", "Quiet", lambda ids, now: {}))
    with pytest.raises(ValueError, match="built-in"):
        signal_labels()


def test_no_login_since_the_policy_days_or_never(db):
    stale = make_client("stale@test.example", login_days_ago=20)
    never = make_client("nologin@test.example", login_days_ago=None)
    recent = make_client("recent@test.example", login_days_ago=13)
    for c in (stale, never, recent):
        make_deal(make_account(c), days_ago=13, profit="10")
    retention_flags_run()
    last = timezone.now() - timedelta(days=20)
    assert detail(open_flag(stale), "no_login") == (
        f"Last portal sign-in 20 days ago, on {last.day} {last:%b %Y} (threshold 14)"
    )
    assert detail(open_flag(never), "no_login") == "Has never signed in to the client portal"
    assert codes(open_flag(recent)) == ["inactive"]


def test_running_again_changes_nothing(db, desk):
    loser, _ = quiet_loser(desk=desk, login_days_ago=30)
    first = retention_flags_run()
    flag = open_flag(loser)
    events = AuditEvent.objects.count()
    second = retention_flags_run()
    assert (first["flagged"], second["flagged"], second["refreshed"], second["cleared"]) == (
        1,
        0,
        1,
        0,
    )
    again = open_flag(loser)
    assert again.pk == flag.pk and again.signals == flag.signals
    assert again.days_inactive == flag.days_inactive and again.flagged_at == flag.flagged_at
    assert RetentionFlag.objects.filter(client=loser).count() == 1
    assert AuditEvent.objects.count() == events
    # A day later the same flag is refreshed: one more day quiet, still one open flag.
    retention_flags_run(now=timezone.now() + timedelta(days=1))
    assert open_flag(loser).days_inactive == 20
    assert RetentionFlag.objects.filter(client=loser).count() == 1


def test_trading_again_clears_the_flag_on_sync_and_in_the_daily_run(db):
    one, account_one = quiet_loser("one@test.example")
    two, account_two = quiet_loser("two@test.example")
    retention_flags_run()

    make_deal(account_one, days_ago=0, profit="12.00")
    assert retention_flags_clear_on_trade(client_ids=[one.pk], actor="rule:platform_sync") == 1
    assert retention_flags_clear_on_trade(client_ids=[one.pk], actor="rule:platform_sync") == 0
    flag = RetentionFlag.objects.get(client=one)
    today = timezone.now()
    assert flag.status == "cleared" and flag.cleared_at is not None
    assert flag.cleared_reason == f"Traded again on {today.day} {today:%b %Y}"
    assert AuditEvent.objects.filter(
        action="retention.cleared", target_id=str(flag.pk), actor_label="rule:platform_sync"
    ).exists()

    # Nothing newer than the flag knew of (a late deal from before it): the flag stays open.
    assert retention_flags_clear_on_trade(client_ids=[two.pk], actor="rule:platform_sync") == 0
    make_deal(account_two, days_ago=0.1, symbol="NAS100", profit="-3.00")
    result = retention_flags_run()
    assert result["cleared"] == 1 and result["flagged"] == 0
    flag_two = RetentionFlag.objects.get(client=two)
    assert flag_two.status == "cleared" and flag_two.cleared_reason.startswith("Traded again on")
    assert not RetentionFlag.objects.filter(status="open").exists()
    assert audit_seal_all() and audit_chain_verify().ok


# --- Outreach ------------------------------------------------------------------------------------


def test_an_outreach_email_is_rendered_sent_and_logged(
    db, client, desk, django_capture_on_commit_callbacks
):
    loser, _ = quiet_loser(desk=desk, first_name="Maya")
    retention_flags_run()
    flag = open_flag(loser)
    agent = make_staff("retention_agent", desk=desk)
    login(client, agent)

    page = client.get(reverse("retention:flag", args=[flag.pk])).content.decode()
    template = OutreachTemplate.objects.get(name="Losing streak: risk management (email)")
    assert f'<option value="{template.pk}" selected>' in page  # the best match comes first
    subject, body = template_render(template, flag, agent=agent)
    assert subject == "A few ideas on managing risk, Maya"
    assert body.startswith("Hello Maya,") and "Retention_Agent Tester" in body

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("retention:action", args=[flag.pk]),
            {
                "template": template.pk,
                "channel": "email",
                "subject": subject,
                "body": body + "\nP.S. Our webinar is on Thursday.",
                "outcome": "",
            },
        )
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    sent = mail.outbox[0]
    assert sent.to == [loser.user.email] and sent.reply_to == [agent.email]
    assert sent.subject == subject and sent.body.endswith("Thursday.")

    action = RetentionAction.objects.get(flag=flag)
    assert (action.channel, action.template, action.actor) == ("email", template, agent)
    activity = ClientActivity.objects.get(client=loser)
    assert activity.kind == "outreach" and activity.subject == subject
    assert activity.data["flag_id"] == flag.pk
    flag.refresh_from_db()
    assert flag.last_contacted_at is not None and flag.last_outcome == ""
    assert AuditEvent.objects.filter(
        action="retention.email_sent", target_id=str(flag.pk), actor=agent
    ).exists()
    page = client.get(reverse("retention:flag", args=[flag.pk])).content.decode()
    assert 'data-action="email"' in page and "Our webinar is on Thursday." in page


def test_a_call_outcome_is_logged_and_a_call_needs_one(db, desk):
    loser, account = quiet_loser(desk=desk)
    retention_flags_run()
    flag = open_flag(loser)
    agent = make_staff("senior_account_manager", desk=desk)
    with pytest.raises(InvalidInput) as exc:
        retention_action_log(flag=flag, actor=agent, channel="call", body="Rang twice")
    assert "outcome" in exc.value.fields

    retention_action_log(
        flag=flag, actor=agent, channel="call", body="Will log in tonight.", outcome="reached"
    )
    flag.refresh_from_db()
    assert flag.last_outcome == "reached" and flag.last_contacted_at is not None
    call = ClientActivity.objects.get(client=loser, kind="call")
    assert call.data["outcome"] == "answered" and call.data["retention_outcome"] == "reached"
    assert len(mail.outbox) == 0
    assert AuditEvent.objects.filter(action="retention.call_logged", reason="Reached, will trade")

    # The queue filters by outcome and by "not contacted".
    assert list(retention_queue(user=agent, outcome="reached")) == [flag]
    assert list(retention_queue(user=agent, uncontacted=True)) == []

    # Another desk's agent may not log on this client; a cleared flag takes no outreach.
    other = make_staff("retention_agent", email="other@test.example", desk=None)
    with pytest.raises(NotAllowed):
        retention_action_log(flag=flag, actor=other, channel="call", outcome="no_answer")
    make_deal(account, days_ago=0, profit="8.00")
    retention_flags_clear_on_trade(client_ids=[loser.pk], actor="rule:platform_sync")
    with pytest.raises(InvalidInput):
        retention_action_log(flag=flag, actor=agent, channel="call", outcome="no_answer")


def test_templates_render_safely_and_come_in_the_clients_language(db):
    loser, _ = quiet_loser(language="de", first_name="Jonas")
    retention_flags_run()
    flag = open_flag(loser)
    odd = OutreachTemplate(name="odd", subject="Hi {first_name}", body="{nope} {first_name.x} { {")
    assert template_render(odd, flag) == ("Hi Jonas", "{nope} {first_name.x} { {")
    german = OutreachTemplate.objects.create(
        name="Verlustserie (E-Mail)",
        channel="email",
        signal="losing_streak",
        language="de",
        subject="Risikomanagement, {first_name}",
        body="Hallo {first_name}, {days_inactive} Tage, {currency} {balance}, {last_symbol}.",
    )
    ordered = templates_for(flag)
    assert ordered[0] == german
    assert ordered[1].name == "Losing streak: risk management (call script)"
    assert "Losing streak: risk management (email)" not in [t.name for t in ordered]
    assert {t.signal for t in ordered[2:4]} == {"inactive"}
    assert template_render(german, flag)[1] == "Hallo Jonas, 19 Tage, USD 2,500.00, EURUSD."
    loser.language = "fr"
    loser.save()
    flag = open_flag(loser)
    assert templates_for(flag)[0].name == "Losing streak: risk management (email)"


# --- Pages ----------------------------------------------------------------------------------------


def test_the_queue_is_scoped_to_the_agents_desks(db, client, desk, desk_b):
    mine, _ = quiet_loser("mine@test.example", desk=desk)
    theirs, _ = quiet_loser("theirs@test.example", desk=desk_b)
    retention_flags_run()
    agent = make_staff("retention_agent", desk=desk)
    login(client, agent)
    page = client.get(reverse("retention:queue")).content.decode()
    assert "mine@test.example" in page and "theirs@test.example" not in page
    assert client.get(reverse("retention:flag", args=[open_flag(mine).pk])).status_code == 200
    other_flag = open_flag(theirs)
    assert client.get(reverse("retention:flag", args=[other_flag.pk])).status_code == 403
    response = client.post(
        reverse("retention:action", args=[other_flag.pk]),
        {"channel": "call", "outcome": "no_answer"},
    )
    assert response.status_code == 403 and not RetentionAction.objects.exists()
    assert client.get(reverse("retention:flag", args=[999999])).status_code == 404
    # Filters: search and signal.
    page = client.get(reverse("retention:queue"), {"q": "nobody-here"}).content.decode()
    assert "mine@test.example" not in page
    page = client.get(reverse("retention:queue"), {"signal": "no_login"}).content.decode()
    assert "mine@test.example" not in page
    htmx = client.get(
        reverse("retention:queue"),
        {"signal": "losing_streak"},
        headers={"HX-Request": "true", "HX-Target": "queue-table"},
    ).content.decode()
    assert htmx.startswith('\n<div id="queue-table">') and "mine@test.example" in htmx


@pytest.mark.parametrize(
    "role", ["sales_agent", "compliance_officer", "finance_officer", "ib_manager", "ops_admin"]
)
def test_roles_without_work_retention_are_refused(db, client, role):
    loser, _ = quiet_loser()
    retention_flags_run()
    login(client, make_staff(role))
    flag = open_flag(loser)
    for url in (
        reverse("retention:queue"),
        reverse("retention:flag", args=[flag.pk]),
    ):
        assert client.get(url).status_code == 403
    response = client.post(
        reverse("retention:action", args=[flag.pk]), {"channel": "call", "outcome": "reached"}
    )
    assert response.status_code == 403


def test_clients_and_anonymous_visitors_are_kept_out(db, client):
    loser, _ = quiet_loser()
    retention_flags_run()
    flag = open_flag(loser)
    for url in (
        reverse("retention:queue"),
        reverse("retention:flag", args=[flag.pk]),
        reverse("retention:settings"),
    ):
        assert client.get(url)["Location"].startswith("/accounts/login/")
    login(client, loser.user)
    assert client.get(reverse("retention:queue")).status_code == 403


def test_the_queue_costs_the_same_queries_for_2_or_20_flags(db, client, desk):
    agent = make_staff("retention_agent", desk=desk)
    login(client, agent)

    def queries_for(n):
        for i in range(RetentionFlag.objects.count(), n):
            quiet_loser(f"q{i}@test.example", desk=desk, login_days_ago=40)
        retention_flags_run()
        assert RetentionFlag.objects.filter(status="open").count() == n
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(reverse("retention:queue"))
        assert response.status_code == 200
        return len(ctx.captured_queries)

    few, many = queries_for(2), queries_for(20)
    assert few == many, (few, many)
    assert many <= 16


def test_settings_desk_managers_set_their_desks_ops_set_the_default(db, client, desk, desk_b):
    manager = make_staff("desk_manager", desk=desk)
    login(client, manager)
    page = client.get(reverse("retention:settings")).content.decode()
    assert 'data-policy="default"' in page and "Set by operations." in page
    assert f'data-policy="{desk.pk}"' in page and f'data-policy="{desk_b.pk}"' not in page
    response = client.post(
        reverse("retention:settings"),
        {
            "desk": str(desk.pk),
            f"p{desk.pk}-inactivity_days": "20",
            f"p{desk.pk}-balance_drop_percent": "30",
            f"p{desk.pk}-no_login_days": "10",
            f"p{desk.pk}-is_active": "on",
        },
    )
    assert response.status_code == 302
    policy = RetentionPolicy.objects.get(desk=desk)
    assert (policy.inactivity_days, policy.balance_drop_percent, policy.no_login_days) == (
        20,
        30,
        10,
    )
    assert AuditEvent.objects.filter(action="retention.policy_set", actor=manager).exists()
    for key in (str(desk_b.pk), "default"):
        response = client.post(
            reverse("retention:settings"),
            {"desk": key, f"p{key}-inactivity_days": "5", f"p{key}-balance_drop_percent": "5"},
        )
        assert response.status_code == 403
    bad = client.post(
        reverse("retention:settings"),
        {
            "desk": str(desk.pk),
            f"p{desk.pk}-inactivity_days": "0",
            f"p{desk.pk}-balance_drop_percent": "30",
            f"p{desk.pk}-no_login_days": "10",
        },
    )
    assert bad.status_code == 400 and RetentionPolicy.objects.get(desk=desk).inactivity_days == 20
    with pytest.raises(NotAllowed):
        retention_policy_set(
            actor=manager,
            desk=None,
            inactivity_days=5,
            balance_drop_percent=40,
            no_login_days=14,
        )

    ops = make_staff("ops_admin")
    login(client, ops)
    response = client.post(
        reverse("retention:settings"),
        {
            "desk": "default",
            "pdefault-inactivity_days": "9",
            "pdefault-balance_drop_percent": "40",
            "pdefault-no_login_days": "14",
        },
    )
    assert response.status_code == 302
    assert RetentionPolicy.objects.get(desk=None).inactivity_days == 9
    login(client, make_staff("retention_agent", desk=desk))
    assert client.get(reverse("retention:settings")).status_code == 403


def test_the_daily_task_is_scheduled(db):
    from brokerage.celery import app
    from clients.tasks import retention_flags_task

    entry = app.conf.beat_schedule["clients-retention-flags"]
    assert entry["task"] == "clients.tasks.retention_flags_task"
    assert (entry["schedule"].hour, entry["schedule"].minute) == ({5}, {30})
    loser, _ = quiet_loser()
    assert retention_flags_task.apply().get()["flagged"] == 1
    assert open_flag(loser)
