"""Fault: the PSP answering 500s, then hanging; deposits and payouts fail or wait cleanly and
resume once it is back, nothing sent twice.

On throwaway Postgres and Redis (bench/stack.py), with a worker on the finance queue, beat and
the PSP sandbox. Clients are funded through the sandbox first; then the sandbox's Stripe API
fails on its side (`api_error_status` 500, Stripe's documented `api_error`) for `--errors`
seconds, then holds every call for `--hang` seconds before handling it (`api_hang_seconds`,
longer than the product's `PSP_TIMEOUT_SECONDS`, set to 5 s here: the PSP acts, our call has
given up), then is back. Meanwhile withdrawals are approved (their payouts queued) and clients
open deposits. What must hold:

- a deposit whose payment page cannot be opened fails at once with the PSP's reason (the
  client starts another), never hangs past the timeout; once the PSP is back, a new deposit
  opens, is paid and is credited once;
- every payout whose call failed or timed out is looked up before anything is sent again (by
  its idempotency key and our reference), and once the PSP is back every withdrawal is paid:
  one payout at the PSP and one ledger debit each, including those the hanging PSP made after
  our call had given up;
- the common checks (bench/faultkit.py): ledger and audit chain clean.

    .venv/bin/python bench/fault_psp.py                                   # 30 s of 500s, 40 s hung
    .venv/bin/python bench/fault_psp.py --errors 8 --hang 12 --payouts 3  # smoke

Prints one JSON line; exits 1 if a check fails.
"""

import argparse
import os
import signal
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "brokerage.settings.dev")
os.environ.setdefault("LOG_LEVEL", "WARNING")

from bench.faultkit import (  # noqa: E402
    beat_intervals,
    final_checks,
    funded_client,
    psp_control,
    report,
    seeded_stack,
    verified_client,
)
from bench.stack import wait_until  # noqa: E402

PSP_TIMEOUT = 5


def payouts_at_psp(references: list[str]) -> dict[str, int]:
    _, moves = psp_control("GET", "/_sandbox/stripe/activity")
    counts = dict.fromkeys(references, 0)
    for move in moves:
        if move["kind"] == "payout" and move["reference"] in counts:
            counts[move["reference"]] += 1
    return counts


def withdraw(client) -> int:
    from finance.models import Withdrawal
    from finance.services import withdrawal_request

    w = withdrawal_request(
        client=client, amount=Decimal("40.00"), currency="USD", psp="stripe", actor="fault"
    )
    if Withdrawal.objects.get(pk=w.pk).status != Withdrawal.Status.APPROVED:
        raise RuntimeError("the withdrawal was not approved automatically")
    return w.pk


