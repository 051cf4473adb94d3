"""Container health checks: `manage.py health_probe worker|beat|sealer` exits 0 when that part
is alive."""

import socket

from django.core.management.base import BaseCommand, CommandError

from brokerage import health


class Command(BaseCommand):
    help = "Exit 0 if this host's Celery worker (or celery beat) has sent a recent heartbeat."

    def add_arguments(self, parser):
        parser.add_argument("part", choices=["worker", "beat", "sealer"])

    def handle(self, *args, part, **options):
        if part == "sealer":
            sealing = health.audit_sealing()
            if sealing["status"] != "ok":
                raise CommandError(
                    f"the audit sealer is behind: {sealing['unsealed']} events, "
                    f"the oldest {sealing['lag_s']} s old"
                )
            self.stdout.write(f"audit sealer lag {sealing['lag_s']} s")
            return
        if part == "beat":
            age = health.beat_last_tick_age()
            if age is None:
                raise CommandError("celery beat has not ticked recently")
            self.stdout.write(f"beat ticked {age:.0f} s ago")
            return
        host = socket.gethostname()
        mine = [w for w in health.workers() if w["hostname"].endswith(f"@{host}")]
        if not mine:
            raise CommandError(f"no recent heartbeat from a worker on {host}")
        self.stdout.write(f"{mine[0]['hostname']} beat {mine[0]['age_s']} s ago")
