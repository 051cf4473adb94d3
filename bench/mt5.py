"""The MT5 sandbox for benchmarks: its own process (so it does not share our GIL), a free port,
a state file in a temporary folder. Not a benchmark itself."""

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sandbox.control import control

ROOT = Path(__file__).resolve().parent.parent
LOGIN, PASSWORD = "1000", "bench-manager"

SERVE = """
import sys
from sandbox import mt5
server = mt5.serve("127.0.0.1", int(sys.argv[1]), sys.argv[2], sys.argv[3], state_path=sys.argv[4],
                   simulate=False)
server.serve_forever()
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Sandbox:
    def __init__(self):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.tmp = tempfile.TemporaryDirectory()
        state = os.path.join(self.tmp.name, "mt5.sqlite3")
        self.proc = subprocess.Popen(  # noqa: S603 (our own interpreter and module)
            [sys.executable, "-c", SERVE, str(self.port), LOGIN, PASSWORD, state], cwd=ROOT
        )
        for _ in range(100):
            try:
                self.control("GET", "state")
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("the MT5 sandbox did not start")

    def control(self, method: str, path: str, payload=None):
        status, answer = control(self.url, method, f"/_sandbox/mt5/{path}", payload)
        if status >= 400:
            raise RuntimeError(f"sandbox {path}: {status} {answer}")
        return answer

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.tmp.cleanup()
