"""AML transaction monitoring on the large demo book: real time, the nightly batch, recall on
the planted cases, alerts per active client, and the dossier.

In its own database `<DATABASE_NAME>_bench_aml` (dropped afterwards), with an MT5 sandbox in its
own process, runs `seed_demo` with a book of `--clients` (50,000: the `--scale large` book, about
2,000,000 deals synced from the sandbox, a year of money for each client and 30 clients planted
per typology, `demo.book`); with `--keep-seed` it clones the kept seed of that size instead
(`bench.benchdb.seeded_db`, the book `bench/dashboards.py --keep-seed` keeps) and migrates the
clone forward, or seeds and keeps one. Every time below is the book's: the seeding time read
from its data (`demo.planted.book_seeded_at`), so a clone made days later measures the same
month. Then it measures:

- `nightly_seconds`: `compliance.monitoring.run_nightly()` over the whole book at the seeding
  time, every live scenario (version 1, the shipped defaults), with each scenario's seconds and
  alerts; before it, the `--nights` consecutive nights before are run (not timed, 30 by
  default, 3 in the smoke unless given), as the beat would have, each morning an officer
  closing every open alert ("reviewed", the worst case for an alert raised again; `--keep-open`
  leaves them open), so that
- `alerts_per_active_client_month`: the alerts the month's nights raised, over the clients
  active in the month (a completed deposit, a withdrawal asked for or a deal closed in the last
  30 days): target under 1%; `ordinary_alerts_month` those on clients not planted, by typology;
  `alerts_per_night` the alerts each night raised, reopened or gave more evidence;
  `reopened_month` the alerts reopened by more evidence inside their window after the officer
  closed them, and
  `raised_again_in_window` the alerts raised for a client and scenario whose window overlaps
  another alert's of the same client and scenario (must be 0: one alert per window);
- `recall`: per typology, the share of its planted clients with an alert of that typology
  (target 1.0 each), and `planted_missed` names the ones without;
- `realtime_ms`: `evaluate_transaction(kind, pk)` at the seeding time for `--sample` money rows
  of the book's last month
  (completed deposits, requested withdrawals, completed transfers, refunds, chargebacks, in
  proportion; `--kind deposit` for deposits only), each evaluating every live scenario the kind
  concerns: p50/p95/max (target p95 under 20 ms);
- `dossier`: `bench/dossier.py`'s own figures, run in its own process (a client with 5,000 audit
  events: target under 5 s).

    DATABASE_URL=... REDIS_URL=redis://127.0.0.1:63799/9 .venv/bin/python bench/aml.py
    .venv/bin/python bench/aml.py --smoke     # 120 clients, 2 planted per typology, 3 nights
    .venv/bin/python bench/aml.py --smoke --nights 30 --no-dossier   # a month on the smoke book
    .venv/bin/python bench/aml.py --keep-seed --nights 30   # on the kept large book (or keep it)

Prints one JSON line.
"""

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "brokerage.settings.dev")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from bench.benchdb import seeded_db, timed  # noqa: E402
from bench.mt5 import LOGIN, PASSWORD, Sandbox  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def active_clients(since) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT count(*) FROM (
                 SELECT client_id FROM finance_deposit
                  WHERE status = 'completed' AND completed_at >= %(since)s
                 UNION SELECT client_id FROM finance_withdrawal WHERE requested_at >= %(since)s
                 UNION SELECT client_id FROM clients_deal
                  WHERE time >= %(since)s AND entry IN (1, 2, 3) AND action IN (0, 1)
               ) active""",
            {"since": since},
        )
        return cursor.fetchone()[0]


def sample_rows(size: int, since, seed: int = 16, only=None) -> list[tuple[str, int]]:
    """Money rows of the last month, by kind in the book's proportions (or of kind `only`),
    shuffled."""
    from finance.models import Chargeback, Deposit, Refund, Transfer, Withdrawal

    kinds = {
        "deposit": Deposit.objects.filter(status="completed", completed_at__gte=since),
        "withdrawal": Withdrawal.objects.filter(requested_at__gte=since),
        "transfer": Transfer.objects.filter(status="completed", completed_at__gte=since),
        "refund": Refund.objects.filter(created_at__gte=since),
        "chargeback": Chargeback.objects.filter(opened_at__gte=since),
    }
    ids = {
        kind: list(qs.values_list("pk", flat=True))
        for kind, qs in kinds.items()
        if only is None or kind == only
    }
    total = sum(len(v) for v in ids.values()) or 1
    rnd = random.Random(seed)  # noqa: S311
    rows = []
    for kind, pks in ids.items():
        share = max(1, round(size * len(pks) / total)) if pks else 0
        rows += [(kind, pk) for pk in rnd.sample(pks, min(share, len(pks)))]
    rnd.shuffle(rows)
    return rows[:size]


def officer_closes_open_alerts() -> int:
    """The morning's review: every open alert (not in a case) closed as nothing suspicious."""
    from compliance.monitoring.models import Alert, AlertStatus
    from compliance.monitoring.services import alert_close

    closed = 0
    for alert in Alert.objects.filter(status=AlertStatus.OPEN).select_related("client"):
        alert_close(alert=alert, reason="Reviewed: nothing suspicious.", actor="bench:officer")
        closed += 1
    return closed


