"""Fault: the Celery worker killed (SIGKILL) in the middle of a task, on every queue; each effect
happens exactly once.

On throwaway Postgres and Redis (bench/stack.py), with a worker per department queue (as
docs/scaling.md runs them), beat, the audit sealer and the MT5 and PSP sandboxes. The work of
each queue is made first, then each queue's worker is started, and killed with SIGKILL (its
whole process group: the pool's children with it) once its task is seen in the middle of its
work, then started again:

- leads: a lead's routing, waiting for the lead's row lock inside its transaction;
- kyc: a submission's automatic checks, done, waiting to record the decision;
- finance: a withdrawal's payout, which the PSP has made and not yet answered, and a transfer
  to a trading account, which the platform has booked and not yet answered;
- sync: a sync pass whose deals request the platform has not yet answered;
- commissions: the pay of that pass's new deals, waiting to write the commission lines;
- compliance: a new client's screening, waiting for the client's row lock.

(The script holds the row or table lock a task waits for, or arms the sandbox's delay, and
lets go once the worker is dead.) An unacknowledged message of a killed worker comes back only
after the broker's visibility timeout (an hour), so what finishes the work is the sweepers:
the claims of payouts and transfers are taken for a dead attempt's after
`FINANCE_PAYOUT_CLAIM_STALE_SECONDS` and `FINANCE_TRANSFER_CLAIM_STALE_SECONDS`, and a KYC
submission left unchecked is queued again after `KYC_UNCHECKED_SWEEP_SECONDS` (all shortened here
to `--stale` seconds, by setting), and the sweepers' beat intervals are shortened to a few
seconds in django-celery-beat's table, as ops do in admin. Then, per queue: one routing
decision, one KYC decision, one payout at the PSP and one ledger debit, one transfer in the
ledger and one balance deal on the platform, every platform deal stored once, the commission
lines of every deal (paying them again writes nothing), one screening run per new client; and
the common checks (bench/faultkit.py).

    .venv/bin/python bench/fault_worker.py                  # every queue
    .venv/bin/python bench/fault_worker.py --only payout,transfer

Prints one JSON line; exits 1 if a check fails.
"""

from __future__ import annotations

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
    Holder,
    beat_intervals,
    final_checks,
    funded_client,
    mt5_control,
    platform_deals,
    point_trading_server,
    psp_control,
    report,
    seeded_stack,
    verified_client,
)
from bench.stack import wait_until  # noqa: E402

SCENARIOS = ["routing", "kyc", "payout", "transfer", "sync", "commissions", "screening"]
QUEUE = {
    "routing": "leads",
    "kyc": "kyc",
    "payout": "finance",
    "transfer": "finance",
    "sync": "sync",
    "commissions": "commissions",
    "screening": "compliance",
}
# The sweepers that finish what a killed worker left, every few seconds for the run.
SWEEPERS = {
    "leads-route-sweeper": 5,
    "kyc-unchecked-sweeper": 5,
    "finance-payouts-sweeper": 5,
    "finance-transfers-sweeper": 5,
    "compliance-never-screened-sweeper": 5,
    "ib-commissions-sweeper": 10,
    "clients-platform-sync": 5,
}


class Scenario:
    """One queue's work: made before its worker starts (`prepare`), its fault armed once every
    scenario's work is made (`arm`), seen in the middle of its task (`caught`), let go once the
    worker is dead (`release`), then checked (`done`, `check`)."""

    name = ""

    def __init__(self, stack):
        self.stack = stack
        self.figures: dict = {}

    def prepare(self): ...

    def arm(self): ...

    def caught(self) -> bool: ...

    def release(self): ...

    def done(self) -> bool: ...

    def check(self) -> dict: ...


