"""Quiet by default: a refused request is one log line (no traceback), a server error keeps its
traceback, and the demo's web process writes its logs to files, not the console. Every line is
one JSON object."""

import io
import json
import logging
import re
import subprocess

import requests
from django.core.exceptions import BadRequest, PermissionDenied
from django.test import Client, override_settings
from django.urls import path

from brokerage.logfilters import ClientErrorsWithoutTraceback
from tests.conftest import wait_for

from .conftest import ROOT


def forbidden(request):
    raise PermissionDenied("Not for your role.")


def bad(request):
    raise BadRequest("Nonsense.")


def broken(request):
    raise RuntimeError("boom")


urlpatterns = [path("forbidden", forbidden), path("bad", bad), path("broken", broken)]


def console_output(paths) -> str:
    """What the configured console handler prints for requests to `paths`."""
    handler = next(
        h
        for h in logging.getLogger().handlers
        if any(isinstance(f, ClientErrorsWithoutTraceback) for f in h.filters)
    )
    stream = io.StringIO()
    previous = handler.setStream(stream)
    try:
        client = Client(raise_request_exception=False)
        with override_settings(ROOT_URLCONF=__name__, DEBUG=False):
            for url in paths:
                client.get(url)
    finally:
        handler.setStream(previous)
    return stream.getvalue()


def lines(text: str, logger: str | None = None) -> list[dict]:
    """The JSON lines of `text` (each must parse), those of one logger if named."""
    found = [json.loads(line) for line in text.splitlines() if line.strip()]
    return [e for e in found if logger is None or e["logger"] == logger]


def test_a_refused_request_is_one_line_without_traceback(db):
    out = console_output(["/forbidden", "/bad"])
    refused = lines(out, "django.request")
    assert [e["message"] for e in refused] == [
        "Forbidden (Permission denied): /forbidden",
        "Nonsense.: /bad",
    ]
    assert [e["status"] for e in refused] == [403, 400]
    assert "Traceback" not in out
    # and each request's own line: method, path, status, duration, the same request id
    requests_ = lines(out, "brokerage.request")
    assert [(e["method"], e["path"], e["status"]) for e in requests_] == [
        ("GET", "/forbidden", 403),
        ("GET", "/bad", 400),
    ]
    for refusal, request in zip(refused, requests_, strict=True):
        assert refusal["request_id"] == request["request_id"]
        assert request["duration_ms"] >= 0 and request["level"] == "INFO"
    assert refused[0]["request_id"] != refused[1]["request_id"]


def test_a_server_error_keeps_its_traceback(db):
    out = console_output(["/broken"])
    (error,) = lines(out, "django.request")
    assert error["message"] == "Internal Server Error: /broken" and error["level"] == "ERROR"
    assert error["exc"].startswith("Traceback") and "RuntimeError: boom" in error["exc"]
    assert out.count("Traceback") == 1  # one copy, not one per handler
    (request,) = lines(out, "brokerage.request")
    assert request["status"] == 500 and request["level"] == "ERROR"


def test_the_web_process_logs_to_its_files(served):
    requests.get(served.url("/accounts/login/?next=%00"))
    answer = requests.get(served.url("/no/such/page"), headers={"X-Request-ID": "client-chosen-1"})
    request_id = answer.headers["X-Request-ID"]
    assert request_id != "client-chosen-1"  # made by the server: the header is not trusted here

    def mine():  # gunicorn writes the access line once the answer is sent
        access = lines((served.logs / "web-access.log").read_text())
        return [e for e in access if e.get("request_id") == request_id]

    assert wait_for(mine, timeout=10)
    assert [(e["method"], e["path"], e["status"]) for e in mine()] == [
        ("GET", "/no/such/page", 404)
    ]
    web = (served.logs / "web.log").read_text()
    nul = [e for e in lines(web, "django.request") if e.get("path") == "/accounts/login/"]
    assert nul[0]["message"] == "The address contains a NUL character.: /accounts/login/"
    assert nul[0]["level"] == "WARNING"
    assert [e for e in lines(web, "brokerage.request") if e["request_id"] == request_id]
    (not_found,) = [e for e in lines(web, "django.request") if e.get("request_id") == request_id]
    assert not_found["message"] == "Not Found: /no/such/page" and not_found["status"] == 404
    assert "Traceback" not in web


def test_make_up_sends_every_process_to_its_own_log_file():
    script = (ROOT / ".ci" / "up").read_text()
    assert subprocess.run(["bash", "-n", str(ROOT / ".ci" / "up")]).returncode == 0
    started = set(re.findall(r"^start (\w+) ", script, re.MULTILINE))
    assert started == {"sandbox", "worker", "sealer", "beat", "web"}
    assert '"$@" >>"$LOG/$name.log" 2>&1 &' in script
    # the banner comes after the health wait, and nothing prefixes process output to the console
    assert script.index("/healthz") < script.index("Brokerage back-office is up")
    assert "sed -u" not in script
