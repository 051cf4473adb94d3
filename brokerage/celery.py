"""The Celery app: one queue per department, late acks, time limits, a worker heartbeat.

Tasks subclass `brokerage.celery.Task` (Celery's `DjangoTask`), so `task.delay_on_commit(...)`
enqueues only once the surrounding transaction has committed, and a broker that cannot be
reached then does not fail the request that committed: the failure is logged and the periodic
sweepers find the work from database state. Periodic schedules are declared here, in
one place; django-celery-beat copies them into the database, where ops can tune them in admin.
"""

import functools
import logging
import os

from celery import Celery, bootsteps, signals
from celery.contrib.django.task import DjangoTask
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "brokerage.settings.dev")

log = logging.getLogger(__name__)


class Task(DjangoTask):
    """Enqueued after commit without ever failing the committed request: when the broker
    (Redis) cannot be reached, the task is logged as not queued and a sweeper picks the work
    up from the database (every such path has one; see docs/faults.md)."""

    def delay_on_commit(self, *args, **kwargs) -> None:
        _on_commit(functools.partial(self.delay_logged, *args, **kwargs))

    def apply_async_on_commit(self, *args, **kwargs) -> None:
        _on_commit(functools.partial(self.apply_async_logged, *args, **kwargs))

    def delay_logged(self, *args, **kwargs) -> None:
        self._logged(self.delay, args, kwargs)

    def apply_async_logged(self, *args, **kwargs) -> None:
        self._logged(self.apply_async, args, kwargs)

    def _logged(self, send, args, kwargs) -> None:
        try:
            send(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001  (the broker is down: a sweeper does it later)
            log.error(
                "task %s%r not queued (%s: %s); its sweeper will pick the work up",
                self.name,
                tuple(args),
                exc.__class__.__name__,
                exc,
            )


def _on_commit(callback) -> None:
    from django.db import transaction

    transaction.on_commit(callback)


app = Celery("brokerage", task_cls="brokerage.celery:Task")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

app.conf.beat_schedule = {
    "rollups-refresh": {
        "task": "brokerage.tasks.rollups_refresh_task",
        "schedule": 15.0,  # the figures catch up within seconds if a refresh on commit was lost
    },
    "rollups-rebuild": {
        "task": "brokerage.tasks.rollups_rebuild_task",
        "schedule": crontab(minute=40, hour=2),
    },
    "alerts-check": {
        "task": "brokerage.tasks.alerts_check_task",
        "schedule": 60.0,  # a queue or rate over its team's limit tells the heads within a minute
    },
    "reports-send": {
        "task": "brokerage.tasks.reports_send_task",
        "schedule": 300.0,  # each subscriber's daily or weekly PDF, once per period
    },
    "audit-seal": {
        "task": "brokerage.tasks.audit_seal_task",
        "schedule": 60.0,  # the sealer process seals within a second; this covers it being down
    },
    "audit-chain-verify": {
        "task": "brokerage.tasks.audit_chain_verify_task",
        "schedule": crontab(minute=15, hour=2),
    },
    "leads-route-sweeper": {
        "task": "leads.tasks.lead_route_sweeper_task",
        "schedule": 15.0,  # seconds: no lead waits long if a routing task was lost
    },
    "leads-nurture-send-due": {
        "task": "leads.tasks.nurture_send_due_task",
        "schedule": 60.0,
    },
    "leads-callbacks-remind": {
        "task": "leads.tasks.callbacks_remind_task",
        "schedule": 60.0,  # each agent is emailed once a callback they planned is due
    },
    "kyc-unchecked-sweeper": {
        "task": "kyc.tasks.kyc_unchecked_sweep_task",
        "schedule": 60.0,
    },
    "compliance-never-screened-sweeper": {
        "task": "compliance.tasks.never_screened_sweep_task",
        "schedule": 60.0,  # a client whose screening task was lost is screened within a minute
    },
    "aml-monitoring-nightly": {
        "task": "compliance.monitoring.tasks.nightly_monitoring_task",
        "schedule": crontab(minute=30, hour=1),  # every live scenario over the whole book
    },
    "aml-monitoring-sweeper": {
        "task": "compliance.monitoring.tasks.evaluation_sweep_task",
        "schedule": 300.0,  # a money row whose evaluation task was lost, within minutes
    },
    "aml-backtest-sweeper": {
        "task": "compliance.monitoring.tasks.backtest_sweep_task",
        "schedule": 60.0,  # an officer's backtest whose task was lost runs within a minute
    },
    "compliance-jurisdictions-apply": {
        "task": "compliance.tasks.jurisdiction_apply_task",
        "schedule": 60.0,  # a rule's start or end reaches the clients within a minute
    },
    "compliance-risk-sweep": {
        "task": "compliance.tasks.risk_sweep_task",
        "schedule": crontab(minute=40, hour=1),  # nightly: the whole book rated again
    },
    "compliance-dossier-sweeper": {
        "task": "compliance.tasks.dossier_sweep_task",
        "schedule": 60.0,  # a dossier whose build task was lost is built within a minute
    },
    "compliance-rescreen-sweeper": {
        "task": "compliance.tasks.book_rescreen_sweep_task",
        "schedule": 60.0,  # a re-screen of the book whose task or worker was lost resumes
    },
    "compliance-nightly-rescreen": {
        "task": "compliance.tasks.nightly_rescreen_task",
        "schedule": crontab(minute=30, hour=1),  # every client against every current list entry
    },
    "kyc-expiry": {
        "task": "kyc.tasks.kyc_expiry_sweep_task",
        "schedule": crontab(minute=0, hour=6),
    },
    "finance-payouts-sweeper": {
        "task": "finance.tasks.payouts_sweep_task",
        "schedule": 60.0,  # payouts and refunds never started, or never finished, are resumed
    },
    "finance-transfers-sweeper": {
        "task": "finance.tasks.transfers_sweep_task",
        "schedule": 30.0,  # transfers never started, or whose answer was lost, are looked up
    },
    "clients-account-openings-sweeper": {
        "task": "clients.tasks.account_openings_resolve_task",
        "schedule": 60.0,  # openings whose answer was lost are looked up by their reference
    },
    "clients-platform-reach-sweeper": {
        "task": "clients.tasks.platform_reach_sweep_task",
        "schedule": 60.0,  # accounts whose trading or leverage the platform does not yet have
    },
    "clients-terms-announce-sweeper": {
        "task": "clients.tasks.terms_announce_sweep_task",
        "schedule": 3600.0,  # a new version of the terms some client was not told of
    },
    "clients-leverage-sweep": {
        "task": "clients.tasks.leverage_sweep_task",
        "schedule": crontab(minute=55, hour=1),  # nightly: every account above its cap
    },
    "finance-ledger-verify": {
        "task": "finance.tasks.ledger_verify_task",
        "schedule": crontab(minute=45, hour=2),
    },
    "clients-platform-sync": {
        "task": "clients.tasks.platform_sync_all_task",
        # new deals every PLATFORM_SYNC_INTERVAL_SECONDS (default 2), positions and balances
        # every PLATFORM_SYNC_BALANCES_INTERVAL_SECONDS (clients.sync)
        "schedule": float(os.environ.get("PLATFORM_SYNC_INTERVAL_SECONDS", "2")),
    },
    "clients-deals-review": {
        "task": "clients.tasks.deals_review_all_task",
        # deals the platform's dealers corrected or deleted in the last days (per server)
        "schedule": float(os.environ.get("DEALS_REVIEW_INTERVAL_SECONDS", "900")),
    },
    "clients-retention-flags": {
        "task": "clients.tasks.retention_flags_task",
        "schedule": crontab(minute=30, hour=5),  # daily: inactivity flags and their signals
    },
    "clients-sync-runs-prune": {
        "task": "clients.tasks.sync_runs_prune_task",
        "schedule": crontab(minute=50, hour=3),
    },
    "ib-commissions-sweeper": {
        "task": "ib.tasks.commissions_sweep_task",
        "schedule": 300.0,  # deals of the last 48 hours a sync pass's task did not pay
    },
    "ib-link-clicks-prune": {
        "task": "ib.tasks.link_clicks_prune_task",
        "schedule": crontab(minute=20, hour=4),  # daily: click rows past the counting window
    },
    "clients-access-records-purge": {
        "task": "clients.tasks.access_records_purge_task",
        "schedule": crontab(minute=10, hour=4),  # daily: sign-in records past their retention
    },
    "sessions-clear-expired": {
        "task": "brokerage.tasks.sessions_clear_expired_task",
        "schedule": crontab(minute=30, hour=3),
    },
}


class HeartbeatStep(bootsteps.StartStopStep):
    """Writes this worker's heartbeat to Redis on a timer; `/healthz` reads it."""

    requires = {"celery.worker.components:Timer"}

    def __init__(self, worker, **kwargs):
        super().__init__(worker, **kwargs)
        self.tref = None

    def _beat(self, worker):
        from brokerage.health import heartbeat_write

        try:
            queues = [q.name for q in worker.app.amqp.queues.consume_from.values()]
            heartbeat_write(worker.hostname, queues)
        except Exception:  # a missed beat is not fatal; the next one retries
            log.warning("worker heartbeat failed", exc_info=True)

    def start(self, worker):
        from django.conf import settings

        self._beat(worker)
        self.tref = worker.timer.call_repeatedly(
            settings.CELERY_HEARTBEAT_INTERVAL, self._beat, (worker,), priority=10
        )

    def stop(self, worker):
        from brokerage.health import heartbeat_clear

        if self.tref:
            self.tref.cancel()
            self.tref = None
        try:
            heartbeat_clear(worker.hostname)
        except Exception:
            log.warning("could not clear worker heartbeat", exc_info=True)


app.steps["worker"].add(HeartbeatStep)


@signals.setup_logging.connect
def logging_from_django_settings(loglevel=None, **kwargs):
    """Workers and beat log as the web does (settings.LOGGING: JSON lines with the request id);
    `-l LEVEL` still sets the level."""
    import logging.config

    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)
    if loglevel:
        logging.getLogger().setLevel(loglevel)


@signals.before_task_publish.connect
def task_carries_request_id(headers=None, **kwargs):
    from brokerage.logs import task_publish_headers

    task_publish_headers(headers)


@signals.task_prerun.connect
def task_log_context_enter(task_id=None, task=None, **kwargs):
    import time

    from brokerage.logs import task_context_enter

    task.request._started = time.perf_counter()
    task_context_enter(task, task_id)


@signals.task_postrun.connect
def task_log_context_leave(task=None, state=None, **kwargs):
    """Counts the run's outcome (success, retry, failure) and duration, then leaves its context."""
    import time

    from brokerage.logs import task_context_leave
    from brokerage.metrics import task_observe

    started = getattr(task.request, "_started", None)
    task_observe(task.name, state, None if started is None else time.perf_counter() - started)
    task_context_leave(task)
