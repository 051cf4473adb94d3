"""celery beat's scheduler: django-celery-beat's, plus a heartbeat in Redis on every tick, and
a database that cannot be reached (a restart, a failover) waited out instead of ending beat."""

import logging

from django.db import DatabaseError, connections
from django_celery_beat.schedulers import DatabaseScheduler

from .errors import database_unreachable
from .health import beat_heartbeat_write

log = logging.getLogger(__name__)

# Seconds before beat tries the database again after it could not be reached.
DATABASE_RETRY_SECONDS = 5


class BeatScheduler(DatabaseScheduler):
    def tick(self, *args, **kwargs):
        try:
            beat_heartbeat_write()
        except Exception:  # noqa: BLE001  (a missed beat is not fatal; the next tick retries)
            log.warning("beat heartbeat failed", exc_info=True)
        try:
            return super().tick(*args, **kwargs)
        except DatabaseError as exc:
            if not database_unreachable(exc):
                raise
            log.warning(
                "beat: the database cannot be reached (%s); trying again in %s s",
                exc,
                DATABASE_RETRY_SECONDS,
            )
            for connection in connections.all():
                connection.close_if_unusable_or_obsolete()
            return DATABASE_RETRY_SECONDS
