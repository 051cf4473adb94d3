"""Secret keys the API accepts, made, stored and matched one way: integrations' API keys
(`brokerage.ApiKey`) and partners' tokens (`ib.PartnerToken`).

A key is a marker (`bo_`, `ibp_`: who it is for, readable in a leak report) and 32 random
bytes. Only its first `PREFIX_LEN` characters (to find the row and to show it) and a SHA-256
digest are stored; the key itself is shown once, when it is made, and nobody (staff included)
can read it again. A key presented is found by its prefix and compared with the digest in
constant time.
"""

import hashlib
import hmac
import secrets
from datetime import timedelta

from django.db import models
from django.utils import timezone

PREFIX_LEN = 12
KEY_MIN_LEN = 24
KEY_MAX_LEN = 200
LAST_USED_EVERY = timedelta(minutes=1)  # `last_used_at` is written at most this often


class HashedKey(models.Model):
    """The stored half of a key: its prefix and digest, when it was made and last used."""

    PREFIX_LEN = PREFIX_LEN

    prefix = models.CharField(max_length=PREFIX_LEN, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        abstract = True

    @staticmethod
    def digest(raw_key: str) -> str:
        return hashlib.sha256(raw_key.encode()).hexdigest()

    def matches(self, raw_key: str) -> bool:
        return hmac.compare_digest(self.key_hash, self.digest(raw_key))


def key_new(marker: str) -> str:
    """A new key for the caller to show once: `marker` and 32 random bytes, URL-safe."""
    return marker + secrets.token_urlsafe(32)


def key_stored(raw_key: str) -> dict:
    """What is kept of `raw_key`: the fields of a `HashedKey`."""
    return {"prefix": raw_key[:PREFIX_LEN], "key_hash": HashedKey.digest(raw_key)}


def key_find(queryset, raw_key: str):
    """The row of `queryset` (a `HashedKey` model's, already narrowed to the usable keys) that
    `raw_key` is the key of, or None; notes when it was used."""
    if not raw_key or not KEY_MIN_LEN <= len(raw_key) <= KEY_MAX_LEN:
        return None
    found = queryset.filter(prefix=raw_key[:PREFIX_LEN]).first()
    if found is None or not found.matches(raw_key):
        return None
    now = timezone.now()
    if found.last_used_at is None or now - found.last_used_at > LAST_USED_EVERY:
        type(found).objects.filter(pk=found.pk).update(last_used_at=now)
        found.last_used_at = now
    return found
