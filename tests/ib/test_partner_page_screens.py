"""The partner's back-office page with its API tokens and the emails sent to it, at a phone's
width (390 px) and a desktop's (1440 px): no sideways scrolling; screenshots go to
test-artifacts/."""

import pytest

from clients.notify import client_notify
from ib.tokens import partner_token_create
from tests.conftest import browser_session, login, make_staff, screen_check
from tests.ib.test_commissions import pay_all, trade

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_partner_page_with_tokens_and_emails_at_both_widths(live_server, page, client, network):
    leaf = network["leaf"]
    for name in ("Reporting spreadsheet for the accounting department", "CRM sync"):
        partner_token_create(partner=leaf, name=name, actor=leaf.user)
    client_notify(
        leaf.holder,
        email="partner_application_decided",
        key="screens-partner-email",
        actor="rule:test",
        url_name="partners:home",
        context={"approved": True, "programme": "Standard IB", "reason": "", "partner_area": True},
    )
    trade(network["account"], volume=12345)  # a line in the lines table
    pay_all()
    login(client, make_staff("ib_manager"))
    problems = []
    for width, height in ((390, 844), (1440, 900)):
        page.set_viewport_size({"width": width, "height": height})
        page.context.clear_cookies()
        browser_session(page.context, client, live_server)
        problems += screen_check(
            page, live_server, f"backoffice-ib-partner-{width}",
            f"/backoffice/ib/partners/{leaf.pk}/", "[data-tokens]",
        )  # fmt: skip
    assert not problems, problems
