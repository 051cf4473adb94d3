"""Campaign links at scale: a million clicks, and every funnel still read in milliseconds.

Builds (in its own database `<DATABASE_NAME>_links_bench`, dropped afterwards) P partners with
L campaign links between them, N counted clicks spread over 90 days (the click rows and the
per-day counts, as `link_click_record` leaves them), R registrations through the links (half
verified, a third funded, a fifth trading). Then it times, each the median of several runs:

- a click counted through the product (`link_click_record`: the dedupe insert and the day's
  count in one statement) and a repeated click (counted once: the unique key refuses it);
- the partner dashboard: the funnel across all of one partner's links, and its first page of
  links with their funnels (`partner_funnel`, `link_funnels`);
- the back-office list: the first page of every partner's links, most clicked first, with its
  funnels (`links_overview`, `link_funnels`);
- the baseline measured in the same run: the back-office page's most-clicked links counted
  from the click rows themselves (what the list would cost without the running totals), and
  the page's ratio to it.

    .venv/bin/python bench/ib_links.py                                         # stated scale
    .venv/bin/python bench/ib_links.py --clicks 20000 --links 40 --registrations 500  # smoke

Prints one JSON line.
"""

import argparse
import json
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "brokerage.settings.dev")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402

from bench.benchdb import bench_db_create  # noqa: E402
from bench.ib import ACCOUNTS_SQL, CLIENTS_SQL, PEOPLE_SQL  # noqa: E402

CLICKS_SQL = """
INSERT INTO ib_linkclick (link_id, visitor, "window", clicked_at)
SELECT (%(links)s::bigint[])[1 + (g * 7919) %% %(nlinks)s], md5(g::text)::char(32),
       extract(epoch FROM t)::bigint / %(window)s, t
  FROM generate_series(1, %(n)s::bigint) g,
       LATERAL (SELECT %(start)s::timestamptz + ((g * 104729) %% %(seconds)s)
                       * interval '1 second' AS t) at
"""
DAYS_SQL = """
INSERT INTO ib_linkday (link_id, day, clicks)
SELECT link_id, (clicked_at AT TIME ZONE 'UTC')::date, count(*) FROM ib_linkclick GROUP BY 1, 2
"""
DEALS_SQL = """
INSERT INTO clients_deal (server_id, ticket, account_id, client_id, time, action, entry, symbol,
                          volume, volume_ext, price, profit_amount, swap_amount,
                          commission_amount, position_id, comment, synced_at)
SELECT a.server_id, a.id, a.id, a.client_id, now(), 0, 0, 'EURUSD', 10000, 0, 1.1, 0, 0, 0,
       a.id, '', now()
  FROM clients_tradingaccount a WHERE a.client_id % 5 = 0
"""


