"""Fault: the MT5 server down, cutting connections mid-answer, and rate-limiting, under
continuous trading, the deal sync and account operations. Nothing missed, nothing done twice.

On throwaway Postgres and Redis (bench/stack.py), with a worker on the sync queue (deal sync,
platform reach, account openings' look-ups), one on the others (transfers), beat, the audit
sealer and the sandboxes. Clients resident where no leverage limit applies are funded through
the PSP sandbox and each opens an MT5 account with money moved in. Then, while trades are made
on the MT5 sandbox at a steady rate and the clients keep operating on their accounts (transfers
to and from them, leverage changes, new accounts, trading disabled and enabled again by an AML
case opened and closed), the MT5 sandbox (its control API, sandbox/mt5/control.py):

1. is down for `--down` seconds: its Web API connections are closed, and every request on any
   connection is dropped unanswered and not carried out;
2. cuts a share (`--share`) of its Web API connections in the middle of the answer for
   `--drops` seconds, after carrying the request out;
3. answers "12 Too frequent requests" (MT_RET_ERR_FREQUENT) beyond `--max-rps` requests a
   second per session for `--limited` seconds;

then is back. What must hold afterwards:

- the deal sync resumes by itself and catches up: every deal of the clients' accounts on the
  platform is stored, none twice, and the sync lag is back under 10 s (how long after the
  platform is back is reported);
- every transfer is completed or failed, never left pending; a completed one is on the
  platform exactly once (its balance deal, found by its comment) and in the ledger once, a
  failed one on neither;
- an opened account opening is exactly one account on the platform (found by its reference),
  a failed one none, and one still pending none (its request never reached the server: the
  sweeper fails it after 15 minutes);
- every account's leverage is the platform's; trading is disabled on the platform exactly for
  the accounts whose client has an AML case open, and no account is left due for the reach;
- the common checks (bench/faultkit.py): ledger and audit chain clean.

    .venv/bin/python bench/fault_mt5.py                # 20 s down, 20 s cut, 20 s limited
    .venv/bin/python bench/fault_mt5.py --down 6 --drops 6 --limited 6 --clients 3   # smoke

Prints one JSON line; exits 1 if a check fails.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import signal
import sqlite3
import sys
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "brokerage.settings.dev")
os.environ.setdefault("LOG_LEVEL", "WARNING")

from bench.faultkit import (  # noqa: E402
    ALL_QUEUES,
    beat_intervals,
    final_checks,
    funded_client,
    mt5_control,
    point_trading_server,
    report,
    seeded_stack,
)
from bench.load import Trader  # noqa: E402
from bench.stack import wait_until  # noqa: E402

PLATFORM_TIMEOUT = 5
LAG_TARGET_S = 10
COUNTRY = "AE"  # resident where no leverage limit applies: every leverage of the type offered
LEVERAGES = [30, 100, 200, 500]
# The sweepers that finish what the faults left, every few seconds for the run.
SWEEPERS = {
    "clients-platform-sync": 5,
    "finance-transfers-sweeper": 5,
    "clients-account-openings-sweeper": 5,
    "clients-platform-reach-sweeper": 5,
}


class Operations:
    """The clients at work on their accounts, one operation every `interval` seconds, each
    outcome kept with the phase it fell in."""

    # A client's turn: the AML case opened in the middle of it and closed before its end (so
    # the operations between are refused, and the reach disables and enables trading again).
    KINDS = ["transfer_in", "case", "leverage", "case", "transfer_out", "open", "leverage"]

    def __init__(self, clients: list, officer, interval: float):
        self.clients, self.officer, self.interval = clients, officer, interval
        self.phase = "before"
        self.stop = threading.Event()
        self.outcomes: Counter = Counter()  # (kind, phase, result)
        self.transfer_ids: list[int] = []
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        from django.db import connection

        rng = random.Random(3)  # noqa: S311
        try:
            i = 0
            while not self.stop.is_set():
                kind = self.KINDS[i % len(self.KINDS)]
                client = self.clients[(i // len(self.KINDS)) % len(self.clients)]
                result = self._one(kind, client, rng)
                self.outcomes[(kind, self.phase, result)] += 1
                i += 1
                self.stop.wait(self.interval)
        finally:
            connection.close()

    def _one(self, kind: str, client, rng) -> str:
        from brokerage.errors import DomainError
        from clients.models import AccountType, Client, TradingAccount
        from clients.services import client_aml_case_set
        from clients.trading.services import trading_account_leverage_change, trading_account_open
        from finance.transfers import transfer_request

        client = Client.objects.get(pk=client.pk)
        accounts = list(
            TradingAccount.objects.filter(client=client, status="active").order_by("pk")
        )
        try:
            if kind in ("transfer_in", "transfer_out"):
                transfer = transfer_request(
                    client=client,
                    trading_account=rng.choice(accounts),
                    direction="to_trading" if kind == "transfer_in" else "from_trading",
                    amount="10.00" if kind == "transfer_in" else "5.00",
                    actor=client.user,
                )
                self.transfer_ids.append(transfer.pk)
                return "queued"
            if kind == "leverage":
                account = rng.choice(accounts)
                leverage = rng.choice([x for x in LEVERAGES if x != account.leverage])
                trading_account_leverage_change(
                    account=account, leverage=leverage, actor=client.user
                )
                return "done"
            if kind == "open":
                account_type = AccountType.objects.get(group="real\\standard-usd", currency="USD")
                trading_account_open(
                    client=client, account_type=account_type, leverage=100, actor=client.user
                )
                return "done"
            client_aml_case_set(
                client=client,
                is_open=not client.aml_case_open,
                actor=self.officer,
                reason="fault drill",
            )
            return "opened" if not client.aml_case_open else "closed"
        except DomainError as exc:
            return f"refused: {exc.code}"


def prepare(stack, n: int) -> tuple[list, list[int]]:
    """`n` funded clients, each with an MT5 account holding money moved in from the wallet."""
    from clients.models import AccountType, Client
    from clients.trading.services import trading_account_open
    from finance.transfers import transfer_execute, transfer_request

    account_type = AccountType.objects.get(group="real\\standard-usd", currency="USD")
    clients, logins = [], []
    stamp = int(time.time())
    for i in range(n):
        client, _ = funded_client(f"mt5.fault{stamp}.{i}@example.com", "3000.00")
        Client.objects.filter(pk=client.pk).update(country=COUNTRY, nationality=COUNTRY)
        client.refresh_from_db()
        account, _ = trading_account_open(
            client=client, account_type=account_type, leverage=100, actor="fault"
        )
        transfer = transfer_request(
            client=client,
            trading_account=account,
            direction="to_trading",
            amount="1000.00",
            actor="fault",
        )
        # Moved now, before any worker runs (its queued task then finds it done).
        assert transfer_execute(transfer_id=transfer.pk) == "completed"
        clients.append(client)
        logins.append(account.login)
    return clients, logins


def platform_rows(state_path: str, sql: str, params=()) -> list[tuple]:
    """The MT5 sandbox's own records (its sqlite state, read only): the platform's truth."""
    conn = sqlite3.connect(f"file:{state_path}?mode=ro", uri=True, timeout=30)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def platform_where_in(state_path: str, select: str, column: str, values: list) -> list[tuple]:
    """`select ... WHERE column IN (values)` on the MT5 sandbox's records."""
    marks = ",".join("?" for _ in values) or "NULL"
    return platform_rows(state_path, f"{select} WHERE {column} IN ({marks})", values)  # noqa: S608


