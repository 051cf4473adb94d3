import logging

from brokerage.errors import InvalidInput
from clients.selectors import client_for_user

from .models import Channel
from .services import lead_capture
from .validation import clean_lead_input

log = logging.getLogger(__name__)


def on_user_signed_up(sender, request, user, **kwargs):
    """A visitor who registers in the portal is a lead too, linked to their client record."""
    profile = {k: v for k, v in getattr(user, "signup_profile", {}).items() if v not in (None, "")}
    profile.setdefault("email", user.email)
    profile["source"] = "portal"
    try:
        data = clean_lead_input(profile)
    except InvalidInput as exc:  # the form validated these; keep the person, drop the rest
        log.warning("portal lead details rejected: %s", exc.fields)
        data = clean_lead_input(
            {
                "email": user.email,
                "first_name": user.first_name,
                "last_name": user.last_name,
                "source": "portal",
            }
        )
    lead_capture(
        data=data, channel=Channel.PORTAL, actor=user, client=client_for_user(user), request=request
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
