"""The load test (bench/load.py, docs/load.md) still runs, at smoke scale: 30 s of the whole
mix at 0.2x (every kind of traffic, a shared CI machine cannot carry 1x) against the real
processes on throwaway servers. Its latencies depend on the machine
and are read by people; what is asserted is that every kind of traffic was answered, the deals
traded were synced, the audit events sealed and the deposits paid credited (measured from the
database)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.bench


def test_the_load_mix_runs_against_the_whole_system():
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    result = subprocess.run(  # noqa: S603
        [sys.executable, "bench/load.py", "--seconds", "30", "--base", "0.2", "--steps", "",
         "--clients", "6", "--settle", "20", "--no-fail"],
        cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=1200,  # the first run builds the seeded database it then restores in seconds
    )  # fmt: skip
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    assert lines, result.stderr[-3000:]
    figures = json.loads(lines[-1])
    assert result.returncode == 0, (figures, result.stderr[-2000:])
    step = figures["steps"][0]
    assert set(step["kinds"]) == {
        "portal_page", "portal_login", "deposit", "withdrawal", "transfer", "lead",
        "backoffice_page", "client_360", "queue_page",
    }  # fmt: skip
    # Every kind was answered as success answers at least once; latencies and errors on a
    # shared machine are read by people (docs/load.md), not asserted.
    # (A deposit may meet a PSP sandbox too busy to open its page in time on a loaded machine:
    # the form then answers 502, nothing charged, which is the product's answer to that.)
    answered = {
        e["kind"]
        for e in step["endpoints"].values()
        if e["requests"] > e["errors"] or (e["first_error"] or "").startswith("502 ")
    }
    assert answered == set(step["kinds"]), step["endpoints"]
    # gunicorn's own time of the same answers, joined by request id from its JSON access lines
    assert all(k["server_p50_ms"] is not None for k in step["kinds"].values()), step["kinds"]
    assert step["web_busy_workers"] > 0
    assert figures["trades"] > 0
    # the deals traded in the window were synced (the sync's passes in it, for a failure)
    assert step["sync_lag"]["count"] > 0, step["sync_runs"]
    assert step["sealing_lag"]["count"] > 0 and step["unsealed_events"] == 0
    assert step["deposit_credit"]["not_credited"] == 0  # every deposit paid was credited
