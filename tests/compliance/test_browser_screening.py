"""The compliance list and screening pages in the browser at 1440 px and 390 px: each renders
its key part without console errors or layout problems; full-page screenshots go to
test-artifacts/ (compliance-<page>-<width>.png)."""

import pytest

from compliance.models import ListSnapshot
from compliance.services import snapshot_import
from tests.conftest import browser_session, login, make_staff, screen_check

from .conftest import un_files
from .test_lists import EU_SAMPLE

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
WIDTHS = ((1440, 900), (390, 844))


def test_compliance_pages_at_desktop_and_phone_widths(live_server, page, client):
    officer = make_staff("compliance_officer")
    snapshot_import(fmt="un", files=un_files(), actor=officer)
    snapshot_import(fmt="eu", files=[("eu.xml", EU_SAMPLE)], actor=officer)
    un = ListSnapshot.objects.get(source__code="un")
    login(client, officer)
    browser_session(page.context, client, live_server)
    pages = [
        ("lists", "/backoffice/compliance/lists/", "[data-snapshots] tr[data-snapshot]"),
        ("snapshot", f"/backoffice/compliance/lists/{un.pk}/", "[data-entries] tr[data-entry]"),
        (
            "screening",
            "/backoffice/compliance/screening/?name=Sadam+Husein+Al-Tikriti&kind=person"
            "&nationality=IQ",
            "[data-hit]",
        ),
    ]
    problems = []
    for width, height in WIDTHS:
        page.set_viewport_size({"width": width, "height": height})
        for name, path, key in pages:
            problems += screen_check(page, live_server, f"compliance-{name}-{width}", path, key)
    assert problems == [], problems
    assert page.console_errors == []


def test_an_officer_uploads_a_list_with_its_progress_shown(live_server, page, client, tmp_path):
    officer = make_staff("compliance_officer")
    login(client, officer)
    browser_session(page.context, client, live_server)
    page.goto(f"{live_server.url}/backoffice/compliance/lists/")
    page.select_option("#id_format", "eu")
    upload = tmp_path / "eu.xml"
    upload.write_bytes(EU_SAMPLE)
    page.set_input_files("#id_files", str(upload))
    page.click("form[data-list-upload] button[type=submit]")
    page.wait_for_url("**/backoffice/compliance/lists/*/")
    assert page.locator("[data-entries] tr[data-entry]").count() == 3
    broken = tmp_path / "broken.xml"
    broken.write_bytes(
        EU_SAMPLE.replace(b'<subjectType code="person" classificationCode="P"/>', b"", 1)
    )
    page.goto(f"{live_server.url}/backoffice/compliance/lists/")
    page.select_option("#id_format", "eu")
    page.set_input_files("#id_files", str(broken))
    page.click("form[data-list-upload] button[type=submit]")
    page.wait_for_selector(".alert-danger")
    assert "sanctionEntity[1] (logicalId 13)" in page.inner_text(".alert-danger")
    assert ListSnapshot.objects.count() == 1
    # The refused upload is answered 400 (the form with its error), which the console notes.
    assert all("status of 400" in e for e in page.console_errors), page.console_errors
