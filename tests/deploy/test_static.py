"""The production static step works: every vendored asset is complete, `collectstatic` with the
production storage succeeds, and pages then link and serve the hashed files with DEBUG off."""

import json
import re
from pathlib import Path

from django.test import Client, override_settings

from .conftest import ROOT, dockerfile_collectstatic_env

STATIC = ROOT / "static"
SOURCE_MAP = re.compile(rb"[#@] sourceMappingURL=([^\s*]+)")
CSS_URL = re.compile(rb"url\(\s*['\"]?(?!data:|https?:|#)([^'\")?#]+)")


def test_every_reference_inside_a_static_file_resolves():
    """The manifest storage rewrites (and so needs) every file a CSS or JS file points at: a
    source map comment or a font URL to a file that is not vendored breaks the image build."""
    missing = []
    for path in sorted(STATIC.rglob("*")):
        if path.suffix not in (".js", ".css"):
            continue
        data = path.read_bytes()
        targets = SOURCE_MAP.findall(data)
        if path.suffix == ".css":
            targets += CSS_URL.findall(data)
        for target in targets:
            if not (path.parent / target.decode()).resolve().is_file():
                missing.append(f"{path.relative_to(ROOT)} -> {target.decode()}")
    assert not missing, missing


def test_build_runs_collectstatic_with_the_production_storage():
    env = dockerfile_collectstatic_env()
    assert env["DJANGO_SETTINGS_MODULE"] == "brokerage.settings.production"
    from brokerage.settings import base

    assert base.STORAGES["staticfiles"]["BACKEND"] == (
        "whitenoise.storage.CompressedManifestStaticFilesStorage"
    )


def test_collectstatic_then_pages_serve_hashed_files_with_debug_off(collected_static, db):
    manifest = json.loads((collected_static / "staticfiles.json").read_text())["paths"]
    chart = manifest["vendor/chartjs-4.6.1/chart.umd.min.js"]
    assert chart != "vendor/chartjs-4.6.1/chart.umd.min.js"
    assert "vendor/chartjs-4.6.1/chart.umd.min.js.map" in manifest
    production = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }
    with override_settings(DEBUG=False, STATIC_ROOT=collected_static, STORAGES=production):
        client = Client()  # a new handler: whitenoise reads STATIC_ROOT when it starts
        page = client.get("/accounts/login/")
        assert page.status_code == 200
        html = page.content.decode()
        css = manifest["vendor/bootstrap-5.3.9/css/bootstrap.min.css"]
        assert f"/static/{css}" in html
        assert f"/static/{manifest['css/app.css']}" in html
        for name in (css, manifest["vendor/htmx-2.0.11/htmx.min.js"], chart):
            served = client.get(f"/static/{name}", HTTP_ACCEPT_ENCODING="gzip")
            assert served.status_code == 200, name
            assert "immutable" in served["Cache-Control"]
            assert served["Content-Encoding"] == "gzip"
            body = b"".join(served.streaming_content)
            assert len(body) > 1000
        icon = client.get("/favicon.ico")
        assert icon["Location"] == f"/static/{manifest['img/favicon.svg']}"
        missing = client.get("/static/vendor/no-such-file.js")
        assert missing.status_code == 404
        assert "Traceback" not in missing.content.decode()
    assert Path(collected_static / chart).is_file()
