"""What people and rules do to AML alerts and scenario versions: every change here, atomic,
audited in its transaction.

Contract:
- `alert_move_to_case` (a case takes the alert: open -> in_case) and `alert_close` (open or
  in_case -> closed, with a reason) are what compliance's cases call; the alert keeps its
  evidence and history.
- Scenario versions: `version_draft` (a new draft from the live one or from given values,
  validated), `version_update` (a draft only), `version_publish` (the draft goes live, the live
  one retires, under the scenario's lock), `version_discard` (a draft only). A live or retired
  version never changes.
- Backtests: `version_backtest_request` queues a draft's backtest (`BacktestJob`) and
  `backtest_job_run` runs it on the compliance queue, its progress and result on the job.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from brokerage.errors import InvalidInput
from brokerage.permissions import actor_require
from brokerage.services import Actor, audit_record

from . import audit_events
from .catalogue import clean_params, clean_scores
from .models import (
    Alert,
    AlertStatus,
    BacktestJob,
    JobStatus,
    Scenario,
    ScenarioVersion,
    VersionStatus,
)
from .record import MONITORING_ACTOR

MANAGE_ALERTS = "clients.manage_aml_case"
MANAGE_SCENARIOS = "aml.manage_scenarios"
# The actor when a case takes an alert without naming who (the case service audits its own).
CASE_ACTOR = "rule:aml_case"


def _reason(reason: str) -> str:
    reason = " ".join((reason or "").split())[:2000]
    if not reason:
        raise InvalidInput(
            "Say why.", code="reason_needed", fields={"reason": ["A reason is needed."]}
        )
    return reason


def closing_entry(alert: Alert, actor: Actor) -> dict:
    """One closing as the alert's history keeps it (`Alert.closings`): reopened_at is set when
    more evidence reopens the alert."""
    person = not isinstance(actor, str)
    return {
        "closed_at": alert.closed_at.isoformat(),
        "closed_by_id": actor.pk if person else None,
        "closed_by": actor.email if person else actor,  # as the audit event labels them
        "reason": alert.closed_reason,
        "reopened_at": None,
    }


def _lock_alert(alert: Alert) -> Alert:
    return Alert.objects.select_for_update().get(pk=alert.pk)


@transaction.atomic
def alert_move_to_case(*, alert: Alert, actor: Actor, case=None) -> Alert:
    actor_require(actor, MANAGE_ALERTS, "Only compliance officers work AML alerts.")
    locked = _lock_alert(alert)
    if locked.status == AlertStatus.CLOSED:
        raise InvalidInput("This alert is closed.", code="alert_closed")
    if locked.status == AlertStatus.IN_CASE:
        return locked
    locked.status = AlertStatus.IN_CASE
    locked.save(update_fields=["status"])
    audit_record(
        actor=actor,
        action=audit_events.ALERT_MOVED_TO_CASE,
        target=locked,
        subject=locked.client,
        evidence={"case": getattr(case, "pk", None), "scenario": locked.scenario.code},
    )
    alert.status = locked.status
    return locked


@transaction.atomic
def alert_close(*, alert: Alert, reason: str, actor: Actor) -> Alert:
    actor_require(actor, MANAGE_ALERTS, "Only compliance officers close AML alerts.")
    reason = _reason(reason)
    locked = _lock_alert(alert)
    if locked.status == AlertStatus.CLOSED:
        raise InvalidInput("This alert is already closed.", code="alert_closed")
    locked.status = AlertStatus.CLOSED
    locked.closed_reason = reason
    locked.closed_at = timezone.now()
    locked.closed_by = actor if not isinstance(actor, str) else None
    locked.closings = [*locked.closings, closing_entry(locked, actor)]
    locked.save(update_fields=["status", "closed_reason", "closed_at", "closed_by", "closings"])
    audit_record(
        actor=actor,
        action=audit_events.ALERT_CLOSED,
        target=locked,
        subject=locked.client,
        reason=reason,
        evidence={"scenario": locked.scenario.code, "score": locked.score},
    )
    alert.status, alert.closed_reason = locked.status, reason
    return locked


# --- Scenario versions ------------------------------------------------------------------------


def _lock_scenario(scenario: Scenario) -> Scenario:
    return Scenario.objects.select_for_update().get(pk=scenario.pk)


@transaction.atomic
def version_draft(
    *, scenario: Scenario, actor: Actor, params=None, alert_score=None, hold_score="", note=""
) -> ScenarioVersion:
    """A new draft: the given values, or a copy of the live version's."""
    actor_require(actor, MANAGE_SCENARIOS, "Only compliance officers change AML scenarios.")
    scenario = _lock_scenario(scenario)
    live = scenario.versions.filter(status=VersionStatus.LIVE).first()
    if params is None:
        params = dict(live.params) if live else {}
    if alert_score is None:
        alert_score = live.alert_score if live else 50
        hold_score = live.hold_score if live else 80
    params = clean_params(scenario.code, params)
    alert_score, hold_score = clean_scores(alert_score, hold_score)
    number = (scenario.versions.aggregate(n=Max("number"))["n"] or 0) + 1
    version = ScenarioVersion.objects.create(
        scenario=scenario,
        number=number,
        params=params,
        alert_score=alert_score,
        hold_score=hold_score,
        note=" ".join((note or "").split())[:2000],
        created_by=None if isinstance(actor, str) else actor,
    )
    audit_record(
        actor=actor,
        action=audit_events.VERSION_DRAFTED,
        target=version,
        reason=version.note,
        evidence=_version_evidence(version),
    )
    return version


