"""/api/v1/: one NinjaAPI for every integration, authenticated by `X-API-Key`.

Every error answers `{"error": code, "detail": message, "fields": {...}}`. Apps add their
routers in `brokerage/urls.py` (`api.add_router`). Operations that create something take
`@idempotent` so integrations can retry them safely.
"""

import functools
import json
import logging

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.http import Http404
from ninja import NinjaAPI, Schema, Status
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.security import APIKeyHeader

from .errors import DatabaseUnavailable, DomainError, InvalidInput, database_unreachable
from .models import ApiIdempotency
from .ratelimit import api_key_rate_check
from .services import api_key_authenticate

log = logging.getLogger(__name__)


class ApiKeyAuth(APIKeyHeader):
    param_name = "X-API-Key"

    def authenticate(self, request, key):
        api_key = api_key_authenticate(key or "")
        if api_key is not None:
            request.api_key = api_key
            api_key_rate_check(api_key)  # 429 past API_RATE_LIMIT (brokerage/ratelimit.py)
        return api_key


IDEMPOTENCY_KEY_MAX = 100


def _answered(request, key: str) -> Status | None:
    """The stored first answer to `key` from this integration, or None."""
    prior = ApiIdempotency.objects.filter(api_key=request.api_key, key=key).first()
    if prior is None:
        return None
    if prior.path != request.path:
        raise InvalidInput(
            "This Idempotency-Key was used for another call; send a new key for each call.",
            code="idempotency_key_reused",
            fields={"Idempotency-Key": ["Used for another call."]},
            status=422,
        )
    return Status(prior.status, prior.body)


def idempotent(operation):
    """Make a django-ninja operation safe to retry with an `Idempotency-Key` header.

    Put it under the router's decorator (`@router.post(...)` then `@idempotent`). The first
    answer to a key (its status and body) is stored per API key, in the same transaction as
    the operation's writes; a repeat of the key from the same integration gets that answer
    back, whatever its body, and nothing runs again. Two requests racing with one key: the
    loser's writes roll back and it gets the winner's answer. An error is not stored (the call
    can be retried with the same key). Without the header the operation runs as it is. A key
    is at most 100 characters; one already used for another path answers 422.

    The operation returns `Status(code, body)` or a body (200), JSON-serialisable.
    """

    @functools.wraps(operation)
    def run(request, *args, **kwargs):
        key = (request.headers.get("Idempotency-Key") or "").strip()
        if not key:
            return operation(request, *args, **kwargs)
        if len(key) > IDEMPOTENCY_KEY_MAX:
            raise InvalidInput(
                f"Idempotency-Key is at most {IDEMPOTENCY_KEY_MAX} characters.",
                fields={"Idempotency-Key": ["Too long."]},
            )
        if (prior := _answered(request, key)) is not None:
            return prior
        try:
            with transaction.atomic():
                answer = operation(request, *args, **kwargs)
                status, body = (
                    (answer.status_code, answer.value)
                    if isinstance(answer, Status)
                    else (200, answer)
                )
                ApiIdempotency.objects.create(
                    api_key=request.api_key,
                    key=key,
                    path=request.path,
                    status=status,
                    body=json.loads(json.dumps(body, cls=DjangoJSONEncoder)),
                )
        except IntegrityError:
            prior = _answered(request, key)
            if prior is None:
                raise
            return prior  # the same key raced in twice: one answer for both
        return answer

    return run


def _field_name(loc) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "payload")]
    return ".".join(parts) or "__all__"


def install_error_handlers(api: NinjaAPI) -> NinjaAPI:
    """Every error of `api` answers `{"error", "detail", "fields"}` with the right status."""

    def error_response(request, status: int, code: str, detail: str, fields=None):
        return api.create_response(
            request, {"error": code, "detail": detail, "fields": fields or {}}, status=status
        )

    @api.exception_handler(ValidationError)
    def on_validation_error(request, exc: ValidationError):
        fields: dict[str, list[str]] = {}
        for err in exc.errors:
            if err.get("type") in ("json_invalid", "value_error.jsondecode"):
                return error_response(
                    request, 400, "invalid_json", "The request body is not valid JSON."
                )
            name = _field_name(err.get("loc", ()))
            fields.setdefault(name, []).append(err.get("msg", "Invalid."))
        return error_response(
            request, 422, "validation_error", "Some fields are not valid.", fields
        )

    @api.exception_handler(AuthenticationError)
    def on_auth_error(request, exc):
        if request.headers.get("X-API-Key"):
            return error_response(request, 401, "invalid_api_key", "The API key is not valid.")
        return error_response(
            request, 401, "missing_api_key", "Send your integration's key in the X-API-Key header."
        )

    @api.exception_handler(DomainError)
    def on_domain_error(request, exc: DomainError):
        response = api.create_response(request, exc.as_dict(), status=exc.status)
        for name, value in exc.headers().items():
            response[name] = value
        return response

    @api.exception_handler(HttpError)
    def on_http_error(request, exc: HttpError):
        if exc.status_code == 400 and isinstance(exc.__cause__, ValueError):
            # ninja's body parser failed (JSONDecodeError is a ValueError)
            return error_response(
                request, 400, "invalid_json", "The request body is not valid JSON."
            )
        codes = {400: "bad_request", 403: "forbidden", 404: "not_found", 405: "method_not_allowed"}
        code = codes.get(exc.status_code, "error")
        return error_response(request, exc.status_code, code, str(exc))

    @api.exception_handler(RequestDataTooBig)
    def on_too_big(request, exc):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return error_response(
            request, 413, "payload_too_large", f"The request body is over {limit} bytes."
        )

    @api.exception_handler(Http404)
    def on_not_found(request, exc):
        return error_response(request, 404, "not_found", "No such object.")

    @api.exception_handler(Exception)
    def on_unexpected(request, exc):
        if database_unreachable(exc):  # a restart or failover: nothing was saved, send again
            log.warning("API request on %s: the database cannot be reached (%s)", request.path, exc)
            err = DatabaseUnavailable()
            response = error_response(request, err.status, err.code, err.message)
            for name, value in err.headers().items():
                response[name] = value
            return response
        log.exception("API error on %s", request.path)
        return error_response(request, 500, "server_error", "Unexpected error; it has been logged.")

    return api


api = install_error_handlers(
    NinjaAPI(
        title="Brokerage back-office API",
        version="1",
        description=(
            "Integration API: landing pages and affiliates post leads, PSPs send callbacks, "
            "partners read their data. Integrations authenticate with the `X-API-Key` header; "
            "IB partners read `/partners/` with one of their tokens as `Authorization: Bearer`. "
            "Errors answer "
            '`{"error": code, "detail": message, "fields": {field: [messages]}}`.'
        ),
        auth=ApiKeyAuth(),
        urls_namespace="api",
        docs_url="/docs",
    )
)


class WhoAmI(Schema):
    integration: str
    scopes: list[str]


@api.get("/whoami", response=WhoAmI, tags=["integration"], summary="The calling integration")
def whoami(request):
    """Which integration the key belongs to: a cheap way to test a key."""
    return {"integration": request.api_key.name, "scopes": request.api_key.scopes}
