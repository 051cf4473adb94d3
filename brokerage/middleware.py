"""Staff must use two-factor authentication: enrol at first login, prove it at every login."""

from allauth.account.authentication import get_authentication_records
from allauth.mfa.models import Authenticator
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import BadRequest, RequestDataTooBig, TooManyFieldsSent
from django.http import JsonResponse, QueryDict
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import redirect

from .statements import Statement

EXEMPT_PREFIXES = ("/accounts/", "/static/", "/healthz", "/api/")
# Every staff request asks whether the user has enrolled: compiled once per process.
_TOTP = Statement(
    lambda v: Authenticator.objects.filter(
        user_id=v.user_id, type=Authenticator.Type.TOTP
    ).values_list("pk", flat=True)[:1]
)


def session_passed_mfa(request) -> bool:
    return any(r.get("method") == "mfa" for r in get_authentication_records(request, request.user))


class StaffMFARequiredMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        if user.is_authenticated and user.is_staff and not request.path.startswith(EXEMPT_PREFIXES):
            has_totp = bool(_TOTP.first(user_id=user.pk))
            if has_totp and session_passed_mfa(request):
                return self.get_response(request)
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


class RejectNulMiddleware:
    """A NUL character has no business in a URL, a form or a JSON body, and Postgres cannot store
    it: answer 400 (JSON under /api/) instead of failing deep inside a query."""

    FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "\x00" in request.path or has_nul(request.GET):
            raise BadRequest("The address contains a NUL character.")
        if request.content_type in self.FORM_TYPES and has_nul(self._form(request)):
            raise BadRequest("The form contains a NUL character.")
        if request.content_type == "application/json" and b"\\u0000" in self._body(request):
            raise BadRequest("The body contains a NUL character (\\u0000).")
        return self.get_response(request)

    @staticmethod
    def _body(request) -> bytes:
        try:
            return request.body
        except RequestDataTooBig:
            return b""  # the view answers it (413 under /api/)

    @staticmethod
    def _form(request):
        try:
            return request.POST  # parsed once here; the CSRF check and the view read it again
        except (RequestDataTooBig, TooManyFieldsSent, MultiPartParserError):
            return QueryDict()  # the view answers it


def has_nul(data: QueryDict) -> bool:
    return any("\x00" in key or "\x00" in value for key, values in data.lists() for value in values)


class ApiErrorShapeMiddleware:
    """Every error under /api/ answers the documented JSON shape, including the ones Django or
    django-ninja answer before any API code runs (a method the path does not allow, say)."""

    CODES = {405: "method_not_allowed", 413: "payload_too_large", 429: "rate_limited"}

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            request.path.startswith("/api/")
            and response.status_code >= 400
            and response.get("Content-Type", "").split(";")[0] != "application/json"
        ):
            status = response.status_code
            code = self.CODES.get(status, "error")
            detail = response.reason_phrase
            if status == 405:
                detail = f"Allowed methods: {response.get('Allow', '')}."
            shaped = JsonResponse({"error": code, "detail": detail, "fields": {}}, status=status)
            for header in ("Allow", "Retry-After"):
                if header in response:
                    shaped[header] = response[header]
            return shaped
        return response


class HealthCheckMiddleware:
    """Answers /healthz and /metrics before host validation and HTTPS redirects: load balancers
    and Prometheus probe by IP address over plain HTTP (/metrics asks for its bearer token)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path == "/healthz" and request.method in ("GET", "HEAD"):
            from .views import healthz

            return healthz(request)
        if request.path == "/metrics":
            from .views import metrics

            return metrics(request)
        return self.get_response(request)
