"""The jurisdiction rules in the browser at 1440 px and 390 px: the list and a country's page
fit the width (screenshots in test-artifacts/compliance-jurisdiction*-<width>.png); an officer
adds a rule from the form, sees it on its country's page, watches it applied to its clients
there and schedules its end."""

import pytest

from brokerage.models import CountryRule
from compliance.jurisdictions import country_rule_add, rule_apply_job_run
from compliance.models import RuleApplyJob
from tests.conftest import browser_session, login, make_client_user, make_staff, screen_check

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
WIDTHS = ((1440, 900), (390, 844))


@pytest.mark.parametrize("width,height", WIDTHS)
def test_an_officer_adds_a_rule_and_schedules_its_end(live_server, page, client, width, height):
    officer = make_staff("compliance_officer")
    resident = make_client_user(f"gb{width}@test.example").client
    resident.country = "GB"
    resident.save(update_fields=["country"])
    country_rule_add(actor=officer, country="CU", kind="blocked", basis="OFAC CACR")
    login(client, officer)
    browser_session(page.context, client, live_server)
    page.set_viewport_size({"width": width, "height": height})
    url = "/backoffice/compliance/jurisdictions/"
    problems = screen_check(
        page, live_server, f"compliance-jurisdictions-{width}", url, "[data-rules] tr[data-rule]"
    )
    page.select_option("#id_country", "GB")
    page.select_option("#id_kind", "restricted")
    page.fill("#id_basis", "FCA notice 2026/12: unlicensed activity")
    page.click("form[data-rule-add] button[type=submit]")
    page.wait_for_selector(".alert-success")
    rule = CountryRule.objects.get(country="GB")
    assert page.locator(f"tr[data-rule='{rule.pk}']").is_visible()
    assert "Restricted: withdraw only" in page.inner_text(f"tr[data-rule='{rule.pk}']")
    page.click(f"tr[data-rule='{rule.pk}'] a")
    page.wait_for_selector(f"[data-rule-end='{rule.pk}']")
    # The rule is applied to its clients in the background; its progress is polled.
    job = RuleApplyJob.objects.get(rule=rule)
    card = f"[data-rule='{rule.pk}']"
    assert "Waiting to start" in page.inner_text(f"{card} [data-rule-apply]")
    rule_apply_job_run(job_id=job.pk)
    page.wait_for_selector(f"{card} [data-apply-status='done']")
    assert "1 of 1 client · 1 restricted, 0 lifted" in page.inner_text(f"{card} [data-rule-apply]")
    problems += screen_check(
        page,
        live_server,
        f"compliance-jurisdiction-{width}",
        "/backoffice/compliance/jurisdictions/GB/",
        "[data-rule-history]",
    )
    page.fill(f"#end-at-{rule.pk}", "2030-01-01T00:00")
    page.fill(f"#end-why-{rule.pk}", "The notice lapses")
    page.click(f"[data-rule-end='{rule.pk}'] button[type=submit]")
    page.wait_for_selector(".alert-success")
    assert problems == [], problems
    assert page.console_errors == []
    rule.refresh_from_db()
    assert rule.effective_to.year == 2030 and rule.ended_by == officer
