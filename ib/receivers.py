"""How ib hears about sign-ups and captured leads (connected in `IbConfig.ready`)."""

from leads.models import Channel

from .models import Attribution
from .onboarding import partner_apply
from .services import lead_attribute, signup_attribute, signup_referral_hold

SOURCE_BY_CHANNEL = {Channel.API: Attribution.Source.API, Channel.IMPORT: Attribution.Source.IMPORT}


def on_signed_up(sender, kind, user, referral_code, profile, request=None, **kwargs):
    """Hold the code the client signed up with: nothing is credited before the address is
    proven. A partner's sign-up is its application (or its joining through an invitation)."""
    if kind == "client" and referral_code:
        signup_referral_hold(user=user, code=referral_code)
    if kind == "partner":
        partner_apply(user=user, profile=profile, request=request)


def on_signup_verified(sender, kind, user, request, email, **kwargs):
    if kind == "client":
        signup_attribute(user=user, email=email, request=request)


def on_lead_captured(sender, lead, created, referral_code, channel, actor, **kwargs):
    """A lead that arrives with an IB's code (API, import) is credited to that partner. Portal
    leads are credited only through a proven sign-up (`on_signup_verified`)."""
    source = SOURCE_BY_CHANNEL.get(channel)
    if referral_code and source is not None:
        lead_attribute(lead=lead, code=referral_code, source=source, actor=actor)
