"""A burst of leads through the API against the running system: gunicorn + a Celery worker.

    .venv/bin/python bench/leads.py --leads 1000 --clients 20      # stated scale
    .venv/bin/python bench/leads.py --leads 100 --clients 5        # smoke

It makes its own database (`<DATABASE_NAME>_bench_leads`, dropped afterwards) and Redis
database (15), seeds the demo data there (desks, agents, rules, an API key), starts gunicorn and
one Celery worker on them, posts the leads from N concurrent keep-alive clients, and waits until
every lead is routed. Prints one JSON line: leads accepted per second, HTTP latency, time from
POST to assigned (p50/p99), whether every lead was assigned exactly once, and as a baseline the
requests per second of GET /healthz from the same clients against the same server.
With BENCH_TRACE=1 it also prints, to stderr, the POST-to-assigned time along the burst (to see
whether routing keeps pace or a backlog builds).
"""

import argparse
import http.client
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "brokerage.settings.dev")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection, connections  # noqa: E402

from bench.benchdb import bench_db_create  # noqa: E402

BENCH_REDIS_DB = 15


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values, p):
    values = sorted(values)
    if not values:
        return None
    k = max(0, min(len(values) - 1, round(p / 100 * (len(values) - 1))))
    return values[k]


def make_leads(n: int, seed: int = 11) -> list[dict]:
    rng = random.Random(seed)  # noqa: S311
    leads = []
    for i in range(n):
        kind = rng.random()
        lead = {
            "first_name": f"Bench{i}",
            "last_name": "Lead",
            "email": f"bench{i}@example.com",
            "experience": "some",
            "source": "bench",
            "language": "en",
        }
        if kind < 0.3:
            lead.update(country="AE", language="ar", phone=f"+97150{rng.randint(10**6, 10**7 - 1)}")
        elif kind < 0.5:
            lead.update(country="GB", net_worth_usd=300000)
        elif kind < 0.7:
            lead.update(country="GB", experience="none")
        else:
            lead.update(country=rng.choice(["FR", "ES", "DE", "IT"]))
        leads.append(lead)
    return leads


