"""The nightly risk sweep and the jurisdiction rules' application on a large book.

In its own database `<DATABASE_NAME>_bench_risk` (dropped afterwards), with the shipped country
rules: `--clients` clients (fixed seed) living mostly in the EEA and the UK, a share of them in
`--restricted-share` of the book living in Belarus, each with one live trading account at
1:30 to 1:500 and, for one in two, 2 closing deals of up to 20 lots in the last year. No client
has declared finances or deposited (that factor is the same for all). Measures:

- `sweep_seconds`: `risk_sweep()` rating the whole book the first time (every client stored,
  with its rating, audited where it changes), batches of `compliance.rating.SWEEP_BATCH`;
- `sweep_again_seconds`: the same sweep the next night with nothing changed (nothing stored);
- `deals_rerate_seconds`: what a sync pass's task does for `--synced` clients' new deals
  (`deals_rerate`);
- `apply_seconds`: `jurisdiction_apply_batched()` (what the beat and an officer's rule task
  run, batches of 500 clients in their own transactions) for a restricted rule on Belarus just
  in force: one application, one audit event and one email (rendered, recorded in the
  client's history, sent to an in-memory mailbox) per client it reaches, and the platform
  reach marked for their accounts (the reconcile tasks it queues are counted, not run);
- `apply_idle_seconds`: the beat's run a minute later, with nothing to do (pairs already
  applied skipped: nothing written);
- `lift_seconds`: the same once the rule has ended: every application lifted;
- `baseline_seconds`: the floor, one query counting the book's clients joined to their live
  accounts on the same server, and the ratio of the idle apply to it.

    .venv/bin/python bench/risk.py                      # stated scale: 100,000 clients
    .venv/bin/python bench/risk.py --clients 2000       # smoke
"""

import argparse
import json
import os
import random
import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "brokerage.settings.dev")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from bench.benchdb import bench_db_create, bench_users, timed  # noqa: E402

EEA = ["DE", "FR", "ES", "IT", "CY", "NL", "PL"]
ELSEWHERE = ["AE", "ZA", "SG", "MY", "TH", "VN"]


def book_create(size: int, restricted_share: float, seed: int) -> dict:
    from clients.models import Client, Deal, TradingAccount, TradingServer

    rnd = random.Random(seed)
    server = TradingServer.objects.create(name="Bench", url="https://mt5.bench.invalid")
    users = bench_users("risk", size)
    clients = []
    for user in users:
        draw = rnd.random()
        country = (
            "BY"
            if draw < restricted_share
            else "GB"
            if draw < 0.30
            else rnd.choice(EEA)
            if draw < 0.80
            else rnd.choice(ELSEWHERE)
        )
        clients.append(
            Client(
                user=user,
                status=Client.Status.ACTIVE,
                country=country,
                nationality=rnd.choice([country, country, country, rnd.choice(EEA + ELSEWHERE)]),
                kyc_level=1,
            )
        )
    clients = Client.objects.bulk_create(clients, batch_size=5000)
    accounts = TradingAccount.objects.bulk_create(
        [
            TradingAccount(
                client=c,
                server=server,
                login=100_000 + i,
                group="real\\standard-usd",
                currency="USD",
                leverage=rnd.choice([30, 100, 200, 500]),
            )
            for i, c in enumerate(clients)
        ],
        batch_size=5000,
    )
    now, ticket, deals = timezone.now(), 1, []
    for account in accounts[::2]:
        for _ in range(2):
            deals.append(
                Deal(
                    server=server,
                    ticket=ticket,
                    account=account,
                    client_id=account.client_id,
                    time=now - timedelta(days=rnd.randint(1, 360)),
                    action=Deal.Action.BUY,
                    entry=Deal.Entry.OUT,
                    symbol="EURUSD",
                    volume=rnd.randint(1, 200_000),
                    price=Decimal("1.10000"),
                    profit_amount=Decimal(0),
                    position_id=ticket,
                )
            )
            ticket += 1
    Deal.objects.bulk_create(deals, batch_size=5000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    restricted = Client.objects.filter(country="BY").count()
    return {"clients": size, "deals": len(deals), "clients_in_belarus": restricted}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=100_000)
    parser.add_argument("--restricted-share", type=float, default=0.05)
    parser.add_argument("--synced", type=int, default=1000, help="clients of a sync pass")
    parser.add_argument("--seed", type=int, default=20261204)
    args = parser.parse_args()
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    original = bench_db_create("_bench_risk")
    try:
        import clients.tasks
        import compliance.tasks
        from brokerage.models import CountryRule
        from clients.models import ClientActivity, Deal, TradingAccount
        from compliance.jurisdictions import jurisdiction_apply_batched as jurisdiction_apply
        from compliance.models import RiskAssessment, RuleApplication
        from compliance.rating import deals_rerate, risk_sweep

        queued = []  # no broker: what would be queued is counted
        clients.tasks.platform_reach_task.delay = lambda ids: queued.append(len(ids))
        compliance.tasks.risk_assess_task.delay = lambda *a, **k: None

        figures = book_create(args.clients, args.restricted_share, args.seed)
        stored, sweep_seconds = timed(risk_sweep)
        again, sweep_again_seconds = timed(risk_sweep)
        synced = list(
            Deal.objects.order_by("client_id").values_list("pk", flat=True)[: 2 * args.synced]
        )
        rerated, deals_rerate_seconds = timed(lambda: deals_rerate(synced))

        now = timezone.now()
        rule = CountryRule.objects.create(
            country="BY",
            kind=CountryRule.Kind.RESTRICTED,
            basis="Bench: EU restrictive measures",
            effective_from=now,
            created_at=now,
            created_by_label="bench",
        )
        applied, apply_seconds = timed(lambda: jurisdiction_apply(at=now + timedelta(seconds=1)))
        emails = ClientActivity.objects.filter(template="jurisdiction_restricted").count()
        idle, apply_idle_seconds = timed(lambda: jurisdiction_apply(at=now + timedelta(minutes=1)))
        CountryRule.objects.filter(pk=rule.pk).update(effective_to=now + timedelta(minutes=2))
        lifted, lift_seconds = timed(lambda: jurisdiction_apply(at=now + timedelta(minutes=3)))
        _, baseline_seconds = timed(
            lambda: TradingAccount.objects.filter(status="active", client__status="active").count()
        )
        figures.update(
            {
                "assessments_stored": stored,
                "sweep_seconds": round(sweep_seconds, 3),
                "sweep_clients_per_second": round(args.clients / sweep_seconds),
                "sweep_again_stored": again,
                "sweep_again_seconds": round(sweep_again_seconds, 3),
                "synced_clients": args.synced,
                "deals_rerate_stored": rerated,
                "deals_rerate_seconds": round(deals_rerate_seconds, 3),
                "applied": applied["applied"],
                "apply_seconds": round(apply_seconds, 3),
                "emails_recorded": emails,
                "reach_tasks_queued": len(queued),
                "apply_idle": idle,
                "apply_idle_seconds": round(apply_idle_seconds, 3),
                "lifted": lifted["lifted"],
                "lift_seconds": round(lift_seconds, 3),
                "applications": RuleApplication.objects.count(),
                "assessments": RiskAssessment.objects.count(),
                "baseline_seconds": round(baseline_seconds, 3),
                "idle_apply_to_baseline": round(
                    apply_idle_seconds / max(baseline_seconds, 1e-6), 1
                ),
            }
        )
    finally:
        connection.creation.destroy_test_db(original, verbosity=0)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
