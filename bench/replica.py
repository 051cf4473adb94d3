"""A real PostgreSQL streaming replica beside a primary, and proof of what the router sends it.

Outside the main suite (the suite's `replica` is a test mirror of its one database). With only
the Postgres binaries (`initdb`, `pg_basebackup -R`, `pg_ctl`), on ports and directories of its
own (never the project's server), this:

1. starts a primary with streaming replication and a replica from `pg_basebackup -R`;
2. migrates the primary (the replica replays it) and seeds a small demo there: staff, a
   verified client, a deposit;
3. runs the product against both (`DATABASE_URL`, `DATABASE_REPLICA_URL`) and counts, on each
   server, the statements each step ran (`pg_stat_statements`, reset before each step): the
   back-office dashboard and the ledger export must run their reads on the replica; a deposit,
   a withdrawal approval and a sign-in must run nothing there;
4. stops the replica: the dashboard still answers, from the primary, with the warning logged
   and /healthz saying the replica is down; starts it again;
5. pauses the replica's replay (`pg_wal_replay_pause()`) while the primary writes, until it is
   past `DATABASE_REPLICA_MAX_LAG`: the dashboard reads the primary; resumes it, and the
   replica is read again.

    .venv/bin/python bench/replica.py             # leaves nothing behind
    .venv/bin/python bench/replica.py --smoke     # the same, as CI runs it
    .venv/bin/python bench/replica.py --keep      # leaves both servers running, prints URLs

Prints one JSON line; exits non-zero when a check fails.

The cluster helpers need no Django and are meant for other drills (a failover script):

    from bench.replica import Cluster, primary_start, replica_start, promote, replay_pause
    primary = primary_start(Path("/var/tmp/drill/primary"), 55432)
    replica = replica_start(primary, Path("/var/tmp/drill/replica"), 55433)
    promote(replica)          # the replica becomes a primary (pg_ctl promote)
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
USER, PASSWORD = "brokerage", "brokerage"
REPLICATOR, REPLICATOR_PASSWORD = "replicator", "replicator-local"
# Each server's settings beyond initdb's: streaming replication, reads on the standby,
# statement counts per database.
SERVER_OPTIONS = [
    "listen_addresses=127.0.0.1",
    "wal_level=replica",
    "max_wal_senders=5",
    "hot_standby=on",
    "hot_standby_feedback=on",
    "shared_preload_libraries=pg_stat_statements",
    "pg_stat_statements.track=all",
    "shared_buffers=128MB",
    # Throwaway servers: a killed Postgres loses nothing without fsync, only a machine crash
    # would, and migrating is twice as fast.
    "fsync=off",
    "synchronous_commit=off",
]


def pg_bindir() -> Path:
    """The newest Postgres binaries installed (Debian: /usr/lib/postgresql/<v>/bin)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parts[-3]))
    if not found:
        raise SystemExit("PostgreSQL binaries not found under /usr/lib/postgresql")
    return found[-1].parent


def _as_postgres(cmd: list[str]) -> list[str]:
    """Postgres refuses to run as root: as root, run the binaries as the postgres user."""
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def _own(path: Path) -> None:
    if os.geteuid() == 0:
        shutil.chown(path, "postgres", "postgres")


@dataclass
class Cluster:
    """One Postgres server in a directory of its own: `data/`, a socket dir, a log file."""

    home: Path
    port: int
    options: tuple[str, ...] = ()  # settings beyond SERVER_OPTIONS ("max_connections=200")

    @property
    def data(self) -> Path:
        return self.home / "data"

    @property
    def sockets(self) -> Path:
        return self.home / "run"

    @property
    def log(self) -> Path:
        return self.home / "postgres.log"

    def run(self, tool: str, *args: str, env: dict | None = None, check=True):
        cmd = _as_postgres([str(pg_bindir() / tool), *args])
        full_env = {**os.environ, **(env or {})}
        return subprocess.run(cmd, check=check, capture_output=True, text=True, env=full_env)

    def start(self) -> None:
        options = " ".join(
            [
                f"-p {self.port}",
                f"-k {self.sockets}",
                *(f"-c {o}" for o in (*SERVER_OPTIONS, *self.options)),
            ]
        )
        self.run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-w",
            "-t",
            "60",
            "-o",
            options,
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        """Stop the server: "fast" (clean), "immediate" (as a crash would)."""
        self.run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def running(self) -> bool:
        return self.run("pg_ctl", "-D", str(self.data), "status", check=False).returncode == 0

    def sql(self, query: str, db: str = "postgres") -> str:
        """Run `query` as the superuser over the socket; its output, one row a line."""
        out = self.run(
            "psql",
            "-h",
            str(self.sockets),
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "-d",
            db,
            "-qAtX",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            query,
        )
        return out.stdout.strip()

    def url(self, db: str = "brokerage") -> str:
        return f"postgres://{USER}:{PASSWORD}@127.0.0.1:{self.port}/{db}"

    def in_recovery(self) -> bool:
        return self.sql("SELECT pg_is_in_recovery()") == "t"


