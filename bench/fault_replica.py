"""Fault: the primary database stopped (as a crash), its streaming replica promoted, and the
system carries on against it without a process being restarted. Nothing acknowledged is lost.

On throwaway servers (bench/stack.py): the seeded primary, a streaming replica of it made with
`pg_basebackup -R` (bench/replica.py's helpers) and, by default, synchronous replication
(`synchronous_standby_names = '*'`, `synchronous_commit = remote_apply` for the product's
database: a commit is acknowledged once the replica has applied it). Every process is given
both servers in one connection string, the primary first, asking for the one that takes writes:

    DATABASE_URL=postgres://brokerage:...@<primary>:<port>,<replica>:<port>/brokerage?target_session_attrs=read-write
    DATABASE_REPLICA_URL=postgres://brokerage:...@<replica>:<port>/brokerage

(libpq tries the hosts in order and keeps the first that is read-write), with gunicorn, a
worker on every queue, beat and the audit sealer. Under a light load (lead posts from the API,
Stripe webhooks delivered twice, back-office dashboard views read from the replica), the
primary is stopped with `pg_ctl stop -m immediate`; what the replica holds is read while it is
still a standby (nothing can be written to it then); `--gap` seconds later (the operator's
reaction) it is promoted with `pg_ctl promote`; the load goes on for `--after` seconds. What
must hold:

- every lead post and webhook acknowledged before the stop is in the promoted database (with
  `--async` replication, how many were lost is reported instead);
- while no server takes writes, requests are refused cleanly (503 `database_unavailable`);
  once the replica is promoted, requests succeed again without any process being restarted;
- the common checks (bench/faultkit.py): ledger and audit chain clean, every lead routed once,
  every webhook applied once.

    .venv/bin/python bench/fault_replica.py                     # 20 s of load, then the stop
    .venv/bin/python bench/fault_replica.py --before 6 --after 8 --webhooks 6   # smoke
    .venv/bin/python bench/fault_replica.py --async             # what asynchronous replication loses

Prints one JSON line; exits 1 if a check fails.
"""  # noqa: E501

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "brokerage.settings.dev")
os.environ.setdefault("LOG_LEVEL", "WARNING")

from bench.faultkit import (  # noqa: E402
    failed,
    final_checks,
    healthz,
    loaded_stack,
    outage_ending,
    refused_cleanly,
    report,
    wait_leads_routed,
)
from bench.replica import (  # noqa: E402
    REPLICATOR,
    REPLICATOR_PASSWORD,
    Cluster,
    promote,
    replica_start,
)
from bench.stack import Stack, free_port, wait_until  # noqa: E402

# A standby may not allow fewer connections or WAL senders than its primary (the stack's
# server: 200 connections, the default 10 senders).
STANDBY_OPTIONS = ("max_connections=200", "max_wal_senders=10")


class Views:
    """Back-office dashboard views (read from the replica) by a signed-in ops admin, `rate` a
    second, each answer kept like the traffic's."""

    def __init__(self, port: int, cookie: str, rate: float):
        self.port, self.cookie, self.rate = port, cookie, rate
        self.stop = threading.Event()
        self.answers: list[dict] = []
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        import http.client

        from django.conf import settings

        headers = {"Cookie": f"{settings.SESSION_COOKIE_NAME}={self.cookie}"}
        while not self.stop.is_set():
            started = time.time()
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                conn.request("GET", "/backoffice/", headers=headers)
                response = conn.getresponse()
                body = response.read()
                status = response.status
                conn.close()
            except (OSError, http.client.HTTPException) as exc:
                status, body = 0, repr(exc).encode()
            answer = {"kind": "page", "at": started, "status": status}
            answer["ms"] = 1000 * (time.time() - started)
            if status != 200:
                answer["body"] = body[:300].decode(errors="replace")
            self.answers.append(answer)
            self.stop.wait(max(0.0, 1 / self.rate - (time.time() - started)))


