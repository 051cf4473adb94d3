"""Regression tests for privilege, MFA, proxy and bad-input hardening."""

import pytest
from allauth.mfa.models import Authenticator
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import RequestFactory

from brokerage import health
from brokerage.models import Desk, User
from brokerage.services import client_ip
from tests.conftest import PASSWORD, TOTP_SECRET, login, make_staff

pytestmark = pytest.mark.django_db


def test_ops_admin_cannot_make_anyone_superuser(client):
    ops = make_staff("ops_admin")
    login(client, ops)
    page = client.get(f"/admin/brokerage/user/{ops.pk}/change/")
    assert b'name="is_superuser"' not in page.content
    client.post(
        f"/admin/brokerage/user/{ops.pk}/change/",
        {
            "email": ops.email,
            "is_active": "on",
            "is_staff": "on",
            "is_superuser": "on",
            "groups": [g.pk for g in ops.groups.all()],
            "staff_profile-TOTAL_FORMS": "0",
            "staff_profile-INITIAL_FORMS": "0",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
        },
    )
    ops.refresh_from_db()
    assert not ops.is_superuser


def test_ops_admin_cannot_touch_a_superuser(client):
    root = User.objects.create_superuser("root@test.example", PASSWORD)
    login(client, make_staff("ops_admin"))
    assert client.get(f"/admin/brokerage/user/{root.pk}/password/").status_code == 403
    page = client.get(f"/admin/brokerage/user/{root.pk}/change/")
    assert b'name="_save"' not in page.content


def test_staff_cannot_switch_off_their_totp(client):
    user = make_staff("compliance_officer")
    login(client, user)
    client.post("/accounts/reauthenticate/", {"password": PASSWORD})
    client.post("/accounts/2fa/totp/deactivate/", {})
    assert Authenticator.objects.filter(user=user, type="totp").exists()
    assert client.get("/backoffice/audit/").status_code == 200


def test_staff_whose_totp_was_removed_must_enrol_again(client):
    user = make_staff("compliance_officer")
    login(client, user)
    Authenticator.objects.filter(user=user).delete()  # e.g. ops reset a lost phone
    response = client.get("/backoffice/")
    assert response.status_code == 302 and response["Location"] == "/accounts/2fa/totp/activate/"


def test_totp_secrets_are_encrypted_at_rest():
    user = make_staff("sales_agent")
    stored = Authenticator.objects.get(user=user, type="totp").data["secret"]
    assert TOTP_SECRET not in stored
    from allauth.mfa.utils import decrypt

    assert decrypt(stored) == TOTP_SECRET


@pytest.mark.parametrize(
    ("proxies", "xff", "expected"),
    [
        (0, "6.6.6.6", "10.0.0.1"),  # no proxy trusted: the header is ignored
        (1, "6.6.6.6, 203.0.113.9", "203.0.113.9"),  # the address our proxy saw, not the forged one
        (2, "203.0.113.9, 10.0.0.7", "203.0.113.9"),
        (1, "", None),
    ],
)
def test_client_ip_trusts_only_our_proxies(settings, proxies, xff, expected):
    settings.TRUSTED_PROXY_COUNT = proxies
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=xff)
    assert client_ip(request) == expected


@pytest.mark.parametrize(
    "url",
    [
        "/backoffice/audit/?q=%00",
        "/backoffice/audit/?actor=a%00b",
        "/backoffice/team/?q=%00",
        "/portal/?x=%00",
    ],
)
def test_nul_in_the_address_is_a_clear_400(as_role, url):
    response = as_role("ops_admin").get(url)
    assert response.status_code == 400
    assert b"NUL character" in response.content


def test_nul_in_a_json_body_is_a_400_json(client):
    response = client.post("/api/v1/whoami", '{"a": "x\\u0000"}', content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"] == "bad_request"


def test_odd_desk_ids_are_not_a_500(as_role):
    client = as_role("ops_admin")
    Desk.objects.create(name="D")
    for value in ["²", "-1", "1e3", "９"]:
        assert client.get("/backoffice/team/", {"desk": value}).status_code in (200, 403, 404)


@pytest.mark.parametrize("code", ["ДЕМО", "a" * 40, "x y", "<script>"])
def test_odd_referral_codes_set_no_cookie(client, code):
    response = client.get(f"/r/{code}")
    assert response.status_code == 302
    assert "bo_ref" not in response.cookies


def test_desk_manager_member_counts_are_not_multiplied(client):
    desk = Desk.objects.create(name="Three")
    manager = make_staff("desk_manager", desk=desk)
    desk.manager = manager
    desk.save()
    for i in range(2):
        make_staff("sales_agent", email=f"m{i}@test.example", desk=desk, totp=False)
    login(client, manager)
    (only,) = client.get("/backoffice/team/").context["desks"]
    assert only.member_count == 3


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("DEMO_API_KEY", "short", "DEMO_API_KEY"),
        ("DEMO_TOTP_SECRET", "not base32!", "DEMO_TOTP_SECRET"),
        ("DEMO_PASSWORD", "x", "DEMO_PASSWORD"),
    ],
)
def test_seed_demo_refuses_bad_settings_and_writes_nothing(settings, setting, value, message):
    setattr(settings, setting, value)
    with pytest.raises(CommandError, match=message):
        call_command("seed_demo")
    assert not User.objects.exists()


def test_health_probe_for_worker_and_beat(settings):
    import socket

    with pytest.raises(CommandError):
        call_command("health_probe", "beat")
    with pytest.raises(CommandError):
        call_command("health_probe", "worker")
    health.beat_heartbeat_write()
    health.heartbeat_write(f"celery@{socket.gethostname()}", ["default"])
    try:
        call_command("health_probe", "beat")
        call_command("health_probe", "worker")
    finally:
        health.heartbeat_clear(f"celery@{socket.gethostname()}")


def test_healthz_answers_any_host_over_plain_http(client, settings):
    settings.ALLOWED_HOSTS = ["backoffice.example.com"]
    settings.SECURE_SSL_REDIRECT = True
    response = client.get("/healthz", HTTP_HOST="10.1.2.3:8000")
    assert response.status_code in (200, 503)
    assert set(response.json()) == {
        "database",
        "redis",
        "celery",
        "platform_sync",
        "audit_sealing",
        "database_replica",
    }
    assert client.get("/backoffice/", HTTP_HOST="10.1.2.3:8000").status_code == 400


def test_migration_encrypts_secrets_stored_in_clear():
    import importlib

    from django.apps import apps as global_apps
    from django.db import connection

    user = make_staff("sales_agent", totp=False)
    Authenticator.objects.create(user=user, type="totp", data={"secret": TOTP_SECRET})
    Authenticator.objects.create(
        user=user, type="recovery_codes", data={"seed": "abcdef0123456789", "used_mask": 0}
    )
    migration = importlib.import_module("brokerage.migrations.0005_encrypt_mfa_secrets")
    migration.encrypt_existing(global_apps, connection.schema_editor())
    migration.encrypt_existing(global_apps, connection.schema_editor())  # twice: no change
    from allauth.mfa.utils import decrypt

    totp = Authenticator.objects.get(user=user, type="totp")
    seed = Authenticator.objects.get(user=user, type="recovery_codes")
    assert TOTP_SECRET not in totp.data["secret"]
    assert decrypt(totp.data["secret"]) == TOTP_SECRET
    assert decrypt(seed.data["seed"]) == "abcdef0123456789"
