"""The lists' candidate index is read ahead of the screenings that need it: by the worker that
imports a list, once it is in; by each compliance worker process at its start (and every
`INDEX_WARM_SECONDS` after) and before each screening task it runs, when the lists changed
since it read them; so the screening of a new registration finds it in memory."""

from types import SimpleNamespace

import pytest
from celery import current_app
from django.db import connection
from django.test.utils import CaptureQueriesContext

from compliance import candidates, tasks
from compliance.candidates import index_key
from compliance.imports import list_import_queue, list_import_run
from compliance.matching import Query
from compliance.screening import current_snapshots, screen
from tests.compliance.test_alerts import WATCH_CSV, watch_list
from tests.conftest import make_user

from .test_lists import EU_SAMPLE

pytestmark = pytest.mark.django_db


@pytest.fixture
def none_held(monkeypatch):
    monkeypatch.setattr(candidates, "_index", None)


def held() -> bool:
    index = candidates._index
    return index is not None and index.key == index_key(current_snapshots())


def reads_no_index(name: str) -> list:
    with CaptureQueriesContext(connection) as queries:
        hits = screen([Query(name, kind="person")])[0]
    assert not any("compliance_nametoken" in q["sql"] for q in queries.captured_queries)
    return hits


def test_the_worker_that_imports_a_list_reads_its_index_for_the_screenings_after(none_held):
    job = list_import_queue(
        fmt="eu", files=[("eu.xml", EU_SAMPLE)], actor=make_user("compliance_officer")
    )
    assert not held()
    list_import_run(job_id=job.pk)
    assert held()
    reads_no_index("Somebody Else")


def task(name: str, *, eager: bool = False):
    return SimpleNamespace(name=name, request=SimpleNamespace(is_eager=eager))


def test_a_worker_process_reads_the_new_lists_index_before_its_next_screening_task(none_held):
    watch_list()
    tasks.index_warm_before_task(task=task("compliance.tasks.client_screen_task", eager=True))
    tasks.index_warm_before_task(task=task("leads.tasks.lead_route_task"))
    assert not held()  # run inline, or not a screening task: nothing read ahead
    tasks.index_warm_before_task(task=task("compliance.tasks.client_screen_task"))
    assert held()
    first = candidates._index
    tasks.index_warm_before_task(task=task("compliance.tasks.client_screen_task"))
    assert candidates._index is first  # read once per set of current lists
    watch_list(WATCH_CSV + "W-3,Olga Mirskaya,,1981-06-02,RU,Sanctions evasion,\n")
    tasks.index_warm_before_task(task=task("compliance.tasks.book_rescreen_task"))
    assert held() and candidates._index is not first
    assert [h.entry_id for h in reads_no_index("Olga Mirskaya")] == ["W-3"]


@pytest.mark.parametrize("queues, started", [(["compliance"], 1), (["sync", "kyc"], 0)])
def test_a_compliance_worker_process_keeps_the_index_read_from_its_start(
    monkeypatch, queues, started
):
    threads = []

    class Thread:
        def __init__(self, *, target, name, daemon):
            threads.append((target, daemon))

        def start(self):
            pass

    monkeypatch.setattr(tasks.threading, "Thread", Thread)
    monkeypatch.setattr(
        current_app.amqp.queues, "_consume_from", {q: object() for q in queues}, raising=False
    )
    tasks.index_kept_warm()
    assert threads == [(tasks._keep_warm, True)] * started
