"""A real Celery worker process, on the test database and the test Redis database."""

import time
import uuid

import pytest
from django.conf import settings
from django.db import transaction

from brokerage import health
from brokerage.kv import redis_client
from brokerage.tasks import echo_task
from tests.conftest import wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_healthz_sees_the_live_worker(client, worker):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["celery"] == "ok"
    queues = next(w for w in health.workers() if w["hostname"] == worker.hostname)["queues"]
    assert set(queues) == {"default", *settings.CELERY_DEPARTMENT_QUEUES}


def test_task_is_sent_only_after_commit_and_runs(worker):
    token = uuid.uuid4().hex
    with transaction.atomic():
        echo_task.delay_on_commit(token)
        time.sleep(0.5)
        assert redis_client().get(f"echo:{token}") is None  # not sent before commit
    assert wait_for(lambda: redis_client().get(f"echo:{token}") == token)


def test_rolled_back_transaction_sends_nothing(worker):
    token = uuid.uuid4().hex
    with pytest.raises(RuntimeError), transaction.atomic():
        echo_task.delay_on_commit(token)
        raise RuntimeError("abort")
    marker = uuid.uuid4().hex
    echo_task.delay(marker)  # the queue is FIFO: once this ran, the other would have too
    assert wait_for(lambda: redis_client().get(f"echo:{marker}") == marker)
    assert redis_client().get(f"echo:{token}") is None


def test_stopped_worker_disappears_from_health(client, worker):
    worker.terminate()
    worker.wait(timeout=20)
    assert wait_for(
        lambda: all(w["hostname"] != worker.hostname for w in health.workers()), timeout=10
    )
    assert client.get("/healthz").status_code == 503
