"""JSON log lines with the request id, from the request into the Celery tasks it enqueues."""

import io
import json
import logging
import uuid
from contextlib import contextmanager

import pytest
from django.test import Client, override_settings

from brokerage.logs import (
    REQUEST_ID_HEADER,
    ContextFilter,
    JsonFormatter,
    context_reset,
    context_set,
    request_id_from,
)
from brokerage.services import api_key_create
from brokerage.tasks import echo_task
from leads.models import Lead
from tests.conftest import login, make_user, start_worker, stop_worker, wait_for
from tests.leads.conftest import floor  # noqa: F401  (the desks a lead is routed to)


@contextmanager
def captured_lines():
    """JSON lines logged meanwhile, formatted as the configured console handler does."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    found: list[dict] = []
    try:
        yield found
    finally:
        root.removeHandler(handler)
        found.extend(json.loads(line) for line in stream.getvalue().splitlines())


def test_a_request_id_is_taken_only_when_trusted_and_well_formed():
    assert request_id_from("lb-2f9c1e7a-0001", trusted=True) == "lb-2f9c1e7a-0001"
    assert request_id_from("lb-2f9c1e7a-0001", trusted=False) != "lb-2f9c1e7a-0001"
    for bad in ["short", 'x" injected', "a" * 200, "line\nbreak-0000", "", None]:
        made = request_id_from(bad, trusted=True)
        assert made != bad and len(made) == 32


@pytest.mark.django_db
def test_a_requests_line_has_its_id_user_path_status_and_duration(client):
    user = make_user("client")
    login(client, user)
    with captured_lines() as found:
        response = client.get("/portal/", HTTP_X_REQUEST_ID="not-trusted-0001")
    rid = response[REQUEST_ID_HEADER]
    assert rid != "not-trusted-0001" and len(rid) == 32
    (line,) = [e for e in found if e["logger"] == "brokerage.request"]
    assert line["request_id"] == rid
    assert line["user_id"] == user.pk
    assert (line["method"], line["path"], line["status"]) == ("GET", "/portal/", 200)
    assert isinstance(line["duration_ms"], float) and line["level"] == "INFO"
    assert {"time", "message"} <= set(line)


@pytest.mark.django_db
@override_settings(TRUST_REQUEST_ID_HEADER=True)
def test_a_trusted_proxys_id_is_kept_and_answered():
    with captured_lines() as found:
        response = Client().get("/accounts/login/", HTTP_X_REQUEST_ID="edge-7f3a9b11c2")
    assert response[REQUEST_ID_HEADER] == "edge-7f3a9b11c2"
    line = next(e for e in found if e["logger"] == "brokerage.request")
    assert line["request_id"] == "edge-7f3a9b11c2" and line["user_id"] is None


@pytest.mark.django_db
def test_a_line_outside_any_request_has_no_request_fields(client):
    client.get("/accounts/login/")  # its context ends with its response
    with captured_lines() as found:
        logging.getLogger("brokerage.test").warning("plain %s", "words", extra={"rows": 3})
    assert found == [
        {
            "time": found[0]["time"],
            "level": "WARNING",
            "logger": "brokerage.test",
            "message": "plain words",
            "rows": 3,
        }
    ]


def task_lines(path, request_id):
    out = []
    for line in path.read_text().splitlines():
        if line.startswith("{"):
            entry = json.loads(line)
            if entry.get("request_id") == request_id:
                out.append(entry)
    return out


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
@override_settings(TRUST_REQUEST_ID_HEADER=True)
def test_the_request_id_reaches_the_log_of_the_task_it_enqueued(floor, tmp_path):  # noqa: F811
    log_path = tmp_path / "worker.log"
    proc = start_worker(log_path=log_path, loglevel="info")
    try:
        key = api_key_create(actor="test", name="Landing", scopes=["leads:write"])[1]
        rid = f"edge-{uuid.uuid4().hex}"
        with captured_lines() as web:
            response = Client().post(
                "/api/v1/leads/",
                json.dumps({"email": "traced@example.com", "country": "GB"}),
                content_type="application/json",
                HTTP_X_API_KEY=key,
                HTTP_X_REQUEST_ID=rid,
            )
        assert response.status_code == 201 and response[REQUEST_ID_HEADER] == rid
        assert any(e["logger"] == "brokerage.request" and e["status"] == 201 for e in web)
        lead = Lead.objects.get(pk=response.json()["id"])
        assert wait_for(lambda: Lead.objects.get(pk=lead.pk).routed_at, timeout=20)

        def routed_line():
            return [
                e
                for e in task_lines(log_path, rid)
                if e.get("task") == "leads.tasks.lead_route_task"
                and e["logger"] == "celery.app.trace"
                and "succeeded" in e["message"]
            ]

        assert wait_for(routed_line, timeout=10), log_path.read_text()[-3000:]

        # work a task hands on keeps the id: the echo enqueued from inside the first echo
        token = context_set(request_id=(rid2 := f"edge-{uuid.uuid4().hex}"))
        try:
            first, second = uuid.uuid4().hex, uuid.uuid4().hex
            echo_task.delay(first, relay=second)
        finally:
            context_reset(token)

        def echoes():
            return {
                e["message"] for e in task_lines(log_path, rid2) if e["logger"] == "brokerage.tasks"
            }

        assert wait_for(lambda: echoes() == {f"echo {first}", f"echo {second}"}, timeout=20), (
            log_path.read_text()[-3000:]
        )
        # a task no request enqueued still gets an id of its own
        echo_task.delay(third := uuid.uuid4().hex)
        assert wait_for(lambda: f'"echo {third}"' in log_path.read_text(), timeout=20)
        line = next(
            json.loads(x) for x in log_path.read_text().splitlines() if f'"echo {third}"' in x
        )
        assert len(line["request_id"]) == 32 and line["request_id"] not in (rid, rid2)
    finally:
        stop_worker(proc)
