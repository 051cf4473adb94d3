"""Ledger posting throughput with concurrent writers, against pgbench's TPC-B-like run.

Each writer process posts transfers between two random client wallets through `ledger_post`
(the one path every fund movement takes: the transaction row, its postings, the balance
trigger locking both wallets in key order, the overdraft check and the zero-sum check at
commit). pgbench's built-in TPC-B-like script on the same server, with the same number of
clients, is the floor for "update a balance and insert a history row". The bench makes (and
drops) its own database `<DATABASE_NAME>_bench`, and runs `ledger_verify` afterwards.

    .venv/bin/python bench/ledger.py --transfers 40000 --writers 16 --wallets 10000   # stated
    .venv/bin/python bench/ledger.py --transfers 400 --writers 2 --wallets 50          # smoke

Prints one JSON line.
"""

import argparse
import json
import multiprocessing as mp
import os
import random
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "brokerage.settings.dev")

import django  # noqa: E402

django.setup()

from django.db import connection, connections  # noqa: E402

from bench.audit import pgbench_bin  # noqa: E402
from bench.benchdb import bench_db_create  # noqa: E402

SETUP_SQL = """
INSERT INTO brokerage_user (email, password, first_name, last_name, is_staff, is_active,
                            is_superuser, date_joined)
SELECT 'bench' || g || '@bench.test', '!', 'Bench', g::text, false, true, false, now()
  FROM generate_series(1, %(n)s) g;
INSERT INTO clients_client (user_id, status, country, language, phone, kyc_level, restricted,
                            restriction_reason, aml_case_open, risk_flags, created_at,
                            payment_reference)
SELECT id, 'active', 'GB', 'en', '', 1, false, '', false, '[]'::jsonb, now(), 'BENCH' || id
  FROM brokerage_user WHERE email LIKE 'bench%%@bench.test';
INSERT INTO finance_ledgeraccount (kind, currency, client_id, psp, balance_amount, held_amount,
                                   created_at)
SELECT 'client_wallet', 'USD', id, '', 0, 0, now() FROM clients_client;
INSERT INTO finance_ledgeraccount (kind, currency, client_id, psp, balance_amount, held_amount,
                                   created_at)
VALUES ('psp_clearing', 'USD', NULL, 'stripe', 0, 0, now());
INSERT INTO finance_ledgertransaction (kind, idempotency_key, description, client_id, psp,
                                       external_reference, actor_label, posted_at)
SELECT 'deposit', 'seed:' || a.id, 'Opening deposit', a.client_id, 'stripe', 'pi_seed' || a.id,
       'bench', now()
  FROM finance_ledgeraccount a WHERE a.kind = 'client_wallet';
INSERT INTO finance_posting (transaction_id, account_id, amount, currency, client_id, psp,
                             external_reference, actor_label, posted_at)
SELECT t.id, a.id, x.amount, 'USD', t.client_id, 'stripe', t.external_reference, 'bench', now()
  FROM finance_ledgertransaction t
  JOIN LATERAL (
      SELECT (SELECT id FROM finance_ledgeraccount w
               WHERE w.kind = 'client_wallet' AND w.client_id = t.client_id) AS wallet,
             (SELECT id FROM finance_ledgeraccount c WHERE c.kind = 'psp_clearing') AS clearing
  ) ids ON true
  JOIN LATERAL (VALUES (ids.wallet, 10000.00), (ids.clearing, -10000.00)) x(account, amount)
       ON true
  JOIN finance_ledgeraccount a ON a.id = x.account;
"""


