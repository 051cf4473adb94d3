"""The leadership dashboard at the large demo scale: server time, rebuild, webhook to figure.

In its own database `<DATABASE_NAME>_bench_dash` (dropped afterwards), with an MT5 sandbox in
its own process, runs `seed_demo` with a book of `--clients` (50,000: the `--scale large` book,
about 2,000,000 deals, a year of money, leads, KYC and IB trees), then measures:

- `rebuild_s`: `rollups_rebuild` from the raw records, per rollup and in all (target < 120 s);
- `dashboard_ms`: the leadership workspace and each team dashboard (as the executive) through
  Django's full request stack in this process, for a set of filters (periods of 7 to 366 days,
  a desk, a country, a PSP, an IB, all of them; each page with those it offers): p50, p95 and
  max per page and filter (target < 300 ms), and per page its query counts, which must be one
  number;
- `during_rebuild`: a full rebuild in a thread while the workspace is read and the rollups
  refreshed in a loop: the slowest page and refresh meanwhile (do readers wait for it?);
- `webhook_to_figure_s`: a real Celery worker consumes the default queue; a Stripe webhook
  completes a deposit (posted in-process, signed as Stripe signs it); the time until the money
  rollup counts it (target < 10 s).

    .venv/bin/python bench/dashboards.py                   # stated scale (50,000 clients)
    .venv/bin/python bench/dashboards.py --smoke           # 60 clients, a few rounds
    .venv/bin/python bench/dashboards.py --keep-seed       # keep the seeded book for re-runs

Seeding the large book takes minutes; with `--keep-seed` the seeded database is kept as a
template (`<DATABASE_NAME>_bench_dash_seed_<clients>`, which `bench/aml.py --keep-seed` clones
too) and the next run clones it and migrates the clone forward instead of seeding again
(`seed_s` is then null; `bench.benchdb.seeded_db`). `--fresh` seeds anew.

Prints one JSON line with the figures and the machine's load average when they were taken.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "brokerage.settings.dev")
BENCH_REDIS_DB = 14
# This process and the worker share one Redis database (broker and cache), as web and worker
# do in production: set before the settings are read, so the cache is made on it too.
if "REDIS_URL" in os.environ:
    os.environ["REDIS_URL"] = f"{os.environ['REDIS_URL'].rsplit('/', 1)[0]}/{BENCH_REDIS_DB}"

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402

# Pages are rendered in-process from a clone where nothing was collected (see client360.py).
settings.STORAGES = {
    **settings.STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from bench.benchdb import seeded_db  # noqa: E402
from bench.client360 import signed_in  # noqa: E402
from bench.mt5 import LOGIN, PASSWORD, Sandbox  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
WEBHOOK_SECRET = "whsec_bench_dashboards"


def filters(today) -> dict[str, dict]:
    from brokerage.models import Desk
    from ib.models import Partner

    desk = Desk.objects.order_by("pk").first()
    ib = Partner.objects.order_by("pk").values_list("referral_code", flat=True).first()
    start = (today - timedelta(days=89)).isoformat()
    return {
        "default_30d": {},
        "7d": {"start": (today - timedelta(days=6)).isoformat()},
        "90d": {"start": start},
        "366d": {"start": (today - timedelta(days=365)).isoformat()},
        "desk_90d": {"start": start, "desk": desk.pk},
        "country_90d": {"start": start, "country": "GB"},
        "psp_90d": {"start": start, "psp": "stripe"},
        "ib_90d": {"start": start, "ib": ib or ""},
        "all_90d": {"start": start, "desk": desk.pk, "country": "GB", "psp": "stripe"},
    }


# Each dashboard and the filters its form offers (brokerage.teams): a filter a page does not
# offer is left out of its timings, not sent.
PAGES = {"leadership": ("/backoffice/", ("desk", "country", "psp", "ib"))}


def pages() -> dict[str, tuple[str, tuple]]:
    from brokerage.teams import TEAMS

    out = dict(PAGES)
    for team in TEAMS.values():
        offered = team.filters if team.dated else None
        out[team.slug] = (f"/backoffice/dashboards/{team.slug}/", offered)
    return out


def _p95(times: list[float]) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


SMOKE_FILTERS = ("default_30d", "all_90d")


def time_dashboard(http, today, rounds: int, only=None) -> tuple[dict, dict]:
    """Per page and filter: p50, p95 and max server time (ms); per page, its query counts.
    `only` names the filters to time (all when None)."""
    out, queries = {}, {}
    for page, (url, offered) in pages().items():
        counts = set()
        for name, params in filters(today).items():
            if only is not None and name not in only:
                continue
            if offered is None and params:
                continue  # a page of figures as they stand now: one reading
            if offered is not None and set(params) - {"start", "end"} - set(offered):
                continue
            http.get(url, params)  # warm this filter's plans
            times = []
            for _ in range(rounds):
                with CaptureQueriesContext(connection) as ctx:
                    t0 = time.perf_counter()
                    response = http.get(url, params)
                    times.append((time.perf_counter() - t0) * 1000)
                assert response.status_code == 200, (page, name, response.status_code)
                assert b"data-filter-errors" not in response.content, (page, name)
                counts.add(len(ctx.captured_queries))
            out[f"{page}:{name}"] = {
                "p50_ms": round(statistics.median(times), 1),
                "p95_ms": round(_p95(times), 1),
                "max_ms": round(max(times), 1),
            }
        queries[page] = sorted(counts)
    return out, queries


def during_rebuild(http) -> dict:
    """Rebuild every rollup in a thread of its own while this one keeps reading the leadership
    workspace and refreshing the rollups: the slowest page and refresh during the rebuild
    show whether readers or the refresh wait for it."""
    import threading

    from django.db import connections

    from brokerage.rollups import rollups_rebuild, rollups_refresh

    taken = {}

    def rebuild():
        t0 = time.perf_counter()
        try:
            rollups_rebuild()
        finally:
            taken["rebuild_s"] = round(time.perf_counter() - t0, 1)
            connections.close_all()

    thread = threading.Thread(target=rebuild)
    pages_ms, refresh_s = [], []
    thread.start()
    time.sleep(0.5)
    while thread.is_alive():
        t0 = time.perf_counter()
        assert http.get("/backoffice/").status_code == 200
        pages_ms.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        rollups_refresh()
        refresh_s.append(time.perf_counter() - t0)
    thread.join()
    return taken | {
        "pages_read": len(pages_ms),
        "page_max_ms": round(max(pages_ms), 1) if pages_ms else None,
        "page_p50_ms": round(statistics.median(pages_ms), 1) if pages_ms else None,
        "refresh_max_s": round(max(refresh_s), 2) if refresh_s else None,
    }


def start_worker(env) -> subprocess.Popen:
    import redis

    redis.Redis.from_url(env["REDIS_URL"]).flushdb()
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "celery"), "-A", "brokerage", "worker", "-Q",
         "default", "-c", "2", "-l", "warning", "-n", "bench-dash@%h"],
        cwd=ROOT, env=env,
    )  # fmt: skip
    client = redis.Redis.from_url(env["REDIS_URL"])
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if list(client.scan_iter("*health:celery:worker:bench-dash@*")):
            return proc
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the Celery worker did not start")


def counted_today() -> int:
    with connection.cursor() as cur:
        cur.execute(
            "SELECT coalesce(sum(deposit_count), 0) FROM finance_rollup_money WHERE day = %s",
            [timezone.now().date()],
        )
        return cur.fetchone()[0]


def webhook_to_figure(http, rounds: int) -> list[float]:
    """Seconds from a deposit's completing webhook being posted to the figure counting it."""
    from django.test import Client as HttpClient

    from brokerage.errors import DomainError
    from clients.models import Client
    from finance.models import Deposit, PaymentMethod
    from finance.services import deposit_create
    from sandbox.psp.signing import signed_webhook
    from sandbox.psp.stripe import stripe_event

    method = PaymentMethod.objects.filter(psp="stripe", currency="USD", is_active=True).first()
    if method is None:
        method = PaymentMethod.objects.create(
            psp="stripe", name="Stripe USD", currency="USD", min_amount=10, max_amount=50_000
        )
    clients = Client.objects.filter(holder="client", kyc_level__gte=1, restricted=False)
    anonymous = HttpClient()
    taken = []
    for client in clients.order_by("pk").iterator():
        if len(taken) == rounds:
            break
        try:
            deposit = deposit_create(client=client, method=method, amount="150.00", actor="bench")
        except DomainError:
            continue  # this client may not deposit (limits, standing): the next one
        reference = f"pi_bench_{deposit.pk}"
        Deposit.objects.filter(pk=deposit.pk).update(provider_reference=reference, status="pending")
        event = stripe_event(
            "payment_intent.succeeded",
            {
                "id": reference, "object": "payment_intent", "amount": 15000,
                "amount_received": 15000, "currency": "usd", "status": "succeeded",
                "metadata": {"reference": deposit.reference},
            },
        )  # fmt: skip
        headers, body = signed_webhook("stripe", event, config={"webhook_secret": WEBHOOK_SECRET})
        before = counted_today()
        t0 = time.perf_counter()
        response = anonymous.post(
            "/api/v1/webhooks/stripe/", data=body, content_type="application/json",
            headers={"Stripe-Signature": headers["Stripe-Signature"]},
        )  # fmt: skip
        assert response.status_code == 200, response.content
        while counted_today() <= before:
            if time.perf_counter() - t0 > 60:
                raise RuntimeError(f"deposit {deposit.reference} not counted within 60 s")
            time.sleep(0.05)
        taken.append(round(time.perf_counter() - t0, 2))
    return taken


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50_000, help="the trading book's size")
    parser.add_argument("--rounds", type=int, default=7, help="timed requests per filter")
    parser.add_argument("--deposits", type=int, default=5, help="webhooks timed to the figure")
    parser.add_argument("--smoke", action="store_true", help="60 clients, 2 rounds, 2 deposits")
    parser.add_argument("--keep-seed", action="store_true", help="keep the seeded book")
    parser.add_argument("--fresh", action="store_true", help="seed again, even if one is kept")
    parser.add_argument("--seed-only", action="store_true", help="seed (and keep), then stop")
    parser.add_argument(
        "--rebuild-only", action="store_true", help="the rebuild and the reads during one only"
    )
    args = parser.parse_args()
    if args.smoke:
        args.clients, args.rounds, args.deposits = 60, 2, 2

    from brokerage.models import User
    from brokerage.rollups import rollups_rebuild
    from clients.models import Client, Deal

    db = settings.DATABASES["default"]
    redis_url = settings.REDIS_URL
    settings.PSP_CONFIG["stripe"]["webhook_secret"] = WEBHOOK_SECRET
    settings.ALLOWED_HOSTS = ["*"]
    sandbox = Sandbox()
    settings.SANDBOX_MT5_URL = sandbox.url
    settings.SANDBOX_MT5_LOGIN, settings.SANDBOX_MT5_PASSWORD = LOGIN, PASSWORD
    worker, old_name = None, connection.settings_dict["NAME"]
    try:
        old_name, seed_s = seeded_db(
            args.clients, "_bench_dash", keep=args.keep_seed or args.seed_only, fresh=args.fresh
        )
        if args.seed_only:
            print(json.dumps({"seed_s": seed_s and round(seed_s, 1)}))
            return
        bench_db = connection.settings_dict["NAME"]
        env = dict(os.environ)
        env.update(
            DATABASE_URL=f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{bench_db}",
            REDIS_URL=redis_url,
            DJANGO_SETTINGS_MODULE="brokerage.settings.dev",
            LOG_LEVEL="WARNING",
        )
        load_before = os.getloadavg()
        t1 = time.perf_counter()
        per_rollup = rollups_rebuild()
        rebuild_s = time.perf_counter() - t1

        http = signed_in(User.objects.get(email="executive@demo.test"))
        if args.rebuild_only:
            print(json.dumps({"rebuild_s": round(rebuild_s, 1), "rebuild_per_rollup_s": per_rollup,
                              "during_rebuild": during_rebuild(http),
                              "load_average": [round(x, 2) for x in os.getloadavg()]}))  # fmt: skip
            return
        only = SMOKE_FILTERS if args.smoke else None
        dashboard, queries = time_dashboard(http, timezone.now().date(), args.rounds, only)
        load_during = os.getloadavg()
        blocking = during_rebuild(http)

        worker = start_worker(env)
        taken = webhook_to_figure(http, args.deposits)
        worst = max(v["p50_ms"] for v in dashboard.values())
        figures = {
            "clients": Client.objects.filter(holder="client").count(),
            "deals": Deal.objects.count(),
            "seed_s": seed_s and round(seed_s, 1),
            "rebuild_s": round(rebuild_s, 1),
            "rebuild_per_rollup_s": per_rollup,
            "rebuild_target_s": 120,
            "dashboard_ms": dashboard,
            "dashboard_worst_p50_ms": worst,
            "dashboard_worst_p95_ms": max(v["p95_ms"] for v in dashboard.values()),
            "dashboard_target_ms": 300,
            "queries": queries,
            "during_rebuild": blocking,
            "load_average_during_dashboards": [round(x, 2) for x in load_during],
            "webhook_to_figure_s": taken,
            "webhook_to_figure_max_s": max(taken) if taken else None,
            "webhook_target_s": 10,
            "load_average": [round(x, 2) for x in os.getloadavg()],
            "load_average_before_rebuild": [round(x, 2) for x in load_before],
        }
        print(json.dumps(figures))
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(timeout=30)
        sandbox.stop()
        connection.close()
        if connection.settings_dict["NAME"] != old_name:  # never the database it started on
            connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
