import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_production_settings_pass_check_deploy():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DEMO_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="brokerage.settings.production",
        DJANGO_SECRET_KEY="k9$" + "x7Qz!" * 12,
        DJANGO_ALLOWED_HOSTS="backoffice.example.com",
        DATABASE_URL="postgres://u:p@db.example.com:5432/brokerage",
        REDIS_URL="redis://cache.example.com:6379/0",
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_refuses_to_start_without_a_secret_key():
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SECRET_KEY"}
    env.update(
        DJANGO_SETTINGS_MODULE="brokerage.settings.production",
        DATABASE_URL="postgres://u:p@h/db",
        REDIS_URL="redis://h/0",
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


def test_env_example_lists_every_variable_the_code_reads():
    code = "\n".join(p.read_text() for p in ROOT.glob("brokerage/settings/*.py"))
    code += "\n".join(p.read_text() for p in ROOT.glob("sandbox/*.py"))
    read = set(re.findall(r'env(?:\.\w+)?\(\s*"([A-Z0-9_]+)"', code))
    read |= set(re.findall(r'environ(?:\.get)?\(\s*"([A-Z0-9_]+)"', code))
    read |= set(re.findall(r'os\.environ\.setdefault\("([A-Z0-9_]+)"', code))
    listed = set(re.findall(r"^#?\s*([A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M))
    assert read <= listed, f"missing from .env.example: {sorted(read - listed)}"
