"""IB commissions of a month: a period run over N closed deals, and a sync pass's new deals.

Builds (in its own database `<DATABASE_NAME>_bench`, dropped afterwards) a network of partners
in trees of depth up to 5 plus one chain of depth 20, each level's plan paying a little less
than its parent's (per lot by group: FX, metals, a default), clients referred to random
partners (the deep chain's among them), and N closed deals over this month (each
with its opening deal; 2% held under the minimum of 60 s). Then it times:

- the period run (`commissions_pay` over the month: every level's line for every deal), and
  the floor: one `INSERT ... SELECT` writing the same lines into a table with the same
  indexes and constraints (its ratio to the run is printed);
- a sync pass's new deals: 10,000 more deals stored, then paid as the `commissions` task pays
  them (by id), the seconds from their commit to their lines' commit. They close in the last
  half hour of a day already full of deals (yesterday's), whatever the time the bench runs:
  the checks that read each client's whole day (the short-hold burst) read a full one;
- the properties that must hold: no line twice, no deal paid above its top rate, the short
  holds unpaid, and `ib_recompute`'s computation of the month giving the same checksum.

    .venv/bin/python bench/ib.py                                   # stated scale
    .venv/bin/python bench/ib.py --deals 20000 --partners 40 --new 500   # smoke

With `--overrides`, every level's plan also narrows its FX majors rate to clients' countries
and account types (Germany +10%, the EEA region +5%, the Pro account type -10%), half the
accounts are Pro and the clients live in six countries: the run then keys the rate table by
account type and country class and joins each deal to them.

    .venv/bin/python bench/ib.py --overrides

Prints one JSON line.
"""

import argparse
import json
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "brokerage.settings.dev")

import django  # noqa: E402

django.setup()

from django.db import connection, connections  # noqa: E402

from bench.benchdb import bench_db_create  # noqa: E402

SYMBOLS = [("EURUSD", "fx_major"), ("GBPUSD", "fx_major"), ("EURGBP", "fx_minor"),
           ("XAUUSD", "metals"), ("US30", "indices"), ("BTCUSD", "crypto")]  # fmt: skip
TOP_RATES = {"fx_major": Decimal("10"), "metals": Decimal("12"), "": Decimal("4")}
# each level down pays a 25th of the top rate less per lot (the deep chain: 20 levels)

PEOPLE_SQL = """
INSERT INTO brokerage_user (email, password, first_name, last_name, is_staff, is_active,
                            is_superuser, date_joined)
SELECT %(prefix)s || g || '@bench.test', '!', 'Bench', g::text, false, true, false, now()
  FROM generate_series(1, %(n)s) g
"""
CLIENTS_SQL = """
INSERT INTO clients_client (user_id, status, country, language, phone, kyc_level, restricted,
                            restriction_reason, aml_case_open, risk_flags, created_at,
                            payment_reference)
SELECT id, 'active', 'GB', 'en', '', 1, false, '', false, '[]'::jsonb, %(at)s, 'BENCH' || id
  FROM brokerage_user WHERE email LIKE 'client%%@bench.test'
"""
ACCOUNTS_SQL = """
INSERT INTO clients_tradingaccount (client_id, server_id, login, "group", currency, leverage,
    status, balance_amount, credit_amount, equity_amount, margin_amount, margin_free_amount,
    backfill_pending, trade_deals, closed_trades, won_trades, closed_volume, realized_pl_amount,
    opened_at)
SELECT id, %(server)s, 500000 + id, 'real\\standard-usd', 'USD', 100, 'active', 0, 0, 0, 0, 0,
       false, 0, 0, 0, 0, 0, %(at)s
  FROM clients_client
"""
DEALS_SQL = """
WITH a AS (SELECT array_agg(id ORDER BY id) AS ids, array_agg(client_id ORDER BY id) AS clients
             FROM clients_tradingaccount),
g AS (
  SELECT g, 1 + (g * 7919) %% array_length(a.ids, 1) AS k, a.ids, a.clients,
         %(start)s::timestamptz + ((g * 104729) %% %(seconds)s) * interval '1 second' AS closed,
         CASE WHEN g %% 50 = 0 THEN 20 ELSE 300 + (g %% 3600) END AS held
    FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) g, a
)
INSERT INTO clients_deal (server_id, ticket, account_id, client_id, time, action, entry, symbol,
                          volume, volume_ext, price, profit_amount, swap_amount,
                          commission_amount, position_id, comment, synced_at)
SELECT %(server)s, 2 * g + e, ids[k], clients[k],
       CASE WHEN e = 0 THEN closed - held * interval '1 second' ELSE closed END,
       (g %% 2)::smallint # e, e, (%(symbols)s::text[])[1 + g %% %(nsymbols)s],
       100 + (g %% 40) * 100, 0, 1.1, 0, 0, -0.7, g, '', now()
  FROM g CROSS JOIN (VALUES (0), (1)) x(e)
"""


