"""A full re-screen of the book is split into batches of clients that every compliance worker
claims one at a time (`SELECT … FOR UPDATE SKIP LOCKED`), its progress summed over them; a
batch run twice raises nothing twice and counts once; a claim a dead worker left is taken
over; a job whose task was lost is found by the sweeper."""

from datetime import timedelta

import pytest
from django.utils import timezone

from brokerage.models import AuditEvent
from compliance import audit_events, rescreen
from compliance.models import Alert, BookBatch, ScreeningJob, ScreeningRun
from compliance.rescreen import (
    book_batch_claim,
    book_batches_plan,
    book_batches_work,
    book_rescreen,
    book_rescreen_jobs_stuck,
)
from compliance.tasks import nightly_rescreen_task
from tests.compliance.test_alerts import register, watch_list

pytestmark = pytest.mark.django_db


@pytest.fixture
def book(monkeypatch):
    """A watch list and five clients, two of them listed, in batches of two clients."""
    monkeypatch.setattr(rescreen, "BOOK_BATCH", 2)
    watch_list()
    clients = [
        register("Ivan", "Zlobnikov", "ivan1@test.example"),
        register("Anna", "Karenina", "anna@test.example"),
        register("Pavel", "Orlov", "pavel@test.example"),
        register("Ivan Petrovich", "Zlobnikov", "ivan2@test.example"),
        register("Maria", "Sokolova", "maria@test.example"),
    ]
    job = ScreeningJob.objects.get(pk=nightly_rescreen_task())
    return job, clients


def test_the_book_is_split_into_batches_of_client_ids_and_every_one_is_screened(book):
    job, clients = book
    assert book_batches_plan(job) == 3
    batches = list(job.batches.values_list("low", "high", "size", "status"))
    ids = [c.pk for c in clients]
    assert batches == [
        (ids[0], ids[1], 2, "queued"),
        (ids[2], ids[3], 2, "queued"),
        (ids[4], ids[4], 1, "queued"),
    ]
    assert book_batches_plan(job) == 3  # planned once: the same batches
    assert BookBatch.objects.filter(job=job).count() == 3
    book_rescreen(job_id=job.pk)
    job.refresh_from_db()
    assert (job.status, job.total, job.done, job.hit_clients, job.raised_count) == (
        "done",
        5,
        5,
        2,
        2,
    )
    assert set(Alert.objects.values_list("client_id", flat=True)) == {ids[0], ids[3]}
    event = AuditEvent.objects.get(action=audit_events.BOOK_RESCREENED)
    assert event.evidence["batches"] == 3 and event.evidence["raised"] == 2


def test_two_workers_never_hold_the_same_batch(book):
    job, _clients = book
    book_batches_plan(job)
    first, second, third = (book_batch_claim(job.pk) for _ in range(3))
    assert len({first.pk, second.pk, third.pk}) == 3
    assert book_batch_claim(job.pk) is None  # every batch held
    assert set(BookBatch.objects.values_list("status", flat=True)) == {"running"}


def test_a_claim_left_by_a_dead_worker_is_taken_over_and_counted_once(book):
    job, _clients = book
    book_batches_plan(job)
    lost = book_batch_claim(job.pk)
    assert book_rescreen_jobs_stuck() == []  # a fresh claim is someone's work
    BookBatch.objects.filter(pk=lost.pk).update(
        claimed_at=timezone.now() - rescreen.BATCH_STALE - timedelta(seconds=1)
    )
    ScreeningJob.objects.filter(pk=job.pk).update(created_at=timezone.now() - timedelta(hours=1))
    assert book_rescreen_jobs_stuck() == [job.pk]
    book_batches_work(job_id=job.pk)
    job.refresh_from_db()
    assert (job.status, job.done, job.raised_count) == ("done", 5, 2)
    assert BookBatch.objects.get(pk=lost.pk).attempts == 2


def test_a_batch_run_twice_raises_nothing_twice_and_counts_once(book):
    job, clients = book
    book_batches_plan(job)
    batch = book_batch_claim(job.pk)
    rescreen._batch_run(batch, rescreen.current_snapshots())
    runs = ScreeningRun.objects.count()
    # A second worker that took the claim over as stale finishes it too.
    rescreen._batch_run(batch, rescreen.current_snapshots())
    job.refresh_from_db()
    assert (job.done, job.raised_count) == (2, 1)
    assert Alert.objects.count() == 1  # the pair is remembered
    assert ScreeningRun.objects.count() == runs + 1  # the second screening is on record
    book_batches_work(job_id=job.pk)
    job.refresh_from_db()
    assert (job.status, job.done, job.raised_count) == ("done", 5, 2)


def test_a_job_whose_task_was_lost_is_queued_again_by_the_sweeper(book):
    job, _clients = book
    assert book_rescreen_jobs_stuck() == []  # queued a moment ago: its task is on its way
    ScreeningJob.objects.filter(pk=job.pk).update(created_at=timezone.now() - timedelta(hours=1))
    assert book_rescreen_jobs_stuck() == [job.pk]
    book_rescreen(job_id=job.pk)
    assert book_rescreen_jobs_stuck() == []
