"""Logins through the real allauth flow: password, TOTP for staff, sign-up, reset, rate limits."""

import re

import pytest
from allauth.mfa.models import Authenticator
from django.contrib.auth.hashers import check_password, make_password
from django.core import mail

from brokerage.settings import base as base_settings
from brokerage.totp import totp_code
from clients.models import Client
from tests.conftest import PASSWORD, TOTP_SECRET, make_client_user, make_staff, signup_form

pytestmark = pytest.mark.django_db


def password_step(client, email, password=PASSWORD):
    return client.post("/accounts/login/", {"login": email, "password": password})


def test_staff_login_needs_password_then_totp(client):
    make_staff("compliance_officer")
    response = password_step(client, "compliance_officer@test.example")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/2fa/authenticate/"
    # Half-way through: not signed in yet.
    assert client.get("/backoffice/").status_code == 302
    response = client.post("/accounts/2fa/authenticate/", {"code": totp_code(TOTP_SECRET)})
    assert response.status_code == 302
    assert response["Location"] == "/backoffice/"
    assert client.get("/backoffice/").status_code == 200


def test_wrong_password_is_told_plainly(client):
    make_staff("sales_agent")
    response = password_step(client, "sales_agent@test.example", "not-the-password")
    assert response.status_code == 200
    assert b"not correct" in response.content


def test_wrong_totp_is_refused_with_a_message(client):
    make_staff("sales_agent")
    password_step(client, "sales_agent@test.example")
    wrong = f"{(int(totp_code(TOTP_SECRET)) + 1) % 1000000:06d}"
    response = client.post("/accounts/2fa/authenticate/", {"code": wrong})
    assert response.status_code == 200
    assert b"Incorrect code" in response.content
    assert client.get("/backoffice/").status_code == 302


def test_a_totp_code_cannot_be_replayed(client):
    make_staff("sales_agent")
    code = totp_code(TOTP_SECRET)
    password_step(client, "sales_agent@test.example")
    client.post("/accounts/2fa/authenticate/", {"code": code})
    client.post("/accounts/logout/")
    password_step(client, "sales_agent@test.example")
    response = client.post("/accounts/2fa/authenticate/", {"code": code})
    assert b"Incorrect code" in response.content


