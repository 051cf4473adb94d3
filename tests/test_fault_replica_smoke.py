"""bench/fault_replica.py at smoke scale (docs/faults.md, docs/scaling.md): the primary stopped
as a crash under lead posts, webhooks and dashboard views, its synchronous streaming replica
promoted; nothing acknowledged before the stop is lost, requests are refused cleanly meanwhile
and succeed again afterwards without a process restarted. Its own module, so that it runs
beside the rest."""

import pytest

from tests.test_faults_smoke import run_fault

pytestmark = pytest.mark.bench


def test_the_promoted_replica_has_everything_acknowledged_and_the_system_carries_on():
    figures = run_fault(
        "fault_replica.py", "--before", "6", "--gap", "2", "--after", "8", "--webhooks", "6"
    )
    held = figures["before_stop"]
    assert held["leads_acknowledged"] > 0 and held["in_recovery"]
    assert held["leads_lost"] == held["webhooks_lost"] == 0
    assert figures["unclean"] == 0 and figures["restarted"] == {}
    assert figures["promoted_in_recovery"] is False
    assert figures["after"]["pages"] > 0 and figures["after"]["pages_failed"] == 0
    checks = figures["checks"]
    assert checks["leads_routed_once"] and checks["webhooks_applied_once"]
    assert checks["ledger_verify"] == checks["audit_verify"] == "clean"