class Routing(Scenario):
    name = "routing"

    def prepare(self):
        from leads.services import lead_capture
        from leads.validation import clean_lead_input

        data = clean_lead_input(
            {"first_name": "Killed", "last_name": "Worker", "email": "killed.worker@lead.test",
             "country": "GB", "source": "fault"}
        )  # fmt: skip
        lead, _ = lead_capture(data=data, channel="api", actor="integration:fault")
        self.lead_id = lead.pk
        self.hold = Holder(f"SELECT 1 FROM leads_lead WHERE id = {lead.pk} FOR UPDATE")

    def caught(self):
        return self.hold.blocking("leads_lead")

    def release(self):
        self.hold.release()

    def done(self):
        from leads.models import Lead

        return Lead.objects.filter(pk=self.lead_id, routed_at__isnull=False).exists()

    def check(self):
        checks = final_checks(lead_ids=[self.lead_id])
        return {"routed_once": checks["leads_routed_once"]}


class Kyc(Scenario):
    name = "kyc"
    DECISIONS = ("kyc.auto_approved", "kyc.sent_to_review")

    def prepare(self):
        from kyc.models import KycSubmission

        self.submission_id = kyc_submission_ready("killed.kyc@example.com")
        from kyc.services import kyc_submission_submit

        submission = KycSubmission.objects.get(pk=self.submission_id)
        kyc_submission_submit(submission=submission, actor=submission.client.user)
        self.hold = Holder(f"SELECT 1 FROM kyc_kycsubmission WHERE id = {submission.pk} FOR UPDATE")

    def caught(self):
        return self.hold.blocking("kyc_kycsubmission")

    def release(self):
        self.hold.release()

    def _decisions(self):
        from brokerage.models import AuditEvent

        return AuditEvent.objects.filter(
            target_type="kyc.kycsubmission",
            target_id=str(self.submission_id),
            action__in=self.DECISIONS,
        ).count()

    def done(self):
        return self._decisions() > 0

    def check(self):
        from kyc.models import KycSubmission

        state = KycSubmission.objects.get(pk=self.submission_id).state
        return {"decisions": self._decisions(), "state": state, "ok": self._decisions() == 1}


class Payout(Scenario):
    name = "payout"

    def prepare(self):
        from finance.models import Withdrawal
        from finance.services import withdrawal_request

        client, _deposit = funded_client("killed.payout@example.com", "300.00")
        withdrawal = withdrawal_request(
            client=client, amount=Decimal("120.00"), currency="USD", psp="stripe", actor="fault"
        )
        self.withdrawal_id = withdrawal.pk
        self.reference = withdrawal.reference
        status = Withdrawal.objects.get(pk=withdrawal.pk).status
        if status != Withdrawal.Status.APPROVED:
            raise RuntimeError(f"the withdrawal was not approved automatically: {status}")

    def arm(self):
        psp_control("POST", "/_sandbox/faults", {"payout_delay_seconds": 60})

    def _at_psp(self) -> int:
        _, moves = psp_control("GET", "/_sandbox/stripe/activity")
        return sum(1 for m in moves if m["kind"] == "payout" and m["reference"] == self.reference)

    def caught(self):
        from finance.models import Withdrawal

        claimed = Withdrawal.objects.filter(
            pk=self.withdrawal_id, payout_started_at__isnull=False
        ).exists()
        return claimed and self._at_psp() == 1

    def release(self):
        psp_control("DELETE", "/_sandbox/faults")

    def done(self):
        from finance.models import Withdrawal

        return Withdrawal.objects.filter(pk=self.withdrawal_id, status="paid").exists()

    def check(self):
        from finance.models import LedgerTransaction, Withdrawal

        w = Withdrawal.objects.get(pk=self.withdrawal_id)
        debits = LedgerTransaction.objects.filter(idempotency_key=f"withdrawal:{w.pk}").count()
        sent = self._at_psp()
        return {
            "status": w.status,
            "attempts": w.payout_attempts,
            "sent_to_psp": sent,
            "ledger_transactions": debits,
            "ok": w.status == "paid" and sent == 1 and debits == 1,
        }


