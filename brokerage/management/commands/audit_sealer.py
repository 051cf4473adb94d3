import logging
import signal
import time

from django.core.management.base import BaseCommand
from django.db import OperationalError, connection

from brokerage.audit import audit_seal

log = logging.getLogger("brokerage.audit")


class Command(BaseCommand):
    help = (
        "Chain committed audit events into the sealed log, continuously (one per deployment; "
        "a second one only waits for the first)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--interval", type=float, default=0.2, help="Seconds between passes when idle."
        )
        parser.add_argument(
            "--once", action="store_true", help="Seal what is there now, then exit."
        )

    def handle(self, *args, interval: float, once: bool, **options):
        stopping = False

        def stop(*_):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        log.info("audit sealer started")
        while not stopping:
            try:
                sealed = audit_seal()
            except OperationalError:
                log.warning("audit sealer: database unavailable, retrying", exc_info=True)
                connection.close()
                time.sleep(min(5.0, interval * 10))
                continue
            if once and not sealed:
                break
            if not sealed:
                time.sleep(interval)
        log.info("audit sealer stopped")