def raised_again_in_window() -> int:
    """Alerts of one client and scenario whose windows overlap (one alert per window)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT count(*) FROM aml_alert a JOIN aml_alert b
                 ON a.client_id = b.client_id AND a.scenario_id = b.scenario_id AND a.id < b.id
                AND b.window_start <= a.window_end AND b.window_end >= a.window_start"""
        )
        return cursor.fetchone()[0]


def reopened_since(since) -> int:
    from brokerage.models import AuditEvent

    return (
        AuditEvent.objects.filter(action="aml.alert_reopened", occurred_at__gte=since)
        .values("target_id")
        .distinct()
        .count()
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def dossier(args) -> dict:
    command = [sys.executable, str(ROOT / "bench" / "dossier.py")]
    if args.smoke:
        command += ["--events", "200", "--deals", "100", "--runs", "1"]
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    result = subprocess.run(  # noqa: S603 (our own interpreter and script)
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if result.returncode or not lines:
        return {"error": result.stderr[-500:]}
    return json.loads(lines[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50_000, help="the trading book's size")
    parser.add_argument("--sample", type=int, default=1000, help="money rows evaluated")
    parser.add_argument(
        "--nights", type=int, default=None, help="nights run first (30; the smoke's 3)"
    )
    parser.add_argument(
        "--kind",
        choices=["deposit", "withdrawal", "transfer", "refund", "chargeback"],
        help="evaluate money rows of this kind only (e.g. deposit)",
    )
    parser.add_argument(
        "--keep-open", action="store_true", help="no officer closes the nights' alerts"
    )
    parser.add_argument("--smoke", action="store_true", help="120 clients, small everything")
    parser.add_argument(
        "--keep-seed", action="store_true", help="clone the kept seeded book, or seed and keep it"
    )
    parser.add_argument("--fresh", action="store_true", help="seed again, even if one is kept")
    parser.add_argument("--no-dossier", action="store_true", help="skip bench/dossier.py")
    args = parser.parse_args()
    if args.smoke:
        args.clients, args.sample = 120, 60
    if args.nights is None:
        args.nights = 3 if args.smoke else 30

    from compliance.monitoring import evaluate_transaction, run_nightly
    from compliance.monitoring.models import Alert
    from demo.planted import book_seeded_at, planted_cases

    sandbox = Sandbox()
    settings.SANDBOX_MT5_URL = sandbox.url
    settings.SANDBOX_MT5_LOGIN, settings.SANDBOX_MT5_PASSWORD = LOGIN, PASSWORD
    original = connection.settings_dict["NAME"]
    try:
        original, seed_s = seeded_db(
            args.clients, "_bench_aml", keep=args.keep_seed, fresh=args.fresh
        )
        from clients.models import Client, Deal
        from finance.models import Deposit, Transfer, Withdrawal

        now = book_seeded_at() or timezone.now()
        month = now - timedelta(days=30)
        started_at = timezone.now()
        per_night, nights_s = [], []
        for night in range(args.nights, 0, -1):
            ran, took = timed(lambda n=night: run_nightly(as_of=now - timedelta(days=n)))
            per_night.append(sum(v["alerts"] for v in ran["scenarios"].values()))
            nights_s.append(round(took, 1))
            if not args.keep_open:
                officer_closes_open_alerts()
        nightly, nightly_s = timed(lambda: run_nightly(as_of=now))
        cases = planted_cases()
        planted = {pk for ids in cases.values() for pk in ids}
        alerted: dict[str, set[int]] = {}
        for code, client_id in Alert.objects.values_list("scenario__code", "client_id"):
            alerted.setdefault(code, set()).add(client_id)
        recall = {
            code: round(len(set(ids) & alerted.get(code, set())) / len(ids), 3) if ids else None
            for code, ids in cases.items()
        }
        missed = {
            code: sorted(set(ids) - alerted.get(code, set()))[:10]
            for code, ids in cases.items()
            if set(ids) - alerted.get(code, set())
        }
        month_alerts = Alert.objects.filter(window_end__gte=month)
        by_typology = {}
        for code in month_alerts.exclude(client_id__in=planted).values_list(
            "scenario__code", flat=True
        ):
            by_typology[code] = by_typology.get(code, 0) + 1
        active = active_clients(month)
        rows = sample_rows(args.sample, month, only=args.kind)
        for kind, pk in rows[:5]:  # warm the process (first queries, prepared plans)
            evaluate_transaction(kind, pk, as_of=now)
        times, by_kind = [], {}
        for kind, pk in rows:
            t0 = time.perf_counter()
            evaluate_transaction(kind, pk, as_of=now)
            elapsed = (time.perf_counter() - t0) * 1000
            times.append(elapsed)
            by_kind.setdefault(kind, []).append(elapsed)
        figures = {
            "bench": "aml",
            "clients": Client.objects.count(),
            "deals": Deal.objects.count(),
            "deposits": Deposit.objects.count(),
            "withdrawals": Withdrawal.objects.count(),
            "transfers": Transfer.objects.count(),
            "seed_seconds": seed_s and round(seed_s, 1),
            "seeded_at": now.isoformat(),
            "nightly_seconds": round(nightly_s, 1),
            "nightly_scenarios": nightly["scenarios"],
            "nights_before": args.nights,
            "officer_closes_daily": not args.keep_open,
            "alerts_per_night": per_night,
            "night_seconds_max": max(nights_s) if nights_s else None,
            "reopened_month": reopened_since(started_at),
            "raised_again_in_window": raised_again_in_window(),
            "recall": recall,
            "planted_missed": missed,
            "planted": len(planted),
            "active_clients_month": active,
            "alerts_month": month_alerts.count(),
            "alerts_per_active_client_month": round(month_alerts.count() / max(active, 1), 5),
            "ordinary_alerts_month": sum(by_typology.values()),
            "ordinary_alerts_by_typology": by_typology,
            "realtime_evaluated": len(times),
            "realtime_ms": {
                "p50": round(statistics.median(times), 2) if times else None,
                "p95": round(percentile(times, 0.95), 2) if times else None,
                "max": round(max(times), 2) if times else None,
                "p95_by_kind": {k: round(percentile(v, 0.95), 2) for k, v in by_kind.items()},
            },
            "targets": {"realtime_p95_ms": 20, "nightly_seconds": 300, "alerts_per_active": 0.01},
            "load_average_1min": round(os.getloadavg()[0], 2),
        }
    finally:
        sandbox.stop()
        connection.close()
        if connection.settings_dict["NAME"] != original:  # never the database it started on
            connection.creation.destroy_test_db(original, verbosity=0)
    if not args.no_dossier:
        figures["dossier"] = dossier(args)
    print(json.dumps(figures, default=str))


if __name__ == "__main__":
    main()