def _fresh_home(home: Path) -> None:
    if (home / "data" / "postmaster.pid").exists():  # left running by an earlier run
        Cluster(home, 0).stop("immediate")
    if home.exists():
        shutil.rmtree(home)
    (home / "run").mkdir(parents=True)
    for path in (home.parent, home, home / "run"):
        _own(path)


def primary_start(home: Path, port: int, *, database: str = "brokerage") -> Cluster:
    """A new primary in `home` (emptied first) on 127.0.0.1:`port`, ready for streaming
    replication: the `brokerage` role and database, a `replicator` role, pg_stat_statements."""
    _fresh_home(home)
    primary = Cluster(home, port)
    primary.data.mkdir()
    _own(primary.data)
    primary.run(
        "initdb",
        "-D",
        str(primary.data),
        "-U",
        "postgres",
        "--auth-local=trust",
        "--auth-host=scram-sha-256",
        "-E",
        "UTF8",
        "--locale=C.UTF-8",
    )
    primary.start()
    primary.sql(f"CREATE ROLE {USER} LOGIN CREATEDB PASSWORD '{PASSWORD}'")
    primary.sql(f"CREATE ROLE {REPLICATOR} LOGIN REPLICATION PASSWORD '{REPLICATOR_PASSWORD}'")
    primary.sql(f"CREATE DATABASE {database} OWNER {USER}")
    primary.sql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    return primary


def replica_start(primary, home: Path, port: int, options: tuple[str, ...] = ()) -> Cluster:
    """A streaming replica of `primary` (anything with the `port` of a server on 127.0.0.1
    that lets the replicator role stream) in `home` (emptied first) on 127.0.0.1:`port`, from
    `pg_basebackup -R` (which writes standby.signal and the primary's conninfo); `options`
    are settings of its own (a standby needs max_connections at least the primary's)."""
    _fresh_home(home)
    replica = Cluster(home, port, options)
    replica.run(
        "pg_basebackup",
        "-h",
        "127.0.0.1",
        "-p",
        str(primary.port),
        "-U",
        REPLICATOR,
        "-D",
        str(replica.data),
        "-R",
        "-X",
        "stream",
        "-c",
        "fast",
        env={"PGPASSWORD": REPLICATOR_PASSWORD},
    )
    replica.start()
    return replica


def promote(replica: Cluster) -> None:
    """Make the replica a primary (it stops replaying and accepts writes)."""
    replica.run("pg_ctl", "-D", str(replica.data), "-w", "promote")


def replay_pause(replica: Cluster) -> None:
    replica.sql("SELECT pg_wal_replay_pause()")


def replay_resume(replica: Cluster) -> None:
    replica.sql("SELECT pg_wal_replay_resume()")


def caught_up(primary: Cluster, replica: Cluster, timeout: float = 30.0) -> float:
    """Wait until the replica has replayed everything the primary has written; seconds taken."""
    started = time.monotonic()
    target = primary.sql("SELECT pg_current_wal_lsn()")
    while time.monotonic() - started < timeout:
        done = replica.sql(f"SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn")
        if done == "t":
            return time.monotonic() - started
        time.sleep(0.05)
    raise RuntimeError(f"replica did not replay up to {target} within {timeout} s")


# --- What the product runs on each server ---------------------------------------------------

# Statements the product ran (not the router's state probe, not this script's own).
_COUNT_SQL = """
SELECT COALESCE(SUM(calls), 0), COALESCE(string_agg(DISTINCT substring(query, 1, 60), ' | '), '')
FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
WHERE d.datname = '{db}' AND query ~* '^\\s*(select|insert|update|delete|with|declare)\\M'
  AND query !~* 'pg_is_in_recovery|set_config|pg_stat_statements'
  AND query ~* '"(brokerage|clients|finance|leads|kyc|ib|compliance|aml|django|account|mfa)_'
"""


def statements_reset(*clusters: Cluster) -> None:
    for cluster in clusters:
        cluster.sql("SELECT pg_stat_statements_reset()")


def statements(cluster: Cluster, db: str = "brokerage") -> tuple[int, str]:
    """How many statements on the product's tables ran on `cluster` since the last reset."""
    calls, sample = cluster.sql(_COUNT_SQL.format(db=db)).split("|", 1)
    return int(calls), sample


