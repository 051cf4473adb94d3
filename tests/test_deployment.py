"""docker-compose.yml is valid and describes the production services with health checks."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SERVICES = {"postgres", "redis", "migrate", "web", "worker", "beat", "sealer"}


def compose_command() -> list[str]:
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    pytest.fail(
        "Neither `docker compose` nor `docker-compose` is installed (make test installs "
        "Debian's docker-compose)."
    )


def run_config(*args, **env):
    full_env = {
        k: v for k, v in os.environ.items() if k not in ("DJANGO_SECRET_KEY", "POSTGRES_PASSWORD")
    }
    full_env.update(env)
    return subprocess.run(
        [*compose_command(), "-f", str(ROOT / "docker-compose.yml"), "config", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd="/tmp",
    )


def test_compose_file_validates():
    result = run_config(DJANGO_SECRET_KEY="s" * 50, POSTGRES_PASSWORD="pw")
    assert result.returncode == 0, result.stderr
    services = run_config("--services", DJANGO_SECRET_KEY="s" * 50, POSTGRES_PASSWORD="pw")
    assert set(services.stdout.split()) == SERVICES
    text = result.stdout
    assert text.count("healthcheck:") >= 5  # every long-running service
    for volume in ("postgres-data", "redis-data", "private-media"):
        assert volume in text
    assert "gunicorn" in (ROOT / "Dockerfile").read_text()


def test_compose_refuses_to_run_without_secrets():
    result = run_config()
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr or "POSTGRES_PASSWORD" in result.stderr
