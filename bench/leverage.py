"""The book sweep of leverage on a large book: which live accounts are above their client's cap.

In its own database `<DATABASE_NAME>_bench_leverage` (dropped afterwards), with the shipped
leverage limits and regions: `--accounts` clients with one live account each (fixed seed), most
of them retail clients in the EEA, the UK and Australia at 1:100 as the demo's bulk book has
them, the others at 1:30, professional, or living where no limit applies. Measures:

- `select_seconds`: `leverage_above_cap()` over the whole book (the caps of the book's distinct
  residence, nationality and category, then one query joining the accounts to them);
- `sweep_seconds`: `leverage_book_sweep()`, the selection and the marking of every account found
  for the platform reach in one transaction (the reconcile tasks it queues after commit are
  counted, not run: each is a platform round trip, measured by `bench/mt5.py`'s server);
- `limit_edit_seconds`: the sweep a limit edited on one country (GB) runs;
- `baseline_seconds`: the floor, a count of the book's live accounts joined to their clients on
  the same server, and the ratio of the selection to it.

    .venv/bin/python bench/leverage.py                      # stated scale: 100,000 accounts
    .venv/bin/python bench/leverage.py --accounts 2000      # smoke
"""

import argparse
import json
import os
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "brokerage.settings.dev")

import django  # noqa: E402

django.setup()

from django.db import connection, transaction  # noqa: E402
from django.db.models import Q  # noqa: E402

from bench.benchdb import bench_db_create, bench_users, timed  # noqa: E402

EEA = ["DE", "FR", "ES", "IT", "CY", "NL", "PL"]
ELSEWHERE = ["AE", "ZA", "SG", "MY", "TH"]


def book_create(size: int, seed: int) -> dict:
    from clients.models import Client, TradingAccount, TradingServer

    rnd = random.Random(seed)
    server = TradingServer.objects.create(name="Bench", url="https://mt5.bench.invalid")
    users = bench_users("lev", size)
    clients = []
    for user in users:
        draw = rnd.random()
        country = (
            "GB"
            if draw < 0.25
            else rnd.choice(EEA)
            if draw < 0.70
            else "AU"
            if draw < 0.75
            else rnd.choice(ELSEWHERE)
        )
        clients.append(
            Client(
                user=user,
                status=Client.Status.ACTIVE,
                country=country,
                nationality=rnd.choice([country, country, country, rnd.choice(EEA + ELSEWHERE)]),
                category="professional" if rnd.random() < 0.05 else "retail",
                kyc_level=1,
            )
        )
    clients = Client.objects.bulk_create(clients, batch_size=5000)
    TradingAccount.objects.bulk_create(
        [
            TradingAccount(
                client=c,
                server=server,
                login=100_000 + i,
                group="real\\standard-usd",
                currency="USD",
                leverage=100 if rnd.random() < 0.8 else 30,
            )
            for i, c in enumerate(clients)
        ],
        batch_size=5000,
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return {"accounts": size}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=20261204)
    args = parser.parse_args()
    original = bench_db_create("_bench_leverage")
    try:
        import clients.tasks
        from clients.models import PlatformRestraint, TradingAccount
        from clients.trading.sweep import leverage_above_cap, leverage_book_sweep

        figures = book_create(args.accounts, args.seed)
        queued = []
        clients.tasks.platform_reach_task.delay = lambda ids: queued.append(len(ids))

        found, select_seconds = timed(leverage_above_cap)
        _, baseline_seconds = timed(
            lambda: TradingAccount.objects.filter(
                status="active", client__category__in=["retail", "professional"]
            ).count()
        )
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(DISTINCT (country, nationality, category)) FROM clients_client"
            )
            combos = cursor.fetchone()[0]
        marked, sweep_seconds = timed(leverage_book_sweep)
        due = PlatformRestraint.objects.filter(due_since__isnull=False).count()
        PlatformRestraint.objects.update(due_since=None)
        with transaction.atomic():
            edited, limit_edit_seconds = timed(
                lambda: leverage_book_sweep(
                    scope=Q(category="retail") & (Q(country="GB") | Q(nationality="GB")),
                    reason="leverage limit changed",
                )
            )
        figures.update(
            {
                "above_cap": len(found),
                "distinct_residence_nationality_category": combos,
                "select_seconds": round(select_seconds, 3),
                "sweep_seconds": round(sweep_seconds, 3),
                "marked": len(marked),
                "marked_due": due,
                "tasks_queued": len(queued),
                "limit_edit_gb_accounts": len(edited),
                "limit_edit_seconds": round(limit_edit_seconds, 3),
                "baseline_seconds": round(baseline_seconds, 3),
                "select_to_baseline": round(select_seconds / max(baseline_seconds, 1e-6), 1),
            }
        )
    finally:
        connection.creation.destroy_test_db(original, verbosity=0)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
