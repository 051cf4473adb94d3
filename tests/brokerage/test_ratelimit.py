"""Each API key is limited (API_RATE_LIMIT), counted in the real Redis; over the limit the API
answers 429 in its error shape with Retry-After."""

import time

import pytest
from django.core.exceptions import ImproperlyConfigured

from brokerage.kv import redis_client
from brokerage.models import ApiKey
from brokerage.ratelimit import RateLimited, api_key_rate_check, parse_rate
from brokerage.services import api_key_create

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_counters():
    r = redis_client()
    for key in r.scan_iter("api:rate:*"):
        r.delete(key)


def new_key(name="Landing page"):
    return api_key_create(actor="test", name=name, scopes=["leads:write"])[1]


def whoami(client, key):
    return client.get("/api/v1/whoami", HTTP_X_API_KEY=key)


def test_the_default_limit_stops_a_flood_from_one_key(client, settings):
    """The probe sent 80 requests a second from one key and all were accepted."""
    assert settings.API_RATE_LIMIT == "300/60"
    key = new_key()
    # The window is fixed (a minute by the clock): the flood starts well inside one, so all
    # 301 requests count in the same minute.
    while 60 - time.time() % 60 < 20:
        time.sleep(0.5)
    statuses = [whoami(client, key).status_code for _ in range(301)]
    assert statuses[:300] == [200] * 300
    assert statuses[300] == 429


def test_over_the_limit_is_429_with_retry_after_in_the_error_shape(client, settings):
    settings.API_RATE_LIMIT = "5/60"
    key, other = new_key(), new_key("Affiliate")
    assert [whoami(client, key).status_code for _ in range(5)] == [200] * 5
    response = whoami(client, key)
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    body = response.json()
    assert body["error"] == "rate_limited" and "5 requests in 60 seconds" in body["detail"]
    assert body["fields"] == {} and body["retry_after"] == int(response["Retry-After"])
    assert body["limit"] == 5 and body["window_seconds"] == 60
    # Counted per key: another integration is not held back.
    assert whoami(client, other).status_code == 200
    # Every route of the API is counted, not only one.
    lead = client.post("/api/v1/leads/", {}, content_type="application/json", HTTP_X_API_KEY=key)
    assert lead.status_code == 429 and lead.json()["error"] == "rate_limited"


def test_the_count_starts_again_with_the_next_window(settings):
    settings.API_RATE_LIMIT = "2/10"
    new_key()
    api_key = ApiKey.objects.get()
    start = 1_700_000_000.0  # a window boundary (divisible by 10)
    api_key_rate_check(api_key, now=start)
    api_key_rate_check(api_key, now=start + 1)
    with pytest.raises(RateLimited) as refused:
        api_key_rate_check(api_key, now=start + 7.5)
    assert refused.value.retry_after == 3
    api_key_rate_check(api_key, now=start + 10)  # a new window
    keys = list(redis_client().scan_iter(f"api:rate:{api_key.pk}:*"))
    assert keys and all(0 < redis_client().ttl(k) <= 11 for k in keys)  # counters expire


def test_off_and_bad_settings(client, settings):
    settings.API_RATE_LIMIT = "off"
    key = new_key()
    assert all(whoami(client, key).status_code == 200 for _ in range(20))
    assert parse_rate("300/60") == (300, 60) and parse_rate(" OFF ") is None
    for bad in ("300", "a/b", "-1/60", "10/0", "1/2/3"):
        with pytest.raises(ImproperlyConfigured, match="REQUESTS/SECONDS"):
            parse_rate(bad)


def test_redis_unreachable_lets_requests_through(client, settings):
    settings.API_RATE_LIMIT = "1/60"
    key = new_key()
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    assert [whoami(client, key).status_code for _ in range(3)] == [200] * 3
