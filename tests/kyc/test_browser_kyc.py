"""KYC journeys in Chromium with a real Celery worker running the checks."""

import re

import pytest

from kyc import specimens
from kyc.models import KycSubmission
from tests.conftest import (
    ARTIFACTS,
    PASSWORD,
    fresh_totp_code,
    make_client_user,
    make_staff,
    wait_for,
)

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def sign_in(browser, live_server, email, totp=False):
    page = browser.new_context(viewport={"width": 1366, "height": 900}).new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("main button[type=submit]")
    if totp:
        page.wait_for_url(re.compile(r"/accounts/2fa/authenticate/"))
        page.fill("input[name=code]", fresh_totp_code())
        page.click("main button[type=submit]")
        page.wait_for_url(lambda url: "/accounts/2fa/" not in url)
    page.wait_for_load_state()
    return page


def complete_wizard(page, live_server, tmp_path, passport_bytes):
    page.goto(f"{live_server.url}/portal/verify/?step=details")
    page.fill("input[name=first_name]", "Olivia May")
    page.fill("input[name=last_name]", "Harris")
    page.fill("input[name=date_of_birth]", "1988-03-14")
    page.select_option("select[name=nationality]", "GB")
    page.fill("input[name=address_line]", "14 Harbour Street")
    page.fill("input[name=city]", "Bristol")
    page.fill("input[name=postcode]", "BS1 4DJ")
    page.select_option("select[name=country]", "GB")
    page.click("main form button[type=submit]")
    page.wait_for_url(re.compile(r"/portal/verify/"))
    page.goto(f"{live_server.url}/portal/verify/?step=questionnaire")
    for name, value in [
        ("cfd_knowledge", "loss"),
        ("leverage", "30pct"),
        ("margin_call", "close"),
        ("experience", "some"),
        ("education", "no"),
    ]:
        page.check(f'input[name="{name}"][value="{value}"]')
    page.click("main form button[type=submit]")
    page.wait_for_url(re.compile(r"/portal/verify/"))
    page.goto(f"{live_server.url}/portal/verify/?step=finances")
    page.select_option("select[name=employment_status]", "employed")
    page.fill("input[name=occupation]", "Nurse")
    page.select_option("select[name=industry]", "health")
    page.select_option("select[name=currency]", "GBP")
    page.select_option("select[name=annual_income]", "25k_100k")
    page.select_option("select[name=net_worth]", "25k_100k")
    page.fill("input[name=expected_deposits_amount]", "5000")
    page.select_option("select[name=source_of_funds]", "salary")
    page.select_option("select[name=source_of_wealth]", "savings")
    page.click("main form[data-step=finances] button[type=submit]")
    page.wait_for_url(re.compile(r"/portal/verify/"))
    upload(page, live_server, tmp_path, "passport", "passport.jpg", passport_bytes)
    upload(
        page,
        live_server,
        tmp_path,
        "proof_of_address",
        "bill.pdf",
        specimens.proof_of_address_pdf(specimens.Person()),
    )
    page.goto(f"{live_server.url}/portal/verify/?step=submit")
    page.click("main form button[type=submit]")


def upload(page, live_server, tmp_path, kind, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    page.goto(f"{live_server.url}/portal/verify/?step=documents")
    page.select_option("select[name=kind]", kind)
    page.set_input_files("input[name=file]", str(path))
    page.click("main form button[type=submit]")
    page.wait_for_selector(f"[data-document={kind}]")


def state_of(user):
    submission = KycSubmission.objects.filter(client__user=user).first()
    return submission.state if submission else None


def test_clean_documents_are_approved_with_no_staff_action(
    live_server,
    browser,
    worker,
    tmp_path,
):
    user = make_client_user("olivia@example.com")
    page = sign_in(browser, live_server, user.email)
    complete_wizard(page, live_server, tmp_path, specimens.passport(specimens.Person()))
    assert wait_for(lambda: state_of(user) == "approved", timeout=60)
    page.goto(f"{live_server.url}/portal/verify/")
    assert page.locator("[data-kyc-state=approved]").is_visible()


def test_blurred_passport_resubmitted_after_review(live_server, browser, worker, tmp_path):
    user = make_client_user("olivia@example.com")
    page = sign_in(browser, live_server, user.email)
    complete_wizard(page, live_server, tmp_path, specimens.passport(specimens.Person(), blur=3))
    assert wait_for(lambda: state_of(user) == "in_review", timeout=60)

    officer = make_staff("compliance_officer")
    desk = sign_in(browser, live_server, officer.email, totp=True)
    desk.goto(f"{live_server.url}/backoffice/kyc/")
    desk.click("text=Olivia May Harris")
    assert "blurry" in desk.content()
    desk.check("input[name=action][value=resubmit]")
    desk.check("input[name=documents][value=passport]")
    desk.fill("textarea[name=reason]", "The photo is blurry: please take it again in good light.")
    ARTIFACTS.mkdir(exist_ok=True)
    desk.screenshot(path=str(ARTIFACTS / "kyc_review.png"), full_page=True)
    desk.click("main form button[type=submit]")
    desk.wait_for_url(re.compile(r"/backoffice/kyc/$"))
    assert state_of(user) == "resubmission"

    page.goto(f"{live_server.url}/portal/verify/")
    assert "please take it again in good light" in page.content()
    upload(
        page,
        live_server,
        tmp_path,
        "passport",
        "passport2.jpg",
        specimens.passport(specimens.Person()),
    )
    page.goto(f"{live_server.url}/portal/verify/?step=submit")
    page.click("main form button[type=submit]")
    assert wait_for(lambda: state_of(user) == "approved", timeout=60)
