import pytest
from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import DatabaseScheduler

from brokerage.celery import app
from brokerage.tasks import audit_chain_verify_task

pytestmark = pytest.mark.django_db


@pytest.mark.django_db(transaction=True)  # the scheduler closes its connection, as beat does
def test_declared_schedules_are_installed_for_beat():
    DatabaseScheduler(app=app)  # what `celery beat` does at start
    installed = set(PeriodicTask.objects.values_list("name", flat=True))
    assert set(app.conf.beat_schedule) <= installed


def test_every_department_has_a_queue_and_tasks_are_routed():
    from django.conf import settings

    names = {q.name for q in settings.CELERY_TASK_QUEUES}
    assert names == {"default", "leads", "kyc", "sync", "finance", "commissions", "compliance"}
    route = app.amqp.router.route({}, "leads.tasks.lead_route_task")
    assert route["queue"].name == "leads"


def test_tasks_ack_late_with_time_limits():
    assert app.conf.task_acks_late is True
    assert audit_chain_verify_task.time_limit and audit_chain_verify_task.soft_time_limit
    assert audit_chain_verify_task.soft_time_limit < audit_chain_verify_task.time_limit


def test_nightly_chain_check_reports(db):
    from brokerage.models import AuditEvent
    from brokerage.services import audit_record

    audit_record(actor="rule:test", action="x")
    # Every event: the data migrations' own (the default country rules) and this one.
    events = AuditEvent.objects.count()
    assert audit_chain_verify_task.apply().get() == {
        "ok": True,
        "checked": events,
        "broken_seq": None,
    }


def _lost_database():
    import psycopg
    from django.db import OperationalError

    try:
        raise psycopg.OperationalError("server closed the connection unexpectedly")
    except psycopg.OperationalError as exc:
        try:
            raise OperationalError(*exc.args) from exc
        except OperationalError as django_exc:
            return django_exc


def test_beat_waits_out_a_database_it_cannot_reach(monkeypatch):
    """Postgres restarting: beat's tick tries again in a few seconds instead of ending beat;
    any other database error still ends it."""
    from django.db import ProgrammingError
    from django_celery_beat.schedulers import DatabaseScheduler

    from brokerage.beat import DATABASE_RETRY_SECONDS, BeatScheduler

    scheduler = object.__new__(BeatScheduler)  # its tick alone: no schedule is read

    def tick(self, *args, **kwargs):
        raise failure

    monkeypatch.setattr(DatabaseScheduler, "tick", tick)
    monkeypatch.setattr("brokerage.beat.beat_heartbeat_write", lambda: None)
    failure = _lost_database()
    assert scheduler.tick() == DATABASE_RETRY_SECONDS
    failure = ProgrammingError("relation does not exist")
    with pytest.raises(ProgrammingError):
        scheduler.tick()
