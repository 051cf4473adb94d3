"""Fault: Redis stopped for 60 s under load, then started again. Nothing lost, nothing twice.

On throwaway Postgres and Redis (bench/stack.py), with gunicorn, a Celery worker on every
queue, beat and the audit sealer: steady lead posts from the API and PSP webhooks (each
delivered twice) run before, during and after the outage. While Redis is down, leads and
webhooks must still be accepted (they need only the database), /healthz must name Redis as
down, and no request may fail; once it is back, queued work resumes and the routing sweeper
routes what could not be queued. Ends with the common checks (bench/faultkit.py): ledger and
audit chain clean, every lead routed once, every webhook applied once.

    .venv/bin/python bench/fault_redis.py                         # 60 s outage
    .venv/bin/python bench/fault_redis.py --outage 10 --before 5 --after 5 --webhooks 10  # smoke

Prints one JSON line; exits 1 if a check fails.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "brokerage.settings.dev")

from bench.faultkit import (  # noqa: E402
    ALL_QUEUES,
    Traffic,
    failed,
    final_checks,
    healthz,
    open_deposits,
    seeded_stack,
    wait_leads_routed,
)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outage", type=float, default=60, help="seconds Redis is down")
    parser.add_argument("--before", type=float, default=15, help="seconds of load before")
    parser.add_argument("--after", type=float, default=20, help="seconds of load after")
    parser.add_argument("--lead-rate", type=float, default=4, help="lead posts a second")
    parser.add_argument("--webhooks", type=int, default=60, help="deposits paid by webhook")
    args = parser.parse_args()

    t_setup = time.monotonic()
    stack = seeded_stack()
    try:
        deposits = open_deposits(args.webhooks)
        stack.start_web(workers=2)
        stack.start_worker("all", ALL_QUEUES, concurrency=2)
        stack.start_beat()
        stack._spawn("sealer", [sys.executable, "manage.py", "audit_sealer"])
        stack.supervise()
        setup_s = time.monotonic() - t_setup
        total = args.before + args.outage + args.after
        traffic = Traffic(
            stack.web_port,
            lead_rate=args.lead_rate,
            deposits=deposits,
            webhook_rate=max(0.2, args.webhooks / total),
        )
        traffic.start()
        time.sleep(args.before)
        health_before = healthz(stack.web_port)
        down_at = time.time()
        stack.redis.stop()
        time.sleep(min(5, args.outage / 2))
        health_down = healthz(stack.web_port)
        time.sleep(max(0, args.outage - min(5, args.outage / 2)))
        stack.redis.start()
        up_at = time.time()
        time.sleep(args.after)
        traffic.finish()
        health_after = healthz(stack.web_port)
        sent_leads = list(traffic.leads.values())
        routed_s = wait_leads_routed(sent_leads, timeout=300)
        checks = final_checks(lead_ids=sent_leads, deposits=deposits)
        during = traffic.figures(since=down_at, until=up_at)
        failed_during = failed(during)
        figures = {
            "fault": "redis_down",
            "outage_s": args.outage,
            "setup_s": round(setup_s, 1),
            "during_outage": during,
            "requests_failed_during_outage": failed_during,
            "after": traffic.figures(since=up_at),
            "healthz_before": health_before,
            "healthz_during": health_down,
            "healthz_after": health_after,
            # processes that exited by themselves and were started again, as in production
            "restarted": stack.restarts,
            "all_leads_routed_s_after_load": None if routed_s is None else round(routed_s, 1),
            "checks": checks,
        }
        ok = (
            checks["ok"]
            and failed_during == 0
            and health_down.get("redis", "").startswith("down")
            and health_after.get("redis") == "ok"
        )
        figures["ok"] = ok
        print(json.dumps(figures))
        sys.exit(0 if ok else 1)
    finally:
        stack.close()


if __name__ == "__main__":
    main()
