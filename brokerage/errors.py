"""Domain errors: a stable machine code, a human message, optional field-level messages.

Views turn them into form errors; the API turns them into
`{"error": code, "detail": message, "fields": {...}}` with `status`.
"""


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