class Transfer(Scenario):
    name = "transfer"

    def prepare(self):
        from finance.transfers import transfer_request

        client, _ = funded_client("killed.transfer@example.com", "400.00")
        self.account = open_account(client)
        transfer = transfer_request(
            client=client,
            trading_account=self.account,
            direction="to_trading",
            amount="150.00",
            actor="fault",
        )
        self.transfer_id = transfer.pk

    def arm(self):
        _, state = mt5_control("GET", "state")
        self.requests_before = state["requests"].get("/api/trade/balance", 0)
        mt5_control("POST", "faults", {"slow": {"path": "/api/trade/balance", "seconds": 60}})

    def _transfer(self):
        from finance.models import Transfer as Row

        return Row.objects.get(pk=self.transfer_id)

    def _on_platform(self) -> int:
        comment = self._transfer().comment
        return sum(1 for d in platform_deals([self.account.login]) if d.comment == comment)

    def caught(self):
        # Claimed, and the platform has booked the balance operation (its answer is held back);
        # its deals are not read here, so as not to take the sync's armed fault.
        _, state = mt5_control("GET", "state")
        sent = state["requests"].get("/api/trade/balance", 0) > self.requests_before
        return sent and self._transfer().started_at is not None

    def release(self):
        pass  # the fault was taken by the call it held back

    def done(self):
        return self._transfer().status == "completed"

    def check(self):
        from finance.models import LedgerTransaction

        t = self._transfer()
        booked = LedgerTransaction.objects.filter(idempotency_key=f"transfer:{t.pk}").count()
        on_platform = self._on_platform()
        return {
            "status": t.status,
            "on_platform": on_platform,
            "ledger_transactions": booked,
            "ok": t.status == "completed" and on_platform == 1 and booked == 1,
        }


class Sync(Scenario):
    """A sync pass killed while the platform holds its deals request: the next pass, once the
    dead pass's server lock has lapsed, stores every deal, none twice."""

    name = "sync"

    def __init__(self, stack, commissions=None):
        super().__init__(stack)
        self.commissions = commissions

    def prepare(self):
        # An IB's client trades: the deals the pass brings in are the commissions' work too.
        client = referred_client("killed.sync@example.com")
        self.account = open_account(client, deposit="5000.00")
        an_hour_ago = time.time() - 3600  # held long enough for any plan's minimum hold
        for symbol in ("EURUSD", "GBPUSD", "XAUUSD.m"):
            status, opened = mt5_control(
                "POST",
                "trade",
                {"login": self.account.login, "symbol": symbol, "side": "buy", "volume": "0.10",
                 "at": an_hour_ago},
            )  # fmt: skip
            assert status == 200 and "deals" in opened, opened
            status, closed = mt5_control("POST", "trade", {"close": opened["position"]})
            assert status == 200 and "deals" in closed, closed

    def arm(self):
        _, state = mt5_control("GET", "state")
        self.requests_before = state["requests"].get("/api/deal/get_batch", 0)
        mt5_control("POST", "faults", {"slow": {"path": "/api/deal/get_batch", "seconds": 90}})

    def caught(self):
        _, state = mt5_control("GET", "state")
        return state["requests"].get("/api/deal/get_batch", 0) > self.requests_before

    def release(self):
        pass  # the fault was taken by the request it held back

    def _stored(self):
        from clients.models import Deal

        return list(Deal.objects.filter(account=self.account).values_list("ticket", flat=True))

    def done(self):
        tickets = {d.ticket for d in platform_deals([self.account.login])}
        return bool(tickets) and tickets <= set(self._stored())

    def check(self):
        tickets = [d.ticket for d in platform_deals([self.account.login])]
        stored = self._stored()
        missing = set(tickets) - set(stored)
        twice = len(stored) - len(set(stored))
        return {
            "platform_deals": len(tickets),
            "stored": len(stored),
            "missing": len(missing),
            "twice": twice,
            "ok": not missing and not twice and len(stored) == len(set(tickets)),
        }


