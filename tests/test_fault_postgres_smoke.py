"""bench/fault_postgres.py at smoke scale (docs/faults.md): Postgres restarted under lead posts
and PSP webhooks; requests meanwhile refused with a clear 503, never a 500; connections come
back by themselves; nothing written in part. Its own module, so that it runs beside the rest."""

import pytest

from tests.test_faults_smoke import run_fault

pytestmark = pytest.mark.bench


def test_postgres_restarted_under_load_fails_requests_cleanly_and_loses_nothing():
    figures = run_fault(
        "fault_postgres.py", "--down", "5", "--before", "4", "--after", "8", "--webhooks", "8"
    )
    assert figures["unclean"] == 0  # every refusal a 503 database_unavailable
    assert figures["healthz_down"]["database"].startswith("down")
    assert figures["healthz_after"]["database"] == "ok"
    assert figures["restarted"] == {}  # web, workers, beat and sealer reconnected themselves
    checks = figures["checks"]
    assert checks["leads_routed_once"] and checks["webhooks_applied_once"]
    assert checks["ledger_verify"] == checks["audit_verify"] == "clean"
