"""The trader portal (/portal/)."""

from allauth.mfa.models import Authenticator
from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from brokerage.errors import InvalidInput
from brokerage.intl import language_choices
from brokerage.leverage_limits import highest
from brokerage.portal import portal_overview, portal_profile_cards
from brokerage.views import form_action

from .categories import category_request_submit, leverage_caps_of
from .forms import ContactForm
from .instruments import LEVERAGE_CLASSES
from .permissions import client_required
from .services import client_contact_change, client_language_set


@client_required
def home(request):
    client = request.user.client
    tiles, next_step = portal_overview(client)
    return render(
        request, "portal/home.html", {"client": client, "tiles": tiles, "next_step": next_step}
    )


@client_required
@require_http_methods(["GET", "POST"])
def profile(request):
    """What the client may change themselves: their phone here, the language of our emails
    (profile_language); other apps add cards (the address, from KYC)."""
    client = request.user.client
    if request.method == "POST":
        form = ContactForm(request.POST)
        done = form_action(
            request,
            form,
            lambda data: client_contact_change(client=client, actor=request.user, **data),
            success_url=reverse("portal:profile"),
        )
        if done:
            messages.success(request, "Contact details saved.")
            return done
        return profile_page(request, forms={"contact": form}, status=400)
    return profile_page(request)


def profile_page(request, *, forms: dict | None = None, status: int = 200):
    """The profile page, with bound forms (by card key) after a refused change."""
    client = request.user.client
    forms = forms or {}
    has_totp = Authenticator.objects.filter(
        user=request.user, type=Authenticator.Type.TOTP
    ).exists()
    contact = forms.get("contact") or ContactForm(initial={"phone": client.phone})
    return render(
        request,
        "portal/profile.html",
        {
            "client": client,
            "has_totp": has_totp,
            "contact_form": contact,
            "languages": language_choices(),
            "cards": portal_profile_cards(client, forms),
        },
        status=status,
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


class CategoryRequestForm(forms.Form):
    statement = forms.CharField(
        label="About your trading, your portfolio and your work",
        widget=forms.Textarea(attrs={"rows": 5}),
        max_length=2000,
        help_text=(
            "Professional status is given when two of three hold: on average 10 significant "
            "trades a quarter over the last four quarters; a portfolio (cash included) over "
            "EUR 500,000; at least a year's work in finance in a role that needs knowledge of "
            "leveraged products. Our compliance team may ask you for evidence."
        ),
    )


@client_required
@require_http_methods(["GET", "POST"])
def category(request):
    """The client's category, the leverage it allows by instrument class, and the request to be
    treated as a professional client (decided by compliance)."""
    client = request.user.client
    form = CategoryRequestForm(request.POST or None)
    if request.method == "POST":
        done = form_action(
            request,
            form,
            lambda data: category_request_submit(
                client=client, statement=data["statement"], actor=request.user
            ),
            success_url=reverse("portal:category"),
        )
        if done:
            messages.success(request, "Your request is with our compliance team.")
            return done
    caps = leverage_caps_of(client)
    return render(
        request,
        "clients/portal/category.html",
        {
            "client": client,
            "form": form,
            "cap": highest(caps),
            "class_caps": [(label, caps[k]) for k, label in LEVERAGE_CLASSES if k in caps],
            "requests": list(client.category_requests.all()[:5]),
            "pending": client.category_requests.filter(status="pending").exists(),
        },
        status=400 if request.method == "POST" else 200,
    )
