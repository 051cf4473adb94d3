"""bench/fault_psp.py at smoke scale (docs/faults.md): the PSP sandbox answering 500s, then
hanging past the product's timeout; deposits fail cleanly, every payout is paid once it is
back, none twice. Its own module, so that it runs beside the rest."""

import pytest

from tests.test_faults_smoke import run_fault

pytestmark = pytest.mark.bench


def test_a_psp_down_or_hanging_sends_nothing_twice_and_pays_everything_once_back():
    figures = run_fault("fault_psp.py", "--errors", "6", "--hang", "10", "--payouts", "2")
    deposits = figures["deposits"]
    assert deposits["during_500s"]["status"] == deposits["during_hang"]["status"] == "failed"
    assert deposits["during_hang"]["seconds"] < 10  # the timeout, not the PSP's hang
    assert deposits["after"]["credits"] == 1
    payouts = figures["payouts"]
    assert payouts["statuses"] == ["paid"] and payouts["sent_to_psp"] == [1]
    assert payouts["ledger_debits"] == payouts["withdrawals"] == 4
    assert figures["checks"]["ledger_verify"] == figures["checks"]["audit_verify"] == "clean"
