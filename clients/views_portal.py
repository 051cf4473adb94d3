"""The trader portal (/portal/)."""

from allauth.mfa.models import Authenticator
from django.shortcuts import render

from .permissions import client_required


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
        request, "portal/profile.html", {"client": request.user.client, "has_totp": has_totp}
    )
