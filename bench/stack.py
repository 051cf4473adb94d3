"""The whole system on throwaway servers, for the fault scripts: never the shared ones.

A Postgres cluster (initdb in a temporary folder, its own port, fsync off) and a Redis (its own
port, append-only file on, as production runs it) that the script can stop and start again on
the same port, plus the product's real processes against them: gunicorn, Celery workers, beat
and the sandboxes. Not a benchmark itself.

    with Stack() as stack:
        stack.migrate(); stack.seed()
        stack.start_web(); stack.start_worker("w1", queues=[...]); stack.start_beat()
        stack.redis.stop(); ...; stack.redis.start()
        stack.django()            # this process's Django now points at the throwaway database
"""

from __future__ import annotations

import contextlib
import glob
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
MT5_LOGIN, MT5_PASSWORD = "1000", "fault-manager"
# Never inherited: the stack's processes take the dev settings' own values. The PSPs' URLs are
# derived from SANDBOX_PSP_URL (inherited, from a test process that imported the dev settings,
# they would send this stack's payments to another sandbox); the keys must be the ones the
# cached seeded database was encrypted with (trading servers' manager passwords).
NOT_INHERITED = (
    "STRIPE_API_URL", "CHECKOUT_API_URL", "SKRILL_API_URL", "COINPAYMENTS_API_URL",
    "DJANGO_SECRET_KEY", "PLATFORM_ENCRYPTION_KEY",
)  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def wait_until(predicate, timeout: float, what: str, step: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")


def _pg_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not found:
        raise RuntimeError("PostgreSQL binaries not found (apt-get install postgresql)")
    return Path(found[-1]).parent


def _as_postgres(cmd: list[str], **kwargs):
    """Postgres refuses to run as root: run its tools as the postgres user then."""
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--", *cmd]
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kwargs)  # noqa: S603


