"""A MetaTrader 5 Web API server (the subset the product uses), starting with its handshake.

Protocol (as the real MT5 Web API): every answer is JSON with a `retcode` such as "0 Done".
  GET /api/auth/start?version=&agent=&login=&type=manager  -> {"retcode", "srv_rand"}
  GET /api/auth/answer?srv_rand_answer=&cli_rand=          -> {"retcode", "cli_rand_answer"}
where pw = MD5(MD5(utf16le(password)) + b"WebAPI"),
      srv_rand_answer = hex(MD5(pw + bytes(srv_rand))), cli_rand_answer = hex(MD5(pw + cli_rand)).
Calls other than the handshake need an authenticated session (cookie).
"""

import hashlib
import json
import os
import secrets
import threading
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

RET_OK = "0 Done"
RET_AUTH_FAILED = "3 Invalid account or password"
RET_BAD_PARAMS = "3 Invalid parameters"
RET_NOT_AUTHORIZED = "8 Not authorized"
RET_NOT_FOUND = "13 Not found"


def password_hash(password: str) -> bytes:
    inner = hashlib.md5(password.encode("utf-16-le")).digest()  # noqa: S324 (MT5 protocol)
    return hashlib.md5(inner + b"WebAPI").digest()  # noqa: S324 (MT5 protocol)


def rand_answer(pw_hash: bytes, rand: bytes) -> str:
    return hashlib.md5(pw_hash + rand).hexdigest()  # noqa: S324 (protocol)


class MT5State:
    def __init__(self, login: str, password: str):
        self.login = login
        self.pw_hash = password_hash(password)
        self.pending: dict[str, bytes] = {}  # session id -> srv_rand awaiting an answer
        self.sessions: set[str] = set()
        self.lock = threading.Lock()


def make_handler(state: MT5State):
    class Handler(BaseHTTPRequestHandler):
        server_version = "MetaTrader 5 Web API"

        def log_message(self, fmt, *args):
            if os.environ.get("SANDBOX_VERBOSE"):
                super().log_message(fmt, *args)

        def _send(self, payload: dict, status: int = 200, cookie: str | None = None):
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            if cookie:
                self.send_header("Set-Cookie", f"mt5session={cookie}; HttpOnly; Path=/")
            self.end_headers()
            self.wfile.write(body)

        def _session(self) -> str | None:
            jar = SimpleCookie(self.headers.get("Cookie", ""))
            return jar["mt5session"].value if "mt5session" in jar else None

        def do_GET(self):  # noqa: N802 (http.server API)
            url = urlparse(self.path)
            q = {k: v[0] for k, v in parse_qs(url.query).items()}
            if url.path == "/api/auth/start":
                if q.get("login") != state.login or q.get("type") != "manager":
                    return self._send({"retcode": RET_AUTH_FAILED})
                sid, srv_rand = secrets.token_hex(16), secrets.token_bytes(16)
                with state.lock:
                    state.pending[sid] = srv_rand
                return self._send(
                    {"retcode": RET_OK, "version_access": "4150", "srv_rand": srv_rand.hex()},
                    cookie=sid,
                )
            if url.path == "/api/auth/answer":
                sid = self._session()
                with state.lock:
                    srv_rand = state.pending.pop(sid, None) if sid else None
                if srv_rand is None or "cli_rand" not in q:
                    return self._send({"retcode": RET_BAD_PARAMS})
                if q.get("srv_rand_answer", "").lower() != rand_answer(state.pw_hash, srv_rand):
                    return self._send({"retcode": RET_AUTH_FAILED})
                try:
                    cli_rand = bytes.fromhex(q["cli_rand"])
                except ValueError:
                    return self._send({"retcode": RET_BAD_PARAMS})
                with state.lock:
                    state.sessions.add(sid)
                return self._send(
                    {"retcode": RET_OK, "cli_rand_answer": rand_answer(state.pw_hash, cli_rand)}
                )
            if self._session() not in state.sessions:
                return self._send({"retcode": RET_NOT_AUTHORIZED}, status=403)
            if url.path == "/api/test/access":
                return self._send({"retcode": RET_OK})
            return self._send({"retcode": RET_NOT_FOUND}, status=404)

    return Handler


def serve(host: str, port: int, login: str, password: str) -> ThreadingHTTPServer:
    return ThreadingHTTPServer((host, port), make_handler(MT5State(login, password)))
