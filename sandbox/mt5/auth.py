"""The manager's sessions: the two-step auth handshake (`/api/auth/start`, `/api/auth/answer`),
idle expiry, the per-session rate limit (`max_rps`), and the count of requests per path. In
memory: a restart forgets them.

Refusals use MetaQuotes' authentication codes: a wrong login or password answer is "1001
Invalid account", a client version under 484 "1010 Old client version"; `refuse` arms any
other code of 1000-1023 (the account disabled, the IP blocked, the server busy...) for the
next handshakes."""

import secrets
import threading
import time
from collections import Counter

from .protocol import (
    AUTH_RETCODES,
    MIN_CLIENT_VERSION,
    RET_AUTH_CLIENT_INVALID,
    RET_BAD_PARAMS,
    RET_CLIENT_OLD,
    RET_FREQUENT,
    RET_INVALID_ACCOUNT,
    RET_NO_PERMISSIONS,
    RET_OK,
    Reply,
    password_hash,
    rand_answer,
)


class Sessions:
    def __init__(
        self,
        login: str,
        password: str,
        lock: threading.RLock,
        *,
        session_idle: float = 600,
        max_rps: int = 0,
    ):
        self.login = str(login)
        self.pw_hash = password_hash(password)
        self.lock = lock
        self.session_idle = float(session_idle)
        self.max_rps = int(max_rps)
        self.pending: dict[str, tuple[bytes, float]] = {}  # session -> (srv_rand, started)
        self.sessions: dict[str, float] = {}  # session -> last request (monotonic)
        self.windows: dict[str, list] = {}  # session -> [second, requests in it]
        self.requests: Counter = Counter()
        self.rejected_frequent = 0
        self.refusals: list[int] = []  # auth retcodes armed for the next handshakes

    def refuse(self, retcode: int, count: int = 1) -> None:
        """The next `count` handshakes are refused at auth/start with `retcode` (1000-1023)."""
        if retcode not in AUTH_RETCODES:
            raise ValueError(f"not an authentication retcode: {retcode}")
        with self.lock:
            self.refusals.extend([retcode] * count)

    def count(self, path: str) -> None:
        with self.lock:
            self.requests[path] += 1

    def reset_counters(self) -> None:
        self.requests.clear()
        self.rejected_frequent = 0
        self.refusals.clear()

    def expire_all(self) -> None:
        """Every current session dies now."""
        self.sessions.clear()
        self.pending.clear()
        self.windows.clear()

    def auth_start(self, q: dict) -> Reply:
        agent = q.get("agent", "")
        if not agent or " " in agent:
            return Reply(200, {"retcode": RET_BAD_PARAMS})
        if q.get("type") != "manager":
            return Reply(200, {"retcode": RET_AUTH_CLIENT_INVALID})
        try:
            version = int(q.get("version", ""))
        except ValueError:
            return Reply(200, {"retcode": RET_BAD_PARAMS})
        if version < MIN_CLIENT_VERSION:
            return Reply(200, {"retcode": RET_CLIENT_OLD})
        with self.lock:
            armed = self.refusals.pop(0) if self.refusals else None
        if armed is not None:
            return Reply(200, {"retcode": f"{armed} {AUTH_RETCODES[armed]}"})
        if q.get("login") != self.login:
            return Reply(200, {"retcode": RET_INVALID_ACCOUNT})
        sid, srv_rand = secrets.token_hex(16), secrets.token_bytes(16)
        with self.lock:
            horizon = time.monotonic() - max(self.session_idle, 60)
            for stale in [k for k, (_, t) in self.pending.items() if t < horizon]:
                del self.pending[stale]
            self.pending[sid] = (srv_rand, time.monotonic())
        return Reply(
            200,
            {"retcode": RET_OK, "version_access": "4150", "srv_rand": srv_rand.hex()},
            cookie=sid,
        )

    def auth_answer(self, q: dict, sid: str | None) -> Reply:
        with self.lock:
            pending = self.pending.pop(sid, None) if sid else None
        if pending is None or "cli_rand" not in q:
            return Reply(200, {"retcode": RET_BAD_PARAMS})
        if q.get("srv_rand_answer", "").lower() != rand_answer(self.pw_hash, pending[0]):
            return Reply(200, {"retcode": RET_INVALID_ACCOUNT})
        try:
            cli_rand = bytes.fromhex(q["cli_rand"])
        except ValueError:
            return Reply(200, {"retcode": RET_BAD_PARAMS})
        with self.lock:
            self.sessions[sid] = time.monotonic()
        return Reply(
            200, {"retcode": RET_OK, "cli_rand_answer": rand_answer(self.pw_hash, cli_rand)}
        )

    def authorize(self, sid: str | None) -> Reply | None:
        """None when the session may go on; else the refusal."""
        now = time.monotonic()
        with self.lock:
            last = self.sessions.get(sid) if sid else None
            if last is not None and self.session_idle > 0 and now - last > self.session_idle:
                del self.sessions[sid]
                self.windows.pop(sid, None)
                last = None
            if last is None:
                return Reply(403, {"retcode": RET_NO_PERMISSIONS})
            self.sessions[sid] = now
            if self.max_rps > 0:
                second = int(now)
                window = self.windows.get(sid)
                if window is None or window[0] != second:
                    window = self.windows[sid] = [second, 0]
                window[1] += 1
                if window[1] > self.max_rps:
                    self.rejected_frequent += 1
                    return Reply(200, {"retcode": RET_FREQUENT})
        return None
