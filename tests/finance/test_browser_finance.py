"""Finance in the browser: an officer signs in with TOTP, reviews a withdrawal the checks
flagged, approves it with a reason, and the payout goes out through the PSP sandbox."""

import re

import pytest

from finance.services import withdrawal_request
from tests.conftest import (
    PASSWORD,
    fresh_totp_code,
    make_staff,
    start_worker,
    stop_worker,
    wait_for,
)
from tests.finance.conftest import fresh, verified_client
from tests.finance.test_reliability import sandbox_deposit

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_finance_officer_approves_a_flagged_withdrawal_and_it_is_paid(
    live_server, page, psp_sandbox, methods
):
    make_staff("finance_officer")
    client = verified_client()
    sandbox_deposit(live_server, psp_sandbox, client, methods["stripe"], "5000.00")
    w = withdrawal_request(client=client, amount="2500.00", currency="USD", psp="stripe", actor="t")
    assert w.status == "in_review"
    env = {f"{p.upper()}_API_URL": f"{psp_sandbox}/{p}" for p in ("stripe", "checkout")}
    worker = start_worker(env)
    try:
        page.goto(f"{live_server.url}/backoffice/finance/withdrawals/")
        page.fill("input[name=login]", "finance_officer@test.example")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(r"/accounts/2fa/authenticate/"))
        page.fill("input[name=code]", fresh_totp_code())
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(r"/backoffice/finance/withdrawals/"))
        row = page.locator(f"tr[data-withdrawal='{w.pk}']")
        assert "Amount threshold" in row.inner_text()
        row.locator("a").first.click()
        assert page.locator("[data-reason=amount_threshold]").is_visible()
        page.check("input[name=action][value=approve]")
        page.fill("textarea[name=reason]", "Source of funds: salary slips on file")
        page.click("button:has-text('Record decision')")
        page.wait_for_url(re.compile(r"/backoffice/finance/withdrawals/$"))
        assert page.locator("text=Approved: the payout is queued.").is_visible()
        assert wait_for(lambda: fresh(w).status == "paid", timeout=30), fresh(w)
        page.goto(f"{live_server.url}/backoffice/finance/withdrawals/{w.pk}/")
        assert "Paid" in page.locator("h1").inner_text()
        assert page.console_errors == []
    finally:
        stop_worker(worker)
