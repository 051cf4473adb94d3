"""The trader portal (/portal/)."""

from allauth.mfa.models import Authenticator
from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from brokerage.errors import InvalidInput
from brokerage.intl import language_choices

from .permissions import client_required
from .services import client_language_set


@client_required
def home(request):
    client = request.user.client
    return render(request, "portal/home.html", {"client": client})


@client_required
def profile(request):
    has_totp = Authenticator.objects.filter(
        user=request.user, type=Authenticator.Type.TOTP
    ).exists()
    return render(
        request,
        "portal/profile.html",
        {"client": request.user.client, "has_totp": has_totp, "languages": language_choices()},
    )


@client_required
@require_POST
def profile_language(request):
    """The language the client is emailed in."""
    try:
        client_language_set(
            client=request.user.client, language=request.POST.get("language"), actor=request.user
        )
    except InvalidInput as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Your language is saved: our emails to you will use it.")
    return redirect("portal:profile")