class Check:
    def __init__(self):
        self.failed: list[str] = []

    def __call__(self, ok: bool, what: str) -> None:
        if not ok:
            self.failed.append(what)


class _Warnings(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def _django(primary: Cluster, replica: Cluster, max_lag: float) -> None:
    os.environ.update(
        {
            # The test settings: in-memory mail, static files served as they are.
            "DJANGO_SETTINGS_MODULE": "brokerage.settings.test",
            "DATABASE_URL": primary.url(),
            "DATABASE_REPLICA_URL": replica.url(),
            "DATABASE_REPLICA_MAX_LAG": str(max_lag),
            # Tasks the steps enqueue (a payout after an approval) go nowhere: no worker here.
            "CELERY_BROKER_URL": "memory://",
            "SANDBOX_PSP_URL": "",
            "CACHE_KEY_PREFIX": "bench-replica",
        }
    )
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def _seed():
    """Staff who sign in to the back office, a verified client, a payment method, a deposit."""
    from allauth.account.models import EmailAddress
    from allauth.mfa.totp.internal.auth import TOTP
    from django.utils import timezone

    from brokerage.models import User
    from brokerage.services import staff_user_upsert
    from clients.services import client_register
    from finance.models import PaymentMethod

    staff = {}
    for role, email in [
        ("ops_admin", "ops@replica.test"),
        ("finance_officer", "finance@replica.test"),
        ("finance_officer", "finance2@replica.test"),
    ]:
        user = staff_user_upsert(
            actor="bench",
            email=email,
            role=role,
            first_name=role.title(),
            last_name="Replica",
            password=PASSWORD * 2,
        )
        EmailAddress.objects.get_or_create(user=user, email=email, verified=True, primary=True)
        TOTP.activate(user, "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
        staff[email] = user
    user = User.objects.create_user(email="trader@replica.test", password=PASSWORD * 2)
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    client = client_register(user=user, actor="bench")
    client.kyc_level = 1
    client.country = "GB"
    client.id_document_expires_on = timezone.now().date() + timezone.timedelta(days=900)
    client.save()
    method = PaymentMethod.objects.create(
        psp="stripe", name="Card USD", currency="USD", min_amount=10, max_amount=50000
    )
    return staff, client, method


def _deposit(client, method, amount: str):
    from decimal import Decimal

    from django.utils import timezone

    from finance.psp import EventKind, WebhookEvent
    from finance.services import deposit_create, psp_event_apply

    deposit = deposit_create(client=client, method=method, amount=amount, actor="bench")
    type(deposit).objects.filter(pk=deposit.pk).update(provider_reference=f"pay_{deposit.pk}")
    event = WebhookEvent(
        event_id=f"evt_{deposit.pk}",
        kind=EventKind.PAYMENT_SUCCEEDED,
        reference=deposit.reference,
        provider_reference=f"pay_{deposit.pk}",
        amount=Decimal(amount),
        currency=method.currency,
        occurred_at=timezone.now(),
        raw={},
    )
    psp_event_apply(psp=method.psp, event=event)
    return deposit


def prove(primary: Cluster, replica: Cluster, max_lag: float) -> dict:
    """Steps 2-5 above; the figures and what failed."""
    _django(primary, replica, max_lag)
    from decimal import Decimal

    from django.core.management import call_command
    from django.test import Client
    from django.urls import reverse

    from bench.signin import signed_in
    from brokerage.db import replica_status, replica_status_forget
    from finance.services import withdrawal_approve, withdrawal_request

    check = Check()
    figures: dict = {}
    warnings = _Warnings()
    logging.getLogger("brokerage.db").addHandler(warnings)

    started = time.monotonic()
    call_command("migrate", verbosity=0, interactive=False)
    figures["migrate_s"] = round(time.monotonic() - started, 1)
    staff, client, method = _seed()
    _deposit(client, method, "6000.00")
    figures["replica_caught_up_s"] = round(caught_up(primary, replica), 2)
    check(replica.in_recovery(), "the replica is a standby (pg_is_in_recovery)")
    rows = replica.sql("SELECT count(*) FROM clients_client", db="brokerage")
    check(rows == "1", f"the replica has the seeded client (found {rows})")

    def step(name: str, action) -> tuple[int, int]:
        replica_status_forget()
        statements_reset(primary, replica)
        action()
        on_primary, _ = statements(primary)
        on_replica, sample = statements(replica)
        figures[name] = {"primary": on_primary, "replica": on_replica}
        if on_replica:
            figures[name]["replica_sample"] = sample[:300]
        return on_primary, on_replica

    ops = signed_in(staff["ops@replica.test"])
    finance = signed_in(staff["finance@replica.test"])

    def dashboard():
        response = ops.get(reverse("backoffice:home"))
        check(response.status_code == 200, f"dashboard answers ({response.status_code})")

    def export():
        response = finance.get(reverse("finance:transactions_csv"))
        body = b"".join(response.streaming_content)
        check(body.count(b"\n") >= 3, "the export lists the deposit's postings")

    _, n = step("dashboard", dashboard)
    check(n > 0, "the dashboard's reads run on the replica")
    _, n = step("export", export)
    check(n > 0, "the export's reads run on the replica")

    withdrawal = None

    def deposit():
        _deposit(client, method, "250.00")

    def request_and_approve():
        nonlocal withdrawal
        withdrawal = withdrawal_request(
            client=client, amount=Decimal("3000"), currency="USD", psp="stripe", actor="bench"
        )
        withdrawal = withdrawal_approve(
            withdrawal=withdrawal, actor=staff["finance2@replica.test"], reason="bench"
        )

    def sign_in():
        response = Client().post(
            reverse("account_login"),
            {"login": "trader@replica.test", "password": PASSWORD * 2},
        )
        check(response.status_code == 302, f"the client signs in ({response.status_code})")

    for name, action in [
        ("deposit", deposit),
        ("withdrawal_approval", request_and_approve),
        ("sign_in", sign_in),
    ]:
        on_primary, on_replica = step(name, action)
        check(on_primary > 0 and on_replica == 0, f"{name}: nothing on the replica")
    check(withdrawal is not None and withdrawal.status != "in_review", "the withdrawal approved")

    # The replica stops: pages answer from the primary, with a warning.
    replica.stop()
    replica_status_forget()
    warnings.lines.clear()
    statements_reset(primary)
    started = time.monotonic()
    response = ops.get(reverse("backoffice:home"))
    figures["replica_down"] = {
        "dashboard_status": response.status_code,
        "dashboard_s": round(time.monotonic() - started, 3),
        "primary": statements(primary)[0],
        "health": Client().get("/healthz").json().get("database_replica"),
        "warning": next((w for w in warnings.lines if "reading from the primary" in w), ""),
    }
    check(response.status_code == 200, "the dashboard answers with the replica down")
    check(replica_status()["status"] == "down", "the replica is reported down")
    check(bool(figures["replica_down"]["warning"]), "a warning is logged")
    replica.start()
    figures["replica_restarted_caught_up_s"] = round(caught_up(primary, replica), 2)

    # The replica's replay pauses while the primary writes: past the lag limit, the primary.
    replay_pause(replica)
    _deposit(client, method, "75.00")
    started = time.monotonic()
    replica_status_forget()
    while replica_status(fresh=True)["status"] != "lagging":
        if time.monotonic() - started > max_lag + 30:
            break
        time.sleep(0.25)
    figures["lag_detected_after_s"] = round(time.monotonic() - started, 2)
    warnings.lines.clear()
    _, n = step("paused_dashboard", dashboard)
    figures["paused_dashboard"]["status"] = replica_status()
    check(n == 0, "a lagging replica is not read")
    check(any("lagging" in w for w in warnings.lines), "the lag is logged as a warning")
    replay_resume(replica)
    caught_up(primary, replica)
    _, n = step("resumed_dashboard", dashboard)
    check(n > 0, "once caught up, the replica is read again")

    logging.getLogger("brokerage.db").removeHandler(warnings)
    figures["failed"] = check.failed
    figures["ok"] = not check.failed
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="as CI runs it (the same checks)")
    parser.add_argument("--port", type=int, default=55432, help="the primary's; replica +1")
    parser.add_argument("--home", default="", help="where the clusters live (default /var/tmp)")
    parser.add_argument("--max-lag", type=float, default=2.0)
    parser.add_argument("--keep", action="store_true", help="leave both servers running")
    args = parser.parse_args()
    home = Path(args.home or f"/var/tmp/brokerage-replica-{args.port}")
    started = time.monotonic()
    primary = primary_start(home / "primary", args.port)
    replica = None
    try:
        replica = replica_start(primary, home / "replica", args.port + 1)
        figures = {"bench": "replica", "smoke": args.smoke, "postgres": str(pg_bindir())}
        figures["setup_s"] = round(time.monotonic() - started, 1)
        figures.update(prove(primary, replica, args.max_lag))
        figures["total_s"] = round(time.monotonic() - started, 1)
        if args.keep:
            figures["primary_url"], figures["replica_url"] = primary.url(), replica.url()
        print(json.dumps(figures, default=str))
        return 0 if figures["ok"] else 1
    finally:
        if not args.keep:
            for cluster in (replica, primary):
                if cluster is not None:
                    cluster.stop("immediate")
            shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
