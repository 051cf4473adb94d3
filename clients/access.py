"""Sign-ins and devices: the records behind the links between clients.

Contract:
- `device_id(request)` is the id of the browser's device cookie: the one it sent (32 hex
  digits, anything else is ignored) or a new random one. Every sign-up and sign-in sets the
  cookie again (`DeviceCookieMiddleware`), so it lives DEVICE_COOKIE_MAX_AGE after the last one:
  first-party, HttpOnly, SameSite=Lax, Secure over HTTPS. It holds nothing but the random id.
- `access_record(user=, kind=, request=)` writes one `AccessRecord` (sign-up or sign-in) in the
  caller's transaction: time, address, user agent (cut to 300 characters), device id. It is a
  log of the sign-in itself, not a decision about anyone, so it writes no audit event.
- `access_records_purge()` deletes sign-in records older than CLIENT_ACCESS_RETENTION_DAYS
  (daily); sign-up records stay with the client, for the registration address.
"""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from brokerage.audit import client_ip

from .models import Client
from .models_access import USER_AGENT_MAX, AccessRecord

DEVICE_COOKIE = "bo_device"
DEVICE_COOKIE_MAX_AGE = 400 * 24 * 3600  # the longest browsers keep a cookie (Chrome: 400 days)
_DEVICE_ID = re.compile(r"[0-9a-f]{32}")
_SET = "_device_cookie_set"


def device_id(request) -> str:
    """The device cookie's id, or a new one; either way set again on this response."""
    known = getattr(request, _SET, None)
    if known:
        return known
    sent = request.COOKIES.get(DEVICE_COOKIE, "")
    value = sent if _DEVICE_ID.fullmatch(sent) else uuid.uuid4().hex
    setattr(request, _SET, value)
    return value


class DeviceCookieMiddleware:
    """Sets the device cookie on a response whose request signed someone up or in."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        value = getattr(request, _SET, None)
        if value:
            response.set_cookie(
                DEVICE_COOKIE,
                value,
                max_age=DEVICE_COOKIE_MAX_AGE,
                httponly=True,
                secure=request.is_secure(),
                samesite="Lax",
            )
        return response


def access_record(*, user, kind: str, request) -> AccessRecord | None:
    """Record `user`'s sign-up or sign-in made by `request` (none without a request)."""
    if request is None or user is None or user.pk is None:
        return None
    client_id = Client.objects.filter(user=user).values_list("pk", flat=True).first()
    agent = request.META.get("HTTP_USER_AGENT", "").replace("\x00", "")[:USER_AGENT_MAX]
    return AccessRecord.objects.create(
        user=user,
        client_id=client_id,
        kind=kind,
        at=timezone.now(),
        ip=client_ip(request),
        user_agent=agent,
        device_id=device_id(request),
    )


def access_records_purge(*, now=None) -> int:
    """Sign-in records past their retention; sign-up records are kept."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.CLIENT_ACCESS_RETENTION_DAYS)
    return AccessRecord.objects.filter(kind=AccessRecord.Kind.LOGIN, at__lt=cutoff).delete()[0]
