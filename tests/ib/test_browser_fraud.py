"""The fraud checks page in the browser, at a phone's width and a desk's: every signal with its
thresholds and how many lines it holds, nothing wider than the screen."""

import pytest

from clients.models import Client
from tests.conftest import ARTIFACTS, browser_session, layout_problems, login, make_staff
from tests.ib.test_commissions import pay_all, trade

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("width", [390, 1440])
def test_the_fraud_checks_page_reads_at_both_widths(browser, client, live_server, network, width):
    for pk in (network["leaf"].holder.pk, network["client"].pk):
        Client.objects.filter(pk=pk).update(phone="+447700900123")
    trade(network["account"])
    pay_all()
    login(client, make_staff("ib_manager"))
    context = browser.new_context(viewport={"width": width, "height": 900})
    browser_session(context, client, live_server)
    page = context.new_page()
    page.goto(f"{live_server.url}/backoffice/ib/fraud/")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"backoffice-ib-fraud-{width}.png"), full_page=True)
    assert page.locator("[data-signal]").count() == 5
    assert "1 withheld" in page.locator("[data-signal=related_client]").inner_text()
    assert page.locator("#cycling_accounts").input_value() == "2"
    assert layout_problems(page) == []
    context.close()
