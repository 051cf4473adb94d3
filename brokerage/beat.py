"""celery beat's scheduler: django-celery-beat's, plus a heartbeat in Redis on every tick."""

import logging

from django_celery_beat.schedulers import DatabaseScheduler

from .health import beat_heartbeat_write

log = logging.getLogger(__name__)


class BeatScheduler(DatabaseScheduler):
    def tick(self, *args, **kwargs):
        try:
            beat_heartbeat_write()
        except Exception:  # noqa: BLE001  (a missed beat is not fatal; the next tick retries)
            log.warning("beat heartbeat failed", exc_info=True)
        return super().tick(*args, **kwargs)
