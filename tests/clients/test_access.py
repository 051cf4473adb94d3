"""Where each user signs up and signs in from: one record per sign-in, through allauth's real
views, and the device cookie that is set once and then sent back."""

from datetime import timedelta

import pytest
from django.test import RequestFactory
from django.utils import timezone

from brokerage.models import User
from clients.access import (
    DEVICE_COOKIE,
    DEVICE_COOKIE_MAX_AGE,
    access_record,
    access_records_purge,
)
from clients.models import AccessRecord, SharedNetwork
from tests.conftest import PASSWORD, make_client_user, make_partner_user, signup_form
from tests.ib.conftest import confirm_email

pytestmark = pytest.mark.django_db

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) Test/1.0"


def sign_in(client, email, password=PASSWORD, **extra):
    return client.post(
        "/accounts/login/", {"login": email, "password": password}, HTTP_USER_AGENT=BROWSER, **extra
    )


def test_a_sign_in_is_recorded_once_with_address_agent_and_device(client):
    user = make_client_user("tia@test.example")
    response = sign_in(client, "tia@test.example", REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 302
    record = AccessRecord.objects.get()
    assert (record.user, record.client, record.kind) == (user, user.client, "login")
    assert (record.ip, record.user_agent) == ("203.0.113.9", BROWSER)
    assert abs(record.at - timezone.now()) < timedelta(seconds=30)
    cookie = response.cookies[DEVICE_COOKIE]
    assert cookie.value == record.device_id and len(record.device_id) == 32
    assert cookie["httponly"] and cookie["samesite"] == "Lax" and not cookie["secure"]
    assert int(cookie["max-age"]) == DEVICE_COOKIE_MAX_AGE


def test_the_device_cookie_is_set_once_and_reused_by_the_next_sign_in(client):
    make_client_user("tia@test.example")
    first = sign_in(client, "tia@test.example").cookies[DEVICE_COOKIE].value
    client.post("/accounts/logout/")  # as the browser does: its cookies stay
    again = sign_in(client, "tia@test.example")
    assert again.cookies[DEVICE_COOKIE].value == first  # set again: its life starts over
    assert list(AccessRecord.objects.values_list("device_id", flat=True)) == [first, first]
    assert client.get("/portal/").cookies.get(DEVICE_COOKIE) is None  # only at sign-in


def test_another_browser_is_another_device_and_a_forged_cookie_is_replaced(client, rf):
    make_client_user("tia@test.example")
    client.cookies[DEVICE_COOKIE] = "not-a-device-id'; DROP"
    value = sign_in(client, "tia@test.example").cookies[DEVICE_COOKIE].value
    assert len(value) == 32 and value != "not-a-device-id'; DROP"
    assert AccessRecord.objects.get().device_id == value


def test_over_https_the_cookie_is_secure(client):
    make_client_user("tia@test.example")
    assert sign_in(client, "tia@test.example", secure=True).cookies[DEVICE_COOKIE]["secure"]


def test_a_failed_sign_in_is_no_sign_in_and_sets_no_device(client):
    make_client_user("tia@test.example")
    response = sign_in(client, "tia@test.example", password="wrong-password-123")
    assert response.status_code == 200
    assert list(AccessRecord.objects.values_list("kind", flat=True)) == ["login_failed"]
    assert DEVICE_COOKIE not in response.cookies


def test_sign_up_records_the_registration_address_and_device(client):
    response = client.post(
        "/accounts/signup/",
        signup_form("nora@example.com"),
        REMOTE_ADDR="198.51.100.4",
        HTTP_USER_AGENT=BROWSER,
    )
    assert response.status_code == 302
    user = User.objects.get(email="nora@example.com")
    record = AccessRecord.objects.get()
    assert (record.kind, record.client, record.ip) == ("signup", user.client, "198.51.100.4")
    device = client.cookies[DEVICE_COOKIE].value
    assert record.device_id == device
    confirm_email(client, "nora@example.com")  # signs the client in: a sign-in, same device
    kinds = list(AccessRecord.objects.order_by("id").values_list("kind", "device_id"))
    assert kinds == [("signup", device), ("login", device)]


def test_a_partner_sign_in_is_recorded_on_its_account_holder(client):
    partner = make_partner_user()
    sign_in(client, partner.email)
    record = AccessRecord.objects.get()
    assert record.user == partner and record.client.holder == "partner"


def test_a_staff_sign_in_is_recorded_without_a_client(client):
    user = User.objects.create_user(email="ops@test.example", password=PASSWORD, is_staff=True)
    access_record(user=user, kind="login", request=RequestFactory().get("/"))
    record = AccessRecord.objects.get()
    assert record.user == user and record.client is None and record.ip == "127.0.0.1"


def test_the_purge_keeps_sign_ups_and_recent_sign_ins(settings):
    settings.CLIENT_ACCESS_RETENTION_DAYS = 30
    user = make_client_user()
    old = timezone.now() - timedelta(days=31)
    for kind, at in [("signup", old), ("login", old), ("login", timezone.now())]:
        AccessRecord.objects.create(user=user, client=user.client, kind=kind, at=at)
    assert access_records_purge() == 1
    assert sorted(AccessRecord.objects.values_list("kind", flat=True)) == ["login", "signup"]


def test_a_shared_network_is_stored_as_postgres_reads_it_and_junk_is_refused():
    from django.core.exceptions import ValidationError

    assert SharedNetwork.objects.create(network=" 100.64.1.9/10 ", note="CGNAT").network == (
        "100.64.0.0/10"
    )
    with pytest.raises(ValidationError):
        SharedNetwork.objects.create(network="not an address", note="x")


# --- Failed attempts --------------------------------------------------------------------------


def test_a_wrong_password_is_recorded_as_a_failed_attempt_on_that_user_but_never_the_client(
    client,
):
    user = make_client_user("tia@test.example")
    response = sign_in(client, "Tia@Test.example", "not-the-password", REMOTE_ADDR="198.51.100.4")
    assert response.status_code == 200
    record = AccessRecord.objects.get()
    assert (record.kind, record.user, record.client) == ("login_failed", user, None)
    assert (record.identifier, record.ip, record.user_agent) == (
        "tia@test.example",
        "198.51.100.4",
        BROWSER,
    )
    assert DEVICE_COOKIE not in response.cookies  # a failed attempt sets no device cookie


def test_an_unknown_address_is_recorded_with_what_was_typed(client):
    sign_in(client, "nobody@test.example", "whatever-password")
    record = AccessRecord.objects.get()
    assert (record.kind, record.user, record.identifier) == (
        "login_failed",
        None,
        "nobody@test.example",
    )


def test_a_wrong_second_factor_code_is_recorded_for_the_staff_member(client):
    from tests.conftest import make_staff

    staff = make_staff("compliance_officer")
    assert sign_in(client, staff.email).status_code == 302  # the password step
    response = client.post("/accounts/2fa/authenticate/", {"code": "000000"})
    assert response.status_code == 200
    record = AccessRecord.objects.get(kind="mfa_failed")
    assert (record.user, record.client, record.identifier) == (staff, None, staff.email)


def test_failed_attempts_from_one_address_never_link_the_clients_typed(client):
    from clients.links import client_links

    first = make_client_user("tia@test.example").client
    second = make_client_user("una@test.example").client
    for email in ("tia@test.example", "una@test.example"):
        sign_in(client, email, "wrong-password", REMOTE_ADDR="198.51.100.4")
    assert AccessRecord.objects.filter(kind="login_failed").count() == 2
    assert client_links(first) == [] and second.pk


def test_the_purge_removes_old_failed_attempts_too():
    old = timezone.now() - timedelta(days=800)
    user = make_client_user("tia@test.example")
    for kind in ("login_failed", "mfa_failed", "login", "signup"):
        AccessRecord.objects.create(user=user, kind=kind, at=old)
    assert access_records_purge() == 3
    assert list(AccessRecord.objects.values_list("kind", flat=True)) == ["signup"]