def staff_cookie() -> str:
    from django.conf import settings
    from django.test import Client

    from brokerage.models import User
    from tests.conftest import login

    browser = Client()
    login(browser, User.objects.get(email="ops_admin@demo.test"))
    return browser.cookies[settings.SESSION_COOKIE_NAME].value


def standby(stack: Stack, home: Path, port: int, *, synchronous: bool):
    """A streaming replica of the stack's database server in `home` on `port`; with
    `synchronous`, the product's commits wait until it has applied them."""
    stack.pg.psql(f"CREATE ROLE {REPLICATOR} LOGIN REPLICATION PASSWORD '{REPLICATOR_PASSWORD}'")
    replica = replica_start(SimpleNamespace(port=stack.pg.port), home, port, STANDBY_OPTIONS)
    if synchronous:
        stack.pg.psql("ALTER SYSTEM SET synchronous_standby_names = '*'")
        stack.pg.psql("SELECT pg_reload_conf()")
        # The server runs with synchronous_commit=off (a command-line setting): the product's
        # database's own setting comes before it for every session opened from now on.
        stack.pg.psql("ALTER DATABASE brokerage SET synchronous_commit = 'remote_apply'")
    wanted = "sync" if synchronous else "async"
    wait_until(
        lambda: stack.pg.psql("SELECT sync_state FROM pg_stat_replication").strip() == wanted,
        60,
        f"the replica to stream ({wanted})",
    )
    from django.db import connections

    connections.close_all()  # this process's next sessions take the database's setting
    return replica


