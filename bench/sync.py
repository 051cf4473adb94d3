"""Deal sync from the MT5 sandbox: backfill throughput, then lag under continuous trading.

In its own database `<DATABASE_NAME>_bench` (dropped afterwards), against an MT5 sandbox in its
own process. N accounts with D deals each are made in the sandbox (its bulk control endpoint)
and linked to clients; then:

1. backfill: one sync pass reads every account's history (batched logins, the server's rate
   limit) -> deals ingested per second, calls made;
2. continuous trading: for S seconds a trader thread opens and closes positions on random
   accounts at R trades a second through the sandbox, while the sync runs every I seconds as beat
   would -> per-deal lag (ingested at - traded at) p50/p95/max, and the lag /healthz reports.

    .venv/bin/python bench/sync.py --accounts 10000 --deals 200             # stated scale
    .venv/bin/python bench/sync.py --accounts 50 --deals 10 --seconds 3     # smoke

Prints one JSON line; fails if a deal is missing or stored twice.
"""

import argparse
import json
import os
import random
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "brokerage.settings.dev")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402

from bench.benchdb import bench_db_create  # noqa: E402
from bench.mt5 import LOGIN, PASSWORD, Sandbox  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--deals", type=int, default=200, help="deals per account (history)")
    parser.add_argument("--seconds", type=float, default=60, help="continuous trading phase")
    parser.add_argument("--rate", type=float, default=20, help="trades a second in that phase")
    parser.add_argument("--interval", type=float, default=2, help="seconds between sync passes")
    parser.add_argument("--batch", type=int, default=500, help="logins per call")
    parser.add_argument("--rps", type=int, default=20, help="the server's rate limit, calls/s")
    args = parser.parse_args()

    from brokerage.health import extra_report
    from clients.models import Client, Deal, TradingAccount, TradingServer
    from clients.platforms.secrets import password_encrypt
    from clients.sync import server_sync

    old_name = bench_db_create("_bench")
    sandbox = Sandbox()
    try:
        t0 = time.perf_counter()
        made = sandbox.control(
            "POST", "bulk", {"accounts": args.accounts, "deals_per_account": args.deals, "days": 30}
        )
        first, last = made["logins"]
        make_s = time.perf_counter() - t0
        server = TradingServer.objects.create(
            name="MT5 Bench",
            url=sandbox.url,
            manager_login=LOGIN,
            manager_password=password_encrypt(PASSWORD),
            timezone="Europe/Athens",
            symbol_suffixes=[".m", ".pro", ".cash"],
            backfill_hours=24 * 31,
            batch_size=args.batch,
            max_requests_per_second=args.rps,
        )
        from django.contrib.auth import get_user_model

        User = get_user_model()
        users = User.objects.bulk_create(
            [User(email=f"b{n}@bench.test", password="!") for n in range(args.accounts)]
        )
        clients = Client.objects.bulk_create([Client(user=u) for u in users])
        TradingAccount.objects.bulk_create(
            [
                TradingAccount(
                    client=c, server=server, login=login, group="real\\standard-usd",
                    currency="USD", leverage=100,
                )
                for c, login in zip(clients, range(first, last + 1), strict=True)
            ]
        )  # fmt: skip

        t0 = time.perf_counter()
        backfill = server_sync(server_id=server.pk)
        backfill_s = time.perf_counter() - t0
        ingested = backfill["deals"]["ingested"]
        assert ingested == made["deals"], (ingested, made["deals"])

        # Continuous trading while beat-like passes run.
        logins = list(range(first, last + 1))
        stop = threading.Event()
        traded = {"trades": 0, "refused": 0}

        def trader():
            rnd = random.Random(7)  # noqa: S311
            symbols = ["EURUSD", "GBPUSD", "USDJPY", "XAUUSD.m", "US30.cash", "BTCUSD.pro"]
            next_at = time.perf_counter()
            while not stop.is_set():
                answer = sandbox.control(
                    "POST",
                    "trade",
                    {
                        "login": rnd.choice(logins),
                        "symbol": rnd.choice(symbols),
                        "side": rnd.choice(["buy", "sell"]),
                        "volume": "0.01",
                        "profit": f"{rnd.uniform(-30, 30):.2f}",
                    },
                )
                traded["trades" if "deals" in answer else "refused"] += 1
                next_at += 1 / args.rate
                time.sleep(max(0.0, next_at - time.perf_counter()))

        thread = threading.Thread(target=trader, daemon=True)
        start_count = Deal.objects.count()
        history_top = Deal.objects.order_by("-ticket").values_list("ticket", flat=True).first()
        lag_samples, passes, pass_s = [], 0, []
        phase_start = time.perf_counter()
        thread.start()
        while time.perf_counter() - phase_start < args.seconds:
            t1 = time.perf_counter()
            # What /healthz says just before a pass: the stalest it gets.
            lag_samples.append(extra_report()["platform_sync"]["MT5 Bench"]["lag_s"])
            server_sync(server_id=server.pk)
            pass_s.append(time.perf_counter() - t1)
            passes += 1
            time.sleep(max(0.0, args.interval - (time.perf_counter() - t1)))
        stop.set()
        thread.join(30)
        time.sleep(0.5)
        server_sync(server_id=server.pk)  # the last trades
        expected = start_count + 2 * traded["trades"]
        total = Deal.objects.count()
        assert total == expected, (total, expected)
        with connection.cursor() as cur:
            cur.execute(
                "SELECT extract(epoch FROM synced_at - time) FROM clients_deal WHERE ticket > %s",
                [history_top],
            )
            lags = sorted(float(r[0]) for r in cur.fetchall())
        answer = sandbox.control("GET", "state")
        figures = {
            "accounts": args.accounts,
            "history_deals": made["deals"],
            "sandbox_bulk_s": round(make_s, 1),
            "backfill_s": round(backfill_s, 2),
            "backfill_deals_per_s": round(ingested / backfill_s),
            "backfill_calls": backfill["deals"]["calls"],
            "batch_size": args.batch,
            "rate_limit_rps": args.rps,
            "trading_seconds": args.seconds,
            "trades": traded["trades"],
            "live_deals": total - start_count,
            "sync_passes": passes,
            "pass_s_p50": round(statistics.median(pass_s), 2) if pass_s else None,
            "deal_lag_s_p50": round(_pct(lags, 50), 2) if lags else None,
            "deal_lag_s_p95": round(_pct(lags, 95), 2) if lags else None,
            "deal_lag_s_max": round(lags[-1], 2) if lags else None,
            # The first sample still shows the backfill pass's own length.
            "healthz_lag_s_max": max(lag_samples[1:]) if len(lag_samples) > 1 else None,
            "server_requests": answer["requests"],
            "missing_or_duplicated": expected - total,
        }
        print(json.dumps(figures))
    finally:
        sandbox.stop()
        connection.creation.destroy_test_db(old_name, verbosity=0)


def _pct(values, p):
    return values[min(len(values) - 1, int(len(values) * p / 100))]


if __name__ == "__main__":
    main()
