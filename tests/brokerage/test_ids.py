"""Every id that comes from outside is bounded: a URL or a query string with a 4,301-digit (or
merely out-of-range) id is a 404 or an ignored filter, never a 500."""

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.converters import StringConverter

from brokerage.ids import MAX_ID, IdConverter, parse_id, parse_ids
from brokerage.services import api_key_create
from tests.conftest import login, make_user

HUGE = "9" * 4301  # past Python's int-from-string limit
OUT_OF_RANGE = [HUGE, str(MAX_ID + 1), "0" * 25 + "1", "0", "٣"]
AUDIENCES = ["ops_admin", "compliance_officer", "finance_officer", "desk_manager", "client"]


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [
        ("1", 1),
        (" 42 ", 42),
        (str(MAX_ID), MAX_ID),
        (str(MAX_ID + 1), None),
        (HUGE, None),
        ("0", None),
        ("-3", None),
        ("+3", None),
        ("3.0", None),
        ("٣", None),  # an Arabic-Indic digit: isdigit() but not an id
        ("", None),
        (None, None),
        (7, 7),
    ],
)
def test_parse_id(raw, parsed):
    assert parse_id(raw) == parsed


def test_parse_ids_keeps_the_ids_and_bounds_the_count():
    assert parse_ids(["1", HUGE, "x", "2", "2"]) == [1, 2, 2]
    assert parse_ids([str(n) for n in range(1, 50)], limit=5) == [1, 2, 3, 4, 5]


def routes(patterns, prefix=""):
    for p in patterns:
        if isinstance(p, URLResolver):
            yield from routes(p.url_patterns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern), p


def id_routes():
    return [
        route
        for route, p in routes(get_resolver().url_patterns)
        if any(isinstance(c, IdConverter) for c in p.pattern.converters.values())
    ]


def test_every_numeric_path_parameter_is_a_bounded_id():
    """`<int:...>` accepts any length of digits; every number in a path is an `<id:...>`."""
    loose = [
        route
        for route, p in routes(get_resolver().url_patterns)
        if any(
            not isinstance(c, IdConverter | StringConverter) for c in p.pattern.converters.values()
        )
    ]
    assert not loose, f"use <id:...> for ids: {loose}"
    assert len(id_routes()) >= 30


@pytest.mark.django_db
@pytest.mark.parametrize("audience", AUDIENCES)
def test_walk_every_id_url_with_ids_out_of_range(client, audience):
    login(client, make_user(audience))
    wrong = []
    for route in id_routes():
        for bad in OUT_OF_RANGE:
            url = "/" + re.sub(r"<id:\w+>", bad, re.sub(r"<str:\w+>", "x", route))
            for method in (client.get, client.post):
                status = method(url).status_code
                if status != 404:
                    wrong.append(f"{method.__name__.upper()} {url[:80]}: {status}")
        # The largest id there can be reaches the view, which finds nothing: never a 500.
        url = "/" + re.sub(r"<id:\w+>", str(MAX_ID), re.sub(r"<str:\w+>", "x", route))
        if (status := client.get(url).status_code) >= 500:
            wrong.append(f"GET {url}: {status}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.django_db
def test_ids_in_query_strings_are_bounded(client):
    login(client, make_user("ops_admin"))
    for bad in OUT_OF_RANGE:
        assert client.get("/backoffice/team/", {"desk": bad}).status_code == 404
        for url in (
            "/backoffice/leads/all/",
            "/backoffice/clients/",
            "/backoffice/clients/all/",
            "/backoffice/finance/transactions/",
        ):
            response = client.get(url, {"desk": bad, "q": bad})
            assert response.status_code in (200, 403), (url, response.status_code)
    login(client, make_user("desk_manager", email="dm@test.example"))
    for bad in OUT_OF_RANGE:
        assert client.get("/backoffice/retention/", {"desk": bad}).status_code == 200
        assert client.get("/backoffice/leads/desk/", {"desk": bad}).status_code == 200
    login(client, make_user("finance_officer", email="fo@test.example"))
    response = client.post("/backoffice/finance/wires/payments/", {"withdrawal": [HUGE, "1"]})
    assert response.status_code < 500


@pytest.mark.django_db
def test_api_ids_out_of_range_are_json_not_500(client):
    key = api_key_create(actor="test", name="Site", scopes=["leads:write", "leads:read_all"])[1]
    for bad in OUT_OF_RANGE[:3]:
        response = client.get(f"/api/v1/leads/{bad}/", HTTP_X_API_KEY=key)
        assert response.status_code in (404, 422), (bad[:30], response.status_code)
        assert response.json()["error"]