def lag_under(lag: float | None) -> bool:
    return lag is not None and lag < LAG_TARGET_S


def sync_lag() -> float | None:
    from clients.sync import sync_lag_report

    lags = [r["lag_s"] for r in sync_lag_report().values()]
    return None if not lags or None in lags else max(lags)


def deals_compared(state_path: str, logins: list[int]) -> dict:
    from clients.models import Deal

    platform = {
        deal for (deal,) in platform_where_in(state_path, "SELECT deal FROM deals", "login", logins)
    }
    stored = list(Deal.objects.filter(account__login__in=logins).values_list("ticket", flat=True))
    return {
        "platform": len(platform),
        "stored": len(stored),
        "missing": len(platform - set(stored)),
        "twice": len(stored) - len(set(stored)),
        "not_on_platform": len(set(stored) - platform),
    }


def check_transfers(state_path: str, ids: list[int]) -> dict:
    from finance.models import LedgerTransaction, Transfer

    rows = list(Transfer.objects.filter(pk__in=ids).select_related("trading_account"))
    comments = [t.comment for t in rows]
    on_platform = Counter(
        c
        for (c,) in platform_where_in(state_path, "SELECT comment FROM deals", "comment", comments)
    )
    booked = Counter(
        LedgerTransaction.objects.filter(
            idempotency_key__in=[f"transfer:{t.pk}" for t in rows]
        ).values_list("idempotency_key", flat=True)
    )
    wrong = []
    for t in rows:
        want = 1 if t.status == "completed" else 0
        if on_platform[t.comment] != want or booked[f"transfer:{t.pk}"] != want:
            wrong.append({"id": t.pk, "status": t.status, "on_platform": on_platform[t.comment]})
    statuses = Counter(t.status for t in rows)
    return {
        "transfers": len(rows),
        "statuses": dict(statuses),
        "attempts_max": max((t.attempts for t in rows), default=0),
        "wrong": wrong[:5],
        "ok": not wrong and not statuses.get("pending"),
    }


