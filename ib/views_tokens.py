"""The partner's API tokens page (/partners/api/): make one (shown once), see them, revoke."""

from datetime import timedelta

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from brokerage.errors import DomainError, NotAllowed
from brokerage.views import add_domain_error, paginate

from .models import PartnerToken
from .permissions import partner_required
from .tokens import NAME_MAX, partner_token_create, partner_token_revoke, partner_tokens


class TokenForm(forms.Form):
    name = forms.CharField(
        max_length=NAME_MAX,
        label="Name",
        help_text="What will use it, e.g. “Reporting spreadsheet”.",
    )


def _page(request, form, *, token=None, raw=""):
    base, today = settings.SITE_URL.rstrip("/"), timezone.now().date()
    page, query = paginate(request, partner_tokens(partner=request.user.partner))
    return render(
        request,
        "partners/api_tokens.html",
        {
            "form": form,
            "page": page,
            "query": query,
            "max_active": PartnerToken.MAX_ACTIVE,
            "new_token": token,
            "raw_token": raw,
            "api_base": f"{base}/api/v1/partners",
            "docs_url": f"{base}/api/v1/docs",
            "example_to": today,
            "example_from": today - timedelta(days=29),  # the last 30 days
        },
    )


@partner_required
@never_cache  # the answer to a POST carries the new token
@require_http_methods(["GET", "POST"])
def api_tokens(request):
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            token, raw = partner_token_create(
                partner=request.user.partner,
                name=form.cleaned_data["name"],
                actor=request.user,
                request=request,
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            # Shown on this one answer and never stored (no redirect: it does not travel
            # through the session or a cookie).
            return _page(request, TokenForm(), token=token, raw=raw)
    return _page(request, form)


@partner_required
@require_POST
def api_token_revoke(request, token_id: int):
    token = get_object_or_404(partner_tokens(partner=request.user.partner), pk=token_id)
    try:
        partner_token_revoke(token=token, actor=request.user, request=request)
    except NotAllowed as exc:
        raise PermissionDenied(exc.message) from exc
    messages.success(request, f"Token “{token.name}” revoked: it no longer works.")
    return redirect("partners:api_tokens")
