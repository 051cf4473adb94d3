"""Audit log throughput with concurrent writer processes, sealing lag, and a sealer crash.

Every audited decision in the product writes through `audit_record`: one INSERT in the
caller's transaction. The sealer (`manage.py audit_sealer`) chains committed events shortly
after commit. This measures, in one run on one server:

- events/s through `audit_record` from N writer processes, each event its own transaction;
- the floor: pgbench running a one-row INSERT transaction with the same number of clients, and
  the same writer processes inserting one row into a plain table through the same Django stack
  (what the audit design costs beyond the client stack);
- sealing lag (sealed_at - occurred_at) percentiles, with the sealer running beside the writers;
- the previous design in the same run: the same writers, each also updating one shared row in
  its transaction and so holding its lock until commit (as every audit_record did before);
- a crash drill after that: a quarter as many events again, the sealer killed (SIGKILL) halfway
  through sealing them and started again; afterwards nothing is left unsealed, every event has
  one seal, the chain is gapless, and `audit_verify`'s check passes.

It creates (and drops) its own database `<DATABASE_NAME>_bench`, so demo data is untouched.

    .venv/bin/python bench/audit.py --events 64000 --writers 16     # stated scale
    .venv/bin/python bench/audit.py --events 400 --writers 2        # smoke

Prints one JSON line.
"""

import argparse
import json
import multiprocessing as mp
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "brokerage.settings.dev")
os.environ.setdefault("DJANGO_DEBUG", "0")  # as installed: no query log in every writer

import django  # noqa: E402

django.setup()

from django.db import connection, connections, transaction  # noqa: E402

from bench.benchdb import bench_db_create  # noqa: E402


def pgbench_bin() -> str:
    found = shutil.which("pgbench")
    if found:
        return found
    for version in ("17", "16", "15"):
        path = f"/usr/lib/postgresql/{version}/bin/pgbench"
        if os.path.exists(path):
            return path
    raise SystemExit("pgbench not found")


