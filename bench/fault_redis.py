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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "brokerage.settings.dev")

from bench.faultkit import failed, final_checks, loaded_stack, outage, outage_ending  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outage", type=float, default=60, help="seconds Redis is down")
    parser.add_argument("--before", type=float, default=15, help="seconds of load before")
    parser.add_argument("--after", type=float, default=20, help="seconds of load after")
    parser.add_argument("--lead-rate", type=float, default=4, help="lead posts a second")
    parser.add_argument("--webhooks", type=int, default=60, help="deposits paid by webhook")
    args = parser.parse_args()

    args.length = args.outage
    stack, traffic, deposits, setup_s = loaded_stack(args)
    try:
        seen = outage(stack, traffic, args, stop=stack.redis.stop, start=stack.redis.start)
        down_at, up_at, routed_s = seen["down_at"], seen["up_at"], seen["routed_s"]
        health_before, health_down = seen["healthz_before"], seen["healthz_during"]
        health_after = seen["healthz_after"]
        checks = final_checks(lead_ids=seen["lead_ids"], deposits=deposits)
        during = traffic.figures(since=down_at, until=up_at)
        failed_during = failed(during)
        figures = {
            "fault": "redis_down",
            "outage_s": args.outage,
            "setup_s": round(setup_s, 1),
            "during_outage": during,
            "requests_failed_during_outage": failed_during,
            "after": traffic.figures(since=up_at),
            **outage_ending(
                stack,
                {"before": health_before, "during": health_down, "after": health_after},
                routed_s,
                checks,
            ),
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
