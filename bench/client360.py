"""The client 360 at the large demo scale: server time and query count.

In its own database `<DATABASE_NAME>_bench` (dropped afterwards), with an MT5 sandbox in its own
process, runs `seed_demo --scale large` (50,000 clients with a month of history in the sandbox,
about 2,000,000 deals brought in by the sync), then opens the 360 of a random sample of clients
and of the heaviest trader, as a compliance officer, through Django's full request stack
(middleware, the view, every provider, the template) in this process: the time measured is
server time, without a network.

    .venv/bin/python bench/client360.py                              # stated scale (50,000)
    .venv/bin/python bench/client360.py --clients 200 --sample 20    # smoke

Prints one JSON line: p50/p95/max milliseconds, query counts (which must not vary), and the
data's size.
"""

import argparse
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "brokerage.settings.dev")

import django  # noqa: E402

django.setup()

from django.conf import settings as _settings  # noqa: E402

from bench.benchdb import bench_db_create  # noqa: E402

# Pages are rendered in-process from a clone where nothing was collected: static files by name
# (the dev settings' manifest storage wants `collectstatic` first, as `make up` runs it).
_settings.STORAGES = {
    **_settings.STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from bench.mt5 import LOGIN, PASSWORD, Sandbox  # noqa: E402
from bench.signin import signed_in  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50_000, help="the trading book's size")
    parser.add_argument("--sample", type=int, default=300, help="clients whose 360 is opened")
    args = parser.parse_args()

    from django.core.management import call_command

    from brokerage.models import User
    from clients.models import Client, Deal, TradingAccount

    old_name = bench_db_create("_bench")
    sandbox = Sandbox()
    settings.SANDBOX_MT5_URL = sandbox.url
    settings.SANDBOX_MT5_LOGIN, settings.SANDBOX_MT5_PASSWORD = LOGIN, PASSWORD
    settings.ALLOWED_HOSTS = ["*"]
    try:
        t0 = time.perf_counter()
        with open(os.devnull, "w") as quiet:
            call_command("seed_demo", book=args.clients, stdout=quiet)
        seed_s = time.perf_counter() - t0
        with connection.cursor() as cur:
            cur.execute("ANALYZE")
        officer = User.objects.get(email="compliance_officer@demo.test")
        http = signed_in(officer)
        ids = list(Client.objects.filter(holder=Client.Holder.CLIENT).values_list("pk", flat=True))
        rnd = random.Random(360)  # noqa: S311
        sample = rnd.sample(ids, min(args.sample, len(ids)))
        heaviest = TradingAccount.objects.order_by("-trade_deals").values_list(
            "client_id", flat=True
        )[0]
        for pk in sample[:5]:  # warm the process (template loading, first connections)
            http.get(f"/backoffice/clients/{pk}/")
        times, queries = [], set()
        for pk in [*sample, heaviest]:
            with CaptureQueriesContext(connection) as ctx:
                t1 = time.perf_counter()
                response = http.get(f"/backoffice/clients/{pk}/")
                elapsed = (time.perf_counter() - t1) * 1000
            assert response.status_code == 200, (pk, response.status_code)
            times.append(elapsed)
            queries.add(len(ctx.captured_queries))
        heavy_ms = times[-1]
        times_sorted = sorted(times[:-1])
        figures = {
            "clients": Client.objects.count(),
            "deals": Deal.objects.count(),
            "seed_s": round(seed_s, 1),
            "sampled": len(times_sorted),
            "p50_ms": round(statistics.median(times_sorted), 1),
            "p95_ms": round(times_sorted[int(len(times_sorted) * 0.95) - 1], 1),
            "max_ms": round(times_sorted[-1], 1),
            "heaviest_trader_deals": Deal.objects.filter(client_id=heaviest).count(),
            "heaviest_trader_ms": round(heavy_ms, 1),
            "queries": sorted(queries),
            "target_ms": 150,
        }
        print(json.dumps(figures))
    finally:
        sandbox.stop()
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
