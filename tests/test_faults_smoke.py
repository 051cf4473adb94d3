"""The fault scripts (bench/fault_*.py, docs/faults.md) still pass, at smoke scale: each starts
its own throwaway Postgres and Redis and the real processes, injects its fault and checks that
nothing was lost or applied twice."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.bench


def run_fault(script, *args):
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    result = subprocess.run(  # noqa: S603
        [sys.executable, f"bench/{script}", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,  # the first run builds the seeded database it then restores in seconds
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    assert lines, result.stderr[-3000:]
    figures = json.loads(lines[-1])
    # The whole figures, unabridged (a tuple's repr would be cut to a line), then the log's end.
    assert result.returncode == 0, f"{json.dumps(figures, indent=1)}\n{result.stderr[-2000:]}"
    return figures


def test_redis_down_loses_no_lead_or_webhook():
    figures = run_fault(
        "fault_redis.py", "--outage", "10", "--before", "5", "--after", "5", "--webhooks", "10"
    )
    assert figures["requests_failed_during_outage"] == 0
    assert figures["during_outage"]["lead"]["requests"] > 0
    assert figures["healthz_during"]["redis"].startswith("down")
    checks = figures["checks"]
    assert checks["leads_routed_once"] and checks["webhooks_applied_once"]
    assert checks["ledger_verify"] == checks["audit_verify"] == "clean"