def explained(execute, sql, params, many, context):
    """Run the lines' INSERT under EXPLAIN ANALYZE and print its plan to stderr."""
    if "INSERT INTO ib_commissionline" not in sql:
        return execute(sql, params, many, context)
    cursor = context["cursor"]
    execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params, many, context)
    plan = "\n".join(r[0] for r in cursor.fetchall())
    print(plan, file=sys.stderr)
    return execute("SELECT 0, ARRAY[]::bigint[]", None, many, context)


def build_tree(n: int, rng: random.Random) -> list[tuple[int, int | None, int]]:
    """(index, parent index, depth): a chain of depth 20 (indexes 0-19), then trees of depth
    up to 5."""
    nodes = [(i, i - 1 if i else None, i) for i in range(min(20, n))]
    forest: list[tuple[int, int]] = []  # (index, depth) outside the chain
    for i in range(len(nodes), n):
        choices = [(j, d) for j, d in forest if d < 4]
        if not choices or rng.random() < 0.15:
            nodes.append((i, None, 0))
            forest.append((i, 0))
        else:
            j, d = rng.choice(choices)
            nodes.append((i, j, d + 1))
            forest.append((i, d + 1))
    return nodes


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deals", type=int, default=1_000_000)
    parser.add_argument("--partners", type=int, default=200)
    parser.add_argument("--clients", type=int, default=20_000)
    parser.add_argument("--new", type=int, default=10_000)
    parser.add_argument(
        "--explain", action="store_true", help="print the period run's plan (EXPLAIN ANALYZE)"
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="leave the bench database in place afterwards (to EXPLAIN its queries)",
    )
    parser.add_argument(
        "--overrides",
        action="store_true",
        help="plans with rates by country, region and account type (see the module)",
    )
    args = parser.parse_args()

    from clients.models import AccountType, Client, Instrument, TradingServer
    from ib.engine import commissions_pay, commissions_recompute
    from ib.models import (
        ParentLink,
        Partner,
        PartnerPlan,
        Plan,
        PlanRule,
        PlanVersion,
        Programme,
        ReferralLink,
    )

    rng = random.Random(11)
    old_name = bench_db_create("_bench")
    now = datetime.now(UTC)
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    if (now - start).days < 2:
        start -= timedelta(days=28)
    seconds = int((now - start).total_seconds()) - 7200
    before = start - timedelta(days=1)
    try:
        t0 = time.perf_counter()
        server = TradingServer.objects.create(
            name="Bench", url="http://127.0.0.1:9", manager_login="1", manager_password="x"
        )
        for symbol, group in SYMBOLS:
            Instrument.objects.update_or_create(symbol=symbol, defaults={"asset_class": group})
        with connection.cursor() as cur:
            cur.execute(PEOPLE_SQL, {"prefix": "client", "n": args.clients})
            cur.execute(CLIENTS_SQL, {"at": before})
            cur.execute(ACCOUNTS_SQL, {"server": server.pk, "at": before})
            cur.execute(PEOPLE_SQL, {"prefix": "partner", "n": args.partners})
            cur.execute(
                "SELECT id FROM brokerage_user WHERE email LIKE 'partner%%@bench.test' ORDER BY id"
            )
            partner_users = [r[0] for r in cur.fetchall()]
        tree = build_tree(args.partners, rng)
        partners = Partner.objects.bulk_create(
            [
                Partner(user_id=u, company_name=f"IB {i}", referral_code=f"BENCH{i:04d}")
                for i, u in enumerate(partner_users)
            ]  # fmt: skip
        )
        programme = Programme.objects.create(name="Bench")
        overrides = []
        if args.overrides:
            pro = AccountType.objects.create(
                server=server, name="Pro", group="real\\pro-usd", currency="USD"
            )
            from brokerage.models import Region

            eea = Region.objects.get(code="EEA")
            with connection.cursor() as cur:
                cur.execute(
                    "UPDATE clients_client SET country ="
                    " (ARRAY['DE','FR','AT','GB','US','AE'])[1 + id % 6]"
                )
                cur.execute(
                    "UPDATE clients_tradingaccount SET account_type_id = %s WHERE id %% 2 = 0",
                    [pro.pk],
                )
            overrides = [
                ({"country": "DE"}, Decimal("1.10")),
                ({"region": eea}, Decimal("1.05")),
                ({"account_type": pro}, Decimal("0.90")),
            ]
        depth_plans = {}
        for depth in range(21):
            plan = Plan.objects.create(programme=programme, name=f"Level {depth}")
            version = PlanVersion.objects.create(
                plan=plan, number=1, valid_from=before, published_at=before
            )
            PlanRule.objects.bulk_create(
                [
                    PlanRule(version=version, symbol_group=g, rate=rate * (25 - depth) / 25)
                    for g, rate in TOP_RATES.items()
                ]
                + [
                    PlanRule(
                        version=version,
                        symbol_group="fx_major",
                        rate=TOP_RATES["fx_major"] * factor * (25 - depth) / 25,
                        **scope,
                    )
                    for scope, factor in overrides
                ]  # fmt: skip
            )
            depth_plans[depth] = plan
        links, plans = [], []
        for i, parent, depth in tree:
            if parent is not None:
                Partner.objects.filter(pk=partners[i].pk).update(parent=partners[parent])
                links.append(ParentLink(partner=partners[i], parent=partners[parent],
                                        valid_from=before, set_by="bench"))  # fmt: skip
            plans.append(PartnerPlan(partner=partners[i], plan=depth_plans[depth],
                                     valid_from=before, set_by="bench"))  # fmt: skip
        ParentLink.objects.bulk_create(links)
        PartnerPlan.objects.bulk_create(plans)
        client_ids = list(Client.objects.values_list("pk", flat=True))
        # each client referred by any partner, the deep chain's included
        ReferralLink.objects.bulk_create(
            [
                ReferralLink(
                    client_id=c,
                    partner=rng.choice(partners),
                    valid_from=before,
                    set_by="bench",
                )
                for n, c in enumerate(client_ids)
            ],
            batch_size=5000,
        )
        symbols = [s for s, _ in SYMBOLS]
        for lo in range(1, args.deals + 1, 100_000):
            hi = min(args.deals, lo + 99_999)
            with connection.cursor() as cur:
                cur.execute(
                    DEALS_SQL,
                    {
                        "start": start,
                        "seconds": seconds,
                        "lo": lo,
                        "hi": hi,
                        "server": server.pk,
                        "symbols": symbols,
                        "nsymbols": len(symbols),
                    },  # fmt: skip
                )
        with connection.cursor() as cur:
            cur.execute("VACUUM ANALYZE")
        setup_s = time.perf_counter() - t0
        load_before = os.getloadavg()

        t1 = time.perf_counter()
        if args.explain:
            with connection.execute_wrapper(explained):
                paid = commissions_pay(start=start, end=now)
        else:
            paid = commissions_pay(start=start, end=now)
        run_s = time.perf_counter() - t1

        with connection.cursor() as cur:
            cur.execute("CREATE TABLE ib_floor (LIKE ib_commissionline INCLUDING ALL)")
            t2 = time.perf_counter()
            cur.execute("INSERT INTO ib_floor SELECT * FROM ib_commissionline")
            floor_s = time.perf_counter() - t2
            cur.execute("DROP TABLE ib_floor")
            cur.execute(
                "SELECT count(*), count(DISTINCT (deal_id, partner_id, tier)) "
                "FROM ib_commissionline"
            )
            lines, distinct = cur.fetchone()
            # per deal, never above the top rate: per lot x the top's 12 at most
            cur.execute(
                """SELECT count(*) FROM (
                     SELECT l.deal_id, sum(l.amount) AS paid, max(d.volume) AS volume
                       FROM ib_commissionline l JOIN clients_deal d ON d.id = l.deal_id
                      GROUP BY l.deal_id) x
                    WHERE paid > volume * 12 / 10000.0"""
            )
            over_top = cur.fetchone()[0]
            cur.execute(  # held 20 s: every 50th position
                """SELECT count(*) FROM ib_commissionline l JOIN clients_deal d
                     ON d.id = l.deal_id WHERE d.position_id % 50 = 0"""
            )
            short_paid = cur.fetchone()[0]
            cur.execute("SELECT max(position_id) FROM clients_deal")
            top_position = cur.fetchone()[0]

        # ib_recompute of the period: the same lines, to the cent (and its own time)
        t4 = time.perf_counter()
        again = commissions_recompute(start=start, end=now)
        recompute_s = time.perf_counter() - t4

        # A revenue-share close reads each client's net result over the period by its IB at
        # each deal (a look-up per deal into the referrals): the month's million deals.
        from ib.client_rules import RESULTS

        t5 = time.perf_counter()
        with connection.cursor() as cur:
            cur.execute(RESULTS, [start, now])
            revshare_rows = len(cur.fetchall())
        revshare_s = time.perf_counter() - t5

        # A sync pass: new deals stored and committed, then paid by id as the task pays them,
        # at the end of a full day (see the module).
        day_end = now.replace(hour=0, minute=0, second=0, microsecond=0)
        with connection.cursor() as cur:
            cur.execute(
                DEALS_SQL,
                {
                    "start": day_end - timedelta(minutes=30),
                    "seconds": 1200,
                    "lo": top_position + 1,
                    "hi": top_position + args.new,
                    "server": server.pk,
                    "symbols": symbols,
                    "nsymbols": len(symbols),
                },  # fmt: skip
            )
            cur.execute(
                "SELECT id FROM clients_deal WHERE position_id > %s AND entry = 1", [top_position]
            )
            new_ids = [r[0] for r in cur.fetchall()]
        t3 = time.perf_counter()
        new_paid = commissions_pay(deal_ids=new_ids)
        new_s = time.perf_counter() - t3
    finally:
        connections.close_all()
        if args.keep:
            print(f"kept database {connection.settings_dict['NAME']}", file=sys.stderr)
        else:
            connection.creation.destroy_test_db(old_name, verbosity=0)
    print(
        json.dumps(
            {
                "bench": "ib",
                "closed_deals": args.deals,
                "overrides": args.overrides,
                "partners": args.partners,
                "max_depth": max(d for _, _, d in tree) + 1,
                "clients": args.clients,
                "lines": lines,
                "lines_written_by_run": paid["lines"],
                "lines_withheld_by_fraud_checks": paid["withheld"],
                "seconds_period_run": round(run_s, 2),
                "period_run_stages": paid.get("seconds"),
                "seconds_floor_insert_select": round(floor_s, 2),
                "run_over_floor": round(run_s / floor_s, 2) if floor_s else None,
                "no_line_twice": lines == distinct,
                "deals_paid_above_top_rate": over_top,
                "short_holds_paid": short_paid,
                "recompute_same_checksum": again.same,
                "checksum": again.checksum,
                "seconds_recompute": round(recompute_s, 2),
                "seconds_revshare_results": round(revshare_s, 2),
                "revshare_client_rows": revshare_rows,
                "new_deals": len(new_ids),
                "new_lines": new_paid["lines"],
                "new_lines_withheld": new_paid["withheld"],
                "seconds_new_deals_paid": round(new_s, 2),
                "new_deals_stages": new_paid.get("seconds"),
                "setup_seconds": round(setup_s, 1),
                "load_average_1min": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
            }
        )
    )


if __name__ == "__main__":
    main()
