"""Gunicorn as the product is served: a config module (`gunicorn -c python:brokerage.webserver`,
the Dockerfile's command; `.ci/gunicorn.conf.py` takes the same pieces for `make up`).

- Its own log lines (error log and access log) are JSON, like the application's. An access line
  carries the request's method, path, status, size, duration and the `X-Request-ID` the
  application answered, so it joins the application's lines for the same request.
- No `Server` header: gunicorn names itself in every answer, which tells an attacker what to
  look up; nothing else in an answer names the software or its version.
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


def _without_server_header(default_headers):
    def headers(response):
        return [h for h in default_headers(response) if not h.lower().startswith("server:")]

    headers.server_header_removed = True
    return headers


def post_fork(server, worker):
    """In each worker: answers carry no `Server` header."""
    from gunicorn.http import wsgi

    if not getattr(wsgi.Response.default_headers, "server_header_removed", False):
        wsgi.Response.default_headers = _without_server_header(wsgi.Response.default_headers)


logger_class = "brokerage.webserver.JsonLogger"
access_log_format = '%(h)s "%(r)s" %(s)s %(B)s %(M)sms "%(a)s" %({x-request-id}o)s'