def check_openings(state_path: str, client_ids: list[int], since) -> dict:
    from clients.models import AccountOpening

    rows = list(AccountOpening.objects.filter(client_id__in=client_ids, requested_at__gte=since))
    refs = [o.reference for o in rows]
    found: dict[str, list[int]] = {}
    users = platform_where_in(state_path, "SELECT comment, login FROM users", "comment", refs)
    for comment, login in users:
        found.setdefault(comment, []).append(login)
    wrong = []
    for o in rows:
        logins = found.get(o.reference, [])
        # Opened: exactly its account. Failed, or still pending (its request never reached the
        # server, which has no account with its reference: failed once OPENING_GIVE_UP_AFTER
        # has passed, 15 min): none.
        good = logins == [o.account.login] if o.status == "opened" else not logins
        if not good:
            wrong.append({"reference": o.reference, "status": o.status, "on_platform": logins})
    statuses = Counter(o.status for o in rows)
    return {
        "openings": len(rows),
        "statuses": dict(statuses),
        "found_after_a_lost_answer": sum(1 for o in rows if o.lookups and o.status == "opened"),
        "wrong": wrong[:5],
        "ok": not wrong,
    }


def check_accounts(state_path: str, client_ids: list[int]) -> dict:
    from clients.models import PlatformRestraint, TradingAccount

    accounts = list(
        TradingAccount.objects.filter(client_id__in=client_ids).select_related("client")
    )
    logins = [a.login for a in accounts]
    platform = {
        login: (leverage, rights)
        for login, leverage, rights in platform_where_in(
            state_path, "SELECT login, leverage, rights FROM users", "login", logins
        )
    }
    missing = (None, 0)  # an account the platform does not have: wrong on both counts
    leverage_wrong = [a.login for a in accounts if platform.get(a.login, missing)[0] != a.leverage]
    trading_wrong = [
        a.login
        for a in accounts
        if a.login not in platform or bool(platform[a.login][1] & 0x4) != a.client.aml_case_open
    ]
    due = PlatformRestraint.objects.filter(account__in=accounts, due_since__isnull=False).count()
    return {
        "accounts": len(accounts),
        "leverage_not_the_platforms": leverage_wrong,
        "trading_not_as_standing": trading_wrong,
        "trading_disabled": sum(1 for a in accounts if a.client.aml_case_open),
        "left_due": due,
        "ok": not leverage_wrong and not trading_wrong and not due,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=float, default=10, help="seconds before the faults")
    parser.add_argument("--down", type=float, default=20, help="seconds the server is down")
    parser.add_argument("--drops", type=float, default=20, help="seconds of cut answers")
    parser.add_argument("--share", type=float, default=0.3, help="share of answers cut")
    parser.add_argument("--limited", type=float, default=20, help="seconds of rate limiting")
    parser.add_argument("--max-rps", type=int, default=2, help="requests a second per session")
    parser.add_argument("--after", type=float, default=5, help="seconds of operations after")
    parser.add_argument("--clients", type=int, default=6)
    parser.add_argument("--trades", type=float, default=5, help="trades a second")
    parser.add_argument("--every", type=float, default=0.5, help="seconds between operations")
    parser.add_argument("--stale", type=int, default=10, help="transfer claim threshold, s")
    parser.add_argument("--timeout", type=float, default=240, help="seconds to recover")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))

    started = time.monotonic()
    stack = seeded_stack()
    stack.env.update(
        PLATFORM_TIMEOUT_SECONDS=str(PLATFORM_TIMEOUT),
        FINANCE_TRANSFER_CLAIM_STALE_SECONDS=str(args.stale),
    )
    trader = ops = None
    try:
        from django.conf import settings
        from django.utils import timezone

        settings.PLATFORM_TIMEOUT_SECONDS = PLATFORM_TIMEOUT
        state_path = stack.env["SANDBOX_MT5_STATE"]
        stack.start_sandbox()
        point_trading_server(stack)
        from brokerage.models import User

        run_from = timezone.now()
        clients, logins = prepare(stack, args.clients)
        officer = User.objects.get(email="compliance_officer@demo.test")
        stack.start_worker("sync", ["sync"], concurrency=2)
        stack.start_worker("all", [q for q in ALL_QUEUES if q != "sync"], concurrency=2)
        stack.start_beat()
        stack._spawn("sealer", [sys.executable, "manage.py", "audit_sealer"])
        beat_intervals(stack, SWEEPERS)
        wait_until(lambda: lag_under(sync_lag()), 60, "the first sync pass")
        setup_s = time.monotonic() - started

        trader = Trader(stack.env["SANDBOX_MT5_URL"], logins, args.trades)
        ops = Operations(clients, officer, args.every)
        trader.thread.start()
        ops.thread.start()
        lags: list[tuple[float, float | None]] = []

        def phase(name: str, seconds: float, fault: dict | None = None):
            ops.phase = name
            if fault:
                status, answer = mt5_control("POST", "faults", fault)
                assert status == 200, answer
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                lags.append((time.monotonic(), sync_lag()))
                time.sleep(min(1.0, max(0.0, end - time.monotonic())))

        phase("before", args.before)
        faults_from = time.monotonic()
        phase("down", args.down, {"down": {"seconds": args.down}})
        phase("drops", args.drops, {"drop": {"share": args.share, "seconds": args.drops}})
        phase("limited", args.limited, {"max_rps": args.max_rps})
        mt5_control("POST", "faults", {"max_rps": 0, "clear": True})
        back_at = time.monotonic()
        phase("after", args.after)
        ops.stop.set()
        ops.thread.join(60)
        _, sandbox_state = mt5_control("GET", "state")

        # Recovery: nothing pending, nothing due, the sync lag back under its target.
        from clients.models import PlatformRestraint, TradingAccount
        from finance.models import Transfer

        client_ids = [c.pk for c in clients]
        recovered = {}

        back = [at for at, lag in lags if at >= back_at and lag_under(lag)]
        if back:
            recovered["lag"] = back[0] - back_at

        def settled():
            if "lag" not in recovered and lag_under(sync_lag()):
                recovered["lag"] = time.monotonic() - back_at
            if (
                "transfers" not in recovered
                and not Transfer.objects.filter(pk__in=ops.transfer_ids, status="pending").exists()
            ):
                recovered["transfers"] = time.monotonic() - back_at
            openings_ok = check_openings(state_path, client_ids, run_from)["ok"]
            if "openings" not in recovered and openings_ok:
                recovered["openings"] = time.monotonic() - back_at
            if (
                "reach" not in recovered
                and not PlatformRestraint.objects.filter(
                    account__client_id__in=client_ids, due_since__isnull=False
                ).exists()
            ):
                recovered["reach"] = time.monotonic() - back_at
            return len(recovered) == 4

        with contextlib.suppress(RuntimeError):  # the checks say what was not recovered
            wait_until(settled, args.timeout, "recovery", step=1)
        # Every deal traded until now on the platform is stored by the next passes.
        trader.stop.set()
        trader.thread.join(10)
        every_login = list(
            TradingAccount.objects.filter(client_id__in=client_ids).values_list("login", flat=True)
        )
        try:
            wait_until(
                lambda: deals_compared(state_path, every_login)["missing"] == 0,
                60,
                "every deal stored",
                step=1,
            )
            recovered["deals"] = time.monotonic() - back_at
        except RuntimeError:
            pass
        deals = deals_compared(state_path, every_login)
        transfers = check_transfers(state_path, ops.transfer_ids)
        openings = check_openings(state_path, client_ids, run_from)
        accounts = check_accounts(state_path, client_ids)
        checks = final_checks()
        from clients.models import SyncRun

        failed_passes = SyncRun.objects.filter(started_at__gte=run_from, error__gt="").values_list(
            "error", flat=True
        )
        lag_max = max((lag for _, lag in lags if lag is not None), default=None)
        figures = {
            "fault": "mt5_down_cut_limited",
            "down_s": args.down,
            "drops_s": args.drops,
            "share": args.share,
            "limited_s": args.limited,
            "max_rps": args.max_rps,
            "setup_s": round(setup_s, 1),
            "faults_s": round(back_at - faults_from, 1),
            "trades": trader.trades,
            "trades_refused": trader.refused,  # trading disabled (an AML case open), margin
            "trade_refusal": trader.refusal,
            "operations": {" ".join(k): n for k, n in sorted(ops.outcomes.items())},
            "sandbox": {
                k: sandbox_state.get(k) for k in ("dropped", "rejected_frequent", "requests")
            },
            "sync": {
                "lag_max_s": lag_max,
                "passes_failed": len(failed_passes),
                "failures": sorted({e[:90] for e in failed_passes})[:6],
                **deals,
            },
            "recovered_s_after_back": {k: round(v, 1) for k, v in recovered.items()},
            "transfers": transfers,
            "openings": openings,
            "accounts": accounts,
            "checks": checks,
        }
        ok = (
            checks["ok"]
            and deals["missing"] == deals["twice"] == deals["not_on_platform"] == 0
            and "lag" in recovered
            and transfers["ok"]
            and openings["ok"]
            and accounts["ok"]
        )
        report(figures, ok)
    finally:
        for worker in (trader, ops):
            if worker is not None:
                worker.stop.set()
        stack.close()


if __name__ == "__main__":
    main()
