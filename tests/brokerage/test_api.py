import json

import pytest

from brokerage.models import ApiKey, AuditEvent
from brokerage.services import api_key_create, api_key_revoke

pytestmark = pytest.mark.django_db


@pytest.fixture
def key():
    return api_key_create(actor="test", name="Landing page", scopes=["leads:write"])[1]


def test_openapi_schema_and_docs_are_served(client):
    schema = client.get("/api/v1/openapi.json")
    assert schema.status_code == 200
    spec = schema.json()
    assert spec["info"]["title"] == "Brokerage back-office API"
    assert "/api/v1/whoami" in spec["paths"]
    assert any(
        s.get("in") == "header" and s.get("name") == "X-API-Key"
        for s in spec["components"]["securitySchemes"].values()
    )
    docs = client.get("/api/v1/docs")
    assert docs.status_code == 200
    assert b"swagger-ui" in docs.content
    assert b"cdn" not in docs.content.lower()  # assets served by us, CSP 'self'


def test_valid_key_identifies_the_integration(client, key):
    response = client.get("/api/v1/whoami", HTTP_X_API_KEY=key)
    assert response.status_code == 200
    assert response.json() == {"integration": "Landing page", "scopes": ["leads:write"]}
    assert ApiKey.objects.get().last_used_at is not None


def test_key_is_stored_only_as_a_hash(key):
    row = ApiKey.objects.get()
    assert key not in (row.prefix, row.key_hash)
    assert row.key_hash == ApiKey.digest(key)
    assert AuditEvent.objects.filter(action="api_key.created", target_id=str(row.pk)).exists()


@pytest.mark.parametrize(
    ("header", "code"),
    [
        (None, "missing_api_key"),
        ("short", "invalid_api_key"),
        ("bo_" + "x" * 40, "invalid_api_key"),
        ("bo_" + "é" * 10 + "\x00", "invalid_api_key"),
        ("x" * 5000, "invalid_api_key"),
    ],
)
def test_missing_or_malformed_key_is_401_json(client, key, header, code):
    extra = {"HTTP_X_API_KEY": header} if header is not None else {}
    response = client.get("/api/v1/whoami", **extra)
    assert response.status_code == 401
    body = response.json()
    assert body["error"] == code and body["detail"] and body["fields"] == {}


def test_revoked_key_stops_working(client, key):
    api_key_revoke(actor="test", key=ApiKey.objects.get(), reason="leaked")
    assert client.get("/api/v1/whoami", HTTP_X_API_KEY=key).status_code == 401


def test_unknown_api_route_is_404_json(client):
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


@pytest.mark.urls("tests.brokerage.api_urls")
class TestErrorContract:
    def post(self, client, key, body, content_type="application/json"):
        return client.post("/api/probe/things", body, content_type=content_type, HTTP_X_API_KEY=key)

    def test_good_body(self, client, key):
        response = self.post(client, key, {"name": "a", "count": 2})
        assert response.status_code == 200 and response.json() == {"name": "a", "count": 2}

    def test_body_that_is_not_json(self, client, key):
        response = self.post(client, key, "{not json", content_type="application/json")
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_json"

    def test_field_errors_name_each_field(self, client, key):
        response = self.post(client, key, {"count": "many"})
        assert response.status_code == 422
        body = response.json()
        assert body["error"] == "validation_error"
        assert set(body["fields"]) == {"name", "count"}

    def test_domain_error_keeps_its_code(self, client, key):
        response = self.post(client, key, {"name": "taken", "count": 1})
        assert response.status_code == 400
        assert response.json() == {
            "error": "name_taken",
            "detail": "That name is taken.",
            "fields": {"name": ["Taken."]},
        }

    def test_http_error(self, client, key):
        response = self.post(client, key, {"name": "teapot", "count": 1})
        assert response.status_code == 403 and response.json()["error"] == "forbidden"

    def test_unexpected_error_is_json_without_a_trace(self, client, key):
        response = self.post(client, key, {"name": "boom", "count": 1})
        assert response.status_code == 500
        assert response.json()["error"] == "server_error"
        assert b"Traceback" not in response.content

    def test_oversized_body_is_refused_cleanly(self, client, key, settings):
        settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
        response = self.post(client, key, json.dumps({"name": "x" * 5000, "count": 1}))
        assert response.status_code in (400, 413)
        assert response["Content-Type"].startswith("application/json")


