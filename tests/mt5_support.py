"""Shared by the MT5 tests: start/stop the MT5 Web API sandbox, call its /_sandbox/mt5/ control
endpoints, and a tiny raw Web API client (handshake + GET) for the sandbox's own tests."""

import hashlib
import json
import secrets
import threading
import urllib.error
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar

from sandbox import mt5
from tests.psp_support import control

MANAGER_LOGIN = "1000"
MANAGER_PASSWORD = "Manager#1"
CONTROL_PREFIX = "/_sandbox/mt5/"


def start_mt5_sandbox(
    login: str = MANAGER_LOGIN, password: str = MANAGER_PASSWORD, **kwargs
) -> tuple[str, mt5.MT5Server]:
    """The sandbox on a free local port, served from a thread: (base URL, server). `kwargs` go
    to `mt5.serve` (state_path, timezone, simulate, tick_seconds, session_idle, max_rps)."""
    server = mt5.serve("127.0.0.1", 0, login, password, **kwargs)
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="mt5-sandbox", daemon=True
    ).start()
    return f"http://127.0.0.1:{server.server_address[1]}", server


def stop_mt5_sandbox(server: mt5.MT5Server) -> None:
    server.shutdown()
    server.server_close()  # also stops the simulation and closes the state


def mt5_control(base: str, method: str, path: str, payload=None):
    """Call a control endpoint: `path` is "trade" or "/_sandbox/mt5/trade". (status, JSON)."""
    if not path.startswith("/"):
        path = CONTROL_PREFIX + path
    return control(base, method, path, payload)


class MT5Sandbox:
    """What the `mt5_sandbox` fixture yields."""

    def __init__(self, login: str = MANAGER_LOGIN, password: str = MANAGER_PASSWORD, **kwargs):
        self.login, self.password = login, password
        self.url, self.server = start_mt5_sandbox(login, password, **kwargs)

    def control(self, method: str, path: str, payload=None):
        return mt5_control(self.url, method, path, payload)

    def stop(self) -> None:
        stop_mt5_sandbox(self.server)


class RawClient:
    """The Web API by hand: `handshake()`, then `get(path, **params)` -> (HTTP status, JSON)."""

    def __init__(self, base: str, login: str = MANAGER_LOGIN, password: str = MANAGER_PASSWORD):
        self.base, self.login, self.password = base, login, password
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))

    def get_raw(self, path: str, timeout: float = 10, **params) -> tuple[int, bytes]:
        url = self.base + path + ("?" + urllib.parse.urlencode(params) if params else "")
        try:
            with self.opener.open(url, timeout=timeout) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as err:
            return err.code, err.read()

    def post(self, path: str, body: bytes, timeout: float = 10, **params) -> tuple[int, dict]:
        """A POST with a (JSON) body; the query carries `params`."""
        url = self.base + path + ("?" + urllib.parse.urlencode(params) if params else "")
        request = urllib.request.Request(
            url, data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        try:
            with self.opener.open(request, timeout=timeout) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read())

    def get(self, path: str, timeout: float = 10, **params) -> tuple[int, dict]:
        status, body = self.get_raw(path, timeout, **params)
        return status, json.loads(body)

    def handshake(self) -> dict:
        """Authenticate; the last answer (its retcode says whether it worked)."""
        _, start = self.get(
            "/api/auth/start", version="484", agent="tests", login=self.login, type="manager"
        )
        if start["retcode"] != "0 Done":
            return start
        pw = hashlib.md5(
            hashlib.md5(self.password.encode("utf-16-le")).digest() + b"WebAPI"
        ).digest()
        answer = hashlib.md5(pw + bytes.fromhex(start["srv_rand"])).hexdigest()
        cli_rand = secrets.token_bytes(16)
        _, done = self.get("/api/auth/answer", srv_rand_answer=answer, cli_rand=cli_rand.hex())
        if done["retcode"] == "0 Done":
            assert done["cli_rand_answer"] == hashlib.md5(pw + cli_rand).hexdigest()
        return done

    def answer(self, path: str, **params):
        """The `answer` of a call that must succeed."""
        status, body = self.get(path, **params)
        assert status == 200 and body["retcode"] == "0 Done", (path, status, body)
        return body.get("answer")