class Commissions(Scenario):
    """The commissions of the sync pass's deals, killed while it waits to write its lines."""

    name = "commissions"

    def __init__(self, stack, sync: Sync):
        super().__init__(stack)
        self.sync = sync

    def arm(self):
        self.hold = Holder("LOCK TABLE ib_commissionline IN EXCLUSIVE MODE")

    def caught(self):
        return self.hold.blocking("ib_commissionline")

    def release(self):
        self.hold.release()

    def _lines(self):
        from ib.models import CommissionLine

        return CommissionLine.objects.filter(deal__account=self.sync.account)

    def done(self):
        return self._lines().exists()

    def check(self):
        from django.db.models import Count

        from clients.models import Deal
        from ib.engine import commissions_pay

        lines = self._lines()
        per_key = lines.values("deal_id", "partner_id", "tier", "kind").annotate(n=Count("id"))
        twice = sum(1 for row in per_key if row["n"] > 1)
        deal_ids = list(Deal.objects.filter(account=self.sync.account).values_list("pk", flat=True))
        before = lines.count()
        again = commissions_pay(deal_ids=deal_ids)
        after = self._lines().count()
        return {
            "lines": before,
            "twice": twice,
            "paying_again_wrote": after - before,
            "engine_again": {k: v for k, v in again.items() if isinstance(v, int)},
            "ok": before > 0 and twice == 0 and after == before,
        }


class Screening(Scenario):
    name = "screening"

    def prepare(self):
        client = verified_client("killed.screening@example.com")  # its screening task queued
        self.client_id = client.pk
        self.hold = Holder(f"SELECT 1 FROM clients_client WHERE id = {client.pk} FOR UPDATE")

    def caught(self):
        return self.hold.blocking("clients_client")

    def release(self):
        self.hold.release()

    def _runs(self):
        from compliance.models import ScreeningRun

        return ScreeningRun.objects.filter(client_id=self.client_id).count()

    def done(self):
        return self._runs() > 0

    def check(self):
        return {"runs": self._runs(), "ok": self._runs() == 1}


# --- the work's makings ------------------------------------------------------------------------


def kyc_submission_ready(email: str) -> int:
    """A client's complete KYC submission (a passport and a proof of address), not submitted."""
    from datetime import date, timedelta

    from bench.kycdata import submission_complete
    from kyc import specimens

    person = specimens.Person(number="712345678", expiry=date.today() + timedelta(days=1500))
    passport = specimens.passport(person, seed=1)
    return submission_complete(email, person=person, passport=passport).pk


def referred_client(email: str):
    """A verified client attributed to one of the demo's top-level IBs whose plan pays an amount
    per lot on every symbol."""
    from ib.models import Partner, PartnerPlan, PlanRule
    from ib.services import referral_attribute

    client, _ = funded_client(email, None)
    per_lot = PlanRule.objects.filter(
        kind="per_lot", symbol="", symbol_group="", country="", region__isnull=True,
        account_type__isnull=True, rate__gt=0,
    ).values("version__plan")  # fmt: skip
    partners = PartnerPlan.objects.filter(plan__in=per_lot).values("partner")
    for partner in Partner.objects.filter(pk__in=partners, status="active", parent__isnull=True):
        if referral_attribute(client=client, code=partner.referral_code, actor="fault"):
            return client
    raise RuntimeError("no active IB paid per lot to attribute a client to")


def open_account(client, deposit: str | None = None):
    from clients.models import AccountType
    from clients.platforms import platform_for
    from clients.trading.services import trading_account_open

    account_type = AccountType.objects.filter(
        currency="USD", is_active=True, min_kyc_level__lte=client.kyc_level
    ).exclude(group__startswith="demo")[0]
    account, _ = trading_account_open(
        client=client, account_type=account_type, leverage=30, actor="fault"
    )
    if deposit:
        platform = platform_for(account.server)
        platform.balance_operation(login=account.login, amount=Decimal(deposit), comment="seed")
        platform.close()
    return account


