from django.conf import settings

from .navigation import audience_of_path, nav_for
from .portal import portal_notices
from .roles import ROLES, role_of


def navigation(request):
    audience = audience_of_path(request.path)
    user = getattr(request, "user", None)
    ctx = {"site_name": "Brokerage", "audience": audience, "debug": settings.DEBUG}
    if audience and user is not None and user.is_authenticated:
        ctx["nav_items"] = nav_for(audience, user, request.path)
        slug = role_of(user)
        ctx["role_label"] = ROLES[slug].label if slug else ""
    return ctx


def portal_notice_list(request):
    """The notices every client portal page shows (`brokerage.portal.portal_notices`)."""
    user = getattr(request, "user", None)
    if audience_of_path(request.path) != "portal" or user is None or not user.is_authenticated:
        return {}
    client = getattr(user, "client", None) if not user.is_staff else None
    return {"portal_notices": portal_notices(client)} if client is not None else {}