def _version_evidence(version: ScenarioVersion) -> dict:
    return {
        "scenario": version.scenario.code,
        "number": version.number,
        "params": version.params,
        "alert_score": version.alert_score,
        "hold_score": version.hold_score,
    }


def _lock_draft(version: ScenarioVersion) -> ScenarioVersion:
    _lock_scenario(version.scenario)
    locked = (
        ScenarioVersion.objects.select_for_update().select_related("scenario").get(pk=version.pk)
    )
    if locked.status != VersionStatus.DRAFT:
        raise InvalidInput(
            f"Version {locked.number} is {locked.get_status_display().lower()}: it never "
            "changes; draft a new version instead.",
            code="version_not_draft",
        )
    return locked


@transaction.atomic
def version_update(
    *, version: ScenarioVersion, actor: Actor, params, alert_score, hold_score, note=""
) -> ScenarioVersion:
    actor_require(actor, MANAGE_SCENARIOS, "Only compliance officers change AML scenarios.")
    version = _lock_draft(version)
    version.params = clean_params(version.scenario.code, params)
    version.alert_score, version.hold_score = clean_scores(alert_score, hold_score)
    version.note = " ".join((note or "").split())[:2000]
    version.save(update_fields=["params", "alert_score", "hold_score", "note"])
    audit_record(
        actor=actor,
        action=audit_events.VERSION_CHANGED,
        target=version,
        reason=version.note,
        evidence=_version_evidence(version),
    )
    return version


@transaction.atomic
def version_publish(*, version: ScenarioVersion, actor: Actor, reason: str) -> ScenarioVersion:
    """The draft goes live; the live version retires. New hits are judged by the new version;
    open alerts keep the version they were raised under."""
    actor_require(actor, MANAGE_SCENARIOS, "Only compliance officers publish AML scenarios.")
    reason = _reason(reason)
    version = _lock_draft(version)
    now = timezone.now()
    retired = list(
        ScenarioVersion.objects.select_for_update().filter(
            scenario=version.scenario, status=VersionStatus.LIVE
        )
    )
    for old in retired:
        old.status, old.retired_at = VersionStatus.RETIRED, now
        old.save(update_fields=["status", "retired_at"])
    version.status = VersionStatus.LIVE
    version.published_at = now
    version.published_by = None if isinstance(actor, str) else actor
    version.save(update_fields=["status", "published_at", "published_by"])
    audit_record(
        actor=actor,
        action=audit_events.VERSION_PUBLISHED,
        target=version,
        reason=reason,
        evidence={**_version_evidence(version), "retired": [v.number for v in retired]},
    )
    return version


@transaction.atomic
def version_discard(*, version: ScenarioVersion, actor: Actor, reason: str = "") -> None:
    actor_require(actor, MANAGE_SCENARIOS, "Only compliance officers change AML scenarios.")
    version = _lock_draft(version)
    audit_record(
        actor=actor,
        action=audit_events.VERSION_DISCARDED,
        target=version,
        reason=" ".join((reason or "").split())[:2000],
        evidence=_version_evidence(version),
    )
    version.delete()


# --- Backtests in the background --------------------------------------------------------------

# A backtest running longer than its task may (a worker that died) is run again by the sweeper.
BACKTEST_STALE_AFTER = timedelta(minutes=35)


