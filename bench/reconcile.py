"""Reconciliation of a month: a PSP statement of N rows against N ledger entries.

Builds (in its own database `<DATABASE_NAME>_bench`, dropped afterwards) N completed deposits
on the Stripe clearing account spread over this month, and a Stripe itemized payout
reconciliation CSV of N rows (by default) describing the same month with known differences:
0.2% missing in the ledger, 0.2% amount mismatches, 0.2% duplicates, 0.2% lines without a
reference (matched by amount and date), and 0.2% of the ledger entries missing at the PSP.
Then times what finance waits for: the upload stored, the file read and loaded (each line
paired by reference as it passes), and the rest of the matching with the differences written,
as `reconciliation_start` + `reconciliation_execute` do it in the worker. The figures per
phase (`seconds_load`, `seconds_match`; the commit is the rest of `seconds_total`), this
process's CPU (reading, pairing, encoding rows for COPY) and the load average before and after
are printed beside the total: on a shared machine the load says how much of it was ours.

    .venv/bin/python bench/reconcile.py --rows 1000000                # stated scale
    .venv/bin/python bench/reconcile.py --rows 2000 --format csv      # smoke
    .venv/bin/python bench/reconcile.py --rows 1000000 --format mt940  # a bank's month, daily

Prints one JSON line, and fails if the differences found are not exactly the ones made.
"""

import argparse
import json
import os
import random
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "brokerage.settings.dev")

import django  # noqa: E402

django.setup()

from django.core.files.uploadedfile import UploadedFile  # noqa: E402
from django.db import connection, connections  # noqa: E402

from bench.benchdb import bench_db_create  # noqa: E402
from bench.ledger import SETUP_SQL  # noqa: E402

BATCH = 100_000
LEDGER_SQL = """
WITH src AS (
    SELECT g, (SELECT array_agg(id ORDER BY id) FROM finance_ledgeraccount
                WHERE kind = 'client_wallet') AS wallets
      FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) g
), t AS (
    INSERT INTO finance_ledgertransaction (kind, idempotency_key, description, client_id, psp,
                                           external_reference, actor_label, posted_at)
    SELECT 'deposit', 'bench-dep:' || g, 'Deposit', NULL, 'stripe', 'pi_bench' || g, 'bench',
           %(start)s::timestamptz + ((g * 7919) %% %(seconds)s) * interval '1 second'
      FROM src
    RETURNING id, external_reference, posted_at
)
INSERT INTO finance_posting (transaction_id, account_id, amount, currency, client_id, psp,
                             external_reference, actor_label, posted_at)
SELECT t.id, x.account, x.amount, 'USD', NULL, 'stripe', t.external_reference, 'bench',
       t.posted_at
  FROM t
  CROSS JOIN LATERAL (
      SELECT ((substr(t.external_reference, 9)::bigint * 7919) %% 100000 + 1000)::numeric / 100
             AS value
  ) v
  CROSS JOIN LATERAL (VALUES
      ((SELECT wallets[1 + (substr(t.external_reference, 9)::bigint %% array_length(wallets, 1))]
          FROM src LIMIT 1), v.value),
      (%(clearing)s, -v.value)
  ) x(account, amount)
"""


def amount_of(n: int) -> Decimal:
    return Decimal((n * 7919) % 100000 + 1000) / 100


@dataclass(frozen=True)
class Row:
    line_no: int
    reference: str
    amount: Decimal
    currency: str
    booked_on: date
    description: str = ""
    category: str = "charge"
    payment_reference: str = ""


