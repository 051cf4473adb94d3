"""The Redis connection used outside the cache API (health, worker heartbeats)."""

from functools import lru_cache

import redis
from django.conf import settings


@lru_cache(maxsize=4)
def _client_for(url: str) -> redis.Redis:
    return redis.Redis.from_url(
        url, socket_connect_timeout=2, socket_timeout=2, decode_responses=True
    )


def redis_client() -> redis.Redis:
    """A pooled client for REDIS_URL (one pool per URL, so settings overrides take effect)."""
    return _client_for(settings.REDIS_URL)
