"""IB referral links: /r/<code> remembers the code in a signed cookie, then opens the landing.

A partner's own referral code opens sign-up, as it always has. A campaign link's code (see
`ib.links`) counts the click, then opens the link's landing page with its UTM tags; the cookie
carries the link's code, so the referral records which link brought the client.

The sign-up (clients) reads the cookie and passes the code on; ib credits it once the new
client's email address is proven (see `ib.receivers`)."""

import re

from django.shortcuts import redirect
from django.utils import timezone
from django.views.decorators.http import require_safe

from clients.signals import REFERRAL_COOKIE, REFERRAL_MAX_AGE, REFERRAL_SALT

from .links import (
    address_over_cap,
    counts_as_click,
    landing_url,
    link_click_record,
    link_for_code,
    visitor_of,
)

CODE_RE = re.compile(r"[A-Za-z0-9_-]{4,32}")  # ASCII only: it goes into a Set-Cookie header


@require_safe
def referral_link(request, code: str):
    link = link_for_code(code) if CODE_RE.fullmatch(code) else None
    if link is not None:
        response = redirect(landing_url(link))
        now = timezone.now()
        if (
            request.method == "GET"
            and counts_as_click(request)
            and not address_over_cap(request, link=link, at=now)
        ):
            link_click_record(link=link, visitor=visitor_of(request, at=now), at=now)
    else:
        response = redirect("account_signup")
    if CODE_RE.fullmatch(code):
        response.set_signed_cookie(
            REFERRAL_COOKIE,
            code.upper(),
            salt=REFERRAL_SALT,
            max_age=REFERRAL_MAX_AGE,
            httponly=True,
            samesite="Lax",
            secure=request.is_secure(),
        )
    return response
