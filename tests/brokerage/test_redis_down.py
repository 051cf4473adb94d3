"""Redis down: what needs only the database keeps working, and what could not be queued is
picked up by its sweeper. Redis is made unreachable for real (the cache and the Celery broker
pointed at a port nothing listens on), not mocked.

The whole system under a real outage (gunicorn, workers, beat, Redis stopped 60 s) is
`bench/fault_redis.py` (docs/faults.md)."""

import json
import logging
import time

import pytest
from django.core.cache import caches

from brokerage.celery import app
from brokerage.services import api_key_create
from finance.models import Deposit, LedgerTransaction, PspEvent
from leads.models import Lead
from leads.services import leads_unrouted_route
from sandbox import psp as sandbox
from tests.brokerage.test_auth import signup_form
from tests.finance import conftest as finance_fixtures
from tests.finance.test_webhooks import open_deposit, payment_events, post
from tests.leads import conftest as leads_fixtures

pytestmark = pytest.mark.django_db
DEAD = "redis://127.0.0.1:1/0"  # nothing listens on port 1


methods = finance_fixtures.methods
floor = leads_fixtures.floor


@pytest.fixture
def key():
    return api_key_create(actor="test", name="Landing", scopes=["leads:write"])[1]


@pytest.fixture
def redis_down(settings, monkeypatch):
    settings.REDIS_URL = DEAD
    settings.CACHES = {
        **settings.CACHES,
        "default": {**settings.CACHES["default"], "LOCATION": DEAD},
    }
    # A broker connection pool of its own; the app's pools are put back afterwards.
    monkeypatch.setattr(app.conf, "broker_url", DEAD)
    monkeypatch.setattr(app, "_pool", None)
    monkeypatch.setattr(app.amqp, "_producer_pool", None)
    yield
    caches["default"].close()


def test_the_fixture_really_cuts_redis_off(redis_down):
    with pytest.raises(Exception, match="(?i)connect"):
        caches["default"].incr("anything")
    assert caches["default"].get("anything", "missed") == "missed"
    assert caches["default"].add("lock", True) is True
    with pytest.raises(Exception, match="(?i)connect|refused"):
        app.send_task("leads.tasks.lead_route_task", args=[1])


def test_an_api_lead_is_accepted_and_routed_by_the_sweeper_later(
    client, floor, key, redis_down, django_capture_on_commit_callbacks, caplog
):
    body = {"first_name": "Amal", "email": "amal@example.com", "country": "GB"}
    started = time.monotonic()
    with caplog.at_level(logging.ERROR), django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/api/v1/leads/", json.dumps(body), content_type="application/json",
            HTTP_X_API_KEY=key, HTTP_IDEMPOTENCY_KEY="amal-1",
        )  # fmt: skip
    assert time.monotonic() - started < 5  # the broker's refusal does not hold the request
    assert response.status_code == 201, response.content
    lead = Lead.objects.get(pk=response.json()["id"])
    assert lead.routed_at is None
    assert "leads.tasks.lead_route_task" in caplog.text and "not queued" in caplog.text
    Lead.objects.filter(pk=lead.pk).update(created_at=lead.created_at.replace(year=2020))
    assert leads_unrouted_route() == 1
    assert Lead.objects.get(pk=lead.pk).routed_at is not None


def test_a_portal_sign_up_is_accepted(
    client, floor, redis_down, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/accounts/signup/", signup_form("nora@example.com"))
    assert response.status_code == 302, response.content[:500]
    assert Lead.objects.filter(email="nora@example.com").exists()


def test_a_psp_webhook_credits_the_deposit_once(
    client, methods, redis_down, django_capture_on_commit_callbacks
):
    deposit = open_deposit(methods, "stripe")
    (event,) = payment_events("stripe", deposit)
    headers, raw = sandbox.signed_webhook("stripe", event)
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            response = post(client, "stripe", headers, raw)
        assert response.status_code == 200, response.content
    assert Deposit.objects.get(pk=deposit.pk).status == "completed"
    assert LedgerTransaction.objects.filter(kind="deposit").count() == 1
    assert PspEvent.objects.count() == 1


def test_healthz_names_redis_and_celery_as_down(client, redis_down):
    response = client.get("/healthz")
    body = response.json()
    assert body["database"] == "ok"
    assert body["redis"].startswith("down")
    assert body["celery"] == "down: redis unavailable"
