"""IB referral links: /r/<code> remembers the code in a signed cookie, then opens sign-up.

The sign-up (clients) reads the cookie and passes the code on; ib credits it once the new
client's email address is proven (see `ib.receivers`)."""

import re

from django.shortcuts import redirect
from django.views.decorators.http import require_GET

from clients.signals import REFERRAL_COOKIE, REFERRAL_MAX_AGE, REFERRAL_SALT

CODE_RE = re.compile(r"[A-Za-z0-9_-]{4,32}")  # ASCII only: it goes into a Set-Cookie header


@require_GET
def referral_link(request, code: str):
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