def statement_rows(n: int, start: date, days: int, seconds: int, seed: int = 7):
    """The PSP's view of the month, with the differences counted in `made`."""
    rng = random.Random(seed)
    made = dict.fromkeys(
        ["missing_in_ledger", "amount_mismatch", "duplicate", "missing_at_psp", "no_reference"], 0
    )
    rows = []
    line = 0
    for g in range(1, n + 1):
        booked = start + timedelta(seconds=(g * 7919) % seconds)
        booked_on = min(booked.date(), start.date() + timedelta(days=days - 1))
        roll = rng.random()
        if roll < 0.002:
            made["missing_at_psp"] += 1
            continue
        line += 1
        ref, amount = f"pi_bench{g}", amount_of(g)
        if roll < 0.004:
            made["amount_mismatch"] += 1
            amount += Decimal("0.01")
        elif roll < 0.006:
            made["no_reference"] += 1
            ref = ""
        rows.append(Row(line, ref, amount, "USD", booked_on, f"Payment {g}"))
        if 0.006 <= roll < 0.008:
            made["duplicate"] += 1
            line += 1
            rows.append(Row(line, ref, amount, "USD", booked_on, f"Payment {g} (again)"))
        if 0.008 <= roll < 0.010:
            made["missing_in_ledger"] += 1
            line += 1
            # Money the ledger never saw: an amount no deposit of the bench has.
            odd = Decimal(2000) + Decimal(g) / 100
            rows.append(Row(line, f"pi_elsewhere{g}", odd, "USD", booked_on, "Unknown"))
    return rows, made


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument(
        "--format", choices=["stripe_csv", "csv", "camt053", "mt940"], default="stripe_csv"
    )
    args = parser.parse_args()

    from brokerage.models import User
    from finance.models import ReconciliationRun
    from finance.reconciliation import services
    from finance.reconciliation.generic_csv import ColumnMapping
    from finance.reconciliation.selectors import month_bounds
    from finance.reconciliation.services import reconciliation_execute, reconciliation_start
    from sandbox import statements as writers

    old_name = bench_db_create("_bench")
    tmp = tempfile.NamedTemporaryFile(suffix=".statement", delete=False)  # noqa: SIM115
    try:
        first, last = month_bounds(date.today())
        from datetime import UTC, datetime

        start = datetime(first.year, first.month, first.day, tzinfo=UTC)
        days = (last - first).days + 1
        seconds = days * 86400 - 1
        t0 = time.perf_counter()
        with connection.cursor() as cur:
            # Clients, wallets and the clearing account, without the ledger bench's seed deposits.
            accounts_only = SETUP_SQL.split("INSERT INTO finance_ledgertransaction")[0]
            cur.execute(accounts_only, {"n": 1000})
            cur.execute("SELECT id FROM finance_ledgeraccount WHERE kind = 'psp_clearing'")
            clearing = cur.fetchone()[0]
        for lo in range(1, args.rows + 1, BATCH):
            hi = min(args.rows, lo + BATCH - 1)
            with connection.cursor() as cur:
                cur.execute(
                    LEDGER_SQL,
                    {"lo": lo, "hi": hi, "start": start, "seconds": seconds, "clearing": clearing},
                )
        with connection.cursor() as cur:
            cur.execute("ANALYZE")
        setup_s = time.perf_counter() - t0

        rows, made = statement_rows(args.rows, start, days, seconds)
        t0 = time.perf_counter()
        if args.format == "stripe_csv":
            chunks = writers.iter_stripe_itemized_csv(rows)
        elif args.format == "csv":
            chunks = writers.iter_generic_csv(rows)
        elif args.format == "mt940":
            chunks = writers.iter_mt940_days(
                rows, account="GB33BUKB20201555555555", currency="USD", opening_balance=Decimal(0)
            )
        else:
            chunks = [
                writers.write_camt053(
                    rows,
                    account_iban="GB33BUKB20201555555555",
                    currency="USD",
                    opening_balance=Decimal(0),
                )
            ]
        for chunk in chunks:
            tmp.write(chunk)
        tmp.close()
        size = os.path.getsize(tmp.name)
        write_s = time.perf_counter() - t0

        officer = User.objects.create_user(email="officer@bench.test", is_staff=True)
        officer.has_perm = lambda perm: True  # the bench measures the work, not the roles
        mapping = (
            ColumnMapping(reference="reference", amount="amount", currency="currency", date="date")
            if args.format == "csv"
            else None
        )
        phases = {}

        def timed(name, fn):
            def run_timed(*a, **kw):
                t = time.perf_counter()
                try:
                    return fn(*a, **kw)
                finally:
                    phases[name] = round(time.perf_counter() - t, 2)

            return run_timed

        services.load_lines = timed("load", services.load_lines)
        services.match_run = timed("match", services.match_run)
        load_before = os.getloadavg()
        t0, cpu0 = time.perf_counter(), time.process_time()
        with open(tmp.name, "rb") as fh:
            upload = UploadedFile(fh, name="statement", size=size)
            run = reconciliation_start(
                psp="stripe",
                fmt=args.format,
                uploaded_file=upload,
                period_start=first,
                period_end=last,
                mapping=mapping,
                actor=officer,
            )
        stored_s = time.perf_counter() - t0
        reconciliation_execute(run_id=run.pk)
        total_s = time.perf_counter() - t0
        cpu_s = time.process_time() - cpu0
        run = ReconciliationRun.objects.get(pk=run.pk)
        counts = run.counts
        found = {k: counts.get(k, 0) for k in made if k != "no_reference"}
        expected = {k: v for k, v in made.items() if k != "no_reference"}
        ok = (
            run.status == "done"
            and found == expected
            and (counts["matched_amount_date"] == made["no_reference"])
        )
    finally:
        connections.close_all()
        connection.creation.destroy_test_db(old_name, verbosity=0)
        os.unlink(tmp.name)
    print(
        json.dumps(
            {
                "bench": "reconcile",
                "format": args.format,
                "statement_rows": counts.get("lines"),
                "ledger_entries": args.rows,
                "file_mb": round(size / 1e6, 1),
                "seconds_total": round(total_s, 2),
                "seconds_store_upload": round(stored_s, 2),
                "seconds_load": phases.get("load"),  # read + COPY, as the run does it
                "seconds_match": phases.get("match"),
                # this process's CPU: reading the file, pairing lines, encoding them for COPY
                "cpu_seconds_reading": round(cpu_s, 2),
                "load_average_1min": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
                "rows_per_s": round(counts.get("lines", 0) / total_s),
                "matched_reference": counts.get("matched_reference"),
                "matched_amount_date": counts.get("matched_amount_date"),
                "differences": {k: counts.get(k) for k in expected},
                "differences_made": made,
                "all_found_exactly": ok,
                "setup_seconds": round(setup_s, 1),
                "file_write_seconds": round(write_s, 1),
                "error": run.error,
            }
        )
    )
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
