"""Quiet by default: a refused request is one log line (no traceback), a server error keeps its
traceback, and the demo's web process writes its logs to files, not the console."""

import io
import logging
import re
import subprocess

import requests
from django.core.exceptions import BadRequest, PermissionDenied
from django.test import Client, override_settings
from django.urls import path

from brokerage.logfilters import ClientErrorsWithoutTraceback

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


def test_a_refused_request_is_one_line_without_traceback(db):
    out = console_output(["/forbidden", "/bad"])
    assert "Forbidden (Permission denied): /forbidden" in out
    assert "Nonsense.: /bad" in out
    assert "Traceback" not in out
    assert len(out.strip().splitlines()) == 2, out


def test_a_server_error_keeps_its_traceback(db):
    out = console_output(["/broken"])
    assert "Internal Server Error: /broken" in out
    assert "Traceback" in out and "RuntimeError: boom" in out
    assert out.count("Traceback") == 1  # one copy, not one per handler


def test_the_web_process_logs_to_its_files(served):
    requests.get(served.url("/accounts/login/?next=%00"))
    requests.get(served.url("/no/such/page"))
    access = (served.logs / "web-access.log").read_text()
    assert "/no/such/page" in access
    web = (served.logs / "web.log").read_text()
    assert "WARNING django.request The address contains a NUL character.: /accounts/login/" in web
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
