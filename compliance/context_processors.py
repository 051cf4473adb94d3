"""What every client portal page shows of compliance: why the client's account is limited by a
jurisdiction rule (a banner naming the rule), so a restricted client signing in sees why."""

from brokerage.navigation import audience_of_path

from .jurisdiction_selectors import jurisdiction_reason


def jurisdiction_banner(request):
    user = getattr(request, "user", None)
    if audience_of_path(request.path) != "portal" or user is None or not user.is_authenticated:
        return {}
    client = getattr(user, "client", None) if not user.is_staff else None
    if client is None:
        return {}
    reason = jurisdiction_reason(client)
    return {"jurisdiction_banner": reason.client_message} if reason else {}
