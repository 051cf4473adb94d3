"""The monitoring's pages in the browser at a phone's width (390 px) and a desktop's (1440
px): each renders its key part without a console error or a page wider than the window, and
a full-page screenshot of each is saved to test-artifacts/ (aml-<page>-<width>.png). A
backtest the officer asks for runs on a real worker while the page polls its progress."""

import pytest
from django.urls import reverse

from compliance.monitoring import evaluate_transaction, run_nightly
from compliance.monitoring.models import Scenario
from compliance.monitoring.services import version_draft
from tests.conftest import browser_session, login, make_staff, screen_check, shipped_defaults

from . import factories as f

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def monitored_book():
    shipped_defaults()
    officer = make_staff("compliance_officer")
    c = f.client("Ola Nordmann-Søreide")
    rows = [f.deposit(c, amount, at=f.ago(n + 1)) for n, amount in enumerate([9500, 9600, 9700])]
    (alert,) = evaluate_transaction("deposit", rows[-1].pk)
    for n in range(3):
        other = f.client(f"Client Number{n}")
        f.deposit(other, 5000, at=f.ago(20 + 7 * n))
        f.withdrawal(other, 4800, at=f.ago(18 + 7 * n))
    run_nightly()
    version_draft(
        scenario=Scenario.objects.get(code="structuring"), actor=officer, params={"min_count": 2}
    )
    return officer, alert


@pytest.mark.parametrize("width", [390, 1440])
def test_monitoring_pages_fit_the_screen(browser, client, live_server, worker, width):
    officer, alert = monitored_book()
    login(client, officer)
    context = browser.new_context(viewport={"width": width, "height": 900})
    browser_session(context, client, live_server)
    page = context.new_page()
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    problems = []
    for name, path, key in (
        ("alerts", reverse("compliance:aml_alerts"), "[data-aml-alerts]"),
        ("alert", reverse("compliance:aml_alert", args=[alert.pk]), "[data-evidence]"),
        ("scenarios", reverse("compliance:aml_scenarios"), "canvas[data-chart]"),
        ("scenario", reverse("compliance:aml_scenario", args=["structuring"]), "[data-backtest]"),
    ):
        problems += screen_check(page, live_server, f"aml-{name}-{width}", path, key)
    page.goto(f"{live_server.url}{reverse('compliance:aml_scenario', args=['structuring'])}")
    page.fill("#id_days", "10")
    page.click("[data-backtest] button[type=submit]")
    # The compliance worker runs it; the page polls its progress until the result shows.
    page.wait_for_selector("[data-backtest-job]")
    page.wait_for_selector("[data-backtest-result]", timeout=60_000)
    page.screenshot(path=f"test-artifacts/aml-backtest-{width}.png", full_page=True)
    assert "1 alert" in page.inner_text("[data-draft-alerts]")
    context.close()
    assert not problems, problems
    assert not errors, errors
