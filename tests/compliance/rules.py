"""Running what an officer's jurisdiction rule change queues, as a worker would."""

from contextlib import contextmanager

from celery import current_app
from django.test import TestCase


@contextmanager
def worker_runs_it():
    """Run the tasks queued once the block's changes commit (an officer's rule applied to its
    clients, their rating), eagerly, as the compliance worker would."""
    current_app.conf.task_always_eager = True
    try:
        with TestCase.captureOnCommitCallbacks(execute=True):
            yield
    finally:
        current_app.conf.task_always_eager = False