def timed(fn, runs=7) -> float:
    """Median milliseconds of `runs` calls (after one warm-up)."""
    fn()
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return round(statistics.median(samples), 2)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clicks", type=int, default=1_000_000)
    parser.add_argument("--partners", type=int, default=200)
    parser.add_argument("--links", type=int, default=1_000)
    parser.add_argument("--registrations", type=int, default=20_000)
    parser.add_argument("--keep", action="store_true", help="keep the database (to explain)")
    args = parser.parse_args()

    from clients.models import Client, TradingServer
    from ib.links import CLICK_WINDOW, link_click_record
    from ib.models import CampaignLink, Partner, Referral
    from ib.models_links import new_link_code
    from ib.selectors_links import link_funnels, links_overview, partner_funnel, partner_links

    rng = random.Random(14)
    old_name = bench_db_create("_links_bench")
    now = datetime.now(UTC)
    start = now - timedelta(days=90)
    figures = {"clicks": args.clicks, "links": args.links, "partners": args.partners}
    try:
        t0 = time.perf_counter()
        with connection.cursor() as cur:
            cur.execute(PEOPLE_SQL, {"prefix": "partner", "n": args.partners})
            cur.execute(
                "SELECT id FROM brokerage_user WHERE email LIKE 'partner%%@bench.test' ORDER BY id"
            )
            users = [r[0] for r in cur.fetchall()]
        partners = Partner.objects.bulk_create(
            [Partner(user_id=u, referral_code=f"BENCH{i:04d}") for i, u in enumerate(users)]
        )
        # partner 0 is the busiest: a tenth of the links
        owners = [partners[0]] * (args.links // 10) + [
            partners[1 + i % (len(partners) - 1)] for i in range(args.links - args.links // 10)
        ]
        links = CampaignLink.objects.bulk_create(
            [
                CampaignLink(partner=p, name=f"Campaign {i}", code=new_link_code())
                for i, p in enumerate(owners)
            ]
        )
        link_ids = [link.pk for link in links]
        with connection.cursor() as cur:
            cur.execute(
                CLICKS_SQL,
                {
                    "links": link_ids,
                    "nlinks": len(link_ids),
                    "window": CLICK_WINDOW,
                    "n": args.clicks,
                    "start": start,
                    "seconds": 90 * 86400 - 3600,
                },
            )
            cur.execute(DAYS_SQL)
            cur.execute(
                "UPDATE ib_campaignlink l SET clicks = d.n FROM (SELECT link_id, sum(clicks) n"
                " FROM ib_linkday GROUP BY link_id) d WHERE d.link_id = l.id"
            )
            cur.execute(PEOPLE_SQL, {"prefix": "client", "n": args.registrations})
            cur.execute(CLIENTS_SQL, {"at": start})
            server = TradingServer.objects.create(
                name="Bench", url="http://127.0.0.1:9", manager_login="1", manager_password="x"
            )
            cur.execute(ACCOUNTS_SQL, {"server": server.pk, "at": start})
            cur.execute(DEALS_SQL)
            cur.execute("UPDATE clients_client SET kyc_level = (id % 2)")
            cur.execute("UPDATE clients_client SET first_deposit_at = now() WHERE id % 3 = 0")
        clients = list(Client.objects.values_list("pk", flat=True))
        Referral.objects.bulk_create(
            [
                Referral(partner=link.partner, client_id=c, code=link.code, campaign_link=link)
                for c in clients
                for link in [links[rng.randrange(len(links))]]
            ],
            batch_size=5000,
        )
        with connection.cursor() as cur:
            cur.execute("ANALYZE")
        figures["build_s"] = round(time.perf_counter() - t0, 1)

        busiest = partners[0]
        some = links[len(links) // 2]
        visitors = iter(f"{i:032x}" for i in range(10**9))

        def click():
            link_click_record(link=some, visitor=next(visitors))

        def repeat():
            link_click_record(link=some, visitor="f" * 32)

        def partner_page():
            partner_funnel(partner=busiest)
            link_funnels(partner_links(partner=busiest)[:20])

        def backoffice_page():
            page = list(links_overview()[:25])
            link_funnels(page)

        def from_rows():  # the back-office ordering counted from the click rows themselves
            with connection.cursor() as cur:
                cur.execute(
                    "SELECT link_id, count(*) FROM ib_linkclick GROUP BY link_id"
                    " ORDER BY 2 DESC LIMIT 25"
                )
                cur.fetchall()

        figures["click_ms"] = timed(click, runs=200)
        figures["repeated_click_ms"] = timed(repeat, runs=200)
        figures["partner_funnel_and_page_ms"] = timed(partner_page)
        figures["backoffice_page_ms"] = timed(backoffice_page)
        figures["baseline_backoffice_clicks_from_rows_ms"] = timed(from_rows)
        figures["backoffice_page_vs_baseline"] = round(
            figures["backoffice_page_ms"]
            / max(figures["baseline_backoffice_clicks_from_rows_ms"], 0.01),
            3,
        )
        total = partner_funnel(partner=busiest)
        with connection.cursor() as cur:
            cur.execute("SELECT count(*), sum(clicks) FROM ib_linkday")
            days, summed = cur.fetchone()
            cur.execute("SELECT count(*) FROM ib_linkclick")
            rows = cur.fetchone()[0]
            cur.execute("SELECT sum(clicks) FROM ib_campaignlink")
            totals = cur.fetchone()[0]
        figures.update(
            {
                "linkday_rows": days,
                "counts_agree": summed == rows == totals,
                "busiest_partner_funnel": {s["key"]: s["count"] for s in total["stages"]},
            }
        )
    finally:
        connection.close()
        if not args.keep:
            connection.creation.destroy_test_db(old_name, verbosity=0)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
