"""Staff must use two-factor authentication: enrol at first login, prove it at every login."""

from allauth.account.authentication import get_authentication_records
from allauth.mfa.models import Authenticator
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.shortcuts import redirect

EXEMPT_PREFIXES = ("/accounts/", "/static/", "/healthz", "/api/")


def session_passed_mfa(request) -> bool:
    return any(r.get("method") == "mfa" for r in get_authentication_records(request, request.user))


class StaffMFARequiredMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        if (
            user.is_authenticated
            and user.is_staff
            and not request.path.startswith(EXEMPT_PREFIXES)
            and not session_passed_mfa(request)
        ):
            has_totp = Authenticator.objects.filter(
                user=user, type=Authenticator.Type.TOTP
            ).exists()
            if not has_totp:
                messages.warning(
                    request,
                    "Staff accounts need two-factor authentication. Scan the code with your "
                    "authenticator app to continue.",
                )
                return redirect("mfa_activate_totp")
            # Enrolled, but this session never passed the second factor (e.g. it enrolled just
            # now, or signed in some other way): sign in again, with the code.
            logout(request)
            messages.info(request, "Sign in again with your authenticator code.")
            return redirect_to_login(request.get_full_path())
        return self.get_response(request)
