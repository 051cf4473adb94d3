"""Audit log append throughput with concurrent writers, against a pgbench baseline.

Every audited decision in the product appends through `audit_record`, which serialises writers
on the chain-head row; this measures what that costs. It creates (and drops) its own database
`<DATABASE_NAME>_bench` on the configured server, so the demo data is untouched.

    .venv/bin/python bench/audit.py --events 20000 --writers 4     # stated scale
    .venv/bin/python bench/audit.py --events 400 --writers 2        # smoke

Prints one JSON line: events/s through audit_record, pgbench TPS for a plain one-row INSERT
transaction at the same concurrency on the same server, their ratio, and the chain check.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "brokerage.settings.dev")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection, connections, transaction  # noqa: E402

from brokerage.selectors import audit_chain_verify  # noqa: E402
from brokerage.services import audit_record  # noqa: E402


def pgbench_bin() -> str:
    found = shutil.which("pgbench")
    if found:
        return found
    for version in ("17", "16", "15"):
        path = f"/usr/lib/postgresql/{version}/bin/pgbench"
        if os.path.exists(path):
            return path
    raise SystemExit("pgbench not found")


def pgbench_baseline(db: dict, clients: int, transactions: int) -> float:
    with connection.cursor() as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS bench_baseline (id bigserial primary key, v text)")
    script = tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False)  # noqa: SIM115
    script.write("INSERT INTO bench_baseline (v) VALUES ('baseline event');\n")
    script.close()
    env = dict(os.environ, PGPASSWORD=db["PASSWORD"] or "")
    out = subprocess.run(
        [
            pgbench_bin(),
            "-n",
            "-h",
            db["HOST"],
            "-p",
            str(db["PORT"]),
            "-U",
            db["USER"],
            "-c",
            str(clients),
            "-j",
            str(clients),
            "-t",
            str(max(1, transactions // clients)),
            "-f",
            script.name,
            db["NAME"],
        ],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    os.unlink(script.name)
    for line in out.splitlines():
        if line.startswith("tps ="):
            return float(line.split()[2])
    raise RuntimeError(out)


def run_writers(writers: int, events: int) -> float:
    per_writer = events // writers
    barrier = threading.Barrier(writers + 1)
    errors = []

    def work(n):
        try:
            barrier.wait()
            for i in range(per_writer):
                with transaction.atomic():
                    audit_record(
                        actor=f"rule:bench{n}", action="bench.event", evidence={"writer": n, "i": i}
                    )
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(n,)) for n in range(writers)]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise errors[0]
    return per_writer * writers / elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--writers", type=int, default=4)
    args = parser.parse_args()

    db = settings.DATABASES["default"]
    connection.settings_dict["TEST"]["NAME"] = f"{db['NAME']}_bench"
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        events_per_s = run_writers(args.writers, args.events)
        verified = audit_chain_verify()
        baseline = pgbench_baseline(connection.settings_dict, args.writers, args.events)
    finally:
        connections.close_all()
        connection.creation.destroy_test_db(old_name, verbosity=0)
    print(
        json.dumps(
            {
                "bench": "audit_append",
                "events": args.events,
                "writers": args.writers,
                "audit_events_per_s": round(events_per_s, 1),
                "baseline": "pgbench one-row INSERT transactions, same clients, same server",
                "baseline_tps": round(baseline, 1),
                "ratio": round(events_per_s / baseline, 3),
                "chain_verified": verified.ok,
                "chain_rows": verified.checked,
            }
        )
    )


if __name__ == "__main__":
    main()
