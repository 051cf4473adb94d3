"""One client's compliance dossier: how long the ZIP takes for a client with a long history.

In its own database (`<DATABASE_NAME>_bench_dossier`, dropped afterwards) it makes one client
with `--events` audit events about them (sealed beforehand, as the running sealer keeps them),
`--deals` deals on a trading account, `--activities` emails and notes and `--signins` sign-in
records, then writes their dossier (`compliance.dossier.dossier_write`: every app's part, the
PDF, the JSON, the audit proof) `--runs` times and reports the median and the slowest, the ZIP's
size, and checks the proof with the dossier's own verify script.

    .venv/bin/python bench/dossier.py                            # stated scale (5,000 events)
    .venv/bin/python bench/dossier.py --events 200 --deals 100 --runs 1  # smoke

Prints one JSON line.
"""

import argparse
import io
import json
import os
import statistics
import sys
import time
import zipfile
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "brokerage.settings.dev")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from bench.benchdb import bench_db_create  # noqa: E402
from brokerage.audit import audit_record_many, audit_seal_all  # noqa: E402
from brokerage.audit_proof import proof_problems  # noqa: E402
from brokerage.models import User  # noqa: E402
from clients import audit_events as CE  # noqa: E402
from clients.models import (  # noqa: E402
    AccessRecord,
    Client,
    ClientActivity,
    Deal,
    TradingAccount,
    TradingServer,
)
from compliance.dossier import dossier_write  # noqa: E402


def make_client(*, events: int, deals: int, activities: int, signins: int) -> Client:
    user = User.objects.create_user(
        email="long.history@bench.test",
        password="x-bench-pass",
        first_name="Long",
        last_name="History",
    )
    client = Client.objects.create(user=user, country="DE", nationality="DE")
    server = TradingServer.objects.create(
        name="MT5 Bench", url="http://127.0.0.1:9", manager_login="1000", manager_password="x"
    )
    account = TradingAccount.objects.create(
        client=client,
        server=server,
        login=700001,
        group="real\\standard-usd",
        currency="USD",
        leverage=30,
    )
    now = timezone.now()
    Deal.objects.bulk_create(
        [
            Deal(
                server=server,
                ticket=10_000_000 + i,
                account=account,
                client=client,
                time=now - timedelta(minutes=deals - i),
                action=i % 2,
                entry=i % 2,
                symbol="EURUSD",
                volume=10_000,
                price=Decimal("1.08123"),
                profit_amount=Decimal("12.34") if i % 2 else Decimal("0"),
                position_id=5_000_000 + i // 2,
            )
            for i in range(deals)
        ],
        batch_size=5000,
    )
    ClientActivity.objects.bulk_create(
        [
            ClientActivity(
                client=client,
                kind="note",
                actor_label="agent@bench.test",
                subject=f"Call {i}",
                body="Talked about the account; the client asked about spreads. " * 3,
            )
            for i in range(activities)
        ]
    )
    AccessRecord.objects.bulk_create(
        [
            AccessRecord(
                user=user,
                client=client,
                kind="login",
                at=now - timedelta(hours=i),
                ip="203.0.113.9",
            )
            for i in range(signins)
        ]
    )
    audit_record_many(
        actor="system:bench",
        action=CE.CLIENT_CALL_LOGGED,
        entries=[(client, f"Call {i} logged", {"i": i, "minutes": i % 30}) for i in range(events)],
    )
    audit_seal_all()
    return client


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--deals", type=int, default=2000)
    parser.add_argument("--activities", type=int, default=300)
    parser.add_argument("--signins", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    original = bench_db_create("_bench_dossier")
    try:
        started = time.perf_counter()
        client = make_client(
            events=args.events, deals=args.deals, activities=args.activities, signins=args.signins
        )
        client = Client.objects.select_related("user").get(pk=client.pk)
        setup = time.perf_counter() - started
        seconds, size, counts, problems = [], 0, {}, []
        for _ in range(args.runs):
            out = io.BytesIO()
            started = time.perf_counter()
            built = dossier_write(client=client, out=out, by="system:bench")
            seconds.append(time.perf_counter() - started)
            size, counts = len(out.getvalue()), built.counts
            with zipfile.ZipFile(out) as archive:
                problems = proof_problems(json.loads(archive.read("audit/proof.json")))
        print(
            json.dumps(
                {
                    "bench": "dossier",
                    "audit_events": counts.get("audit_events"),
                    "deals": counts.get("deals"),
                    "communications": counts.get("communications"),
                    "signins": counts.get("signins"),
                    "runs": args.runs,
                    "seconds_median": round(statistics.median(seconds), 2),
                    "seconds_max": round(max(seconds), 2),
                    "zip_bytes": size,
                    "proof_verifies": not problems,
                    "setup_seconds": round(setup, 1),
                    "load_average_1min": round(os.getloadavg()[0], 2),
                }
            )
        )
    finally:
        connection.creation.destroy_test_db(original, verbosity=0)


if __name__ == "__main__":
    main()
