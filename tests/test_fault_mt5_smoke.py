"""bench/fault_mt5.py at smoke scale (docs/faults.md): the MT5 server down, then cutting answers
mid-way, then rate-limiting, under trading, the deal sync and the clients' account operations;
afterwards every deal stored once, every transfer and account opening done once or not at all,
every account as the platform has it. Its own module, so that it runs beside the rest."""

import pytest

from tests.test_faults_smoke import run_fault

pytestmark = pytest.mark.bench


def test_mt5_down_cut_and_rate_limited_loses_nothing_and_does_nothing_twice():
    figures = run_fault(
        "fault_mt5.py", "--before", "3", "--down", "6", "--drops", "6", "--limited", "6",
        "--after", "2", "--clients", "3", "--every", "0.4", "--timeout", "150",
    )  # fmt: skip
    sandbox = figures["sandbox"]
    assert sandbox["dropped"]["down"] > 0 and sandbox["dropped"]["mid_answer"] > 0
    sync = figures["sync"]
    assert sync["missing"] == sync["twice"] == 0 and sync["platform"] > 0
    assert figures["recovered_s_after_back"]["lag"] < 30
    assert figures["transfers"]["ok"] and figures["openings"]["ok"] and figures["accounts"]["ok"]
    assert figures["checks"]["ledger_verify"] == figures["checks"]["audit_verify"] == "clean"