class Postgres:
    """A cluster of its own: `stop()`/`start()` keep the data and the port."""

    def __init__(self, folder: Path):
        self.bin = _pg_bin()
        self.data = folder / "pg"
        self.sock = folder / "pgrun"
        self.port = free_port()
        for path in (self.data, self.sock):
            path.mkdir()
            if os.geteuid() == 0:
                shutil.chown(path, "postgres")
        if os.geteuid() == 0:
            shutil.chown(folder, "postgres")
        _as_postgres(
            [str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "-E", "UTF8",
             "--locale=C.UTF-8", "--auth-local=trust", "--auth-host=scram-sha-256"]
        )  # fmt: skip
        self.start()
        self.psql("CREATE ROLE brokerage LOGIN SUPERUSER PASSWORD 'brokerage'")
        self.psql("CREATE DATABASE brokerage OWNER brokerage")
        self.url = f"postgres://brokerage:brokerage@127.0.0.1:{self.port}/brokerage"

    def psql(self, sql: str) -> str:
        return _as_postgres(
            [str(self.bin / "psql"), "-h", str(self.sock), "-p", str(self.port), "-U", "postgres",
             "-qAtc", sql]
        ).stdout  # fmt: skip

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.sock} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        _as_postgres(
            [str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.sock / "log"), "-w",
             "-t", "60", "-o", options, "start"]
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        _as_postgres([str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"])

    def running(self) -> bool:
        return port_open(self.port)


class Redis:
    """A Redis of its own with an append-only file, so a restart keeps what was queued."""

    def __init__(self, folder: Path):
        self.folder = folder / "redis"
        self.folder.mkdir()
        self.port = free_port()
        self.proc = None
        self.start()

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        self.proc = subprocess.Popen(  # noqa: S603
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--dir", str(self.folder), "--appendonly", "yes", "--save", "",
             "--logfile", str(self.folder / "log")]
        )  # fmt: skip
        wait_until(lambda: port_open(self.port), 20, "redis to listen")

    def stop(self) -> None:
        """Stopped the way a crash or a maintenance stop would: no chance to answer anyone."""
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(20)
        self.proc = None

    def running(self) -> bool:
        return port_open(self.port)


class Stack:
    """Throwaway Postgres and Redis, and the processes started against them."""

    def __init__(self, *, settings_module: str = "brokerage.settings.dev"):
        self.tmp = Path(tempfile.mkdtemp(prefix="brokerage-fault-"))
        os.chmod(self.tmp, 0o755)
        self.pg = Postgres(self.tmp)
        self.redis = Redis(self.tmp)
        self.procs: dict[str, subprocess.Popen] = {}
        self.commands: dict[str, list[str]] = {}
        self.restarts: dict[str, int] = {}
        self._supervisor = None
        self.web_port = free_port()
        self.mt5_port = free_port()
        self.psp_port = free_port()
        self.env = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED}
        self.env.update(
            DATABASE_URL=self.pg.url,
            REDIS_URL=self.redis.url(0),
            DJANGO_SETTINGS_MODULE=settings_module,
            DJANGO_DEBUG="false",
            LOG_LEVEL="WARNING",
            API_RATE_LIMIT="off",
            PYTHONUNBUFFERED="1",
            SANDBOX_MT5_URL=f"http://127.0.0.1:{self.mt5_port}",
            SANDBOX_MT5_LOGIN=MT5_LOGIN,
            SANDBOX_MT5_PASSWORD=MT5_PASSWORD,
            SANDBOX_MT5_STATE=str(self.tmp / "mt5.sqlite3"),
            SANDBOX_MT5_SIMULATE="0",
            SANDBOX_PSP_URL=f"http://127.0.0.1:{self.psp_port}",
        )
        self.logs = self.tmp / "logs"
        self.logs.mkdir()
        self.background_nice = 0

    # --- this process --------------------------------------------------------------------

    def django(self) -> None:
        """Point this process's Django at the throwaway servers and set it up."""
        for key in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "API_RATE_LIMIT"):
            os.environ[key] = self.env[key]
        for key in self.env:  # the sandboxes', so this process's adapters reach them too
            if key.startswith("SANDBOX_"):
                os.environ[key] = self.env[key]
        for key in NOT_INHERITED:
            os.environ.pop(key, None)
        import django

        django.setup()

    # --- one-off commands ----------------------------------------------------------------

    def manage(self, *args: str) -> None:
        with open(self.logs / "manage.log", "ab") as log:
            subprocess.run(  # noqa: S603
                [sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, check=True,
                stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip

    def migrate(self) -> None:
        self.manage("migrate", "--no-input")

    # --- long-running processes ----------------------------------------------------------

    def _spawn(self, name: str, cmd: list[str], *, background: bool = False) -> subprocess.Popen:
        """`background`: a worker, beat, the sealer or the sandboxes, started at
        `background_nice` (as docker-compose.yml gives the first three a smaller CPU share
        than the web)."""
        if background and self.background_nice:
            cmd = ["nice", "-n", str(self.background_nice), *cmd]
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 (closed with the process)
        proc = subprocess.Popen(  # noqa: S603
            cmd, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        proc.log = log
        self.procs[name] = proc
        self.commands[name] = cmd
        return proc

    def supervise(self) -> None:
        """Start again any process that exits by itself, as production's supervisor does
        (`restart: unless-stopped` in docker-compose.yml); `restarts` counts them."""
        import threading

        def watch():
            while self._supervisor is not None:
                for name, proc in list(self.procs.items()):
                    if proc.poll() is not None and self.procs.get(name) is proc:
                        proc.log.close()
                        self.restarts[name] = self.restarts.get(name, 0) + 1
                        self._spawn(name, self.commands[name])
                time.sleep(1)

        self._supervisor = threading.Thread(target=watch, daemon=True)
        self._supervisor.start()

    def start_web(self, workers: int = 2, threads: int = 1, *, access_log: bool = False) -> None:
        """gunicorn; with `access_log`, as the product is served (`brokerage.webserver`) with
        its JSON access lines (each request's id and duration) in `logs/web-access.log`."""
        served = (
            ["-c", "python:brokerage.webserver", "--access-logfile",
             str(self.logs / "web-access.log")]
            if access_log else []
        )  # fmt: skip
        self._spawn(
            "web",
            [str(VENV_BIN / "gunicorn"), "brokerage.wsgi:application", "-b",
             f"127.0.0.1:{self.web_port}", "-w", str(workers), "--threads", str(threads),
             "--keep-alive", "30", "--log-level", "warning", "--timeout", "120", *served],
        )  # fmt: skip
        wait_until(self._web_answers, 60, "gunicorn to answer")

    def _web_answers(self) -> bool:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.web_port, timeout=5)
            conn.request("GET", "/healthz")
            return conn.getresponse().status in (200, 503)
        except OSError:
            return False

    def start_worker(
        self, name: str, queues: list[str], concurrency: int = 2, wait: bool = True
    ) -> subprocess.Popen:
        proc = self._spawn(
            f"worker-{name}",
            [str(VENV_BIN / "celery"), "-A", "brokerage", "worker", "-Q", ",".join(queues),
             "-c", str(concurrency), "-l", "info", "-n", f"{name}@%h", "--without-gossip",
             "--without-mingle"],
            background=True,
        )  # fmt: skip
        if wait:
            self.wait_heartbeat(name)
        return proc

    def wait_heartbeat(self, name: str, timeout: float = 90) -> None:
        import redis

        client = redis.Redis.from_url(self.redis.url(0))
        wait_until(
            lambda: list(client.scan_iter(f"*health:celery:worker:{name}@*")),
            timeout,
            f"worker {name}'s heartbeat",
        )

    def start_beat(self, wait: bool = False) -> None:
        self._spawn(
            "beat",
            [str(VENV_BIN / "celery"), "-A", "brokerage", "beat", "-l", "info",
             "--schedule", str(self.tmp / "beat-schedule")],
            background=True,
        )  # fmt: skip
        if wait:  # its first tick (its schedule read from the database)
            import redis

            client = redis.Redis.from_url(self.redis.url(0))
            wait_until(lambda: list(client.scan_iter("*health:celery:beat")), 90, "beat's tick")

    def start_sandbox(self, *, background: bool = False) -> None:
        """The MT5 and PSP sandboxes; `background`: at `background_nice`, for a load test
        in which they stand for servers that run on other machines."""
        self._spawn("sandbox", [sys.executable, "-m", "sandbox"], background=background)
        wait_until(lambda: port_open(self.mt5_port) and port_open(self.psp_port), 30, "sandbox")

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Signal a process's whole group (a Celery worker's pool children with it)."""
        proc = self.procs.pop(name)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        proc.log.close()

    def close(self) -> None:
        self._supervisor = None
        time.sleep(1.1)
        for name in list(self.procs):
            with contextlib.suppress(Exception):  # tear-down goes on
                self.kill(name, signal.SIGTERM)
        try:
            from django.db import connections

            connections.close_all()
        except Exception:  # noqa: BLE001,S110
            pass
        self.redis.stop()
        with contextlib.suppress(Exception):
            self.pg.stop("immediate")
        if os.environ.get("FAULT_KEEP_LOGS"):
            print(f"logs kept in {self.logs}", file=sys.stderr)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
