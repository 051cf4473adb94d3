"""A draft's backtest runs in the background on the compliance queue: asked for once (asking
again while it runs returns the same job), its progress kept night by night, its result and
who asked kept on the job, every step audited; a failure is kept and audited; a real worker
runs it end to end."""

import pytest

from brokerage.errors import InvalidInput, NotAllowed
from brokerage.models import AuditEvent
from compliance.monitoring import audit_events
from compliance.monitoring import nightly as nightly_module
from compliance.monitoring.models import Alert, BacktestJob, JobStatus, Scenario
from compliance.monitoring.services import (
    backtest_job_run,
    backtest_jobs_stuck,
    version_backtest_request,
    version_discard,
    version_draft,
)
from tests.conftest import make_staff, shipped_defaults, wait_for

from . import factories as f


def _book():
    officer = make_staff("compliance_officer")
    two, three = f.structuring_book()
    draft = version_draft(
        scenario=Scenario.objects.get(code="structuring"), actor=officer, params={"min_count": 2}
    )
    return officer, draft, two, three


@pytest.mark.django_db
def test_a_backtest_is_queued_run_with_progress_and_audited_without_a_worker(
    django_capture_on_commit_callbacks, monkeypatch
):
    officer, draft, two, three = _book()
    queued = []
    monkeypatch.setattr(
        "compliance.monitoring.tasks.backtest_task.delay", lambda pk: queued.append(pk)
    )
    with django_capture_on_commit_callbacks(execute=True):
        job = version_backtest_request(version=draft, actor=officer, days="10")
    assert queued == [job.pk]
    assert job.status == JobStatus.QUEUED and job.requested_by == officer and job.days == 10
    assert job.version_number == draft.number and job.progress == 0
    again = version_backtest_request(version=draft, actor=officer, days=10)
    assert again.pk == job.pk  # asked twice while queued: one job
    requested = AuditEvent.objects.get(action=audit_events.VERSION_BACKTEST_REQUESTED)
    assert requested.actor_id == officer.pk and requested.evidence["job"] == job.pk

    seen = []
    real = BacktestJob.objects.filter

    def progress_spy(*args, **kwargs):
        rows = real(*args, **kwargs)
        if kwargs.get("pk") == job.pk:
            seen.append(BacktestJob.objects.values_list("status", flat=True).get(pk=job.pk))
        return rows

    monkeypatch.setattr(BacktestJob.objects, "filter", progress_spy)
    done = backtest_job_run(job_id=job.pk)
    monkeypatch.undo()
    assert "running" in seen  # the progress is written while it runs
    assert done.status == JobStatus.DONE and done.progress == 100
    assert done.done == done.total == 20  # 10 nights for the draft, 10 for the live version
    assert done.result["version"]["clients"] == sorted([two.pk, three.pk])
    assert done.result["live"]["clients"] == [three.pk]
    assert done.result["version"]["scores"][str(three.pk)] >= 50
    assert not Alert.objects.exists()  # a backtest writes no alert
    finished = AuditEvent.objects.get(action=audit_events.VERSION_BACKTESTED)
    assert finished.actor_id == officer.pk and finished.evidence["job"] == job.pk
    assert finished.evidence["alerts"] == 2 and finished.evidence["live_alerts"] == 1
    # Run again (a task delivered twice): nothing changes.
    assert backtest_job_run(job_id=job.pk).finished_at == done.finished_at
    assert AuditEvent.objects.filter(action=audit_events.VERSION_BACKTESTED).count() == 1
    # Done, a new request is a new job.
    assert version_backtest_request(version=draft, actor=officer, days=10).pk != job.pk


@pytest.mark.django_db
def test_bad_requests_are_refused_and_failures_are_kept_and_audited(monkeypatch):
    officer, draft, *_ = _book()
    for days in ("x", "0", "91", None):
        with pytest.raises(InvalidInput) as refused:
            version_backtest_request(version=draft, actor=officer, days=days)
        assert "days" in refused.value.fields
    with pytest.raises(NotAllowed):
        version_backtest_request(version=draft, actor=make_staff("sales_agent"), days=10)
    live = draft.scenario.versions.get(status="live")
    with pytest.raises(InvalidInput, match="never changes"):
        version_backtest_request(version=live, actor=officer, days=10)
    assert not BacktestJob.objects.exists()

    job = version_backtest_request(version=draft, actor=officer, days=5)

    def broken(*args, **kwargs):
        raise RuntimeError("statement timeout")

    monkeypatch.setattr(nightly_module, "find", broken)
    with pytest.raises(RuntimeError):
        backtest_job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and "RuntimeError" in job.message
    failed = AuditEvent.objects.get(action=audit_events.VERSION_BACKTEST_FAILED)
    assert failed.actor_id == officer.pk and failed.evidence["job"] == job.pk

    # A draft discarded before its backtest ran: the job fails, saying so; its number stays.
    other = version_backtest_request(version=draft, actor=officer, days=6)
    version_discard(version=draft, actor=officer)
    other = backtest_job_run(job_id=other.pk)
    assert other.status == JobStatus.FAILED and "discarded" in other.message
    assert other.version is None and other.version_number == draft.number


@pytest.mark.django_db
def test_a_lost_backtest_is_found_by_the_sweeper():
    from datetime import timedelta

    from django.utils import timezone

    officer, draft, *_ = _book()
    job = version_backtest_request(version=draft, actor=officer, days=3)
    assert backtest_jobs_stuck() == []
    BacktestJob.objects.filter(pk=job.pk).update(requested_at=timezone.now() - timedelta(minutes=2))
    assert backtest_jobs_stuck() == [job.pk]
    backtest_job_run(job_id=job.pk)
    assert backtest_jobs_stuck() == []


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_the_backtest_an_officer_asked_for(worker):
    shipped_defaults()  # the scenarios' live versions, as a new installation has them
    officer, draft, two, three = _book()
    job = version_backtest_request(version=draft, actor=officer, days=10)
    assert wait_for(
        lambda: BacktestJob.objects.get(pk=job.pk).status in (JobStatus.DONE, JobStatus.FAILED),
        timeout=60,
    )
    job.refresh_from_db()
    assert job.status == JobStatus.DONE, job.message
    assert job.result["version"]["clients"] == sorted([two.pk, three.pk])
    assert job.done == job.total == 20 and job.started_at and job.finished_at
    assert AuditEvent.objects.filter(
        action=audit_events.VERSION_BACKTESTED, actor_id=officer.pk
    ).exists()
