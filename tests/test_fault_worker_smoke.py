"""bench/fault_worker.py at smoke scale (docs/faults.md): a worker killed with SIGKILL in the
middle of a task on the leads, finance (a payout and a transfer), sync and compliance queues,
started again, and each effect exactly once. Its own module, so that it runs beside the rest of
the suite. (The KYC and commissions queues run in the full script: OCR and a second sync pass
cost more than a smoke may.)"""

import pytest

from tests.test_faults_smoke import run_fault

pytestmark = pytest.mark.bench


def test_a_worker_killed_mid_task_leaves_every_effect_exactly_once():
    figures = run_fault(
        "fault_worker.py", "--only", "routing,payout,transfer,sync,screening", "--stale", "5"
    )
    assert figures["not_caught"] == []
    scenarios = figures["scenarios"]
    assert scenarios["routing"]["routed_once"]
    assert scenarios["payout"]["sent_to_psp"] == scenarios["payout"]["ledger_transactions"] == 1
    transfer = scenarios["transfer"]
    assert transfer["on_platform"] == transfer["ledger_transactions"] == 1
    assert scenarios["sync"]["missing"] == scenarios["sync"]["twice"] == 0
    assert scenarios["screening"]["runs"] == 1
    assert figures["checks"]["ledger_verify"] == figures["checks"]["audit_verify"] == "clean"