def wait_http(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status in (200, 503):
                return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError("gunicorn did not start")


def wait_worker(redis_url: str, timeout: float = 60) -> None:
    """Until the worker's first heartbeat: it is connected and consuming."""
    import redis

    client = redis.Redis.from_url(redis_url)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if list(client.scan_iter("*health:celery:worker:bench@*")):
            return
        time.sleep(0.2)
    raise RuntimeError("the Celery worker did not start")


def run_clients(port, clients, jobs, make_request):
    """Each client thread takes jobs from a shared list over one keep-alive connection."""
    lock = threading.Lock()
    queue = list(jobs)
    results, errors = [], []

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while True:
            with lock:
                if not queue:
                    break
                job = queue.pop()
            try:
                results.append(make_request(conn, job))
            except Exception as exc:  # noqa: BLE001
                errors.append(repr(exc))
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, errors, time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--worker-concurrency", type=int, default=4)
    parser.add_argument(
        "--warmup",
        type=int,
        default=40,
        help="leads posted first, not measured (each process loads its code)",
    )
    args = parser.parse_args()

    db = settings.DATABASES["default"]
    original = bench_db_create("_bench_leads")
    bench_db = connection.settings_dict["NAME"]
    base_redis = settings.REDIS_URL.rsplit("/", 1)[0]
    env = dict(os.environ)
    env.update(
        DATABASE_URL=f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{bench_db}",
        REDIS_URL=f"{base_redis}/{BENCH_REDIS_DB}",
        DJANGO_SETTINGS_MODULE="brokerage.settings.dev",
        DJANGO_DEBUG="false",
        LOG_LEVEL="WARNING",
        API_RATE_LIMIT="off",  # the bench measures intake, from one key, not the limit
    )
    procs = []
    try:
        subprocess.run(
            [
                sys.executable,
                "-c",
                "import redis,os; redis.Redis.from_url(os.environ['REDIS_URL']).flushdb()",
            ],
            env=env,
            check=True,
        )
        subprocess.run(
            [sys.executable, "manage.py", "seed_demo"],
            cwd=ROOT,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        api_key = settings.DEMO_API_KEY
        port = free_port()
        venv_bin = Path(sys.executable).parent
        procs.append(
            subprocess.Popen(
                [
                    str(venv_bin / "gunicorn"),
                    "brokerage.wsgi:application",
                    "-b",
                    f"127.0.0.1:{port}",
                    "-w",
                    str(args.web_workers),
                    "--log-level",
                    "warning",
                    "--keep-alive",
                    "30",
                ],
                cwd=ROOT,
                env=env,
            )
        )
        procs.append(
            subprocess.Popen(
                [
                    str(venv_bin / "celery"),
                    "-A",
                    "brokerage",
                    "worker",
                    "-Q",
                    "leads,default",
                    "-c",
                    str(args.worker_concurrency),
                    "-l",
                    "warning",
                    "-n",
                    "bench@%h",
                ],
                cwd=ROOT,
                env=env,
            )
        )
        wait_http(port)
        wait_worker(env["REDIS_URL"])

        # Baseline: the same clients hitting GET /healthz.
        def get_health(conn, _job):
            conn.request("GET", "/healthz")
            conn.getresponse().read()

        _r, _e, health_s = run_clients(port, args.clients, range(args.leads), get_health)

        sent_at: dict[int, float] = {}

        def post_lead(conn, lead):
            body = json.dumps(lead)
            t0 = time.time()
            conn.request(
                "POST",
                "/api/v1/leads/",
                body,
                {
                    "Content-Type": "application/json",
                    "X-API-Key": api_key,
                    "Idempotency-Key": lead["email"],
                },
            )
            response = conn.getresponse()
            payload = json.loads(response.read())
            took = time.time() - t0
            if response.status != 201:
                raise RuntimeError(f"{response.status} {payload}")
            sent_at[payload["id"]] = t0
            return took

        warm = [{**lead, "email": f"warm.{lead['email']}"} for lead in make_leads(args.warmup, 99)]
        run_clients(port, args.clients, warm, post_lead)
        time.sleep(3)
        sent_at.clear()
        http_times, errors, post_s = run_clients(
            port, args.clients, make_leads(args.leads), post_lead
        )

        from brokerage.models import AuditEvent
        from leads.models import Lead

        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            routed = Lead.objects.filter(pk__in=sent_at, routed_at__isnull=False).count()
            if routed == len(sent_at):
                break
            time.sleep(0.2)
        rows = Lead.objects.filter(pk__in=sent_at).values_list("pk", "routed_at")
        to_assigned = [r.timestamp() - sent_at[pk] for pk, r in rows if r is not None]
        if os.environ.get("BENCH_TRACE"):
            by_send = sorted((sent_at[pk], r.timestamp() - sent_at[pk]) for pk, r in rows if r)
            start0 = by_send[0][0]
            for t, lat in by_send[:: max(1, len(by_send) // 15)]:
                print(f"sent +{t - start0:6.2f}s  assigned after {lat:6.2f}s", file=sys.stderr)
        decisions = AuditEvent.objects.filter(
            target_type="leads.lead",
            target_id__in=[str(i) for i in sent_at],
            action__in=["lead.assigned", "lead.nurture_started", "lead.queued", "lead.unrouted"],
        ).values_list("target_id", flat=True)
        per_lead = {}
        for target in decisions:
            per_lead[target] = per_lead.get(target, 0) + 1
        exactly_once = len(per_lead) == len(sent_at) and set(per_lead.values()) == {1}
        print(
            json.dumps(
                {
                    "bench": "leads_burst",
                    "leads": args.leads,
                    "clients": args.clients,
                    "accepted": len(sent_at),
                    "errors": len(errors),
                    "accepted_per_s": round(len(sent_at) / post_s, 1),
                    "http_p50_ms": round(1000 * statistics.median(http_times), 1)
                    if http_times
                    else None,
                    "http_p99_ms": round(1000 * percentile(http_times, 99), 1)
                    if http_times
                    else None,
                    "post_to_assigned_p50_s": round(percentile(to_assigned, 50), 3),
                    "post_to_assigned_p99_s": round(percentile(to_assigned, 99), 3),
                    "post_to_assigned_max_s": round(max(to_assigned), 3),
                    "routed": len(to_assigned),
                    "assigned_exactly_once": exactly_once,
                    "baseline": "GET /healthz, same clients, same gunicorn",
                    "baseline_rps": round(args.leads / health_s, 1),
                    "ratio_to_baseline": round(
                        (len(sent_at) / post_s) / (args.leads / health_s), 3
                    ),
                    "sample_error": errors[0] if errors else None,
                }
            )
        )
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        connections.close_all()
        connection.creation.destroy_test_db(original, verbosity=0)


if __name__ == "__main__":
    main()
