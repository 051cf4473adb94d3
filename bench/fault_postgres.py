"""Fault: Postgres restarted under load. Requests meanwhile fail cleanly, connections come back
by themselves, nothing is written in part.

On throwaway Postgres and Redis (bench/stack.py), with gunicorn, a Celery worker on every
queue, beat and the audit sealer: steady lead posts from the API and PSP webhooks (each
delivered twice, retried until accepted, as integrations and PSPs do) run before, during and
after a restart of the database server (`pg_ctl stop -m fast`: sessions are ended, as a
maintenance restart or a failover does; `--mode immediate` as a crash). While it is down a
request may only be refused with 503 and the product's plain message (`database_unavailable`,
with Retry-After), never a 500 or a trace; afterwards the web, the workers, beat and the sealer
reconnect on their own (no process is started again). Ends with the common checks
(bench/faultkit.py): ledger and audit chain clean (no partial writes), every accepted lead
routed once, every webhook applied once.

    .venv/bin/python bench/fault_postgres.py                       # down for 20 s
    .venv/bin/python bench/fault_postgres.py --down 5 --before 5 --after 10 --webhooks 10  # smoke

Prints one JSON line; exits 1 if a check fails.
"""

import argparse
import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "brokerage.settings.dev")
os.environ.setdefault("LOG_LEVEL", "WARNING")

from bench.faultkit import (  # noqa: E402
    failed,
    final_checks,
    loaded_stack,
    outage,
    refused_cleanly,
    report,
)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--down", type=float, default=20, help="seconds Postgres is down")
    parser.add_argument("--before", type=float, default=10, help="seconds of load before")
    parser.add_argument("--after", type=float, default=20, help="seconds of load after")
    parser.add_argument("--mode", choices=["fast", "immediate"], default="fast")
    parser.add_argument("--lead-rate", type=float, default=4, help="lead posts a second")
    parser.add_argument("--webhooks", type=int, default=40, help="deposits paid by webhook")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))

    args.length = args.down
    stack, traffic, deposits, setup_s = loaded_stack(args, wait_beat=True)
    try:
        from django.db import connections

        def stop():
            connections.close_all()  # this process's own connection would be a dead one
            stack.pg.stop(args.mode)

        seen = outage(stack, traffic, args, stop=stop, start=stack.pg.start, look_after=2)
        up_at, routed_s = seen["up_at"], seen["routed_s"]
        health_down, health_after = seen["healthz_during"], seen["healthz_after"]
        checks = final_checks(lead_ids=seen["lead_ids"], deposits=deposits)
        down_at = seen["down_at"]
        during = traffic.figures(since=down_at, until=up_at + 5)
        refusals = [a for a in traffic.answers if a["status"] not in (200, 201)]
        unclean = [a for a in refusals if not refused_cleanly(a)]
        recovered = [a["at"] - up_at for a in traffic.answers if a["at"] > up_at]
        first_ok = min(
            (a["at"] - up_at for a in traffic.answers if a["at"] > up_at and a["status"] < 300),
            default=None,
        )
        figures = {
            "fault": "postgres_restarted",
            "mode": args.mode,
            "down_s": args.down,
            "setup_s": round(setup_s, 1),
            "during_and_5s_after": during,
            "refused_503": len(refusals) - len(unclean),
            "unclean": len(unclean),
            "unclean_sample": unclean[:3],
            "first_accepted_after_restart_s": None if first_ok is None else round(first_ok, 2),
            "requests_after_restart": len(recovered),
            "after": traffic.figures(since=up_at + 5),
            "healthz_down": health_down,
            "healthz_after": health_after,
            "restarted": stack.restarts,
            "all_leads_routed_s_after_load": None if routed_s is None else round(routed_s, 1),
            "checks": checks,
        }
        ok = (
            checks["ok"]
            and not unclean
            and not stack.restarts
            and failed(traffic.figures(since=up_at + 5)) == 0
            and health_after.get("database") == "ok"
        )
        report(figures, ok)
    finally:
        stack.close()


if __name__ == "__main__":
    main()
