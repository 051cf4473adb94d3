"""The shared cache (Redis), which a Redis outage degrades instead of breaking.

Nothing the cache holds is the only copy of anything: rule versions, progress figures, sign-in
rate-limit counters. So when Redis cannot be reached, reads miss (`get` gives the default),
`add` says it stored (a lock or a counter is granted, as if fresh), writes and deletes do
nothing, and a warning is logged (at most once a minute per process). Lead capture, sign-up
and PSP webhooks, which need only the database, keep working; sign-in rate limits are not
counted until Redis is back (the same choice `brokerage/ratelimit.py` makes for the API).
`incr` and `clear` still raise: their callers need the real answer.
"""

import logging
import time

from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)
UNREACHABLE = (RedisConnectionError, RedisTimeoutError)
WARN_EVERY_SECONDS = 60
_last_warning = {"at": 0.0}


def _warn(exc: Exception) -> None:
    now = time.monotonic()
    if now - _last_warning["at"] >= WARN_EVERY_SECONDS:
        _last_warning["at"] = now
        log.warning("cache unreachable, carrying on without it: %s", exc)


def _degrading(name: str, fallback):
    original = getattr(RedisCacheClient, name)

    def method(self, *args, **kwargs):
        try:
            return original(self, *args, **kwargs)
        except UNREACHABLE as exc:
            _warn(exc)
            return fallback(*args, **kwargs)

    method.__name__ = name
    return method


class DegradingRedisCacheClient(RedisCacheClient):
    get = _degrading("get", lambda key, default=None: default)
    get_many = _degrading("get_many", lambda keys: {})
    has_key = _degrading("has_key", lambda key: False)
    add = _degrading("add", lambda key, value, timeout: True)
    set = _degrading("set", lambda key, value, timeout: None)
    set_many = _degrading("set_many", lambda data, timeout: [])
    touch = _degrading("touch", lambda key, timeout: False)
    delete = _degrading("delete", lambda key: False)
    delete_many = _degrading("delete_many", lambda keys: None)


class DegradingRedisCache(RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = DegradingRedisCacheClient
