"""The production build's static step, run once per test session (it stands for the image's
`collectstatic`: there is no container engine on the test machines)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

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