# --- @idempotent, on the probe API's desk operations ---------------------------------------


def send(client, key, body, *, idem=None, path="/api/probe/desks", method="post"):
    headers = {"HTTP_X_API_KEY": key}
    if idem is not None:
        headers["HTTP_IDEMPOTENCY_KEY"] = idem
    send = getattr(client, method)
    return send(path, json.dumps(body), content_type="application/json", **headers)


@pytest.mark.urls("tests.brokerage.api_urls")
def test_a_repeated_key_replays_the_first_answer_and_runs_nothing(client, key):
    from brokerage.models import ApiIdempotency, Desk

    first = send(client, key, {"name": "London", "count": 1}, idem="k-1")
    again = send(client, key, {"name": "London", "count": 1}, idem="k-1")
    assert first.status_code == again.status_code == 201
    assert (
        first.json() == again.json() == {"id": first.json()["id"], "name": "London 1", "count": 1}
    )
    assert Desk.objects.count() == 1 and ApiIdempotency.objects.count() == 1
    changed = send(client, key, {"name": "Paris", "count": 7}, idem="k-1")
    assert changed.status_code == 201 and changed.json() == first.json()  # the first answer
    assert Desk.objects.count() == 1
    other = send(client, key, {"name": "Paris", "count": 7}, idem="k-2")
    assert other.json()["name"] == "Paris 2"
    without = [send(client, key, {"name": "Oslo", "count": 1}) for _ in range(2)]
    assert [r.json()["name"] for r in without] == ["Oslo 3", "Oslo 4"]  # no key: runs each time


@pytest.mark.urls("tests.brokerage.api_urls")
def test_each_integration_has_its_own_keys(client, key):
    from brokerage.models import Desk

    other_key = api_key_create(actor="test", name="Affiliate", scopes=[])[1]
    mine = send(client, key, {"name": "London", "count": 1}, idem="same")
    theirs = send(client, other_key, {"name": "Dubai", "count": 2}, idem="same")
    assert mine.json()["name"] == "London 1" and theirs.json()["name"] == "Dubai 2"
    assert Desk.objects.count() == 2


@pytest.mark.urls("tests.brokerage.api_urls")
def test_an_error_is_not_stored_so_the_key_can_be_retried(client, key):
    from brokerage.models import ApiIdempotency

    refused = send(client, key, {"name": "taken", "count": 1}, idem="retry-me")
    assert refused.status_code == 400 and refused.json()["error"] == "name_taken"
    assert not ApiIdempotency.objects.exists()
    fixed = send(client, key, {"name": "Fixed", "count": 1}, idem="retry-me")
    assert fixed.status_code == 201 and fixed.json()["name"] == "Fixed 1"


@pytest.mark.urls("tests.brokerage.api_urls")
def test_a_key_is_short_and_used_for_one_call_only(client, key):
    too_long = send(client, key, {"name": "London", "count": 1}, idem="x" * 101)
    assert too_long.status_code == 400 and "Idempotency-Key" in too_long.json()["fields"]
    created = send(client, key, {"name": "London", "count": 1}, idem="k-1").json()
    renamed = send(
        client,
        key,
        {"name": "Soho", "count": 1},
        idem="k-1",
        path=f"/api/probe/desks/{created['id']}",
        method="put",
    )
    assert renamed.status_code == 422 and renamed.json()["error"] == "idempotency_key_reused"
    plain = send(
        client,
        key,
        {"name": "Soho", "count": 1},
        path=f"/api/probe/desks/{created['id']}",
        method="put",
    )
    assert plain.status_code == 200 and plain.json() == {"id": created["id"], "name": "Soho"}