@transaction.atomic
def version_backtest_request(*, version: ScenarioVersion, actor: Actor, days) -> BacktestJob:
    """Ask for a draft's backtest over the last `days` days: a `BacktestJob` queued on the
    compliance queue once this commits (`backtest_job_run`), audited. While one of the same
    draft over the same days is still queued or running, that one is returned: asking twice
    does not run it twice."""
    from .nightly import backtest_days

    actor_require(actor, MANAGE_SCENARIOS, "Only compliance officers backtest AML scenarios.")
    days = backtest_days(days)
    version = _lock_draft(version)
    running = BacktestJob.objects.filter(
        version=version, days=days, status__in=(JobStatus.QUEUED, JobStatus.RUNNING)
    ).first()
    if running is not None:
        return running
    job = BacktestJob.objects.create(
        version=version,
        scenario=version.scenario,
        version_number=version.number,
        days=days,
        requested_by=None if isinstance(actor, str) else actor,
        actor_label=actor if isinstance(actor, str) else actor.email,
    )
    audit_record(
        actor=actor,
        action=audit_events.VERSION_BACKTEST_REQUESTED,
        target=version,
        evidence={"job": job.pk, "scenario": version.scenario.code, "days": days},
    )
    transaction.on_commit(lambda: _backtest_queue(job.pk), robust=True)
    return job


def _backtest_queue(job_id: int) -> None:
    from .tasks import backtest_task

    backtest_task.delay(job_id)


def _job_actor(job: BacktestJob) -> Actor:
    return job.requested_by or job.actor_label or MONITORING_ACTOR


def backtest_job_run(*, job_id: int) -> BacktestJob | None:
    """Run a queued backtest (the compliance queue's task): claimed once (a job done or
    failed, or running and not stale, is left alone), its progress kept night by night, its
    result kept on the job and audited with who asked. A failure is kept on the job with
    what stopped it, and audited."""
    from .nightly import backtest

    now = timezone.now()
    with transaction.atomic():
        job = (
            BacktestJob.objects.select_for_update(of=("self",))
            .select_related("version__scenario", "requested_by")
            .filter(pk=job_id)
            .first()
        )
        if job is None or job.status in (JobStatus.DONE, JobStatus.FAILED):
            return job
        stale = now - BACKTEST_STALE_AFTER
        if job.status == JobStatus.RUNNING and job.started_at and job.started_at > stale:
            return job
        if job.version is None:  # the draft was discarded before the job ran
            return _backtest_failed(job, "The draft was discarded before the backtest ran.")
        job.status, job.started_at, job.done = JobStatus.RUNNING, now, 0
        job.save(update_fields=["status", "started_at", "done"])

    def progress(done: int, total: int) -> None:
        BacktestJob.objects.filter(pk=job.pk).update(done=done, total=total)

    try:
        result = backtest(job.version, days=job.days, progress=progress)
    except Exception as exc:
        _backtest_failed(job, f"Stopped: {exc.__class__.__name__}. Ask for the backtest again.")
        raise
    with transaction.atomic():
        BacktestJob.objects.filter(pk=job.pk).update(
            status=JobStatus.DONE, result=result, finished_at=timezone.now()
        )
        audit_record(
            actor=_job_actor(job),
            action=audit_events.VERSION_BACKTESTED,
            target=job.version,
            evidence={
                "job": job.pk,
                "days": result["days"],
                "alerts": result["version"]["alerts"],
                "holds": result["version"]["holds"],
                "live_alerts": (result["live"] or {}).get("alerts"),
                "seconds": result["seconds"],
            },
        )
    job.refresh_from_db()
    return job


def _backtest_failed(job: BacktestJob, message: str) -> BacktestJob:
    with transaction.atomic():
        BacktestJob.objects.filter(pk=job.pk).update(
            status=JobStatus.FAILED, message=message[:300], finished_at=timezone.now()
        )
        audit_record(
            actor=_job_actor(job),
            action=audit_events.VERSION_BACKTEST_FAILED,
            target=job,
            reason=message,
            evidence={
                "job": job.pk,
                "scenario": job.scenario_id,
                "version": job.version_number,
                "days": job.days,
            },
        )
    job.refresh_from_db()
    return job


def backtest_jobs_stuck() -> list[int]:
    """Backtests queued over a minute ago and never started (a lost task), or running longer
    than a task may (a worker that died)."""
    now = timezone.now()
    return list(
        BacktestJob.objects.filter(
            Q(status=JobStatus.QUEUED, requested_at__lt=now - timedelta(minutes=1))
            | Q(status=JobStatus.RUNNING, started_at__lt=now - BACKTEST_STALE_AFTER)
        ).values_list("pk", flat=True)[:50]
    )
