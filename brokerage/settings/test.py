"""Tests: real Postgres and Redis (a separate Redis database), in-memory mailbox, fast hashing."""

import os
import tempfile

os.environ.setdefault("DJANGO_SECRET_KEY", "test-only-insecure-key-0123456789abcdefghijklmnopqrstu")

# Tests flush their Redis database: never the demo's (0).
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:63799/1")
# `make test` runs the suite in one pytest process per core (pytest-xdist): each process gets
# a Redis database of its own (the given one, the next one, and so on), so one process's flushes,
# queues and Celery workers never meet another's; the workers, web servers and benchmarks a
# test starts inherit it. (Each process has its own test database: pytest-django adds the
# `_gw<N>` suffix.)
_xdist_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
if _xdist_worker.startswith("gw") and not os.environ.get("BO_REDIS_PER_WORKER_SET"):
    _base, _, _db = os.environ["REDIS_URL"].rpartition("/")
    _index = int(_xdist_worker[2:])
    os.environ["REDIS_URL"] = f"{_base}/{(int(_db or 0) + _index) % 16}"
    # and its own metrics folder (the one the controlling process made would mix both counts)
    os.environ["METRICS_DIR"] = tempfile.mkdtemp(prefix=f"brokerage-metrics-{_xdist_worker}-")
    os.environ["BO_REDIS_PER_WORKER_SET"] = "1"

# Each test session counts its metrics apart (the workers and web servers it starts inherit it).
os.environ.setdefault("METRICS_DIR", tempfile.mkdtemp(prefix="brokerage-metrics-"))

from .dev import *  # noqa: E402, F403
from .dev import CACHES, env  # noqa: E402

DEBUG = False
ALLOWED_HOSTS = ["*"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CACHES["default"]["KEY_PREFIX"] = "test"
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
CELERY_HEARTBEAT_INTERVAL = 1
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
# Test databases are flushed with TRUNCATE between transactional tests; the audit log's
# TRUNCATE guard (migration brokerage 0003) lets these connections, and only these, do it.
DATABASES["default"]["OPTIONS"]["options"] = "-c brokerage.allow_audit_truncate=on"  # noqa: F405
DATABASES["default"]["TEST"] = {"NAME": env("TEST_DATABASE_NAME", default="test_brokerage")}  # noqa: F405
# The replica is a second connection to the test database (a test mirror), read-only like a
# real standby, so tests can assert which alias each query ran on (tests/brokerage/test_db.py);
# tests that do not ask for it (`django_db(databases=...)`) find it refused and read the
# primary. bench/replica.py runs these settings against a real replica instead.
if "replica" not in DATABASES:  # noqa: F405
    DATABASES["replica"] = {  # noqa: F405
        **DATABASES["default"],  # noqa: F405
        "OPTIONS": {"connect_timeout": 2, "options": "-c default_transaction_read_only=on"},
        "TEST": {"MIRROR": "default"},
    }
# seed_demo in tests trades only with the sandbox a test starts (never a demo's on :8081 or
# :8082), and keeps its trading book small.
SANDBOX_MT5_URL = "http://127.0.0.1:9"
SANDBOX_PSP_URL = ""
DEMO_BOOK_CLIENTS = 24
# Tests read a server's positions and balances on every sync pass (tests/clients/test_sync.py
# checks the interval between them).
PLATFORM_SYNC_BALANCES_INTERVAL_SECONDS = 0
# Every call of a compiled statement (brokerage/statements.py) checks it against its queryset
# compiled again: a builder that freezes a value fails the test that calls it.
STATEMENTS_VERIFY = True
