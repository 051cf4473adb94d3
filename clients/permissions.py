from functools import wraps

from django.shortcuts import redirect
from django.urls import reverse
from django_htmx.http import HttpResponseClientRedirect

from brokerage.permissions import require


def is_client(user) -> bool:
    """A signed-in trading client (an IB partner's account holder is not one)."""
    if user.is_staff:
        return False
    record = getattr(user, "client", None)
    return record is not None and record.holder == record.Holder.CLIENT


client_only = require(is_client, "The client portal is for our clients.")


def client_required(view):
    """A page of the client portal: a client's only, once they have accepted every version of
    our terms due (else they are sent to accept them first, `clients.terms`)."""

    @client_only
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        from .terms import terms_due

        if terms_due(request.user.client):
            url = reverse("portal:terms")
            return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
        return view(request, *args, **kwargs)

    return wrapped