def held_before_stop(replica, acked_leads: list[str], acked_events: list[str]) -> dict:
    """What the standby holds of what was acknowledged before the stop (read while it is still
    a standby: nothing can be written to it)."""

    def present(sql: str, values: list[str]) -> set[str]:
        if not values:
            return set()
        quoted = ",".join("'" + v.replace("'", "''") + "'" for v in values)
        out = replica.sql(sql.format(quoted), db="brokerage")
        return set(out.splitlines())

    leads = present("SELECT email FROM leads_lead WHERE email IN ({})", acked_leads)
    events = present("SELECT event_id FROM finance_pspevent WHERE event_id IN ({})", acked_events)
    return {
        "leads_acknowledged": len(acked_leads),
        "leads_lost": len(set(acked_leads) - leads),
        "webhooks_acknowledged": len(acked_events),
        "webhooks_lost": len(set(acked_events) - events),
        "in_recovery": replica.in_recovery(),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=float, default=20, help="seconds of load before")
    parser.add_argument("--gap", type=float, default=3, help="seconds before the promotion")
    parser.add_argument("--after", type=float, default=20, help="seconds of load after")
    parser.add_argument("--lead-rate", type=float, default=4, help="lead posts a second")
    parser.add_argument("--webhooks", type=int, default=30, help="deposits paid by webhook")
    parser.add_argument("--views", type=float, default=2, help="dashboard views a second")
    parser.add_argument(
        "--async", dest="asynchronous", action="store_true", help="asynchronous replication"
    )
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))

    args.length = args.gap
    stack = Stack()
    replica_port = free_port()
    both = (
        f"postgres://brokerage:brokerage@127.0.0.1:{stack.pg.port},127.0.0.1:{replica_port}"
        "/brokerage?target_session_attrs=read-write"
    )
    stack.env["DATABASE_URL"] = both
    stack.env["DATABASE_REPLICA_URL"] = (
        f"postgres://brokerage:brokerage@127.0.0.1:{replica_port}/brokerage"
    )
    os.environ["DATABASE_REPLICA_URL"] = stack.env["DATABASE_REPLICA_URL"]
    # Its own folder (not the stack's, which a failed setup removes): stopped before removed.
    home = Path(tempfile.mkdtemp(prefix="brokerage-fault-replica-")) / "replica"
    made = {}

    def prepare(stack):
        stack.env["STATIC_ROOT"] = str(stack.tmp / "static")  # pages served as `make up` does
        stack.manage("collectstatic", "--noinput", "-v", "0")
        made["replica"] = Cluster(home, replica_port, STANDBY_OPTIONS)  # to stop it
        made["replica"] = standby(stack, home, replica_port, synchronous=not args.asynchronous)

    try:
        # Beat up first (started while no server takes writes, it would exit at once).
        stack, traffic, deposits, setup_s = loaded_stack(
            args, wait_beat=True, stack=stack, prepare=prepare
        )
        replica = made["replica"]
        views = Views(stack.web_port, staff_cookie(), args.views)
        traffic.start()
        views.thread.start()
        time.sleep(args.before)
        health_before = healthz(stack.web_port)

        from django.db import connections

        connections.close_all()
        stop_at = time.time()
        stack.pg.stop("immediate")  # as a crash: nothing more leaves the primary
        acked = [a for a in traffic.answers if a["status"] in (200, 201)]
        acked = [a for a in acked if a["at"] + a["ms"] / 1000 < stop_at]
        leads = sorted({f"fault{a['ref'].rsplit('-', 1)[1]}@lead.test"
                        for a in acked if a["kind"] == "lead"})  # fmt: skip
        events = sorted({f"evt_fault_{a['ref']}" for a in acked if a["kind"] == "webhook"})
        held = held_before_stop(replica, leads, events)
        time.sleep(max(0.0, args.gap - (time.time() - stop_at)))
        health_during = healthz(stack.web_port)
        promote(replica)
        promoted_at = time.time()
        time.sleep(args.after)
        traffic.finish()
        views.stop.set()
        views.thread.join(30)
        health_after = healthz(stack.web_port)

        from leads.models import Lead

        emails = [f"fault{key.rsplit('-', 1)[1]}@lead.test" for key in traffic.leads]
        lead_ids = list(Lead.objects.filter(email__in=emails).values_list("pk", flat=True))
        routed_s = wait_leads_routed(lead_ids, timeout=300)
        checks = final_checks(lead_ids=lead_ids, deposits=deposits)
        answers = traffic.answers + views.answers
        refusals = [a for a in answers if a["status"] not in (200, 201)]
        unclean = [a for a in refusals if not refused_cleanly(a)]
        first_ok = min(
            (a["at"] - promoted_at for a in answers if a["at"] > promoted_at and a["status"] < 300),
            default=None,
        )
        after = traffic.figures(since=promoted_at + 5)
        pages_after = [a for a in views.answers if a["at"] > promoted_at + 5]
        figures = {
            "fault": "primary_stopped_replica_promoted",
            "replication": "asynchronous" if args.asynchronous else "synchronous (remote_apply)",
            "gap_s": args.gap,
            "setup_s": round(setup_s, 1),
            "before_stop": held,
            "refused_503": len(refusals) - len(unclean),
            "unclean": len(unclean),
            "unclean_sample": unclean[:3],
            "first_accepted_after_promotion_s": None if first_ok is None else round(first_ok, 2),
            "after": {
                **after,
                "pages": len(pages_after),
                "pages_failed": sum(1 for a in pages_after if a["status"] != 200),
            },
            "promoted_in_recovery": replica.in_recovery(),
            **outage_ending(
                stack,
                {"before": health_before, "during": health_during, "after": health_after},
                routed_s,
                checks,
            ),
        }
        ok = (
            checks["ok"]
            and (args.asynchronous or held["leads_lost"] == held["webhooks_lost"] == 0)
            and held["in_recovery"]
            and not figures["promoted_in_recovery"]
            and not unclean
            and not stack.restarts
            and failed(after) == 0
            and figures["after"]["pages_failed"] == 0
            and health_after.get("database") == "ok"
        )
        report(figures, ok)
    finally:
        if "replica" in made and made["replica"].data.exists():
            made["replica"].stop("immediate")
        shutil.rmtree(home.parent, ignore_errors=True)
        stack.close()


if __name__ == "__main__":
    main()
