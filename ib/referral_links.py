"""IB referral links: /r/<code> remembers the code in a signed cookie, then opens sign-up."""

import re

from django.shortcuts import redirect
from django.views.decorators.http import require_GET

from clients.services import client_register

from .services import referral_attribute

COOKIE = "bo_ref"
SALT = "ib.referral"
MAX_AGE = 30 * 24 * 3600  # attribution window: 30 days
CODE_RE = re.compile(r"[A-Za-z0-9_-]{4,32}")  # ASCII only: it goes into a Set-Cookie header


@require_GET
def referral_link(request, code: str):
    response = redirect("account_signup")
    if CODE_RE.fullmatch(code):
        response.set_signed_cookie(
            COOKIE,
            code.upper(),
            salt=SALT,
            max_age=MAX_AGE,
            httponly=True,
            samesite="Lax",
            secure=request.is_secure(),
        )
    return response


def on_user_signed_up(sender, request, user, **kwargs):
    code = request.get_signed_cookie(COOKIE, default=None, salt=SALT, max_age=MAX_AGE)
    if code:
        client = client_register(user=user, actor=user, request=request)  # idempotent
        referral = referral_attribute(client=client, code=code, actor=user, request=request)
        lead = getattr(client, "lead", None)
        if referral is not None and lead is not None:
            from leads.services import lead_attribute_partner

            lead_attribute_partner(lead=lead, partner=referral.partner, actor=user)


def on_lead_captured(sender, lead, created, referral_code, **kwargs):
    """A lead that arrives with an IB's code (API, import) is credited to that partner."""
    from leads.services import lead_attribute_partner

    from .models import Partner

    if referral_code and lead.partner_id is None:
        partner = Partner.objects.filter(
            referral_code=referral_code.upper(), status=Partner.Status.ACTIVE
        ).first()
        if partner is not None:
            lead_attribute_partner(lead=lead, partner=partner, actor="rule:referral_code")
