"""The demo serves like a real install: with DJANGO_DEBUG unset, over real HTTP, errors are the
product's pages (never Django's debug page with the settings) and JSON under /api/v1/."""

import json
import re

import pytest
import requests
from django.test import Client, override_settings
from django.urls import path

from brokerage.services import api_key_create

DEBUG_PAGE_MARKERS = ("DEBUG = True", "DATABASE_URL", "Traceback", "SECRET_KEY", "settings")


def assert_no_debug_page(response):
    for marker in DEBUG_PAGE_MARKERS:
        assert marker not in response.text, marker


def assert_api_error(response, status, code=None):
    assert response.status_code == status, response.content
    headers = getattr(response, "headers", None) or response
    assert headers["Content-Type"].startswith("application/json"), response.text
    body = json.loads(response.content)
    assert set(body) == {"error", "detail", "fields"}, body
    assert body["detail"]
    if code:
        assert body["error"] == code, body
    return body


def test_anonymous_404_is_the_product_page(served):
    response = requests.get(served.url("/no/such/page"))
    assert response.status_code == 404
    assert "data-error-detail" in response.text
    assert "There is nothing at this address." in response.text
    assert_no_debug_page(response)


def test_static_files_are_served_under_their_hashed_names(served):
    page = requests.get(served.url("/accounts/login/"))
    assert page.status_code == 200
    css = re.search(r'href="(/static/vendor/bootstrap[^"]+\.[0-9a-f]{12}\.css)"', page.text)
    assert css, "the login page does not link the hashed stylesheet"
    served_css = requests.get(served.url(css.group(1)))
    assert served_css.status_code == 200
    assert "immutable" in served_css.headers["Cache-Control"]


def login_form(served):
    session = requests.Session()
    page = session.get(served.url("/accounts/login/"))
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    return session, token


def test_nul_in_login_next_is_a_clear_400(served):
    response = requests.get(served.url("/accounts/login/?next=/portal/%00"))
    assert response.status_code == 400
    assert "NUL" in response.text
    assert_no_debug_page(response)
    session, token = login_form(served)
    response = session.post(
        served.url("/accounts/login/"),
        data={
            "csrfmiddlewaretoken": token,
            "login": "nobody@demo.test",
            "password": "x\x00y",
            "next": "/portal/\x00",
        },
        headers={"Referer": served.url("/accounts/login/")},
    )
    assert response.status_code == 400
    assert "NUL" in response.text
    assert_no_debug_page(response)


def test_nul_in_a_multipart_form_is_a_clear_400(served):
    session, token = login_form(served)
    response = session.post(
        served.url("/accounts/login/"),
        files={"login": (None, "a\x00@demo.test"), "csrfmiddlewaretoken": (None, token)},
        headers={"Referer": served.url("/accounts/login/")},
    )
    assert response.status_code == 400
    assert_no_debug_page(response)


def test_form_without_csrf_token_explains_itself(served):
    response = requests.post(served.url("/accounts/login/"), data={"login": "a@b.c"})
    assert response.status_code == 403
    assert "data-error-detail" in response.text
    assert "Reload the page" in response.text
    assert_no_debug_page(response)


def test_api_unknown_path_is_json(served):
    assert_api_error(requests.get(served.url("/api/v1/no-such-thing")), 404, "not_found")


def test_api_wrong_method_is_json(served):
    body = assert_api_error(requests.delete(served.url("/api/v1/whoami")), 405)
    assert body["error"] == "method_not_allowed"
    assert "GET" in body["detail"]


@pytest.mark.django_db(transaction=True)  # the key is committed: the server reads it
def test_api_bad_bodies_are_json(served):
    key = api_key_create(actor="test", name="Landing page", scopes=["leads:write"])[1]
    headers = {"X-API-Key": key, "Content-Type": "application/json"}
    url = served.url("/api/v1/leads/")
    for body in (b"{not json", b'{"email": "\xff\xfe"}', b'{"email": "a\\u0000@b.c"}', b"\x00"):
        response = requests.post(url, data=body, headers=headers)
        assert_api_error(response, 400)
    response = requests.get(served.url("/api/v1/leads/?q=%00"), headers=headers)
    assert_api_error(response, 400, "bad_request")


def boom(request):
    raise RuntimeError("boom")


def database_gone(request):
    """What a view sees while Postgres restarts: psycopg's error, wrapped by Django."""
    import psycopg
    from django.db import OperationalError

    try:
        raise psycopg.OperationalError("connection failed: Connection refused")
    except psycopg.OperationalError as exc:
        raise OperationalError(*exc.args) from exc


def statement_failed(request):
    import psycopg
    from django.db import OperationalError

    try:
        raise psycopg.errors.DeadlockDetected("deadlock detected")
    except psycopg.OperationalError as exc:
        raise OperationalError(*exc.args) from exc


urlpatterns = [
    path("api/v1/boom", boom),
    path("boom", boom),
    path("api/v1/db", database_gone),
    path("db", database_gone),
    path("deadlock", statement_failed),
]
handler500 = "brokerage.views.server_error"


@override_settings(ROOT_URLCONF=__name__, DEBUG=False)
def test_server_errors_are_json_under_the_api_and_the_product_page_elsewhere(db):
    client = Client(raise_request_exception=False)
    assert_api_error(client.get("/api/v1/boom"), 500, "server_error")
    page = client.get("/boom")
    assert page.status_code == 500
    assert "It has been logged." in page.content.decode()
    assert "boom" not in page.content.decode()


def test_api_unexpected_error_inside_the_api_is_json(db, monkeypatch):
    from brokerage import api

    def broken(self, request, key):
        raise RuntimeError("boom")

    monkeypatch.setattr(api.ApiKeyAuth, "authenticate", broken)
    body = assert_api_error(Client().get("/api/v1/whoami"), 500, "server_error")
    assert "boom" not in body["detail"]


@override_settings(ROOT_URLCONF=__name__, DEBUG=False)
def test_a_request_the_database_cannot_serve_is_a_clear_503_to_send_again(db):
    """Postgres restarting or failing over: the request failed cleanly (nothing committed);
    503 with Retry-After and a plain message, JSON under the API, never a 500 or a trace."""
    client = Client(raise_request_exception=False)
    body = assert_api_error(client.get("/api/v1/db"), 503, "database_unavailable")
    assert "try again" in body["detail"]
    page = client.get("/db")
    assert page.status_code == 503 and page["Retry-After"] == "30"
    text = page.content.decode()
    assert "database cannot be reached" in text and "Nothing was saved" in text
    assert "Connection refused" not in text and "Traceback" not in text
    # A statement that failed on a reachable database stays a logged 500.
    assert client.get("/deadlock").status_code == 500
