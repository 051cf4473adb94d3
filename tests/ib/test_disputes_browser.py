"""In the browser: a partner disputes a line, an IB manager sees the recompute and adjusts it
(below the four-eyes threshold), and the partner sees the outcome; the new pages at a phone's
width and a desktop's, saved as test-artifacts/ib-*-<width>.png."""

from datetime import timedelta

import pytest
from django.test import Client as DjangoClient
from django.utils import timezone

from ib.disputes import dispute_open
from ib.models import CommissionDispute, CommissionLine
from tests.conftest import ARTIFACTS, browser_session, layout_problems, login, make_staff
from tests.ib.test_commissions import network, pay_all, trade  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PHONE, DESKTOP = 390, 1440


def _context(browser, live_server, user, width):
    session = DjangoClient()
    login(session, user)
    context = browser.new_context(viewport={"width": width, "height": 900})
    browser_session(context, session, live_server)
    return context


def _shoot(page, name: str, width: int) -> list[str]:
    """Save the page and say what is wrong with its layout (at a phone's width a table may
    scroll sideways inside its card; the page itself never)."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"ib-{name}-{width}.png"), full_page=True)
    problems = layout_problems(page)
    if width == PHONE:
        problems = [p for p in problems if not p.startswith("a table scrolls sideways")]
    return [f"{name} at {width}: {p}" for p in problems]


def test_a_partner_disputes_a_line_a_manager_adjusts_it_and_the_partner_sees_it(
    live_server,
    browser,
    network,  # noqa: F811
    settings,
):
    settings.IB_ADJUSTMENT_APPROVAL_THRESHOLD = "100"
    deals = [
        trade(network["account"], volume=v, at=timezone.now() - timedelta(hours=2))
        for v in (15000, 30000)
    ]
    pay_all()
    line = CommissionLine.objects.get(deal=deals[0], partner=network["leaf"])
    held = CommissionLine.objects.get(deal=deals[1], partner=network["leaf"])
    CommissionLine.objects.filter(pk=held.pk).update(
        status="withheld",
        hold_reasons=[
            {"code": "related_client", "message": "Same phone as the partner's own client."}
        ],
    )
    manager = make_staff("ib_manager")
    problems = []

    # The partner disputes the line from its commissions.
    partner = _context(browser, live_server, network["leaf"].user, DESKTOP)
    page = partner.new_page()
    page.goto(f"{live_server.url}/partners/commissions/")
    assert "Withheld for review" in page.inner_text("table")
    assert "Same phone" not in page.content()
    page.click(f"[data-dispute-line='{line.pk}']")
    page.wait_for_url(f"**/partners/commissions/{line.pk}/dispute/")
    problems += _shoot(page, "partner-dispute-new", DESKTOP)
    page.fill("textarea[name=reason]", "The client closed 2 lots, the line pays 1.5.")
    page.click("[data-action=open-dispute]")
    page.wait_for_url("**/partners/disputes/")
    opened = CommissionDispute.objects.get()
    assert "Under review" in page.inner_text(f"[data-dispute='{opened.pk}']")

    # The IB manager finds it in the queue, sees the recompute, adjusts it below the threshold.
    staff = _context(browser, live_server, manager, DESKTOP)
    bo = staff.new_page()
    bo.goto(f"{live_server.url}/backoffice/ib/disputes/")
    problems += _shoot(bo, "disputes", DESKTOP)
    bo.click("[data-dispute] a")
    assert "1.5 lots x 5 per lot" in bo.inner_text("[data-comparison]")
    problems += _shoot(bo, "dispute", DESKTOP)
    bo.fill("input[name=adjust-amount]", "2.50")
    bo.fill("textarea[name=adjust-reason]", "0.5 lots were not paid.")
    bo.click("[data-action=adjust]")
    bo.wait_for_selector("[data-outcome]")
    assert "USD 2.50" in bo.inner_text("[data-outcome]")
    problems += _shoot(bo, "dispute-decided", DESKTOP)
    bo.goto(f"{live_server.url}/backoffice/ib/withheld/")
    assert "Same phone as the partner's own client." in bo.inner_text("[data-reasons]")
    problems += _shoot(bo, "withheld", DESKTOP)

    # The partner sees the outcome.
    page.goto(f"{live_server.url}/partners/disputes/")
    outcome = page.inner_text("[data-outcome]")
    assert "USD 2.50" in outcome and "0.5 lots were not paid." in outcome
    problems += _shoot(page, "partner-disputes", DESKTOP)
    dispute = CommissionDispute.objects.get()
    assert dispute.status == "adjusted" and dispute.adjustment.amount == 2.5
    partner.close()
    staff.close()
    again = dispute_open(
        partner=network["leaf"], line_id=line.pk, reason="And the swap.", actor=network["leaf"].user
    )

    # The same pages at a phone's width.
    for user, paths in (
        (
            network["leaf"].user,
            [
                ("partner-disputes", "/partners/disputes/"),
                ("partner-dispute-new", f"/partners/commissions/{line.pk}/dispute/"),
            ],
        ),
        (
            manager,
            [
                ("disputes", "/backoffice/ib/disputes/"),
                ("dispute-decided", f"/backoffice/ib/disputes/{dispute.pk}/"),
                ("dispute", f"/backoffice/ib/disputes/{again.pk}/"),
                ("withheld", "/backoffice/ib/withheld/"),
            ],
        ),
    ):
        context = _context(browser, live_server, user, PHONE)
        phone = context.new_page()
        for name, path in paths:
            assert phone.goto(f"{live_server.url}{path}").status == 200
            problems += _shoot(phone, name, PHONE)
        context.close()
    assert problems == []
