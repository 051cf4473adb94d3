from functools import wraps

from django.shortcuts import redirect
from django.urls import reverse
from django_htmx.http import HttpResponseClientRedirect

from brokerage.permissions import require
from brokerage.statements import Statement


def _client_of(v):
    from .models import Client

    return Client.objects.filter(user_id=v.user_id)[:1]


_CLIENT_OF = Statement(_client_of)  # every portal request asks: compiled once per process


def client_of(user):
    """The user's client record or None, read once per request (it is kept on the user, as
    `user.client` keeps it)."""
    from django.utils.functional import LazyObject, empty

    from .models import Client

    if isinstance(user, LazyObject):  # request.user: cache on the user, not on its wrapper
        if user._wrapped is empty:
            user._setup()
        user = user._wrapped
    accessor = Client._meta.get_field("user").remote_field  # the user's `client`
    if accessor.is_cached(user):
        return accessor.get_cached_value(user)
    record = _CLIENT_OF.first(user_id=user.pk)
    accessor.set_cached_value(user, record)
    if record is not None:
        Client._meta.get_field("user").set_cached_value(record, user)
    return record


def is_client(user) -> bool:
    """A signed-in trading client (an IB partner's account holder is not one)."""
    if user.is_staff:
        return False
    record = client_of(user)
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