def deposit_attempt(email: str) -> dict:
    """A client opens a deposit's payment page: how long it took and how it ended."""
    from finance.models import Deposit, PaymentMethod
    from finance.psp import PspError
    from finance.services import deposit_create, deposit_open_session

    client = verified_client(email)
    method = PaymentMethod.objects.filter(psp="stripe", currency="USD", is_active=True).first()
    deposit = deposit_create(client=client, method=method, amount="75.00", actor="fault")
    started = time.monotonic()
    nowhere = "http://127.0.0.1:9/"
    try:
        deposit_open_session(
            deposit=deposit, return_url=nowhere, cancel_url=nowhere, notify_url=nowhere
        )
        error = ""
    except PspError as exc:
        error = exc.message
    deposit = Deposit.objects.get(pk=deposit.pk)
    return {
        "seconds": round(time.monotonic() - started, 2),
        "status": deposit.status,
        "error": error[:160],
        "failure_reason": deposit.failure_reason[:160],
        "ok": deposit.status == Deposit.Status.FAILED and bool(error),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--errors", type=float, default=30, help="seconds of 500s")
    parser.add_argument("--hang", type=float, default=40, help="seconds of hanging")
    parser.add_argument("--payouts", type=int, default=6, help="withdrawals per phase")
    parser.add_argument("--stale", type=int, default=10, help="payout claim threshold, seconds")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))

    started = time.monotonic()
    stack = seeded_stack()
    stack.env.update(
        PSP_TIMEOUT_SECONDS=str(PSP_TIMEOUT),
        FINANCE_PAYOUT_CLAIM_STALE_SECONDS=str(args.stale),
    )
    os.environ["PSP_TIMEOUT_SECONDS"] = str(PSP_TIMEOUT)  # this process's calls too
    try:
        from django.conf import settings

        settings.PSP_TIMEOUT_SECONDS = PSP_TIMEOUT
        stack.start_sandbox()
        clients = [
            funded_client(f"psp.fault{i}@example.com", "100.00")[0] for i in range(2 * args.payouts)
        ]
        stack.start_worker("default", ["default"], concurrency=1)
        stack.start_worker("finance", ["finance"], concurrency=2)
        stack.start_beat()
        beat_intervals(stack, {"finance-payouts-sweeper": 5})
        setup_s = time.monotonic() - started

        from finance.models import Withdrawal

        withdrawals, deposits = [], {}
        psp_control("POST", "/_sandbox/faults", {"api_error_status": 500})
        phase = time.monotonic()
        withdrawals += [withdraw(c) for c in clients[: args.payouts]]
        deposits["during_500s"] = deposit_attempt("psp.deposit.500@example.com")
        time.sleep(max(0, args.errors - (time.monotonic() - phase)))
        psp_control("POST", "/_sandbox/faults", {"api_error_status": 0, "api_hang_seconds": 0})
        psp_control("POST", "/_sandbox/faults", {"api_hang_seconds": args.hang})
        phase = time.monotonic()
        withdrawals += [withdraw(c) for c in clients[args.payouts :]]
        deposits["during_hang"] = deposit_attempt("psp.deposit.hang@example.com")
        time.sleep(max(0, args.hang - (time.monotonic() - phase)))
        psp_control("DELETE", "/_sandbox/faults")
        back_at = time.monotonic()
        paid_during = Withdrawal.objects.filter(pk__in=withdrawals, status="paid").count()

        # Back: a client's new deposit opens, is paid and is credited once.
        _, paid = funded_client("psp.deposit.after@example.com", "75.00")
        from finance.models import Deposit, LedgerTransaction

        credits = LedgerTransaction.objects.filter(idempotency_key=f"deposit:{paid.pk}").count()
        status = Deposit.objects.get(pk=paid.pk).status
        deposits["after"] = {"status": status, "credits": credits}
        deposits["after"]["ok"] = status == "completed" and credits == 1

        def all_paid():
            return Withdrawal.objects.filter(pk__in=withdrawals, status="paid").count() == len(
                withdrawals
            )

        try:
            wait_until(all_paid, 180, "every withdrawal to be paid", step=1)
            resumed_s = round(time.monotonic() - back_at, 1)
        except RuntimeError:
            resumed_s = None
        rows = list(Withdrawal.objects.filter(pk__in=withdrawals))
        at_psp = payouts_at_psp([w.reference for w in rows])
        debits = LedgerTransaction.objects.filter(
            idempotency_key__in=[f"withdrawal:{w.pk}" for w in rows]
        ).count()
        checks = final_checks(withdrawal_ids=withdrawals)
        payouts = {
            "withdrawals": len(rows),
            "paid_while_the_psp_was_down": paid_during,
            "statuses": sorted({w.status for w in rows}),
            "attempts_max": max(w.payout_attempts for w in rows),
            "sent_to_psp": sorted(set(at_psp.values())),
            "ledger_debits": debits,
            "all_paid_s_after_back": resumed_s,
        }
        ok = (
            checks["ok"]
            and all(d["ok"] for d in deposits.values())
            and resumed_s is not None
            and set(at_psp.values()) == {1}
            and debits == len(rows)
        )
        figures = {
            "fault": "psp_down",
            "errors_s": args.errors,
            "hang_s": args.hang,
            "psp_timeout_s": PSP_TIMEOUT,
            "stale_s": args.stale,
            "setup_s": round(setup_s, 1),
            "deposits": deposits,
            "payouts": payouts,
            "checks": checks,
        }
        report(figures, ok)
    finally:
        stack.close()


if __name__ == "__main__":
    main()
