import pytest
from django.db import connection

from brokerage import health
from brokerage.kv import redis_client


@pytest.fixture
def heartbeat():
    health.heartbeat_write("probe@test", ["default"])
    yield
    health.heartbeat_clear("probe@test")


def test_all_ok_with_a_worker_heartbeat(db, client, heartbeat):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "database": "ok",
        "redis": "ok",
        "celery": "ok",
        "platform_sync": {},  # no trading server configured (tests/clients/test_sync.py)
        "audit_sealing": {"status": "ok", "unsealed": 0, "lag_s": 0.0},
        "database_replica": "off",  # no read replica (tests/brokerage/test_db.py)
    }
    assert response["Cache-Control"].startswith("max-age=0")


def test_the_audit_sealer_falling_behind_shows_but_does_not_fail_the_node(db, client, heartbeat):
    from datetime import timedelta

    from django.core.management import call_command
    from django.core.management.base import CommandError
    from django.utils import timezone

    from brokerage.audit import audit_record
    from brokerage.models import AuditEvent

    AuditEvent.objects.create(
        actor_label="rule:old", action="old", occurred_at=timezone.now() - timedelta(minutes=5)
    )
    audit_record(actor="rule:new", action="new")
    response = client.get("/healthz")
    assert response.status_code == 200
    sealing = response.json()["audit_sealing"]
    assert sealing["status"] == "behind" and sealing["unsealed"] == 2
    assert sealing["lag_s"] >= 299
    with pytest.raises(CommandError, match="sealer is behind"):
        call_command("health_probe", "sealer")
    call_command("audit_sealer", once=True)
    assert client.get("/healthz").json()["audit_sealing"]["status"] == "ok"
    call_command("health_probe", "sealer")


def test_no_worker_is_503_naming_celery(db, client):
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["database"] == "ok" and body["redis"] == "ok"
    assert body["celery"].startswith("down")


def test_heartbeat_expires(db, client, settings):
    settings.CELERY_HEARTBEAT_TTL = 1
    health.heartbeat_write("short@test", ["default"])
    assert 0 < redis_client().ttl(f"{health.HEARTBEAT_PREFIX}short@test") <= 1  # -1: no expiry
    health.heartbeat_clear("short@test")


def test_redis_down_is_503_naming_redis(db, client, heartbeat, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["database"] == "ok"
    assert body["redis"].startswith("down")
    assert body["celery"] == "down: redis unavailable"


@pytest.mark.django_db(transaction=True)
def test_database_down_is_503_naming_the_database(client, heartbeat):
    original = connection.settings_dict["PORT"]
    connection.close()
    connection.settings_dict["PORT"] = 1
    try:
        response = client.get("/healthz")
    finally:
        connection.close()
        connection.settings_dict["PORT"] = original
    assert response.status_code == 503
    body = response.json()
    assert body["database"].startswith("down")
    assert body["redis"] == "ok" and body["celery"] == "ok"


def test_health_answers_only_get(db, client):
    assert client.post("/healthz").status_code == 405
