"""The backup and restore drill: back up a live install, restore it into a new cluster, prove it.

    .venv/bin/python bench/backup_drill.py            # the demo (DEMO_BOOK_CLIENTS book clients)
    .venv/bin/python bench/backup_drill.py --smoke    # a small book, for CI

Everything runs on throwaway services of its own, on free ports, under one temporary folder:
never the Postgres or Redis of `make up` or the tests.

1. A Postgres cluster (initdb) with Redis and the MT5/PSP sandboxes beside it; migrate and seed
   the demo (its KYC documents go to its own documents folder).
2. `manage.py backup` (pg_dump custom format + the documents + a manifest of checksums).
3. A second, new cluster and an empty documents folder; `manage.py restore` into them (it checks
   every table's row count and every document's SHA-256 against the manifest).
4. On the restored install: `ledger_verify`, `audit_verify`, and a smoke test: the pages of
   each audience answer and every KYC document opens, byte for byte, through its page.

Prints one JSON line: the figures of each step and whether each check passed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
PASSWORD = "drill-pass-2026"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pg_bin(name: str) -> str:
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), key=lambda p: p.parts[-3])
    if not found:
        raise SystemExit(f"{name} not found under /usr/lib/postgresql: install postgresql")
    return str(found[-1])


def as_postgres(command: list[str]) -> list[str]:
    """Postgres refuses to run as root: run its binaries as the postgres user then."""
    return ["runuser", "-u", "postgres", "--", *command] if os.getuid() == 0 else command


class Cluster:
    """A throwaway Postgres cluster on its own port, in its own folder."""

    def __init__(self, folder: Path, name: str):
        self.data = folder / f"pg-{name}"
        self.port = free_port()
        self.log = folder / f"pg-{name}.log"

    def start(self) -> Cluster:
        self.data.mkdir(parents=True)
        if os.getuid() == 0:
            shutil.chown(self.data.parent, "postgres")
            shutil.chown(self.data, "postgres")
        subprocess.run(
            as_postgres(
                [pg_bin("initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust"]
                + ["-E", "UTF8", "--locale=C.UTF-8"]
            ),
            check=True,
            capture_output=True,
        )
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.data} -c fsync=off"
        options += " -c synchronous_commit=off -c full_page_writes=off"
        subprocess.run(
            as_postgres(
                [pg_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w"]
                + ["-o", options, "start"]
            ),
            check=True,
            capture_output=True,
        )
        self.psql("CREATE ROLE brokerage LOGIN SUPERUSER PASSWORD 'brokerage'")
        self.psql("CREATE DATABASE brokerage OWNER brokerage")
        return self

    def psql(self, sql: str) -> None:
        subprocess.run(
            [pg_bin("psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres"]
            + ["-d", "postgres", "-v", "ON_ERROR_STOP=1", "-q", "-c", sql],
            check=True,
            capture_output=True,
        )

    @property
    def url(self) -> str:
        return f"postgres://brokerage:brokerage@127.0.0.1:{self.port}/brokerage"

    def stop(self) -> None:
        subprocess.run(
            as_postgres([pg_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"]),
            capture_output=True,
        )


def background(command: list[str], env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT
    )


def wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise SystemExit(f"nothing listens on port {port} after {timeout} s")


def manage(env: dict, *args: str, log: Path) -> float:
    """Runs `manage.py args` (its output appended to `log`); the seconds it took."""
    started = time.perf_counter()
    with log.open("a") as out:
        out.write(f"\n$ manage.py {' '.join(args)}\n")
        out.flush()
        result = subprocess.run(
            [PY, "manage.py", *args], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    if result.returncode != 0:
        tail = log.read_text()[-3000:]
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{tail}")
    return round(time.perf_counter() - started, 1)


def install_env(cluster: Cluster, documents: Path, redis_port: int, folder: Path, **more) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DEMO_", "PT_"))}
    for key in ("DATABASE_URL", "DATABASE_REPLICA_URL", "REDIS_URL", "CELERY_BROKER_URL"):
        env.pop(key, None)  # the shared services': never the drill's
    env.update(
        DJANGO_SETTINGS_MODULE="brokerage.settings.dev",
        DATABASE_URL=cluster.url,
        REDIS_URL=f"redis://127.0.0.1:{redis_port}/0",
        PRIVATE_MEDIA_ROOT=str(documents),
        METRICS_DIR=str(folder / "metrics"),
        DEMO_PASSWORD=PASSWORD,
        DJANGO_ALLOWED_HOSTS="testserver,127.0.0.1,localhost",
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
        **more,
    )
    return env


def drill(book: int, keep: bool) -> dict:
    folder = Path(tempfile.mkdtemp(prefix="backup-drill-"))
    os.chmod(folder, 0o755)  # the postgres user reaches its clusters inside
    log = folder / "drill.log"
    figures: dict = {"book_clients": book}
    with ExitStack() as stack:
        redis_port, mt5_port, psp_port = free_port(), free_port(), free_port()
        redis = background(
            ["redis-server", "--port", str(redis_port), "--save", "", "--appendonly", "no"],
            dict(os.environ),
            folder / "redis.log",
        )
        stack.callback(redis.terminate)
        sandbox_env = {
            **os.environ,
            "SANDBOX_MT5_URL": f"http://127.0.0.1:{mt5_port}",
            "SANDBOX_PSP_URL": f"http://127.0.0.1:{psp_port}",
            "SANDBOX_MT5_STATE": str(folder / "mt5.sqlite3"),
            "SANDBOX_MT5_SIMULATE": "0",
        }
        sandbox = background([PY, "-m", "sandbox"], sandbox_env, folder / "sandbox.log")
        stack.callback(sandbox.terminate)
        source = Cluster(folder, "source").start()
        stack.callback(source.stop)
        wait_port(redis_port)
        wait_port(mt5_port)
        sandboxes = {k: sandbox_env[k] for k in ("SANDBOX_MT5_URL", "SANDBOX_PSP_URL")}
        docs_a, docs_b = folder / "documents-source", folder / "documents-restored"
        env_a = install_env(
            source, docs_a, redis_port, folder, DEMO_BOOK_CLIENTS=str(book), **sandboxes
        )
        figures["migrate_s"] = manage(env_a, "migrate", "--noinput", "-v", "0", log=log)
        figures["seed_s"] = manage(env_a, "seed_demo", log=log)
        manage(env_a, "audit_verify", log=log)  # seals everything committed: the chain is whole

        backup = folder / "backup"
        figures["backup_s"] = manage(env_a, "backup", str(backup), log=log)
        manifest = json.loads((backup / "manifest.json").read_text())
        figures["backup_bytes"] = sum(f["bytes"] for f in manifest["files"].values())
        figures["tables"] = len(manifest["tables"])
        figures["rows"] = sum(manifest["tables"].values())
        figures["documents"] = len(manifest["documents"])
        manage(env_a, "backup", "--check", str(backup), log=log)

        target = Cluster(folder, "restored").start()
        stack.callback(target.stop)
        env_b = install_env(target, docs_b, redis_port, folder, **sandboxes)
        figures["restore_s"] = manage(env_b, "restore", str(backup), log=log)
        # each exits non-zero (and the drill with it) on the first discrepancy it finds
        figures["ledger_verify_s"] = manage(env_b, "ledger_verify", log=log)
        figures["ledger_verified"] = True
        figures["audit_verify_s"] = manage(env_b, "audit_verify", log=log)
        figures["audit_verified"] = True
        smoke = subprocess.run(
            [PY, str(Path(__file__).resolve()), "--smoke-check", str(backup)],
            cwd=ROOT,
            env=env_b,
            capture_output=True,
            text=True,
        )
        with log.open("a") as out:
            out.write(smoke.stdout + smoke.stderr)
        if smoke.returncode != 0:
            raise SystemExit(f"smoke test of the restored install failed:\n{smoke.stderr[-3000:]}")
        figures.update(json.loads(smoke.stdout.strip().splitlines()[-1]))
    if keep:
        figures["folder"] = str(folder)
    else:
        shutil.rmtree(folder, ignore_errors=True)
    return figures


# --- the smoke test, run inside the restored install's settings ------------------------------


def smoke_check(backup: Path) -> dict:
    """Pages of each audience answer and every KYC document opens through its page."""
    import hashlib

    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings
    from django.test import Client
    from django.test.utils import override_settings

    # The pages' data is what is checked, not a production build's static files.
    plain = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    override_settings(STORAGES={**settings.STORAGES, "staticfiles": plain}).enable()
    from django.urls import reverse

    from brokerage.models import User
    from kyc.models import KycDocument
    from tests.conftest import login

    manifest = json.loads((backup / "manifest.json").read_text())
    pages = {
        "anonymous": ["/accounts/login/"],
        "ops_admin@demo.test": ["/backoffice/", "/backoffice/audit/", "/backoffice/system/"],
        "compliance_officer@demo.test": ["/backoffice/"],
        "client@demo.test": ["/portal/"],
        "partner@demo.test": ["/partners/"],
    }
    answered = 0
    for who, urls in pages.items():
        client = Client()
        if who != "anonymous":
            login(client, User.objects.get(email=who))
        for url in urls:
            status = client.get(url).status_code
            if status != 200:
                raise SystemExit(f"{url} as {who} answered {status} on the restored install")
            answered += 1
    officer = Client()
    login(officer, User.objects.get(email="compliance_officer@demo.test"))
    opened = 0
    for document in KycDocument.objects.exclude(file="").order_by("pk"):
        response = officer.get(reverse("kyc_review:document", args=[document.pk]))
        if response.status_code != 200:
            raise SystemExit(f"KYC document {document.pk} answered {response.status_code}")
        body = b"".join(response.streaming_content) if response.streaming else response.content
        if hashlib.sha256(body).hexdigest() != manifest["documents"].get(document.file.name):
            raise SystemExit(f"KYC document {document.pk} differs from the one backed up")
        opened += 1
    if not opened:
        raise SystemExit("the restored install has no KYC document to open")
    return {"pages_answered": answered, "documents_opened": opened}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="a small book (CI)")
    parser.add_argument("--book", type=int, default=None, help="book clients (default: demo's)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--smoke-check", metavar="BACKUP", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.smoke_check:
        print(json.dumps(smoke_check(Path(args.smoke_check))))
        return
    book = args.book if args.book is not None else (24 if args.smoke else 2000)
    started = time.perf_counter()
    figures = drill(book, args.keep)
    figures["drill_s"] = round(time.perf_counter() - started, 1)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
