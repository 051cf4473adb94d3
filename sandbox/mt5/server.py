"""The HTTP side: routes each request to the Web API (after the session check) or to a control
endpoint, counts it, springs armed faults, and writes the answer."""

import json
import logging
import os
import time
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from . import api, control, history
from .protocol import RET_ERROR, RET_FREQUENT, ApiError, Reply, body_params
from .state import MT5State

log = logging.getLogger("sandbox.mt5")

CONTROL_PREFIX = "/_sandbox/mt5/"
CONTROL = {
    ("POST", "reset"): control.reset,
    ("GET", "state"): control.status,
    ("POST", "faults"): control.faults,
    ("POST", "deal"): control.deal,
    ("POST", "deal_update"): control.deal_update,
    ("POST", "deal_delete"): control.deal_delete,
    ("POST", "trade"): control.trade,
    ("POST", "prices"): control.prices,
    ("POST", "history"): history.history,
    ("POST", "profile"): control.profile,
    ("POST", "simulate"): control.simulate,
    ("POST", "tick"): control.tick,
    ("POST", "bulk"): history.bulk,
}


def run_control(state: MT5State, method: str, name: str, body: bytes) -> tuple[int, object]:
    handler = CONTROL.get((method, name))
    if handler is None:
        return 404, {"error": "not_found", "detail": f"no control endpoint {method} {name}"}
    return control.call(handler, state, body)


def make_handler(state: MT5State):
    class Handler(BaseHTTPRequestHandler):
        server_version = "MetaTrader 5 Web API"
        protocol_version = "HTTP/1.1"
        timeout = 120  # an idle keep-alive connection is closed after this

        def log_message(self, fmt, *args):
            if os.environ.get("SANDBOX_VERBOSE"):
                super().log_message(fmt, *args)

        def _send(
            self, status: int, body: bytes, cookie: str | None = None, cut: bool = False
        ) -> None:
            """Answer; `cut`: the headers and half the body, then the connection is closed."""
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                if cookie:
                    self.send_header("Set-Cookie", f"mt5session={cookie}; HttpOnly; Path=/")
                self.end_headers()
                self.wfile.write(body[: len(body) // 2] if cut else body)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True
            if cut:
                self.close_connection = True

        def finish(self):
            state.faults.closed(self.connection)
            super().finish()

        def _session(self) -> str | None:
            jar = SimpleCookie(self.headers.get("Cookie", ""))
            return jar["mt5session"].value if "mt5session" in jar else None

        def _reply(self, path: str, q: dict, body: bytes = b"") -> Reply:
            sessions = state.sessions
            if path == "/api/auth/start":
                return sessions.auth_start(q)
            if path == "/api/auth/answer":
                return sessions.auth_answer(q, self._session())
            refused = sessions.authorize(self._session())
            if refused is not None:
                return refused
            try:
                return Reply(200, api.call(state, path, q, body if self.command == "POST" else b""))
            except ApiError as err:
                return Reply(err.status, {"retcode": err.retcode})

        def _handle(self):
            url = urlparse(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length > 0 else b""
            if url.path.startswith(CONTROL_PREFIX):
                try:
                    status, payload = run_control(
                        state, self.command, url.path[len(CONTROL_PREFIX) :], body
                    )
                except Exception:
                    log.exception("MT5 sandbox control %s failed", url.path)
                    status, payload = 500, {"error": "sandbox_error", "detail": "see its log"}
                return self._send(status, json.dumps(payload).encode())
            q = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
            state.sessions.count(url.path)
            outage = state.faults
            outage.opened(self.connection)
            if outage.down():  # no answer, nothing carried out; the connection is gone
                outage.count("down")
                self.close_connection = True
                return
            try:
                q.update(body_params(self.command, body))
                reply = self._reply(url.path, q, body)
            except ApiError as err:
                reply = Reply(err.status, {"retcode": err.retcode})
            except Exception:
                log.exception("MT5 sandbox failed on %s", url.path)
                reply = Reply(500, {"retcode": RET_ERROR})
            if reply.status != 403 and reply.payload.get("retcode") != RET_FREQUENT:
                faults = state.faults.take(url.path)
            else:
                faults = {}
            out = json.dumps(reply.payload, separators=(",", ":")).encode()
            if "slow" in faults:
                time.sleep(faults["slow"]["seconds"])
            if "drop_after_write" in faults:
                self.close_connection = True  # executed and stored; no answer at all
                return
            if "malformed" in faults:
                out = out[: max(1, len(out) // 2)]
            if outage.cut():  # carried out; the connection breaks in the middle of the answer
                outage.count("mid_answer")
                return self._send(reply.status, out, reply.cookie, cut=True)
            return self._send(reply.status, out, reply.cookie)

        do_GET = do_POST = _handle  # noqa: N815 (http.server API)

    return Handler


class MT5Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, state: MT5State):
        self.state = state
        super().__init__(address, make_handler(state))

    def server_close(self):
        super().server_close()
        if not self.state.closed:
            self.state.close()


def serve(
    host: str,
    port: int,
    login: str,
    password: str,
    *,
    state_path: str | os.PathLike | None = None,
    timezone: str = "Europe/Athens",
    simulate: bool = False,
    tick_seconds: float = 2.0,
    session_idle: float = 600,
    max_rps: int = 0,
) -> MT5Server:
    """The MT5 Web API sandbox on host:port (port 0: any free port), not yet serving: call
    serve_forever() (in a thread for tests); `server.state` is its state, closed by
    server_close()."""
    state = MT5State(
        login,
        password,
        state_path=state_path,
        timezone=timezone,
        session_idle=session_idle,
        max_rps=max_rps,
        tick_seconds=tick_seconds,
    )
    server = MT5Server((host, port), state)
    if simulate:
        state.simulation.start(tick_seconds)
    return server
