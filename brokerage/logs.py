"""Structured logs: one JSON object per line, each carrying the request id of the work it is about.

A request's id is taken from a trusted `X-Request-ID` header (TRUST_REQUEST_ID_HEADER, when a
proxy in front sets it) or made here, answered in the response's `X-Request-ID`, and kept in a
context variable while the request runs. Every Celery task enqueued meanwhile carries it in its
message headers (`before_task_publish`); the worker puts it back in the context while the task
runs (`task_prerun`), so the task's log lines carry it, and so do the tasks it enqueues in turn.
A task nobody's request enqueued (beat's) gets an id of its own when it starts.

Every line has `time`, `level`, `logger`, `message` and, where known, `request_id`, `user_id`,
`method`, `path`, `task`, `task_id`; a request's own line (logger `brokerage.request`) adds its
`status` and `duration_ms`. LOG_FORMAT=plain prints the older one-line text instead.
"""

import contextvars
import json
import logging
import re
import time
import traceback
import uuid
from datetime import UTC, datetime

from django.utils.functional import empty

REQUEST_ID_HEADER = "X-Request-ID"
TASK_HEADER = "request_id"  # the Celery message header that carries it
SENT_AT_HEADER = "sent_at"  # when the message was enqueued (the queue's oldest message's age)
VALID_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{7,127}$")

# What the current request or task is: request_id, method, path, task, task_id, and the request
# itself (its user is read only once authentication has loaded it).
# Never mutated: each change sets a new dict.
_context: contextvars.ContextVar[dict | None] = contextvars.ContextVar("log_context", default=None)

request_log = logging.getLogger("brokerage.request")


def new_request_id() -> str:
    return uuid.uuid4().hex


def request_id_from(header: str | None, *, trusted: bool) -> str:
    """The id the proxy in front gave the request when it is trusted and well formed (so a client
    cannot write into the logs), otherwise a new one."""
    if trusted and header and VALID_ID.match(header):
        return header
    return new_request_id()


def current_request_id() -> str | None:
    return (_context.get() or {}).get("request_id")


def context_set(**values) -> contextvars.Token:
    return _context.set({k: v for k, v in values.items() if v is not None})


def context_reset(token: contextvars.Token) -> None:
    _context.reset(token)


def _user_id(request) -> int | None:
    """The signed-in user's id once authentication has loaded it; never loads it for a log line."""
    user = getattr(request, "__dict__", {}).get("user")
    if user is None:
        return None
    wrapped = getattr(user, "_wrapped", user)
    if wrapped is empty or not getattr(wrapped, "is_authenticated", False):
        return None
    return wrapped.pk


class ContextFilter(logging.Filter):
    """Copies the current request's or task's context onto every record (handler filter)."""

    def filter(self, record: logging.LogRecord) -> bool:
        ctx = _context.get() or {}
        for key in ("request_id", "method", "path", "task", "task_id"):
            if key in ctx and not hasattr(record, key):
                setattr(record, key, ctx[key])
        if "request" in ctx and not hasattr(record, "user_id"):
            record.user_id = _user_id(ctx["request"])
        return True


# LogRecord's own attributes: everything else on a record came from `extra=` or a filter.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}
_RENAMED = {"status_code": "status"}


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (a traceback included, as `exc`)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key in _STANDARD or key.startswith("_"):
                continue
            if value is None or isinstance(value, str | int | float | bool):
                entry.setdefault(_RENAMED.get(key, key), value)
        if record.exc_info:
            entry["exc"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        elif record.exc_text:
            entry["exc"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, ensure_ascii=False, default=str)


class RequestLogMiddleware:
    """Gives each request its id and context, answers the id in `X-Request-ID`, and logs one
    line and counts it (brokerage.metrics) when the response is ready (not /healthz and
    /metrics, which probes poll)."""

    QUIET_PATHS = ("/healthz", "/metrics")

    def __init__(self, get_response):
        from . import metrics

        self.get_response = get_response
        self.metrics = metrics

    def __call__(self, request):
        from django.conf import settings

        started = time.perf_counter()
        request_id = request_id_from(
            request.headers.get(REQUEST_ID_HEADER), trusted=settings.TRUST_REQUEST_ID_HEADER
        )
        request.request_id = request_id
        # Kept until the response is closed (`request_finished`): Django logs a refused request
        # after the middleware has returned.
        context_set(
            request_id=request_id, method=request.method, path=request.path, request=request
        )
        response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request_id
        if request.path not in self.QUIET_PATHS:
            status = response.status_code
            seconds = time.perf_counter() - started
            self.metrics.request_observe(request, status, seconds)
            request_log.log(
                logging.ERROR if status >= 500 else logging.INFO,
                "%s %s %s",
                request.method,
                request.path,
                status,
                extra={
                    "status": status,
                    "duration_ms": round(seconds * 1000, 1),
                },
            )
        return response


def request_context_clear(**kwargs) -> None:
    """`request_finished`: the thread's next lines are no longer about this request."""
    _context.set(None)


# --- Celery: the id travels in the task's message headers ----------------------------------


def task_publish_headers(headers: dict) -> None:
    """`before_task_publish`: stamp the message with the current request id and its send time."""
    if headers is None:
        return
    request_id = current_request_id()
    if request_id and not headers.get(TASK_HEADER):
        headers[TASK_HEADER] = request_id
    headers.setdefault(SENT_AT_HEADER, time.time())


def task_context_enter(task, task_id: str) -> None:
    """`task_prerun`: the request id the message carries (or a new one) for the task's logs."""
    request_id = getattr(task.request, TASK_HEADER, None)
    if not (isinstance(request_id, str) and VALID_ID.match(request_id)):
        request_id = new_request_id()
    task.request._log_token = context_set(request_id=request_id, task=task.name, task_id=task_id)


def task_context_leave(task) -> None:
    """`task_postrun`: back to the worker's own (empty) context."""
    token = getattr(task.request, "_log_token", None)
    if token is not None:
        try:
            context_reset(token)
        except ValueError:  # set in another context (a pool that hops threads): just clear
            _context.set(None)
