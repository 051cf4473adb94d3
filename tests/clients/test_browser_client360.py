"""In the browser: a client raises a ticket in the portal and a retention agent answers it from
the client 360; screenshots of the 360, the client list and the ticket queue for docs/."""

import shutil
from pathlib import Path

import pytest
from django.core import mail
from django.test import Client as DjangoClient

from clients.models import SupportTicket
from tests.clients.test_client360 import client_on, desks, history, rich  # noqa: F401
from tests.conftest import ARTIFACTS, browser_session, layout_problems, login, screen_check

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
NAMES = [
    "Omar Haddad",
    "Lena Fischer",
    "Marco Rossi",
    "Aisha Khan",
    "Pieter de Vries",
    "Sofia Lima",
]
DOCS = Path(__file__).resolve().parent.parent.parent / "docs" / "screenshots"


def signed_in(browser, client, user, live_server):
    """A browser page signed in as `user` (the session of a completed password + TOTP login)."""
    client = DjangoClient()  # its own session: signing in another user keeps this one
    login(client, user)
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    browser_session(context, client, live_server)
    page = context.new_page()
    page.console_errors = []
    page.on("console", lambda m: page.console_errors.append(m.text) if m.type == "error" else None)
    return page


def test_client_raises_a_ticket_and_the_agent_answers_from_the_360(
    live_server,
    browser,
    client,
    rich,  # noqa: F811
):
    trader = rich["client"]
    portal = signed_in(browser, client, trader.user, live_server)
    portal.goto(f"{live_server.url}/portal/")
    portal.click("nav >> text=Support")
    portal.select_option("select[name=category]", "withdrawal")
    portal.fill("input[name=subject]", "Where is my withdrawal?")
    portal.fill("textarea[name=body]", "I asked for USD 1.00 on Monday and it has not arrived.")
    portal.click("form[data-form=new-ticket] button[type=submit]")
    portal.wait_for_selector("[data-conversation]")
    ticket = SupportTicket.objects.get(subject="Where is my withdrawal?")
    assert portal.locator("[data-status]").inner_text() == "waiting for our reply"

    agent = signed_in(browser, client, rich["agent"], live_server)
    agent.goto(f"{live_server.url}/backoffice/clients/")
    agent.click(f"tr[data-client='{trader.pk}'] a")
    agent.wait_for_selector("section[data-section=tickets]")
    assert agent.locator(f"tr[data-ticket='{ticket.pk}'] [data-status=open]").is_visible()
    agent.click(f"tr[data-ticket='{ticket.pk}'] a")
    agent.wait_for_selector("form[data-form=reply]")
    agent.fill("textarea[name=body]", "It was paid out today: allow one business day.")
    mail.outbox.clear()
    agent.click("form[data-form=reply] button[type=submit]")
    agent.wait_for_selector(".alert-success")
    ticket.refresh_from_db()
    assert ticket.status == "answered" and ticket.assigned_to == rich["agent"]
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [trader.user.email]
    assert f"/portal/support/{ticket.pk}/" in mail.outbox[0].body

    portal.reload()
    assert portal.locator("[data-status]").inner_text() == "answered"
    assert "allow one business day" in portal.locator("[data-conversation]").inner_text()
    assert layout_problems(portal) == []
    ARTIFACTS.mkdir(exist_ok=True)
    portal.screenshot(path=str(ARTIFACTS / "portal-support-ticket.png"), full_page=True)
    shutil.copy(ARTIFACTS / "portal-support-ticket.png", DOCS / "portal-support-ticket.png")
    agent.goto(f"{live_server.url}/backoffice/clients/{trader.pk}/")
    # the ticket's two emails to the client: received, then answered
    assert agent.locator("[data-communications] [data-kind=email]").count() == 2
    assert portal.console_errors == [] and agent.console_errors == []


def test_screenshots_of_the_360_list_and_ticket_queue(
    live_server,
    browser,
    client,
    rich,  # noqa: F811
):
    c = rich["client"]
    history(c, rich["account"], rich["lead"], rich["wallet"], 12)
    for i in range(6):
        other = client_on(c.desk, f"client{i}@test.example", country="GB", kyc_level=i % 2)
        first_name, last_name = NAMES[i].split(" ", 1)
        type(other.user).objects.filter(pk=other.user_id).update(
            first_name=first_name, last_name=last_name
        )
        t = SupportTicket.objects.create(
            client=other, subject=["Card declined", "Leverage change", "Statement copy"][i % 3]
        )
        t.messages.create(body="Hello", author=other.user)
    first = c.tickets.order_by("pk").first()
    first.messages.create(
        body="Of course: it is paid out today.", author=rich["agent"], from_staff=True
    )
    page = signed_in(browser, client, rich["agent"], live_server)
    ARTIFACTS.mkdir(exist_ok=True)
    DOCS.mkdir(parents=True, exist_ok=True)
    problems = []
    for name, path, key in [
        ("client-360", f"/backoffice/clients/{c.pk}/", "canvas[data-chart=client-deals-per-day]"),
        ("clients-list", "/backoffice/clients/", "table tbody tr[data-client]"),
        ("support-tickets", "/backoffice/clients/tickets/?status=", "table tbody tr[data-ticket]"),
        (
            "support-ticket",
            f"/backoffice/clients/tickets/{first.pk}/",
            "[data-conversation]",
        ),
    ]:
        problems += screen_check(page, live_server, f"backoffice-{name}", path, key)
        shutil.copy(ARTIFACTS / f"backoffice-{name}.png", DOCS / f"backoffice-{name}.png")
    assert problems == [], problems
    page.goto(f"{live_server.url}/backoffice/clients/{c.pk}/")
    drawn = page.evaluate(
        "() => { const c = Chart.getChart(document.querySelector("
        "'canvas[data-chart=client-deals-per-day]'));"
        " return c ? c.data.datasets[0].data.reduce((a, b) => a + b, 0) : -1; }"
    )
    assert drawn > 0
    assert page.console_errors == []
