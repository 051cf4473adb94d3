"""The production settings as served: gunicorn started with the Dockerfile's own command and
`brokerage.settings.production`, behind a proxy that terminates TLS (X-Forwarded-Proto), read
over real HTTP. The headers a browser gets, the cookies, and a host that is not ours."""

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from django.test import override_settings

from tests.conftest import PASSWORD, make_client_user

from .conftest import ROOT, free_port

HOST = "backoffice.example.com"
HTTPS = {"Host": HOST, "X-Forwarded-Proto": "https"}
SOFTWARE = re.compile(r"gunicorn|django|python|whitenoise|werkzeug|nginx", re.IGNORECASE)


def dockerfile_command() -> list[str]:
    """The image's CMD, as JSON in the Dockerfile."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    return json.loads(re.search(r"^CMD (\[.*\])", text, re.MULTILINE).group(1))


def serve_as_the_image(command: list[str], port: int) -> list[str]:
    """The CMD with our free port and two workers (the machine is shared)."""
    out, skip = [], False
    for i, arg in enumerate(command):
        if skip:
            skip = False
            continue
        if arg in ("--bind", "--workers"):
            out += [arg, f"127.0.0.1:{port}" if arg == "--bind" else "2"]
            skip = True
            continue
        out.append(str(Path(sys.executable).with_name("gunicorn")) if i == 0 else arg)
    return out


@pytest.fixture(scope="module")
def production(django_db_setup, collected_static, tmp_path_factory):
    from django.db import connection

    db = connection.settings_dict
    port = free_port()
    logs = tmp_path_factory.mktemp("production")
    keep = ("PATH", "HOME", "LANG", "REDIS_URL", "METRICS_DIR")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update(
        DJANGO_SETTINGS_MODULE="brokerage.settings.production",
        DJANGO_SECRET_KEY="prod-like-" + "k9$x7Qz!" * 8,
        DJANGO_ALLOWED_HOSTS=HOST,
        DATABASE_URL=f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        STATIC_ROOT=str(collected_static),
        PRIVATE_MEDIA_ROOT=str(logs / "private"),
        PYTHONUNBUFFERED="1",
    )
    command = serve_as_the_image(dockerfile_command(), port)
    assert "brokerage.wsgi:application" in command
    output = (logs / "gunicorn.log").open("wb")
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                requests.get(f"{base}/healthz", timeout=60)
                break
            except requests.ConnectionError:
                assert process.poll() is None, (logs / "gunicorn.log").read_text()[-3000:]
                time.sleep(0.25)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        output.close()


def cookie_attributes(response, name: str) -> set[str]:
    """The attributes of the Set-Cookie header that sets `name`, lower-cased."""
    for header in response.raw.headers.getlist("Set-Cookie"):
        if header.startswith(f"{name}="):
            return {part.strip().lower() for part in header.split(";")[1:]}
    raise AssertionError(f"{name} not set: {response.raw.headers.getlist('Set-Cookie')}")


def assert_no_software_named(response):
    assert "Server" not in response.headers, response.headers.get("Server")
    assert "X-Powered-By" not in response.headers
    for name, value in response.headers.items():
        assert not SOFTWARE.search(value), (name, value)


def test_a_page_carries_the_security_headers(production):
    page = requests.get(f"{production}/accounts/login/", headers=HTTPS)
    assert page.status_code == 200
    h = page.headers
    assert h["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert h["X-Content-Type-Options"] == "nosniff"
    assert h["Referrer-Policy"] == "same-origin"
    assert h["X-Frame-Options"] == "DENY"
    assert h["Cross-Origin-Opener-Policy"] == "same-origin"
    csp = {
        d.split()[0]: d.split()[1:] for d in h["Content-Security-Policy"].split(";") if d.strip()
    }
    assert csp["default-src"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"] and csp["object-src"] == ["'none'"]
    assert "'unsafe-inline'" not in csp["script-src"] and "'unsafe-eval'" not in csp["script-src"]
    assert re.fullmatch(r"[0-9a-f]{32}", h["X-Request-ID"])
    assert_no_software_named(page)
    assert {"secure", "samesite=lax"} <= cookie_attributes(page, "csrftoken")


@pytest.mark.django_db(transaction=True)
def test_signing_in_sets_a_secure_http_only_session_cookie(production):
    user = make_client_user(email="prod-served@test.example")
    # hashed as production hashes (the test settings' fast MD5 hasher is not one it accepts)
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.PBKDF2PasswordHasher"]):
        user.set_password(PASSWORD)
        user.save(update_fields=["password"])
    page = requests.get(f"{production}/accounts/login/", headers=HTTPS)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    # The cookie is Secure: a browser sends it only over HTTPS, which the proxy in front ends;
    # here it travels by hand.
    signed_in = requests.post(
        f"{production}/accounts/login/",
        data={
            "csrfmiddlewaretoken": token,
            "login": "prod-served@test.example",
            "password": PASSWORD,
        },
        headers={**HTTPS, "Referer": f"https://{HOST}/accounts/login/"},
        cookies={"csrftoken": page.cookies["csrftoken"]},
        allow_redirects=False,
    )
    assert signed_in.status_code == 302, signed_in.text[-2000:]
    attributes = cookie_attributes(signed_in, "sessionid")
    assert {"secure", "httponly", "samesite=lax"} <= attributes
    assert_no_software_named(signed_in)


def test_a_host_that_is_not_ours_is_refused(production):
    for host in ("evil.example", "backoffice.example.com.evil.example", "127.0.0.1"):
        refused = requests.get(
            f"{production}/accounts/login/", headers={"Host": host, "X-Forwarded-Proto": "https"}
        )
        assert refused.status_code == 400, (host, refused.status_code)
        assert_no_software_named(refused)
        assert not SOFTWARE.search(refused.text)
        assert "DisallowedHost" not in refused.text and "ALLOWED_HOSTS" not in refused.text
        assert "This site does not answer to that host name." in refused.text


def test_plain_http_is_sent_to_https(production):
    plain = requests.get(f"{production}/portal/", headers={"Host": HOST}, allow_redirects=False)
    assert plain.status_code == 301
    assert plain.headers["Location"] == f"https://{HOST}/portal/"
    assert_no_software_named(plain)


def test_error_pages_name_no_software(production):
    missing = requests.get(f"{production}/no/such/page", headers=HTTPS)
    assert missing.status_code == 404 and "There is nothing at this address." in missing.text
    assert not SOFTWARE.search(missing.text)
    assert_no_software_named(missing)
    api = requests.get(f"{production}/api/v1/no-such-endpoint", headers=HTTPS)
    assert api.status_code == 404 and api.json()["error"] == "not_found"
    assert_no_software_named(api)


def test_health_answers_probes_by_address_over_plain_http(production):
    probe = requests.get(f"{production}/healthz")  # Host: 127.0.0.1:port, no TLS
    assert probe.status_code in (200, 503) and "database" in probe.json()
    assert_no_software_named(probe)
