"""Gunicorn's own log lines (its error log and access log) as JSON, like the application's.

Named by `logger_class` in `.ci/gunicorn.conf.py` and by `--logger-class` in the Dockerfile. An
access line carries the request's method, path, status, size, duration and the `X-Request-ID`
the application answered, so it joins the application's lines for the same request.
"""

import logging

from gunicorn.glogging import Logger

from .logs import JsonFormatter


class AccessFields(logging.Filter):
    """Copies gunicorn's access atoms onto the record as fields."""

    FIELDS = {
        "m": "method",
        "U": "path",
        "s": "status",
        "B": "bytes",
        "M": "duration_ms",
        "h": "remote_addr",
        "{x-request-id}o": "request_id",
    }

    def filter(self, record: logging.LogRecord) -> bool:
        atoms = record.args if isinstance(record.args, dict) else {}
        for atom, field in self.FIELDS.items():
            value = atoms.get(atom)
            if value not in (None, "-"):
                setattr(record, field, int(value) if field == "status" else value)
        return True


class JsonLogger(Logger):
    def setup(self, cfg):
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.setFormatter(JsonFormatter())
        for handler in self.access_log.handlers:
            handler.addFilter(AccessFields())
