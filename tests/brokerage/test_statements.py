"""Statements compiled once per process (brokerage.statements): each call returns what its
queryset would, binds only its own values, and a builder that freezes a value is caught."""

import threading
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.db.models import Count, F, Q, Window
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from brokerage.models import User
from brokerage.statements import Array, Statement
from clients.models import Client
from tests.conftest import make_client_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def three():
    return [make_client_user(f"s{i}@test.example").client for i in range(3)]


def test_rows_are_the_querysets_own_with_their_related_objects(three):
    statement = Statement(
        lambda v: (
            Client.objects.filter(user__email__startswith=v.prefix)
            .select_related("user")
            .annotate(n=Window(Count("id")))
            .order_by("-pk")[:2]
        )
    )
    expected = list(
        Client.objects.filter(user__email__startswith="s")
        .select_related("user")
        .annotate(n=Window(Count("id")))
        .order_by("-pk")[:2]
    )
    for _ in range(2):  # the first call compiles, the second reuses
        rows = statement(prefix="s")
        assert rows == expected
        assert [r.user.email for r in rows] == [r.user.email for r in expected]
        assert [r.n for r in rows] == [3, 3]
    with CaptureQueriesContext(connection) as q:
        rows = statement(prefix="s1")
    assert [r.user.email for r in rows] == ["s1@test.example"]
    assert len(q.captured_queries) == 1  # the user came with the client


def test_values_lists_arrays_and_first(three):
    ids = [c.pk for c in three]
    emails = Statement(
        lambda v: (
            Client.objects.filter(pk__in=Array(v.ids, "bigint"))
            .order_by("pk")
            .values_list("user__email", flat=True)
        )
    )
    assert emails(ids=ids[:2]) == ["s0@test.example", "s1@test.example"]
    assert emails(ids=[]) == []
    counts = Statement(
        lambda v: (
            User.objects.filter(date_joined__gte=v.since)
            .values("is_staff")
            .annotate(n=Count("id"))
            .order_by("is_staff")
        )
    )
    assert counts(since=timezone.now() - timedelta(hours=1)) == [{"is_staff": False, "n": 3}]
    assert counts(since=timezone.now() + timedelta(hours=1)) == []
    newest = Statement(lambda v: Client.objects.filter(user__email=v.email).order_by("-pk")[:1])
    assert newest.first(email="s2@test.example") == three[2]
    assert newest.first(email="nobody@test.example") is None


def test_every_value_must_be_given_and_no_other():
    statement = Statement(lambda v: Client.objects.filter(pk=v.pk, user_id=F("user_id")))
    with pytest.raises(TypeError, match=r"missing \['pk'\]"):
        statement()
    with pytest.raises(TypeError, match=r"unknown \['other'\]"):
        statement(pk=1, other=2)


def test_a_builder_that_freezes_a_value_is_caught(three):
    # now() computed by the builder would be the first call's now() forever
    # (each call is checked, the first one too)
    frozen = Statement(lambda v: User.objects.filter(date_joined__lte=timezone.now()))
    with pytest.raises(AssertionError, match="not of a fixed shape"):
        frozen()
    # and so would a shape that depends on anything but the bound values
    shapes = iter([Q(is_staff=True), Q(is_active=True)])
    branching = Statement(lambda v: User.objects.filter(next(shapes)))
    with pytest.raises(AssertionError, match="not of a fixed shape"):
        branching()


def test_without_verification_the_compiled_statement_is_reused(three, settings):
    settings.STATEMENTS_VERIFY = False
    built = []

    def build(v):
        built.append(1)
        return Client.objects.filter(pk=v.pk)

    statement = Statement(build)
    assert [statement(pk=c.pk) for c in three] == [[c] for c in three]
    assert built == [1]  # built and compiled once


@pytest.mark.django_db(transaction=True)
def test_each_thread_runs_it_on_its_own_connection():
    first, second = (make_client_user(f"t{i}@test.example").client for i in range(2))
    statement = Statement(lambda v: Client.objects.filter(pk=v.pk).select_related("user"))
    assert statement(pk=first.pk) == [first]  # compiled on this thread's connection
    seen = {}

    def other():
        try:
            seen["rows"] = statement(pk=second.pk)
            seen["connection"] = connections["default"]
        finally:
            connections["default"].close()

    thread = threading.Thread(target=other)
    thread.start()
    thread.join()
    assert [r.user.email for r in seen["rows"]] == ["t1@test.example"]
    assert seen["connection"] is not connections["default"]
    assert statement(pk=first.pk) == [first]