def writer(n: int, transfers: int, wallet_ids: list[int], start_at: float, out) -> None:
    connections.close_all()  # never share the parent's connection
    from finance.ledger import Leg, ledger_post
    from finance.models import LedgerAccount

    accounts = {a.pk: a for a in LedgerAccount.objects.filter(pk__in=wallet_ids)}
    rng = random.Random(n)
    amounts = [Decimal(c) / 100 for c in range(1, 101)]
    pairs = []
    for _ in range(transfers):
        a, b = rng.sample(wallet_ids, 2)
        pairs.append((accounts[a], accounts[b], rng.choice(amounts)))
    while time.time() < start_at:
        time.sleep(0.001)
    t0 = time.perf_counter()
    for i, (src, dst, amount) in enumerate(pairs):
        ledger_post(
            kind="transfer",
            idempotency_key=f"bench:{n}:{i}",
            legs=[Leg(src, -amount), Leg(dst, amount)],
            actor="rule:bench",
        )
    out.put((n, transfers, time.perf_counter() - t0))
    connections.close_all()


def pgbench_tpcb(db: dict, clients: int, seconds: int, scale: int) -> float:
    env = dict(os.environ, PGPASSWORD=db["PASSWORD"] or "")
    base = [pgbench_bin(), "-h", db["HOST"], "-p", str(db["PORT"]), "-U", db["USER"]]
    subprocess.run(
        [*base, "-i", "-q", "-s", str(scale), db["NAME"]],
        check=True,
        capture_output=True,
        env=env,
    )
    out = subprocess.run(
        [
            *base,
            "-n",
            "-c",
            str(clients),
            "-j",
            str(min(clients, 4)),
            "-T",
            str(seconds),
            db["NAME"],
        ],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    ).stdout
    for line in out.splitlines():
        if line.startswith("tps ="):
            return float(line.split()[2])
    raise RuntimeError(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transfers", type=int, default=40000)
    parser.add_argument("--writers", type=int, default=16)
    parser.add_argument("--wallets", type=int, default=10000)
    parser.add_argument("--pgbench-seconds", type=int, default=20)
    parser.add_argument("--pgbench-scale", type=int, default=16)
    args = parser.parse_args()

    old_name = bench_db_create("_bench")
    try:
        with connection.cursor() as cur:
            cur.execute(SETUP_SQL, {"n": args.wallets})
            cur.execute("ANALYZE")
            cur.execute(
                "SELECT id FROM finance_ledgeraccount WHERE kind = 'client_wallet' ORDER BY id"
            )
            wallet_ids = [r[0] for r in cur.fetchall()]
        connections.close_all()
        per = args.transfers // args.writers
        ctx = mp.get_context("fork")
        out = ctx.Queue()
        start_at = time.time() + 1.0
        procs = [
            ctx.Process(target=writer, args=(n, per, wallet_ids, start_at, out))
            for n in range(args.writers)
        ]
        for p in procs:
            p.start()
        results = [out.get(timeout=3600) for _ in procs]
        for p in procs:
            p.join()
        if any(p.exitcode for p in procs):
            raise SystemExit("a writer failed")
        elapsed = max(r[2] for r in results)
        done = sum(r[1] for r in results)
        txn_per_s = done / elapsed

        from finance.ledger import ledger_verify

        counts, problem = ledger_verify()
        baseline = pgbench_tpcb(
            connection.settings_dict, args.writers, args.pgbench_seconds, args.pgbench_scale
        )
    finally:
        connections.close_all()
        connection.creation.destroy_test_db(old_name, verbosity=0)
    print(
        json.dumps(
            {
                "bench": "ledger_post",
                "writers": args.writers,
                "wallets": args.wallets,
                "transfers": done,
                "seconds": round(elapsed, 2),
                "ledger_transactions_per_s": round(txn_per_s, 1),
                "postings_per_s": round(2 * txn_per_s, 1),
                "baseline": (
                    f"pgbench TPC-B-like (built-in), scale {args.pgbench_scale}, "
                    f"{args.writers} clients, {args.pgbench_seconds} s, same server"
                ),
                "baseline_tps": round(baseline, 1),
                "ratio_transactions": round(txn_per_s / baseline, 3),
                "ledger_verify": problem or "clean",
                "postings_total": counts["postings"],
            }
        )
    )


if __name__ == "__main__":
    main()
