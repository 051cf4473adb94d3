"""Prometheus metrics at /metrics (bearer token only), counted across processes, and the same
figures on the system page."""

import time
import uuid

import pytest
from celery import shared_task
from django.test import Client, override_settings
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from brokerage.metrics import bucket_quantile, outside_call
from brokerage.tasks import echo_task
from tests.conftest import wait_for

TOKEN = "test-metrics-token-0123456789"
AUTH = {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}"}


def scrape(client=None) -> dict[tuple, float]:
    """/metrics as {(sample name, sorted labels): value}."""
    with override_settings(METRICS_TOKEN=TOKEN):
        response = (client or Client()).get("/metrics", **AUTH)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    return parse(response.content.decode())


def parse(text: str) -> dict[tuple, float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


def value(samples, sample_name, /, **labels) -> float:
    return samples.get((sample_name, tuple(sorted(labels.items()))), 0.0)


@pytest.mark.django_db
def test_metrics_need_the_bearer_token_and_nothing_else_will_do(as_role):
    with override_settings(METRICS_TOKEN=""):
        off = Client().get("/metrics", **AUTH)
    assert off.status_code == 404 and b"METRICS_TOKEN" in off.content
    with override_settings(METRICS_TOKEN=TOKEN):
        missing = Client().get("/metrics")
        wrong = Client().get("/metrics", HTTP_AUTHORIZATION="Bearer not-the-token")
        basic = Client().get("/metrics", HTTP_AUTHORIZATION=f"Basic {TOKEN}")
        staff = as_role("ops_admin").get("/metrics")  # a signed-in ops admin, without the token
        served = Client().get("/metrics", HTTP_HOST="10.0.0.7:8000", **AUTH)  # scraped by IP
    for refused in (missing, wrong, basic, staff):
        assert refused.status_code == 401
        assert refused["WWW-Authenticate"] == 'Bearer realm="metrics"'
        assert b"brokerage_" not in refused.content
    assert served.status_code == 200 and b"brokerage_up" in served.content


@pytest.mark.django_db
def test_requests_are_counted_by_route_method_and_status(client):
    before = scrape()
    for _ in range(3):
        assert client.get("/accounts/login/").status_code == 200
    assert client.get("/no/such/page/").status_code == 404
    after = scrape()
    login = {"route": "account_login", "method": "GET", "status": "200"}
    assert (
        value(after, "brokerage_http_requests_total", **login)
        - value(before, "brokerage_http_requests_total", **login)
        == 3
    )
    assert (
        value(after, "brokerage_http_request_duration_seconds_count", **login)
        - value(before, "brokerage_http_request_duration_seconds_count", **login)
        == 3
    )
    unmatched = {"route": "unmatched", "method": "GET", "status": "404"}
    assert value(after, "brokerage_http_requests_total", **unmatched) >= 1
    # probes are not counted
    assert not [k for k in after if dict(k[1]).get("route") == "healthz"]


@pytest.mark.django_db
def test_queue_depth_and_the_oldest_messages_age_per_queue():
    echo_task.delay(uuid.uuid4().hex)  # no worker runs here: it waits in the default queue
    time.sleep(1.1)
    echo_task.delay(uuid.uuid4().hex)
    samples = scrape()
    assert value(samples, "brokerage_celery_queue_length", queue="default") == 2
    assert value(samples, "brokerage_celery_queue_oldest_age_seconds", queue="default") >= 1.0
    assert value(samples, "brokerage_celery_queue_length", queue="kyc") == 0
    assert value(samples, "brokerage_celery_queue_oldest_age_seconds", queue="kyc") == 0
    assert value(samples, "brokerage_up", part="database") == 1
    assert value(samples, "brokerage_up", part="redis") == 1


@pytest.mark.django_db
def test_audit_sealing_and_sync_lag_are_read_when_scraped():
    from clients.models import TradingServer
    from tests.clients.factories import make_server

    server = make_server("Live-1", is_active=True)
    TradingServer.objects.filter(pk=server.pk).update(deals_synced_through=timezone.now())
    samples = scrape()
    lag = value(samples, "brokerage_platform_sync_lag_seconds", name="Live-1")
    assert 0 <= lag < 60
    assert ("brokerage_audit_sealing_lag_seconds", ()) in samples


@shared_task
def _fails_task():
    raise ValueError("nope")


@pytest.mark.django_db
def test_task_outcomes_and_durations_are_counted_per_task():
    name = "tests.brokerage.test_metrics._fails_task"
    before = scrape()
    _fails_task.apply()
    echo_task.apply(args=[uuid.uuid4().hex])
    after = scrape()

    def delta(sample, **labels):
        return value(after, sample, **labels) - value(before, sample, **labels)

    assert delta("brokerage_celery_tasks_total", task=name, outcome="failure") == 1
    echo = "brokerage.tasks.echo_task"
    assert delta("brokerage_celery_tasks_total", task=echo, outcome="success") == 1
    assert delta("brokerage_celery_task_duration_seconds_count", task=echo) == 1


@pytest.mark.django_db
def test_outside_calls_are_timed_and_their_errors_counted_at_the_adapter_seams():
    from clients.platforms.base import PlatformUnavailable
    from clients.platforms.mt5 import MT5WebAPI
    from finance.psp.base import PspError
    from finance.psp.http import call

    before = scrape()
    with pytest.raises(PspError):
        call("stripe", "POST", "http://127.0.0.1:9/v1/payment_intents", body=b"")
    with pytest.raises(PlatformUnavailable):
        MT5WebAPI(url="http://127.0.0.1:9", login="1000", password="x", timeout=2).call(
            "/api/user/get", {"login": "1"}
        )
    with pytest.raises(RuntimeError), outside_call("psp", "skrill", "GET"):
        raise RuntimeError("no code")
    after = scrape()

    def delta(sample, **labels):
        return value(after, sample, **labels) - value(before, sample, **labels)

    stripe = {"system": "psp", "provider": "stripe", "operation": "POST"}
    assert delta("brokerage_outside_call_duration_seconds_count", **stripe) == 1
    assert delta("brokerage_outside_call_errors_total", error="psp_unreachable", **stripe) == 1
    mt5 = {"system": "platform", "provider": "mt5", "operation": "/api/user/get"}
    assert delta("brokerage_outside_call_duration_seconds_count", **mt5) == 1
    assert delta("brokerage_outside_call_errors_total", error="platform_unavailable", **mt5) == 1
    skrill = {"system": "psp", "provider": "skrill", "operation": "GET"}
    assert delta("brokerage_outside_call_errors_total", error="RuntimeError", **skrill) == 1


def test_quantiles_from_buckets_interpolate_as_prometheus_does():
    buckets = [(0.1, 50.0), (0.2, 90.0), (0.5, 100.0), (float("inf"), 100.0)]
    assert bucket_quantile(0.5, buckets) == pytest.approx(0.1)
    assert bucket_quantile(0.7, buckets) == pytest.approx(0.15)
    assert bucket_quantile(0.95, buckets) == pytest.approx(0.35)
    assert bucket_quantile(0.95, []) is None
    assert bucket_quantile(0.99, [(0.1, 0.0), (float("inf"), 4.0)]) == 0.1  # past the last bound


@pytest.mark.django_db
def test_the_system_page_shows_the_same_figures(as_role):
    client = as_role("ops_admin")
    for _ in range(2):
        client.get("/backoffice/team/")
    echo_task.delay(uuid.uuid4().hex)
    page = client.get("/backoffice/system/")
    assert page.status_code == 200
    summary = page.context["metrics"]
    team = next(r for r in summary["routes"] if r["route"] == "backoffice:team")
    samples = scrape()
    counted = sum(  # the page sums a route's answers over their statuses
        n
        for (name, labels), n in samples.items()
        if name == "brokerage_http_request_duration_seconds_count"
        and dict(labels).get("route") == "backoffice:team"
        and dict(labels).get("method") == "GET"
    )
    assert team["count"] == counted >= 2
    assert b'data-route="backoffice:team"' in page.content
    row = next(q for q in page.context["queue_rows"] if q["name"] == "default")
    assert row["depth"] == 1 and row["age_s"] is not None
    fragment = client.get("/backoffice/system/", HTTP_HX_REQUEST="true")
    assert b"data-metrics" in fragment.content


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_process_counts_into_the_same_figures(worker):
    before = scrape()
    token = uuid.uuid4().hex
    echo_task.delay(token)
    echo = {"task": "brokerage.tasks.echo_task", "outcome": "success"}

    def counted():
        return value(scrape(), "brokerage_celery_tasks_total", **echo) > value(
            before, "brokerage_celery_tasks_total", **echo
        )

    assert wait_for(counted, timeout=20)


def test_the_system_page_words_routes_tasks_and_calls_for_people():
    from brokerage.metrics import operation_label, route_label, task_label

    assert route_label("compliance:case_new") == "Compliance · case new"
    assert route_label("kyc:wizard") == "KYC · wizard"
    assert route_label("ib:kyc_review") == "IB · KYC review"
    assert route_label("account_login") == "Account login"
    assert route_label("unmatched") == "Addresses that match nothing"
    assert task_label("leads.tasks.lead_route_task") == "Lead route (leads)"
    assert operation_label("/api/deal/get_batch") == "deal get batch"
