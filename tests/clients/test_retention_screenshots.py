"""The retention pages in the browser on a realistic desk: each renders its key parts without
console errors or sideways scrolling, and a full-page screenshot of each is saved to
test-artifacts/ (backoffice-retention-<page>.png; the ones in docs/screenshots/ are copied from
there)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from brokerage.models import Desk, User
from clients.models import (
    Deal,
    OutreachTemplate,
    RetentionAction,
    RetentionFlag,
    RetentionPolicy,
    TradingAccount,
)
from clients.retention.selectors import template_render
from clients.retention.services import retention_action_log, retention_flags_run
from finance.psp import EventKind
from finance.services import psp_event_apply, withdrawal_request
from tests.clients.factories import make_account, make_deal
from tests.conftest import (
    browser_session,
    login,
    make_client_user,
    make_staff,
    screen_check,
)
from tests.finance import conftest as finance_conftest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

methods = finance_conftest.methods

PEOPLE = [
    # name, quiet days, last 3 closed trades, balance op in the last 7 days, days since login
    ("Maya Lindqvist", 27, [("EURUSD", -180), ("XAUUSD", -157), ("EURUSD", -75.5)], None, 31),
    ("Omar Haddad", 19, [("NAS100", -410), ("US30", -95), ("NAS100", -62)], -2200, 3),
    ("Chloe Martin", 15, [("GBPUSD", 42), ("EURUSD", -18), ("GBPUSD", 12)], None, 22),
    ("Lukas Becker", 33, [("BTCUSD", -520), ("ETHUSD", -240), ("BTCUSD", -130)], None, 2),
    ("Aisha Rahman", 13, [("XAUUSD", 85), ("XAUUSD", 40), ("XAGUSD", -12)], -3500, 1),
    ("Daniel Novak", 22, [("USDJPY", 15), ("USDJPY", -30), ("EURJPY", 8)], None, 50),
    ("Sofia Rossi", 41, [("GER40", -60), ("GER40", -45), ("US500", -38)], None, None),
    ("James O'Connor", 16, [("USOIL", 120), ("USOIL", -40), ("USOIL", 35)], None, 4),
    ("Priya Nair", 12, [("EURGBP", 5), ("EURGBP", 7), ("EURGBP", -3)], None, 2),
    ("Tomás Silva", 18, [("AUDUSD", -25), ("USDCAD", 10), ("AUDUSD", -22)], None, 16),
]


def build_desk(methods):
    desk = Desk.objects.create(name="London", languages=["en"])
    manager = make_staff("desk_manager", email="helen.ward@broker.test", desk=desk)
    manager.first_name, manager.last_name = "Helen", "Ward"
    manager.save()
    agent = make_staff("retention_agent", email="sam.cole@broker.test", desk=desk)
    agent.first_name, agent.last_name = "Sam", "Cole"
    agent.save()
    RetentionPolicy.objects.create(desk=desk, inactivity_days=12, no_login_days=14)
    now = timezone.now()
    clients = []
    for i, (name, quiet, trades, balance_op, login_days) in enumerate(PEOPLE):
        first, last = name.split(" ", 1)
        email = f"{first.lower()}.{last.lower().replace(' ', '').replace(chr(39), '')}@mail.test"
        if i == 0:
            client = finance_conftest.verified_client(email)
        else:
            client = make_client_user(email).client
        user = client.user
        user.first_name, user.last_name = first, last
        user.last_login = None if login_days is None else now - timedelta(days=login_days)
        user.save()
        client.desk, client.account_manager = desk, agent if i % 3 else manager
        client.phone, client.country, client.kyc_level = f"+4479111{i:05d}", "GB", 1
        client.first_deposit_at = now - timedelta(days=90 + i)
        client.save()
        balance = 2500 + 750 * i
        account = make_account(client, balance=f"{balance}.00", login=51_000 + i)
        for j, (symbol, profit) in enumerate(trades):
            make_deal(
                account,
                days_ago=quiet + (len(trades) - j) * 0.6,
                entry=Deal.Entry.IN,
                symbol=symbol,
                volume=5000 + 2500 * j,
            )
            make_deal(
                account,
                days_ago=quiet + (len(trades) - 1 - j) * 0.6,
                symbol=symbol,
                volume=5000 + 2500 * j,
                profit=f"{profit:.2f}",
                commission="-3.50",
            )
        if balance_op:
            make_deal(account, days_ago=2, action=Deal.Action.BALANCE, profit=f"{balance_op}")
            TradingAccount.objects.filter(pk=account.pk).update(
                balance_amount=balance + balance_op, equity_amount=balance + balance_op
            )
        clients.append(client)
    # Maya's payout to her card failed last week.
    maya = clients[0]
    finance_conftest.deposit_paid(maya, methods["stripe"], "1200.00")
    w = withdrawal_request(client=maya, amount="400", currency="USD", psp="stripe", actor="t")
    psp_event_apply(
        psp="stripe",
        event=finance_conftest.event(
            EventKind.PAYOUT_FAILED,
            reference=w.reference,
            provider_reference="po_3PfailedX",
            detail="Card expired: the issuer declined the refund to card ending 4242.",
        ),
    )
    retention_flags_run()
    flags = {f.client_id: f for f in RetentionFlag.objects.filter(status="open")}
    # Some outreach over the last days: calls, emails and their outcomes.
    call_template = OutreachTemplate.objects.get(name="Inactive: check-in (call script)")
    log = [
        (0, "call", "no_answer", 3),
        (0, "email", "", 3),
        (1, "call", "no_answer", 3),
        (1, "call", "call_back", 1),
        (3, "email", "", 2),
        (4, "call", "reached", 1),
        (5, "call", "not_interested", 4),
        (7, "call", "deposit", 0),
        (2, "email", "", 0),
    ]
    for idx, channel, outcome, days_ago in log:
        flag = flags[clients[idx].pk]
        template = (
            OutreachTemplate.objects.filter(channel="email", signal="inactive").first()
            if channel == "email"
            else call_template
        )
        subject, body = template_render(template, flag, agent=agent)
        action = retention_action_log(
            flag=flag,
            actor=agent,
            channel=channel,
            template=template,
            subject=subject,
            body=body if channel == "email" else "Spoke briefly; see outcome.",
            outcome=outcome,
        )
        at = now - timedelta(days=days_ago, hours=2)
        RetentionAction.objects.filter(pk=action.pk).update(created_at=at)
        RetentionFlag.objects.filter(pk=flag.pk).update(last_contacted_at=at)
    return agent, flags[maya.pk]


def test_retention_pages_in_the_browser(live_server, page, client, methods):
    agent, flag = build_desk(methods)
    login(client, agent)
    browser_session(page.context, client, live_server)
    pages = [
        ("queue", "/backoffice/retention/", f"tr[data-flag='{flag.pk}']"),
        ("flag", f"/backoffice/retention/flags/{flag.pk}/", "[data-signal=failed_withdrawal]"),
    ]
    problems = []
    for name, path, key in pages:
        problems += screen_check(page, live_server, f"backoffice-retention-{name}", path, key)
    assert problems == [], problems

    # The queue's charts are drawn with the open flags in them.
    page.goto(f"{live_server.url}/backoffice/retention/")
    drawn = page.evaluate(
        "() => { const c = Chart.getChart(document.querySelector("
        "'canvas[data-chart=flags-by-signal]')); return c ? c.data.datasets[0].data"
        ".reduce((a, b) => a + b, 0) : -1; }"
    )
    assert drawn >= len(PEOPLE)
    # Choosing another template reloads the outreach card with it (htmx).
    page.goto(f"{live_server.url}/backoffice/retention/flags/{flag.pk}/")
    call = OutreachTemplate.objects.get(
        name="Failed withdrawal: help with the payment (call script)"
    )
    page.select_option("select[name=template]", str(call.pk))
    page.wait_for_function(
        "() => document.querySelector('textarea[name=body]').value.includes('apologise')"
    )
    assert page.locator("input[name=channel][value=call]").is_checked()
    assert page.console_errors == []

    # The desk manager's thresholds page.
    login(client, User.objects.get(email="helen.ward@broker.test"))
    page.context.clear_cookies()
    browser_session(page.context, client, live_server)
    path = "/backoffice/retention/settings/"
    settings_page = "backoffice-retention-settings"
    assert screen_check(page, live_server, settings_page, path, "[data-policy=default]") == []
