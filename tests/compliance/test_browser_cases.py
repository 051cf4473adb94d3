"""An officer's AML case in the browser, at 1440 px and 390 px: from a screening alert's page
the officer opens a case, adds the client's AML alert to it, investigates and escalates; the
client's standing shows the block on the client 360; the officer who escalated cannot close
it (four eyes shown), a second officer closes it with a reason, deciding its screening hit,
and the block lifts. The workspace, the case list, the new-case form and the case page fit
both widths (screenshots in test-artifacts/compliance-case*-<width>.png)."""

import pytest

from compliance.models import Alert, Case
from compliance.monitoring.models import Alert as AmlAlert
from compliance.services import alert_dismiss, client_screen
from tests.conftest import browser_session, login, make_staff, screen_check, shipped_defaults

from .monitoring.test_models import _alert
from .test_alerts import register, watch_list

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
WIDTHS = ((1440, 900), (390, 844))


@pytest.mark.parametrize("width,height", WIDTHS)
def test_an_officer_takes_an_alert_to_a_closed_case_with_four_eyes(
    live_server, page, client, width, height
):
    shipped_defaults()
    watch_list()
    person = register("Ivan", "Zlobnikov")
    client_screen(client_id=person.pk, reason="on_demand")
    alert = Alert.objects.get(client=person)
    aml = _alert(person, "structuring")
    ana = make_staff("compliance_officer", email="ana@test.example")
    ben = make_staff("compliance_officer", email="ben@test.example")
    login(client, ana)
    browser_session(page.context, client, live_server)
    page.set_viewport_size({"width": width, "height": height})
    problems = screen_check(
        page,
        live_server,
        f"compliance-workspace-{width}",
        "/backoffice/compliance/",
        "[data-queues]",
    )
    assert page.inner_text("[data-queue=screening] [data-count]").strip() == "1"
    assert page.inner_text("[data-queue=aml] [data-count]").strip() == "1"

    # From the alert's page: open a case.
    page.goto(f"{live_server.url}/backoffice/compliance/alerts/{alert.pk}/")
    page.click("[data-open-case]")
    page.wait_for_selector("form[data-case-open]")
    problems += screen_check(
        page,
        live_server,
        f"compliance-case-new-{width}",
        f"/backoffice/compliance/cases/new/?alert={alert.pk}",
        "form[data-case-open]",
    )
    page.fill("#id_summary", "Listed name; deposits just under the reporting threshold")
    page.click("form[data-case-open] button[type=submit]")
    page.wait_for_selector("[data-case-status]")
    case = Case.objects.get()
    assert "Blocked: AML case" in page.inner_text("[data-standing]")

    # The client's AML alert joins the case.
    page.select_option("form[data-action=add_alert] select[name=kind]", "aml")
    page.fill("form[data-action=add_alert] input[name=alert]", str(aml.pk))
    page.click("form[data-action=add_alert] button[type=submit]")
    page.wait_for_selector(f"[data-aml-alert='{aml.pk}']")
    assert AmlAlert.objects.get(pk=aml.pk).status == "in_case"

    # Investigate, note, escalate.
    page.click("form[data-action=investigate] button[type=submit]")
    page.wait_for_selector("form[data-action=escalate]")
    page.fill("form[data-action=note] textarea", "Asked for bank statements.")
    page.click("form[data-action=note] button[type=submit]")
    page.wait_for_selector("[data-case-notes] [data-note]")
    page.fill("#reason-escalate", "Same date of birth; structured deposits")
    page.click("form[data-action=escalate] button[type=submit]")
    page.wait_for_selector("[data-four-eyes-wait]")
    assert page.locator("form[data-action=close]").count() == 0

    # The client's standing on the 360 shows the block.
    page.goto(f"{live_server.url}/backoffice/clients/{person.pk}/")
    assert "Open" in page.inner_text("[data-aml]")
    assert page.locator("[data-cases-360] [data-case-block]").is_visible()

    problems += screen_check(
        page,
        live_server,
        f"compliance-cases-{width}",
        "/backoffice/compliance/cases/",
        f"tr[data-case='{case.pk}']",
    )
    problems += screen_check(
        page,
        live_server,
        f"compliance-case-escalated-{width}",
        f"/backoffice/compliance/cases/{case.pk}/",
        "[data-four-eyes-wait]",
    )

    # Ana proposes the hit's dismissal (it scores above the four-eyes score; its page is
    # driven in test_browser_alerts), so the second officer can decide it in the closing step.
    alert_dismiss(alert=alert, actor=ana, reason="Date of birth differs from the listing")

    # A second officer closes it with a reason, deciding the hit: four eyes shown, the block
    # lifted.
    client.logout()
    page.context.clear_cookies()
    login(client, ben)
    browser_session(page.context, client, live_server)
    page.goto(f"{live_server.url}/backoffice/compliance/cases/{case.pk}/")
    assert "ana@test.example" in page.inner_text("[data-four-eyes-note]")
    page.fill("#reason-close", "Passport shows another person; deposits are salary")
    page.select_option(f"form[data-action=close] select[name=hit_{alert.pk}]", "false_positive")
    page.click("form[data-action=close] button[type=submit]")
    page.wait_for_selector("[data-decided] [data-four-eyes]")
    assert "Not blocked by a case" in page.inner_text("[data-standing]")
    problems += screen_check(
        page,
        live_server,
        f"compliance-case-closed-{width}",
        f"/backoffice/compliance/cases/{case.pk}/",
        "[data-case-history]",
    )
    page.goto(f"{live_server.url}/backoffice/clients/{person.pk}/")
    assert "None open" in page.inner_text("[data-aml]")
    assert problems == [], problems
    assert page.console_errors == []
    case = Case.objects.get()
    assert (case.status, case.decided_by, case.escalated_by) == ("closed", ben, ana)
    assert AmlAlert.objects.get(pk=aml.pk).status == "closed"
    assert Alert.objects.get(pk=alert.pk).status == "dismissed"
    assert not case.client.aml_case_open
