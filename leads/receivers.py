import logging

from brokerage.errors import InvalidInput
from clients.selectors import client_for_user

from .models import Channel
from .selectors import lead_for_person
from .services import lead_capture
from .validation import clean_lead_input

log = logging.getLogger(__name__)


def _portal_input(profile: dict, email: str) -> dict:
    raw = {k: v for k, v in profile.items() if v not in (None, "")}
    raw["email"] = email
    raw["source"] = "portal"
    try:
        return clean_lead_input(raw)
    except InvalidInput as exc:  # the form validated these; keep the person, drop the rest
        log.warning("portal lead details rejected: %s", exc.fields)
        keep = {k: raw[k] for k in ("first_name", "last_name") if k in raw}
        return clean_lead_input({**keep, "email": email, "source": "portal"})


def on_signed_up(sender, kind, user, request, email, profile, **kwargs):
    """A client who signs up is a lead at once (the sales floor may call before they confirm
    their email address), but only as a new person: a lead already on record with that email
    or phone is left untouched until the address is proven (`on_signup_verified`)."""
    if kind != "client":
        return
    lead_capture(
        data=_portal_input(profile, email),
        channel=Channel.PORTAL,
        actor=user,
        client=client_for_user(user),
        request=request,
        new_only=True,
    )


def on_signup_verified(sender, kind, user, request, email, profile, **kwargs):
    """The client proved their address: the lead on record for them becomes theirs (linked,
    blank details filled in), or, if the sign-up found none, one is captured now."""
    if kind != "client":
        return
    client = client_for_user(user)
    if lead_for_person(client=client) is not None:
        return  # the sign-up made their lead already
    lead_capture(
        data=_portal_input(profile, email),
        channel=Channel.PORTAL,
        actor=user,
        client=client,
        request=request,
    )


def on_staff_deactivated(sender, user, actor, **kwargs):
    from .tasks import departed_agent_reroute_task

    departed_agent_reroute_task.delay_on_commit(
        user.pk, actor if isinstance(actor, str) else actor.email
    )


def on_client_funded(sender, client_id, actor, **kwargs):
    """A client's first deposit (FTD) converts their lead."""
    from .services import lead_convert_on_ftd

    lead_convert_on_ftd(client_id=client_id, actor=actor)
