"""In the browser: after the platform corrected one deal and deleted another, the partner's
commissions show the reversal lines labelled, with their why; an IB manager sees them on the
partner's page; the client 360 marks the two deals. At a phone's width and a desktop's, saved
as test-artifacts/ib-revisions-*-<width>.png."""

import pytest

from ib.revisions import revision_pay
from tests.conftest import ARTIFACTS, make_staff
from tests.ib.test_commissions import network, pay_all, trade  # noqa: F401
from tests.ib.test_deal_revisions import corrected, removed
from tests.ib.test_disputes_browser import DESKTOP, PHONE, _context, _shoot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_reversal_lines_and_revised_deals_read_well_at_both_widths(
    live_server,
    browser,
    network,  # noqa: F811
):
    fixed = trade(network["account"], volume=10000)
    gone = trade(network["account"], volume=20000)
    pay_all()
    revision_pay(revision_id=corrected(fixed, volume=5000, volume_ext=50_000_000).pk)
    revision_pay(revision_id=removed(gone).pk)
    manager = make_staff("ib_manager")
    officer = make_staff("compliance_officer")
    problems = []
    for width in (PHONE, DESKTOP):
        partner = _context(browser, live_server, network["leaf"].user, width)
        page = partner.new_page()
        page.goto(f"{live_server.url}/partners/commissions/")
        table = page.inner_text("table")
        assert table.count("Reversal") == 2 and "corrected on the platform" in table
        problems += _shoot(page, "revisions-partner-commissions", width)
        partner.close()

        staff = _context(browser, live_server, manager, width)
        page = staff.new_page()
        page.goto(f"{live_server.url}/backoffice/ib/partners/{network['leaf'].pk}/")
        assert "removed on the platform" in page.inner_text("table.lines-table")
        problems += _shoot(page, "revisions-partner-page", width)
        staff.close()

        staff = _context(browser, live_server, officer, width)
        page = staff.new_page()
        page.goto(f"{live_server.url}/backoffice/clients/{network['client'].pk}/")
        marks = page.inner_text("[data-deals]")
        assert "Corrected on the platform" in marks and "Removed on the platform" in marks
        page.locator("[data-deals]").screenshot(
            path=str(ARTIFACTS / f"ib-revisions-360-deals-{width}.png")
        )
        problems += _shoot(page, "revisions-client-360", width)
        staff.close()
    assert not problems, problems
