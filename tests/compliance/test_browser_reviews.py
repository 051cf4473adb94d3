"""The periodic reviews queue in the browser at 1440 px and 390 px: the queue (an overdue review
in red), one review with the client's risk factors, completed from its page; the country risk
table and the client's finances page fit the width too (screenshots in
test-artifacts/compliance-review*-<width>.png)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from compliance.models import CountryRisk, PeriodicReview
from compliance.rating import risk_assess
from tests.conftest import browser_session, login, make_client_user, make_staff, screen_check

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
WIDTHS = ((1440, 900), (390, 844))


@pytest.mark.parametrize("width,height", WIDTHS)
def test_an_officer_completes_an_overdue_review(live_server, page, client, width, height):
    CountryRisk.objects.create(country="VN", level="high", note="FATF: increased monitoring")
    holder = make_client_user("linh@test.example").client
    holder.country = "VN"
    holder.save()
    risk_assess(client_id=holder.pk, cause="registration")
    other = make_client_user("nora@test.example").client
    risk_assess(client_id=other.pk, cause="registration")
    review = PeriodicReview.objects.get(client=holder)
    PeriodicReview.objects.filter(pk=review.pk).update(
        due_on=timezone.now().date() - timedelta(days=12)
    )
    login(client, make_staff("compliance_officer"))
    browser_session(page.context, client, live_server)
    page.set_viewport_size({"width": width, "height": height})
    problems = screen_check(
        page,
        live_server,
        f"compliance-reviews-{width}",
        "/backoffice/compliance/reviews/?due=all",
        "[data-reviews] tr[data-review]",
    )
    assert page.locator("[data-reviews] tr[data-review]").count() == 2
    assert page.locator(f"tr[data-review='{review.pk}'] [data-due=danger]").count() == 1
    page.goto(f"{live_server.url}/backoffice/compliance/reviews/")  # due or overdue only
    assert page.locator("[data-reviews] tr[data-review]").count() == 1
    page.click(f"tr[data-review='{review.pk}'] a")
    page.wait_for_selector("[data-risk-factors]")
    assert "high risk in the country risk table" in page.inner_text("[data-factor=residence]")
    problems += screen_check(
        page,
        live_server,
        f"compliance-review-{width}",
        f"/backoffice/compliance/reviews/{review.pk}/",
        "[data-review-form]",
    )
    page.check("input[name=outcome][value=concerns]")
    page.fill("textarea[name=notes]", "Asked for payslips; residence confirmed")
    page.click("[data-review-form] button[type=submit]")
    page.wait_for_selector("[data-no-reviews]")
    problems += screen_check(
        page,
        live_server,
        f"compliance-country-risk-{width}",
        "/backoffice/compliance/country-risk/",
        "[data-country-risks]",
    )
    assert problems == [], problems
    assert page.console_errors == []
    done = PeriodicReview.objects.get(pk=review.pk)
    assert (done.status, done.outcome) == ("completed", "concerns")
    assert PeriodicReview.objects.get(client=holder, status="open").due_on > timezone.now().date()


@pytest.mark.parametrize("width,height", WIDTHS)
def test_a_client_updates_their_finances(live_server, page, client, width, height):
    user = make_client_user("olivia@test.example")
    login(client, user)
    browser_session(page.context, client, live_server)
    page.set_viewport_size({"width": width, "height": height})
    problems = screen_check(
        page, live_server, f"portal-finances-{width}", "/portal/finances/", "[data-form=profile]"
    )
    page.select_option("select[name=employment_status]", "self_employed")
    page.fill("input[name=occupation]", "Bakery owner")
    page.select_option("select[name=industry]", "trade")
    page.select_option("select[name=annual_income]", "25k_100k")
    page.select_option("select[name=net_worth]", "100k_250k")
    page.fill("input[name=expected_deposits_amount]", "12000")
    page.select_option("select[name=source_of_funds]", "business")
    page.select_option("select[name=source_of_wealth]", "other")
    page.click("[data-form=profile] button[type=submit]")
    page.wait_for_selector("[data-field-error=source_of_wealth_detail]")
    page.fill("input[name=source_of_wealth_detail]", "Sale of a family shop in 2019")
    page.click("[data-form=profile] button[type=submit]")
    page.wait_for_selector(".alert-success")
    assert problems == [], problems
    assert user.client.financial_profiles.get().occupation == "Bakery owner"
