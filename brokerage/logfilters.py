"""Log filters named in `LOGGING` (settings/base.py)."""

import logging


class ClientErrorsWithoutTraceback(logging.Filter):
    """A 4xx is the client's mistake (a forbidden page, a bad form, an unknown address): Django
    logs it with the exception attached, which prints a traceback for every refused request.
    Keep the one line that says what was refused; tracebacks stay for 5xx, which are ours."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if isinstance(status, int) and status < 500:
            record.exc_info = None
            record.exc_text = None
        return True
