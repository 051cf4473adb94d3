"""Domain errors: a stable machine code, a human message, optional field-level messages.

Views turn them into form errors; the API turns them into
`{"error": code, "detail": message, "fields": {...}}` with `status`.
"""

from django.db import InterfaceError, OperationalError


class DomainError(Exception):
    code = "error"
    status = 400

    def __init__(self, message: str = "", *, code: str | None = None, fields=None, status=None):
        super().__init__(message or self.__class__.__doc__ or self.code)
        self.message = message or (self.__class__.__doc__ or self.code).strip()
        if code:
            self.code = code
        if status:
            self.status = status
        self.fields = fields or {}

    def as_dict(self):
        return {"error": self.code, "detail": self.message, "fields": self.fields}

    def headers(self) -> dict[str, str]:
        """HTTP headers the API's answer carries (e.g. `Retry-After`)."""
        return {}


class NotAllowed(DomainError):
    """You are not allowed to do that."""

    code = "forbidden"
    status = 403


class InvalidInput(DomainError):
    """The input is not valid."""

    code = "invalid_input"
    status = 400


class DatabaseUnavailable(DomainError):
    """The service is briefly unavailable (its database cannot be reached). Nothing was saved:
    please try again in a minute."""

    code = "database_unavailable"
    status = 503
    retry_after_seconds = 30

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_seconds)}


# PostgreSQL's SQLSTATEs for a server going away: shutting down, crashed, starting up.
_SERVER_GONE = {"57P01", "57P02", "57P03"}


def database_unreachable(exc: BaseException | None) -> bool:
    """Whether `exc` says the database cannot be reached (no connection, the connection lost,
    the server shutting down or starting: a restart or a failover), as opposed to a statement
    that failed. Such a request committed nothing and may be sent again (`DatabaseUnavailable`)."""
    if isinstance(exc, InterfaceError):  # a connection already closed
        return True
    if not isinstance(exc, OperationalError):
        return False
    state = getattr(exc.__cause__, "sqlstate", None)
    return state is None or state.startswith("08") or state in _SERVER_GONE
