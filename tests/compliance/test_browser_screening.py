"""The compliance list and screening pages in the browser at 1440 px and 390 px: each renders
its key part without console errors or layout problems; full-page screenshots go to
test-artifacts/ (compliance-<page>-<width>.png)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from compliance.imports import list_import_run
from compliance.models import ListSnapshot, ScreeningJob
from compliance.rescreen import book_rescreen
from compliance.services import snapshot_import
from tests.conftest import browser_session, login, make_staff, screen_check

from .conftest import un_files
from .test_alerts import register, watch_list
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
    page.wait_for_url("**/backoffice/compliance/lists/?import=*")
    job = ScreeningJob.objects.get(kind="import")
    page.wait_for_selector(f"[data-job='{job.pk}'][data-job-status=queued]")
    list_import_run(job_id=job.pk)  # the worker imports it; the page polls its progress
    page.wait_for_selector(f"[data-job='{job.pk}'][data-job-status=done]", timeout=10_000)
    page.click(f"[data-job='{job.pk}'] a")
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
    page.wait_for_url("**/backoffice/compliance/lists/?import=*")
    refused = ScreeningJob.objects.filter(kind="import").latest("pk")
    list_import_run(job_id=refused.pk)
    page.wait_for_selector(f"[data-job='{refused.pk}'] [data-job-error]", timeout=10_000)
    error = page.inner_text(f"[data-job='{refused.pk}'] [data-job-error]")
    assert "sanctionEntity[1] (logicalId 13)" in error
    assert ListSnapshot.objects.count() == 1
    assert page.console_errors == []


def test_the_lists_page_shows_a_rescreen_progressing_to_its_end(live_server, page, client):
    officer = make_staff("compliance_officer")
    snapshot = watch_list()  # queues the re-screen of every client against its entries
    register("Ivan", "Zlobnikov")
    job = ScreeningJob.objects.get(snapshot=snapshot, kind="delta")
    # Shown part-way by a worker that then fell silent (died): the run below takes it over.
    ScreeningJob.objects.filter(pk=job.pk).update(
        status="running", total=4, done=1, heartbeat_at=timezone.now() - timedelta(minutes=11)
    )
    login(client, officer)
    browser_session(page.context, client, live_server)
    problems = []
    for width, height in WIDTHS:
        page.set_viewport_size({"width": width, "height": height})
        problems += screen_check(
            page,
            live_server,
            f"compliance-lists-rescreen-{width}",
            "/backoffice/compliance/lists/",
            f"[data-job='{job.pk}'][data-job-status=running]",
        )
    assert problems == [], problems
    bar = page.locator(f"[data-job='{job.pk}'] .progress-bar")
    assert bar.get_attribute("style") == "width: 25%;"
    assert "1 of 4 clients" in page.inner_text(f"[data-job='{job.pk}'] [data-job-progress]")
    book_rescreen(job_id=job.pk)  # the worker runs it; the page polls its progress
    page.wait_for_selector(f"[data-job='{job.pk}'][data-job-status=done]", timeout=10_000)
    assert bar.get_attribute("style") == "width: 100%;"
    assert "1 of 1 clients · 1 alert raised, 0 cleared" in page.inner_text(
        f"[data-job='{job.pk}'] [data-job-progress]"
    )
    assert page.locator("[data-jobs][hx-trigger]").count() == 0  # polling stopped
    assert page.console_errors == []