def test_staff_without_mfa_must_enrol_at_first_login(client):
    user = make_staff("finance_officer", totp=False)
    response = password_step(client, user.email)
    response = client.get(response["Location"])
    assert response.status_code == 302
    assert response["Location"] == "/accounts/2fa/totp/activate/"
    # Enrolling is a sensitive change: allauth asks for the password once more first.
    page = client.get("/accounts/2fa/totp/activate/")
    assert page["Location"].startswith("/accounts/reauthenticate/")
    client.post(page["Location"], {"password": PASSWORD})
    page = client.get("/accounts/2fa/totp/activate/")
    assert page.status_code == 200
    secret = page.context["form"].secret
    response = client.post("/accounts/2fa/totp/activate/", {"code": totp_code(secret)})
    assert response.status_code == 302
    kinds = set(Authenticator.objects.filter(user=user).values_list("type", flat=True))
    assert kinds == {Authenticator.Type.TOTP, Authenticator.Type.RECOVERY_CODES}
    # Enrolled mid-session: the back-office asks for a fresh login with the code.
    response = client.get("/backoffice/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    password_step(client, user.email)
    client.post("/accounts/2fa/authenticate/", {"code": totp_code(secret)})
    assert client.get("/backoffice/").status_code == 200


def test_staff_session_without_second_factor_is_signed_out(client):
    user = make_staff("ops_admin")
    client.force_login(user)  # e.g. a session made some other way than the login flow
    response = client.get("/backoffice/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert client.get("/backoffice/").status_code == 302


def test_recovery_code_signs_in_instead_of_totp(client):
    from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes

    user = make_staff("ib_manager")
    codes = RecoveryCodes.activate(user).get_unused_codes()
    password_step(client, user.email)
    client.post("/accounts/2fa/authenticate/", {"code": codes[0]})
    assert client.get("/backoffice/").status_code == 200


def test_failed_logins_are_rate_limited(client):
    make_staff("sales_agent")
    for _ in range(5):
        password_step(client, "sales_agent@test.example", "wrong-password-x")
    response = password_step(client, "sales_agent@test.example")  # even the right password
    assert b"Too many failed login attempts" in response.content
    assert "_auth_user_id" not in client.session


def test_client_signs_up_verifies_email_and_gets_a_client_record(client):
    response = client.post(
        "/accounts/signup/",
        signup_form("Nora@Example.com"),
    )
    assert response.status_code == 302
    assert response["Location"] == "/accounts/confirm-email/"
    client_record = Client.objects.get(user__email="nora@example.com")
    assert client_record.user.first_name == "Nora" and not client_record.user.is_staff
    assert len(mail.outbox) == 1
    link = re.search(r"http://testserver(/accounts/confirm-email/[^\s]+)", mail.outbox[0].body)
    response = client.post(link.group(1))
    assert response.status_code == 302 and response["Location"] == "/portal/"
    assert client.get("/portal/").status_code == 200


def test_signup_with_bad_input_explains_each_field(client):
    response = client.post(
        "/accounts/signup/",
        {
            **signup_form("not-an-email", first_name="", phone="12"),
            "password1": "short",
            "password2": "different",
        },
    )
    assert response.status_code == 200
    form = response.context["form"]
    assert "first_name" in form.errors
    assert "email" in form.errors
    assert "phone" in form.errors
    assert "password1" in form.errors or "password2" in form.errors
    from brokerage.models import User

    assert not User.objects.exists()


def test_signup_with_a_taken_email_does_not_reveal_the_account(client):
    """Enumeration-safe: the page looks like success; the owner gets a 'you already have an
    account' email, and no second user is made."""
    make_client_user("taken@example.com")
    response = client.post(
        "/accounts/signup/",
        signup_form("taken@example.com"),
    )
    assert response.status_code == 302
    from brokerage.models import User

    assert User.objects.filter(email="taken@example.com").count() == 1
    assert mail.outbox and mail.outbox[-1].to == ["taken@example.com"]


def test_password_reset_and_an_expired_link(client):
    user = make_client_user("reset@example.com")
    client.post("/accounts/password/reset/", {"email": "reset@example.com"})
    link = re.search(
        r"http://testserver(/accounts/password/reset/key/[^\s]+)", mail.outbox[-1].body
    ).group(1)
    form_page = client.get(link, follow=True)
    response = client.post(
        form_page.request["PATH_INFO"],
        {"password1": "brand-new-secret-1", "password2": "brand-new-secret-1"},
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password("brand-new-secret-1")
    # The link is spent now: it answers with a clear message, not an error page.
    again = client.get(link, follow=True)
    assert again.status_code == 200
    assert b"invalid" in again.content.lower()
    forged = client.get("/accounts/password/reset/key/zz-not-a-token/", follow=True)
    assert forged.status_code == 200 and b"invalid" in forged.content.lower()


def test_admin_has_no_password_only_login(client):
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_logout_ends_the_session(client):
    from tests.conftest import login

    user = make_client_user()
    login(client, user)
    assert client.get("/portal/").status_code == 200
    client.post("/accounts/logout/")
    assert client.get("/portal/").status_code == 302


def test_a_burst_of_signups_from_one_address_is_rate_limited(client):
    statuses = [
        client.post(
            "/accounts/signup/", signup_form(f"burst{i}@example.com"), REMOTE_ADDR="198.51.100.7"
        ).status_code
        for i in range(22)
    ]
    assert statuses[:20] == [302] * 20
    assert statuses[-1] == 429
    from brokerage.models import User

    assert User.objects.filter(email__startswith="burst").count() == 20


PRODUCTION_HASHERS = base_settings.PASSWORD_HASHERS


def test_passwords_are_stored_as_argon2id_at_owasp_cost(client, settings):
    settings.PASSWORD_HASHERS = PRODUCTION_HASHERS
    user = make_client_user("argon@test.example")
    user.set_password(PASSWORD)
    user.save()
    assert user.password.startswith("argon2$argon2id$v=19$m=19456,t=2,p=1$")
    assert password_step(client, "argon@test.example").status_code == 302


def test_a_pbkdf2_password_still_signs_in_and_is_rewritten_as_argon2id(client, settings):
    settings.PASSWORD_HASHERS = PRODUCTION_HASHERS
    user = make_client_user("older@test.example")
    user.password = make_password(PASSWORD, hasher="pbkdf2_sha256")
    user.save(update_fields=["password"])
    assert password_step(client, "older@test.example", "wrong password 1").status_code == 200
    user.refresh_from_db()
    assert user.password.startswith("pbkdf2_sha256$")
    response = password_step(client, "older@test.example")
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.password.startswith("argon2$argon2id$")
    assert check_password(PASSWORD, user.password)
