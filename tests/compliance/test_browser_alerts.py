"""The officer's alert queue in the browser at 1440 px and 390 px: the queue and an alert's
page fit the width (screenshots in test-artifacts/compliance-alert*-<width>.png); one alert is
confirmed, another dismissed, each from its page."""

import pytest
from django.test import override_settings

from compliance.models import Alert
from compliance.services import client_screen
from tests.conftest import browser_session, login, make_staff, screen_check

from .test_alerts import register, watch_list

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
WIDTHS = ((1440, 900), (390, 844))


@override_settings(COMPLIANCE_FOUR_EYES_SCORE=1.5)
@pytest.mark.parametrize("width,height", WIDTHS)
def test_an_officer_confirms_one_alert_and_dismisses_another(
    live_server, page, client, width, height
):
    watch_list()
    for email in ("ivan1@test.example", "ivan2@test.example"):
        client_screen(client_id=register("Ivan", "Zlobnikov", email).pk, reason="on_demand")
    first, second = Alert.objects.order_by("pk")
    officer = make_staff("compliance_officer")
    login(client, officer)
    browser_session(page.context, client, live_server)
    page.set_viewport_size({"width": width, "height": height})
    problems = screen_check(
        page,
        live_server,
        f"compliance-alerts-{width}",
        "/backoffice/compliance/alerts/",
        "[data-alerts] tr[data-alert]",
    )
    assert page.locator("[data-alerts] tr[data-alert]").count() == 2
    problems += screen_check(
        page,
        live_server,
        f"compliance-alert-{width}",
        f"/backoffice/compliance/alerts/{first.pk}/",
        "[data-entry]",
    )
    page.fill("#reason-confirm", "Date of birth and passport match the entry")
    page.click("form[data-action=confirm] button[type=submit]")
    page.wait_for_selector("[data-decided]")
    assert "Confirmed match" in page.inner_text("[data-alert-status]")
    problems += screen_check(
        page,
        live_server,
        f"compliance-alert-confirmed-{width}",
        f"/backoffice/compliance/alerts/{first.pk}/",
        "[data-action=lift]",
    )
    page.goto(f"{live_server.url}/backoffice/compliance/alerts/")
    page.click(f"tr[data-alert='{second.pk}'] a")
    page.fill("#reason-dismiss", "Born 1991 in Riga; a different person")
    page.click("form[data-action=dismiss] button[type=submit]")
    page.wait_for_selector("[data-decided]")
    assert problems == [], problems
    assert page.console_errors == []
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == ("confirmed", "dismissed")
    assert first.blocking and second.decided_by == officer