def pgbench_floor(db: dict, clients: int, transactions: int) -> float:
    with connection.cursor() as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS bench_baseline (id bigserial primary key, v text)")
    script = tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False)  # noqa: SIM115
    script.write("INSERT INTO bench_baseline (v) VALUES ('baseline event');\n")
    script.close()
    env = dict(os.environ, PGPASSWORD=db["PASSWORD"] or "")
    out = subprocess.run(
        [pgbench_bin(), "-n", "-h", db["HOST"], "-p", str(db["PORT"]), "-U", db["USER"]]
        + ["-c", str(clients), "-j", str(clients), "-t", str(max(1, transactions // clients))]
        + ["-f", script.name, db["NAME"]],
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


def writer(n: int, count: int, db_name: str, start_at: float, done: mp.Queue, kind: str):
    """One writer process: `count` transactions, each an audit event ("audit"); for the floor,
    a one-row INSERT into a plain table through the same Django stack ("floor"); or an audit
    event written the way it was before sealing existed ("serialised": every writer also
    updates one shared head row in its transaction, holding its lock until commit)."""
    connections["default"].settings_dict["NAME"] = db_name
    connections.close_all()
    from brokerage.audit import audit_record
    from brokerage.events import catalogue

    catalogue("bench")("bench.event", "Benchmark event")
    while time.time() < start_at:
        time.sleep(0.001)
    for i in range(count):
        with transaction.atomic():
            if kind == "floor":
                with connection.cursor() as cur:
                    cur.execute("INSERT INTO bench_baseline (v) VALUES (%s)", ["baseline event"])
            else:
                if kind == "serialised":
                    with connection.cursor() as cur:
                        cur.execute("UPDATE bench_head SET n = n + 1 WHERE id = 1")
                audit_record(
                    actor=f"rule:bench{n}", action="bench.event", evidence={"w": n, "i": i}
                )
    done.put(time.time())
    connections.close_all()


def run_writers(writers: int, per_writer: int, db_name: str, *, kind: str):
    connections.close_all()  # a forked writer must not share the parent's connection
    ctx = mp.get_context("fork")
    done = ctx.Queue()
    start_at = time.time() + 1.0
    procs = [
        ctx.Process(target=writer, args=(n, per_writer, db_name, start_at, done, kind))
        for n in range(writers)
    ]
    for p in procs:
        p.start()
    return procs, done, start_at


def start_sealer(db_name: str) -> subprocess.Popen:
    """`manage.py audit_sealer` in a process of its own, once it has made its first pass."""
    from brokerage.models import AuditSealerState

    before = AuditSealerState.objects.filter(pk=1).values_list("updated_at", flat=True).first()
    sealer = _spawn_sealer(db_name)
    deadline = time.time() + 60
    while time.time() < deadline and sealer.poll() is None:
        now = AuditSealerState.objects.filter(pk=1).values_list("updated_at", flat=True).first()
        if now is not None and now != before:
            break
        time.sleep(0.05)
    connections.close_all()
    return sealer


def _spawn_sealer(db_name: str) -> subprocess.Popen:
    env = dict(os.environ, BO_BENCH_DB=db_name)
    code = (
        "import os, django; django.setup();"
        "from django.db import connections;"
        "connections['default'].settings_dict['NAME'] = os.environ['BO_BENCH_DB'];"
        "from django.core.management import call_command;"
        "call_command('audit_sealer', interval=0.05)"
    )
    return subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env)


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=64000)
    parser.add_argument("--writers", type=int, default=16)
    args = parser.parse_args()
    per_writer = args.events // args.writers
    total = per_writer * args.writers

    old_name = bench_db_create("_bench")
    bench_db = connection.settings_dict["NAME"]
    connections.close_all()
    sealer = None
    try:
        with connection.cursor() as cur:
            cur.execute("CREATE TABLE bench_baseline (id bigserial primary key, v text)")
            cur.execute("CREATE TABLE bench_head (id int primary key, n bigint)")
            cur.execute("INSERT INTO bench_head VALUES (1, 0)")
        connections.close_all()
        procs, done, start_at = run_writers(args.writers, per_writer, bench_db, kind="floor")
        finished = [done.get() for _ in procs]
        for p in procs:
            p.join()
        django_floor = total / (max(finished) - start_at)
        connections.close_all()

        from brokerage.audit import audit_chain_verify, audit_sealing_status
        from brokerage.models import AuditChainHead, AuditSeal

        def head_seq() -> int:
            return AuditChainHead.objects.filter(pk=1).values_list("seq", flat=True).first() or 0

        def wait_sealed(timeout: float = 120) -> None:
            deadline = time.time() + timeout
            while audit_sealing_status()[0] and time.time() < deadline:
                time.sleep(0.1)

        # The writers, with the sealer running beside them.
        sealer = start_sealer(bench_db)
        procs, done, start_at = run_writers(args.writers, per_writer, bench_db, kind="audit")
        finished = [done.get() for _ in procs]
        for p in procs:
            p.join()
        elapsed = max(finished) - start_at
        wait_sealed()
        with connection.cursor() as cur:
            cur.execute(
                "SELECT extract(epoch FROM s.sealed_at - e.occurred_at) FROM brokerage_auditseal s"
                " JOIN brokerage_auditevent e ON e.id = s.event_id"
            )
            lags = [float(r[0]) for r in cur.fetchall()]

        # The crash drill: more events, the sealer killed halfway through sealing them.
        before, drill = head_seq(), max(args.writers, total // 4) // args.writers
        procs, done, _ = run_writers(args.writers, drill, bench_db, kind="audit")
        crashed = False
        while not crashed:
            time.sleep(0.01)
            if head_seq() >= before + drill * args.writers // 2 or not any(
                p.is_alive() for p in procs
            ):
                sealer.send_signal(signal.SIGKILL)
                sealer.wait()
                crashed = True
        for _ in procs:
            done.get()
        for p in procs:
            p.join()
        sealer = start_sealer(bench_db)
        wait_sealed()
        sealer.send_signal(signal.SIGTERM)
        sealer.wait(timeout=30)
        unsealed, _ = audit_sealing_status()
        written = total + drill * args.writers
        seals = AuditSeal.objects.count()
        verified = audit_chain_verify()
        # The previous design, for comparison: the same writers, one shared row locked to commit.
        procs, done, start_at = run_writers(args.writers, per_writer, bench_db, kind="serialised")
        finished = [done.get() for _ in procs]
        for p in procs:
            p.join()
        serialised_per_s = total / (max(finished) - start_at)
        floor = pgbench_floor(connection.settings_dict, args.writers, total)
    finally:
        if sealer is not None and sealer.poll() is None:
            sealer.kill()
            sealer.wait()
        connections.close_all()
        connection.creation.destroy_test_db(old_name, verbosity=0)
    events_per_s = total / elapsed
    print(
        json.dumps(
            {
                "bench": "audit_append",
                "events": total,
                "writers": args.writers,
                "writer_kind": "processes, one transaction per event",
                "audit_events_per_s": round(events_per_s, 1),
                "baseline": "pgbench one-row INSERT transactions, same clients, same server",
                "baseline_tps": round(floor, 1),
                "ratio": round(events_per_s / floor, 3),
                "django_floor_per_s": round(django_floor, 1),
                "django_floor": "one-row INSERT transactions through the same Django stack",
                "ratio_to_django_floor": round(events_per_s / django_floor, 3),
                "serialised_events_per_s": round(serialised_per_s, 1),
                "serialised": "the same writers holding one shared row lock to commit, as "
                "every audit_record did before sealing",
                "serialised_ratio": round(serialised_per_s / floor, 3),
                "sealing_lag_s": {
                    "p50": round(percentile(lags, 50), 3),
                    "p99": round(percentile(lags, 99), 3),
                    "max": round(max(lags), 3),
                },
                "sealer_killed_and_restarted": crashed,
                "written": written,
                "sealed": seals,
                "unsealed_after": unsealed,
                "chain_verified": verified.ok,
                "chain_rows": verified.checked,
            }
        )
    )


if __name__ == "__main__":
    main()
