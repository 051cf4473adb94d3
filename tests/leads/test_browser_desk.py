"""The sales pages in the browser at a phone's width (390 px) and a desktop's (1440 px): the
agent's inbox with callbacks and SLA clocks, the lead page, the desk view with its SLA setting,
the desk's leads with filters and bulk reassignment, and all leads. Each is screenshotted to
test-artifacts/leads-<page>-<width>.png; none is wider than the window, and at 1440 px no table
is clipped."""

from datetime import timedelta

import pytest
from django.utils import timezone

from leads.callbacks import callback_schedule
from leads.models import Callback, Lead
from leads.services import lead_call_log
from tests.conftest import ARTIFACTS, browser_session, layout_problems, login, make_staff

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PEOPLE = [
    ("Zaid", "Haddad", "AE", "ar", "webinar"),
    ("Layla", "Mansour", "AE", "ar", "affiliate-gulf"),
    ("Omar", "Farouk", "AE", "en", "webinar"),
    ("Noura", "Saleh", "AE", "ar", "google-ads"),
    ("Hassan", "Khalil", "AE", "en", "affiliate-gulf"),
    ("Emma", "Clarke", "GB", "en", "webinar"),
    ("Lucas", "Moreau", "FR", "en", "google-ads"),
]


def _name(user, first, last):
    user.first_name, user.last_name = first, last
    user.save()


def _floor_with_work(floor):
    _name(floor.manager, "Huda", "Nasser")
    _name(floor.dubai_ar, "Karim", "Aziz")
    _name(floor.dubai_en, "Sara", "Lewis")
    now = timezone.now()
    leads = []
    for i, (first, last, country, language, source) in enumerate(PEOPLE):
        experience = "none" if country == "FR" else "some"
        leads.append(
            floor.capture(
                first_name=first,
                last_name=last,
                country=country,
                language=language,
                experience=experience,
                source=source,
                phone=f"+97150123456{i}" if country == "AE" else "",
            )
        )
    zaid, layla, omar, noura = leads[:4]
    lead_call_log(lead=zaid, actor=zaid.assigned_to, outcome="call_back", duration_seconds=180)
    callback_schedule(
        lead=zaid, actor=zaid.assigned_to, due_at=now + timedelta(minutes=5), note="After prayers"
    )
    Callback.objects.filter(lead=zaid).update(due_at=now - timedelta(minutes=20))
    Lead.objects.filter(pk=layla.pk).update(assigned_at=now - timedelta(minutes=40))
    Lead.objects.filter(pk=omar.pk).update(assigned_at=now - timedelta(minutes=11))
    callback_schedule(
        lead=noura, actor=noura.assigned_to, due_at=now + timedelta(hours=3), note="Wants a demo"
    )
    return zaid


def _check(page, live_server, name, path, key, width):
    page.set_viewport_size({"width": width, "height": 900})
    response = page.goto(f"{live_server.url}{path}")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"leads-{name}-{width}.png"), full_page=True)
    problems = []
    if response.status != 200:
        problems.append((name, width, response.status))
    if not page.locator(key).first.is_visible():
        problems.append((name, width, f"{key} not visible"))
    if width >= 1440:
        problems += [(name, width, p) for p in layout_problems(page)]
    else:
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        if overflow > 0:
            problems.append((name, width, f"{overflow} px wider than the window"))
    return problems


def test_the_sales_pages_at_390_and_1440(live_server, page, client, floor):
    zaid = _floor_with_work(floor)
    agent = zaid.assigned_to
    problems = []
    login(client, agent)
    browser_session(page.context, client, live_server)
    for width in (390, 1440):
        problems += _check(page, live_server, "inbox", "/backoffice/leads/", "#my-callbacks", width)
        problems += _check(
            page, live_server, "detail", f"/backoffice/leads/{zaid.pk}/", "#callbacks", width
        )
    page.context.clear_cookies()
    login(client, floor.manager)
    browser_session(page.context, client, live_server)
    for width in (390, 1440):
        problems += _check(page, live_server, "desk", "/backoffice/leads/desk/", "#desk-sla", width)
        problems += _check(
            page,
            live_server,
            "desk-leads",
            "/backoffice/leads/desk/leads/",
            "#bulk-reassign",
            width,
        )
    page.context.clear_cookies()
    login(client, make_staff("ops_admin"))
    browser_session(page.context, client, live_server)
    for width in (390, 1440):
        problems += _check(
            page, live_server, "all", "/backoffice/leads/all/", "#lead-filters", width
        )
    assert problems == []
    assert page.console_errors == []


def test_a_desk_manager_ticks_leads_and_reassigns_them(live_server, page, client, floor):
    _floor_with_work(floor)
    login(client, floor.manager)
    browser_session(page.context, client, live_server)
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(f"{live_server.url}/backoffice/leads/desk/leads/?country=AE")
    rows = page.locator("tr[data-lead]")
    assert rows.count() == 5
    ticked = [int(rows.nth(i).get_attribute("data-lead")) for i in (0, 1)]
    for i in (0, 1):
        rows.nth(i).locator("input[type=checkbox]").check()
    page.select_option("#bulk-reassign select[name=to_user]", label="Sara Lewis")
    page.fill("#bulk-reassign input[name=reason]", "Karim on leave")
    page.click("#bulk-reassign button[type=submit]")
    page.wait_for_url("**/backoffice/leads/desk/leads/?country=AE")
    assert page.locator("text=2 leads reassigned").is_visible()
    assert set(Lead.objects.filter(pk__in=ticked).values_list("assigned_to", flat=True)) == {
        floor.dubai_en.pk
    }
    assert page.locator(f"tr[data-lead='{ticked[0]}'] [data-agent]").inner_text() == "Sara Lewis"
    page.goto(f"{live_server.url}/backoffice/leads/desk/")
    page.fill(f"input[name=desk{floor.dubai.pk}-minutes]", "30")
    page.click(f"form[data-desk-sla='{floor.dubai.pk}'] button[type=submit]")
    page.wait_for_url("**/backoffice/leads/desk/")
    assert "first contact within 30 min" in page.locator("body").inner_text()
    assert page.console_errors == []
