"""Each benchmark's own database, cloned from a migrated template instead of migrated again.

Migrating an empty database takes most of a minute; a clone of a migrated one (Postgres
`CREATE DATABASE … TEMPLATE …`) takes a second. The template `<DATABASE_NAME>_bench_template`
is kept between runs and rebuilt when any migration file changes (its fingerprint is the
database's comment). An advisory lock keeps two benchmarks from building it at once.

    from bench.benchdb import bench_db_create
    original = bench_db_create("_bench")            # settings now point at the clone
    ...
    connection.creation.destroy_test_db(original, verbosity=0)

The large demo book (`seed_demo` with 50,000 clients) takes most of an hour to seed: the
benchmarks that measure on it (`bench/dashboards.py`, `bench/aml.py`) share one kept seed,
`<DATABASE_NAME>_bench_dash_seed_<clients>`, through `seeded_db`: with `keep`, the first run
keeps the seeded book as a template and later runs clone it and migrate the clone forward. The
kept seed itself is never changed (only `fresh` drops it, to seed anew).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import django
from django.apps import apps
from django.conf import settings
from django.db import connection

LOCK_KEY = 7_310_042  # any constant: the lock only has to be the same in every benchmark


def migrations_fingerprint() -> str:
    digest = hashlib.sha256(django.get_version().encode())
    for app_config in sorted(apps.get_app_configs(), key=lambda a: a.label):
        folder = Path(app_config.path) / "migrations"
        for path in sorted(folder.glob("*.py")) if folder.is_dir() else ():
            digest.update(f"{app_config.label}/{path.name}".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _point_at(name: str) -> None:
    connection.close()
    settings.DATABASES[connection.alias]["NAME"] = name
    connection.settings_dict["NAME"] = name


def bench_db_create(suffix: str = "_bench") -> str:
    """Create `<DATABASE_NAME><suffix>` as a clone of the migrated template and point the
    connection at it; returns the original name for `destroy_test_db`."""
    original = connection.settings_dict["NAME"]
    template, target = f"{original}_bench_template", f"{original}{suffix}"
    fingerprint = migrations_fingerprint()
    quote = connection.ops.quote_name
    with connection._nodb_cursor() as admin:
        admin.execute("SELECT pg_advisory_lock(%s)", [LOCK_KEY])
        try:
            admin.execute(
                "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
                [template],
            )
            row = admin.fetchone()
            if row is None or row[0] != fingerprint:
                connection.settings_dict["TEST"]["NAME"] = template
                connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
                _point_at(original)
                admin.execute(f"COMMENT ON DATABASE {quote(template)} IS '{fingerprint}'")
            admin.execute(f"DROP DATABASE IF EXISTS {quote(target)}")
            admin.execute(f"CREATE DATABASE {quote(target)} TEMPLATE {quote(template)}")
        finally:
            admin.execute("SELECT pg_advisory_unlock(%s)", [LOCK_KEY])
    _point_at(target)
    connection.settings_dict["TEST"]["NAME"] = target
    return original


def seed(clients: int) -> float:
    """`seed_demo` with a trading book of `clients`, then ANALYZE: the seconds it took."""
    import os
    import time

    from django.core.management import call_command

    started = time.perf_counter()
    with open(os.devnull, "w") as quiet:
        call_command("seed_demo", book=clients, stdout=quiet)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return time.perf_counter() - started


# The kept seed's name: `bench/dashboards.py` kept the large book first, under this name.
KEPT_SEED = "_bench_dash_seed_"


def seeded_db(clients: int, suffix: str, *, keep: bool, fresh: bool) -> tuple[str, float | None]:
    """Point the connection at a new database `<DATABASE_NAME><suffix>` holding the seeded book
    of `clients`: a clone of the kept seed migrated forward when there is one (unless `fresh`),
    else seeded here (and kept when `keep`). Returns the original name (for `destroy_test_db`)
    and the seconds seeding took (None when a kept seed was cloned)."""
    import os

    from django.core.management import call_command

    original = connection.settings_dict["NAME"]
    kept, target = f"{original}{KEPT_SEED}{clients}", f"{original}{suffix}"
    quote = connection.ops.quote_name
    with connection._nodb_cursor() as admin:
        admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [kept])
        exists = admin.fetchone() is not None
        if fresh and exists:
            admin.execute(f"DROP DATABASE {quote(kept)}")
            exists = False
        if exists:
            admin.execute(f"DROP DATABASE IF EXISTS {quote(target)}")
            admin.execute(f"CREATE DATABASE {quote(target)} TEMPLATE {quote(kept)}")
    if exists:
        _point_at(target)
        connection.settings_dict["TEST"]["NAME"] = target
        with open(os.devnull, "w") as quiet:
            call_command("migrate", interactive=False, stdout=quiet)
        return original, None
    bench_db_create(suffix)
    seed_s = seed(clients)
    if keep:
        connection.close()
        with connection._nodb_cursor() as admin:
            admin.execute(f"CREATE DATABASE {quote(kept)} TEMPLATE {quote(target)}")
    return original, seed_s


def timed(fn):
    """(what `fn()` returns, the seconds it took)."""
    import time

    started = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - started


def bench_users(prefix: str, size: int) -> list:
    """`size` users `<prefix><i>@bench.example` (bulk, no usable password)."""
    from django.contrib.auth import get_user_model

    User = get_user_model()
    return User.objects.bulk_create(
        [User(email=f"{prefix}{i}@bench.example", password="!") for i in range(size)],
        batch_size=5000,
    )
