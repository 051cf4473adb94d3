"""The production build's static step, run once per test session (it stands for the image's
`collectstatic`: there is no container engine on the test machines)."""

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]


def dockerfile_collectstatic_env() -> dict[str, str]:
    """The environment the Dockerfile runs `collectstatic` with: its `ENV` settings module and the
    placeholders of the `RUN` line (settings must import without real services)."""
    text = (ROOT / "Dockerfile").read_text()
    module = re.search(r"DJANGO_SETTINGS_MODULE=(\S+)", text).group(1)
    run = re.search(r"RUN ((?:\w+=\S+\s+\\?\s*)+)python manage.py collectstatic", text)
    assert run, "the Dockerfile no longer runs collectstatic"
    placeholders = dict(re.findall(r"(\w+)=(\S+)", run.group(1)))
    return {"DJANGO_SETTINGS_MODULE": module, **placeholders}


@pytest.fixture(scope="session")
def collected_static(tmp_path_factory) -> Path:
    """`manage.py collectstatic` exactly as the image build runs it, into a temporary folder."""
    root = tmp_path_factory.mktemp("staticfiles")
    keep = ("PATH", "HOME", "LANG")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update(dockerfile_collectstatic_env(), STATIC_ROOT=str(root), PYTHONUNBUFFERED="1")
    result = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (root / "staticfiles.json").exists()
    return root


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def served(django_db_setup, collected_static, tmp_path_factory):
    """The web process as `make up` runs it (gunicorn with the `.ci/gunicorn.conf.py` settings,
    the demo's settings module, DJANGO_DEBUG unset) on the test database, over real HTTP."""
    from django.db import connection

    db = connection.settings_dict
    port = free_port()
    logs = tmp_path_factory.mktemp("log")
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_DEBUG"}
    env.update(
        DJANGO_SETTINGS_MODULE="brokerage.settings.dev",
        DATABASE_URL=f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        STATIC_ROOT=str(collected_static),
        BO_LOG_DIR=str(logs),
        BO_WEB_BIND=f"127.0.0.1:{port}",
    )
    gunicorn = Path(sys.executable).with_name("gunicorn")
    process = subprocess.Popen(
        [str(gunicorn), "-c", str(ROOT / ".ci" / "gunicorn.conf.py"), "brokerage.wsgi:application"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                requests.get(f"{base}/healthz", timeout=60)
                break
            except requests.ConnectionError:
                assert process.poll() is None, process.stdout.read().decode()[-3000:]
                time.sleep(0.25)
        yield Served(base, logs, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class Served:
    def __init__(self, base: str, logs: Path, process):
        self.base, self.logs, self.process = base, logs, process

    def url(self, path: str) -> str:
        return f"{self.base}{path}"
