"""The audit log in the browser: the whole log, one client's trail and an event's page render
their key parts without console errors or sideways scrolling; screenshots go to test-artifacts/
(backoffice-audit-*.png; docs/screenshots/ copies them)."""

import pytest

from brokerage.audit import audit_record, audit_seal_all
from clients.models import Client
from clients.services import client_restrict
from tests.conftest import (
    browser_session,
    login,
    make_client_user,
    make_staff,
    screen_check,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_audit_log_pages_in_the_browser(live_server, page, client):
    officer = make_staff("compliance_officer", email="ines.moreau@broker.test")
    customer = Client.objects.get(user=make_client_user("maya.lindqvist@trader.test"))
    client_restrict(client=customer, actor=officer, reason="Source of funds not yet documented")
    audit_seal_all()
    pending = audit_record(actor=officer, action="staff.updated", target=officer)
    login(client, officer)
    browser_session(page.context, client, live_server)
    pages = [
        ("log", "/backoffice/audit/", "table tbody tr"),
        ("client-trail", f"/backoffice/audit/?subject={customer.pk}", "a[title*='whole trail']"),
        ("event", f"/backoffice/audit/{pending.pk}/", "text=being sealed"),
    ]
    problems = []
    for name, path, key in pages:
        problems += screen_check(page, live_server, f"backoffice-audit-{name}", path, key)
    assert problems == [], problems
    assert page.console_errors == []

    trail = page.goto(f"{live_server.url}/backoffice/audit/?subject={customer.pk}")
    assert trail.status == 200
    assert page.locator("td", has_text="Client restricted").first.is_visible()
    assert page.locator("td", has_text="Staff updated").count() == 0
