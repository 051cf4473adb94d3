"""How many API requests one integration or partner may make: counted per key in Redis.

`API_RATE_LIMIT` is "REQUESTS/SECONDS" (default "300/60": 300 requests a minute for each key:
an integration's API key, a partner's token);
"off" turns the limit off (benchmarks). Each key has its own counter for the current window of
SECONDS (a fixed window: one INCR and one EXPIRE per request, shared by every web process).
A request over the limit answers 429 in the API's error shape with `Retry-After`, the seconds
until the window ends. When Redis cannot be reached the request is let through and a warning
logged: losing the limit for a moment is better than refusing every integration.
"""

import logging
import time

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from .errors import DomainError
from .kv import redis_client

log = logging.getLogger(__name__)


class RateLimited(DomainError):
    """Too many requests with this key."""

    code = "rate_limited"
    status = 429

    def __init__(self, *, limit: int, window: int, retry_after: int):
        super().__init__(
            f"This key made more than {limit} requests in {window} seconds; "
            f"retry after {retry_after} seconds."
        )
        self.limit, self.window, self.retry_after = limit, window, retry_after

    def as_dict(self):
        return {
            **super().as_dict(),
            "retry_after": self.retry_after,
            "limit": self.limit,
            "window_seconds": self.window,
        }

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


def parse_rate(text: str) -> tuple[int, int] | None:
    """ "300/60" -> (300, 60); "off" -> None. Anything else is a configuration error."""
    text = (text or "").strip().lower()
    if text in ("off", "none", "0"):
        return None
    try:
        requests, seconds = (int(part) for part in text.split("/"))
    except ValueError:
        requests = seconds = 0
    if requests < 1 or seconds < 1:
        raise ImproperlyConfigured(
            f'API_RATE_LIMIT is "REQUESTS/SECONDS" (e.g. "300/60") or "off", not {text!r}.'
        )
    return requests, seconds


def api_key_rate_check(api_key, *, now: float | None = None) -> None:
    """Count one request for `api_key`; raise RateLimited when it is over the limit."""
    rate_check(str(api_key.pk), now=now)


def rate_check(bucket: str, *, now: float | None = None) -> None:
    """Count one request in `bucket` (one per key: its kind and id); raise RateLimited when
    the bucket is over the limit."""
    rate = parse_rate(settings.API_RATE_LIMIT)
    if rate is None:
        return
    limit, window = rate
    now = time.time() if now is None else now
    window_start = int(now // window) * window
    key = f"api:rate:{bucket}:{window_start}"
    try:
        pipe = redis_client().pipeline(transaction=True)
        pipe.incr(key)
        pipe.expire(key, window + 1, nx=True)
        count = pipe.execute()[0]
    except Exception:  # noqa: BLE001  (Redis unreachable: let the request through)
        log.warning("API rate limit not counted: Redis unreachable", exc_info=True)
        return
    if count > limit:
        retry_after = max(1, int(window_start + window - now + 0.999))
        raise RateLimited(limit=limit, window=window, retry_after=retry_after)
