"""The server: one route table for the four providers and the control endpoints, and the HTTP
handler that answers, then sends the answer's webhooks and applies the faults on refunds and
payouts (a delay, or a dropped connection after the operation is done)."""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .checkout import Checkout
from .coinpayments import CoinPayments
from .control import Control
from .delivery import run_deliveries
from .provider import Provider
from .skrill import Skrill
from .state import Sandbox
from .stripe import Stripe
from .web import Request, Resp, control_error

log = logging.getLogger("sandbox.psp")

PROVIDERS: tuple[type[Provider], ...] = (Stripe, Checkout, Skrill, CoinPayments)


class PspApp:
    def __init__(self, sandbox: Sandbox):
        self.sb = sandbox
        self.providers = {cls.name: cls(sandbox) for cls in PROVIDERS}
        self.control = Control(sandbox, self.providers)
        self.routes: list[tuple[str, re.Pattern, Callable]] = []
        for part in (*self.providers.values(), self.control):
            for method, pattern, handler in part.routes():
                self.routes.append((method, re.compile(pattern + r"/?\Z"), handler))

    def dispatch(self, req: Request) -> Resp:
        provider = self.providers.get(req.path.split("/")[1] if req.path.count("/") > 1 else "")
        if provider is not None:  # a provider's own API: the outage faults apply
            hang = float(self.sb.fault("api_hang_seconds"))
            if hang > 0:
                time.sleep(hang)
            status = int(self.sb.fault("api_error_status"))
            if status:
                return provider.unavailable(status)
        allowed = False
        for method, pattern, handler in self.routes:
            match = pattern.match(req.path)
            if match:
                if method == req.method:
                    return handler(req, **match.groupdict())
                allowed = True
        if allowed:
            return control_error(405, "method_not_allowed", f"{req.method} {req.path}")
        return control_error(404, "not_found", f"no sandbox endpoint at {req.path}")


def make_handler(app: PspApp):
    class Handler(BaseHTTPRequestHandler):
        server_version = "PSP-Sandbox/1.0"
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):
            if os.environ.get("SANDBOX_VERBOSE"):
                super().log_message(fmt, *args)

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length > 0 else b""
            host = self.headers.get("Host") or "{}:{}".format(*self.server.server_address[:2])
            req = Request(self.command, self.path, self.headers, body, host)
            try:
                resp = app.dispatch(req)
            except Exception:
                log.exception("sandbox error on %s %s", self.command, self.path)
                resp = control_error(500, "sandbox_error", "the sandbox failed; see its log")
            sandbox = app.sb
            run_deliveries(sandbox, resp.deliveries, sync=resp.sync)
            if resp.operation:
                delay = float(sandbox.fault("payout_delay_seconds"))
                if delay > 0:
                    time.sleep(delay)
                if sandbox.fault("drop_after_request"):
                    self.close_connection = True
                    return
            self.send_response(resp.status)
            self.send_header("Content-Type", resp.content_type)
            self.send_header("Content-Length", str(len(resp.body)))
            for name, value in resp.headers.items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(resp.body)

        do_GET = do_POST = do_DELETE = _handle  # noqa: N815 (http.server API)

    return Handler


def serve(host: str, port: int, config=None) -> ThreadingHTTPServer:
    """The PSP sandbox on host:port (port 0: any free port), not yet serving: call
    serve_forever() (in a thread for tests). `config` overrides `sandbox_config()`."""
    sandbox = Sandbox(config)
    server = ThreadingHTTPServer((host, port), make_handler(PspApp(sandbox)))
    server.daemon_threads = True
    server.sandbox = sandbox
    return server