# --- the run ---------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help=f"comma-separated: {','.join(SCENARIOS)}")
    parser.add_argument("--stale", type=int, default=10, help="claim thresholds, seconds")
    parser.add_argument("--timeout", type=float, default=240, help="seconds to wait for it all")
    args = parser.parse_args()
    chosen = [s for s in SCENARIOS if not args.only or s in args.only.split(",")]
    if "commissions" in chosen and "sync" not in chosen:
        chosen.insert(chosen.index("commissions"), "sync")

    # Ended from outside (a CI timeout): the stack's servers and processes are still stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    started = time.monotonic()
    stack = seeded_stack()
    stack.env.update(
        FINANCE_PAYOUT_CLAIM_STALE_SECONDS=str(args.stale),
        FINANCE_TRANSFER_CLAIM_STALE_SECONDS=str(args.stale),
        KYC_UNCHECKED_SWEEP_SECONDS=str(args.stale),
        PSP_TIMEOUT_SECONDS="120",  # the PSP's delay is ended by the kill, never by our timeout
        PLATFORM_TIMEOUT_SECONDS="120",
    )
    try:
        stack.start_sandbox()
        point_trading_server(stack)
        made: dict[str, Scenario] = {}
        for name in chosen:
            cls = {"routing": Routing, "kyc": Kyc, "payout": Payout, "transfer": Transfer,
                   "sync": Sync, "screening": Screening}.get(name)  # fmt: skip
            if name == "commissions":
                made[name] = Commissions(stack, made["sync"])
            else:
                made[name] = cls(stack)
        # Work made while no worker runs: each task waits in its queue.
        for scenario in made.values():
            scenario.prepare()
        for scenario in made.values():
            scenario.arm()
        queues = sorted({QUEUE[n] for n in chosen})
        stack.start_worker("default", ["default"], concurrency=1)
        stack.start_beat()
        stack._spawn("sealer", [sys.executable, "manage.py", "audit_sealer"])
        beat_intervals(stack, SWEEPERS)
        for queue in queues:
            stack.start_worker(queue, [queue], concurrency=2, wait=False)
        setup_s = time.monotonic() - started

        # Each queue's worker is killed once every scenario of its queue is caught mid-task.
        pending_kill = {q: [s for s in made.values() if QUEUE[s.name] == q] for q in queues}
        killed, caught_at, done_at = {}, {}, {}
        deadline = time.monotonic() + args.timeout
        while time.monotonic() < deadline:
            for queue, scenarios in list(pending_kill.items()):
                for s in scenarios:
                    if s.name not in caught_at and s.caught():
                        caught_at[s.name] = round(time.monotonic() - started - setup_s, 1)
                if all(s.name in caught_at for s in scenarios):
                    stack.kill(f"worker-{queue}")
                    for s in scenarios:
                        s.release()
                    killed[queue] = round(time.monotonic() - started - setup_s, 1)
                    stack.start_worker(queue, [queue], concurrency=2, wait=False)
                    del pending_kill[queue]
            for s in made.values():
                if s.name not in done_at and QUEUE[s.name] in killed and s.done():
                    done_at[s.name] = round(time.monotonic() - started - setup_s, 1)
            if not pending_kill and len(done_at) == len(made):
                break
            time.sleep(0.3)
        finished_s = round(time.monotonic() - started - setup_s, 1)
        not_caught = [s.name for s in made.values() if s.name not in caught_at]
        for queue in pending_kill:  # never caught: let go, so the checks see the end state
            for s in pending_kill[queue]:
                s.release()
        results = {}
        for name, scenario in made.items():
            try:
                wait_until(scenario.done, 5 if name in not_caught else 1, f"{name} done")
                results[name] = {"done": True}
            except RuntimeError:
                results[name] = {"done": False}
            results[name].update(scenario.check())
            results[name]["caught_s"] = caught_at.get(name)
            results[name]["done_s"] = done_at.get(name)
        checks = final_checks()
        ok = (
            checks["ok"]
            and not not_caught
            and all(r["done"] and r.get("ok", r.get("routed_once")) for r in results.values())
        )
        figures = {
            "fault": "worker_killed",
            "setup_s": round(setup_s, 1),
            "stale_s": args.stale,
            "killed_s": killed,
            "all_done_s": finished_s,
            "not_caught": not_caught,
            "scenarios": results,
            "restarted": stack.restarts,
            "checks": checks,
        }
        report(figures, ok)
    finally:
        stack.close()


if __name__ == "__main__":
    main()
