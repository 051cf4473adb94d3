"""Sign-ins and devices: the records behind the links between clients.

Contract:
- `device_id(request)` is the id of the browser's device cookie: the one it sent (32 hex
  digits, anything else is ignored) or a new random one. Every sign-up and sign-in sets the
  cookie again (`DeviceCookieMiddleware`), so it lives DEVICE_COOKIE_MAX_AGE after the last one:
  first-party, HttpOnly, SameSite=Lax, Secure over HTTPS. It holds nothing but the random id.
- `access_record(user=, kind=, request=)` writes one `AccessRecord` (sign-up or sign-in) in the
  caller's transaction: time, address, user agent (cut to 300 characters), device id. It is a
  log of the sign-in itself, not a decision about anyone, so it writes no audit event.
- `access_failure_record(kind=, identifier=, request=)` writes a failed attempt: a wrong password
  or an unknown address (Django's `user_login_failed`), a wrong second-factor code (allauth's
  MFA `authentication_failed`). It names the address typed and its user if there is one, never a
  client (an attempt on someone's address is not their doing and never links them), and sets no
  device cookie.
- `personal_data_viewed(request=, client_id=, what=, detail=)` logs a staff member opening a
  client's personal data (`PersonalDataView`, append-only), one INSERT in autocommit or the
  caller's transaction; a client reading their own data, or no staff user, logs nothing.
- `access_records_purge()` deletes sign-in records and failed attempts older than
  CLIENT_ACCESS_RETENTION_DAYS (daily); sign-up records stay with the client, for the
  registration address. Views of personal data are never purged here.
"""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from brokerage.audit import client_ip
from brokerage.models import User

from .models import Client
from .models_access import USER_AGENT_MAX, AccessRecord, PersonalDataView

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
    return AccessRecord.objects.create(
        user=user,
        client_id=client_id,
        kind=kind,
        at=timezone.now(),
        ip=client_ip(request),
        user_agent=_agent(request),
        device_id=device_id(request),
    )


def _agent(request) -> str:
    return request.META.get("HTTP_USER_AGENT", "").replace("\x00", "")[:USER_AGENT_MAX]


FAILURES = (AccessRecord.Kind.LOGIN_FAILED, AccessRecord.Kind.SECOND_FACTOR_FAILED)


def access_failure_record(*, kind: str, identifier: str = "", user=None, request) -> AccessRecord:
    """Record a failed sign-in or second-factor attempt; `user` is looked up by `identifier`
    (an email address, case-insensitively) when not given."""
    if kind not in FAILURES:
        raise ValueError(f"not a failure: {kind}")
    identifier = (identifier or "").replace("\x00", "").strip().lower()[:254]
    if user is None and identifier:
        user = User.objects.filter(email__iexact=identifier).only("pk").first()
    sent = request.COOKIES.get(DEVICE_COOKIE, "") if request is not None else ""
    return AccessRecord.objects.create(
        user=user,
        client=None,
        kind=kind,
        at=timezone.now(),
        ip=client_ip(request),
        user_agent=_agent(request) if request is not None else "",
        device_id=sent if _DEVICE_ID.fullmatch(sent) else "",
        identifier=identifier or (user.email.lower() if user is not None else ""),
    )


def personal_data_viewed(*, request, client_id: int, what: str, detail: str = "") -> None:
    """Log that the staff member behind `request` opened client `client_id`'s `what`."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.is_staff:
        return
    PersonalDataView.objects.create(
        user_id=user.pk,
        client_id=client_id,
        what=what,
        detail=str(detail)[:120],
        ip=client_ip(request),
    )


def access_records_purge(*, now=None) -> int:
    """Sign-in records and failed attempts past their retention; sign-up records are kept."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.CLIENT_ACCESS_RETENTION_DAYS)
    kinds = (AccessRecord.Kind.LOGIN, *FAILURES)
    return AccessRecord.objects.filter(kind__in=kinds, at__lt=cutoff).delete()[0]
