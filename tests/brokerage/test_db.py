"""The read replica router (brokerage.db): which alias each query runs on.

In the test settings `replica` is a test mirror: a second, read-only connection to the test
database. Reads routed there see only committed rows, so these tests are transactional.
"""

import logging
import re

import pytest
from django.db import DatabaseError, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from brokerage import db
from brokerage.db import reads_from_replica, replica_status, stream_from_replica
from brokerage.models import AuditEvent, Desk, User
from clients.models import Client
from tests.conftest import login, make_client_user, make_staff

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "replica"])
ALIASES = ("default", db.REPLICA)


class Captured:
    """The statements each alias ran inside the block."""

    def __init__(self, *aliases):
        self.on = {a: CaptureQueriesContext(connections[a]) for a in aliases or ALIASES}

    def __enter__(self):
        for ctx in self.on.values():
            ctx.__enter__()
        return self

    def __exit__(self, *exc):
        for ctx in self.on.values():
            ctx.__exit__(*exc)

    def sql(self, alias) -> list[str]:
        return [q["sql"] for q in self.on[alias].captured_queries]

    def touching(self, alias, table) -> list[str]:
        return [s for s in self.sql(alias) if re.search(rf"\b{table}\b", s)]


def test_reads_go_to_the_replica_only_inside_the_scope():
    Desk.objects.create(name="London", languages=["en"])
    with Captured() as seen:
        assert Desk.objects.count() == 1
    assert seen.touching("default", "brokerage_desk")
    assert not seen.touching(db.REPLICA, "brokerage_desk")

    with Captured() as seen, reads_from_replica():
        assert Desk.objects.count() == 1
        assert [d.name for d in Desk.objects.all()] == ["London"]
    assert len(seen.touching(db.REPLICA, "brokerage_desk")) == 2
    assert not seen.touching("default", "brokerage_desk")


def test_writes_locks_transactions_and_access_stay_on_the_primary():
    make_staff("ops_admin")
    with Captured() as seen, reads_from_replica():
        desk = Desk.objects.create(name="Paris", languages=["fr"])  # a write
        read_back = Desk.objects.get(pk=desk.pk)  # on the replica ...
        assert read_back._state.db == db.REPLICA
        read_back.name = "Paris 2"
        read_back.save()  # ... and saved to the primary
        with transaction.atomic():
            Desk.objects.select_for_update().get(pk=desk.pk)
            Desk.objects.filter(pk=desk.pk).exists()  # inside a transaction: the primary
        User.objects.filter(email="ops_admin@test.example").exists()  # who may do what
    assert read_back._state.db == "default"
    replica = " ".join(seen.sql(db.REPLICA))
    assert "INSERT" not in replica and "UPDATE" not in replica and "FOR UPDATE" not in replica
    assert len(seen.touching(db.REPLICA, "brokerage_desk")) == 1  # the `get` alone
    assert not seen.touching(db.REPLICA, "brokerage_user")
    primary = seen.touching("default", "brokerage_desk")
    assert any(s.startswith("INSERT") for s in primary)
    assert any(s.startswith("UPDATE") for s in primary)
    assert any("FOR UPDATE" in s for s in primary)
    assert sum(s.startswith("SELECT") and "FOR UPDATE" not in s for s in primary) == 1
    assert Desk.objects.get(pk=desk.pk).name == "Paris 2"

    # A write sent to the replica by hand is refused by the database itself.
    with pytest.raises(DatabaseError, match="read-only"):
        Desk.objects.using(db.REPLICA).create(name="Nowhere", languages=[])
    assert not Desk.objects.filter(name="Nowhere").exists()


def test_a_lagging_replica_falls_back_to_the_primary_with_a_warning(settings, caplog):
    settings.DATABASE_REPLICA_MAX_LAG = -1  # any replica is behind that
    with (
        caplog.at_level(logging.WARNING, logger="brokerage.db"),
        Captured() as seen,
        reads_from_replica(),
    ):
        Desk.objects.count()
    assert seen.touching("default", "brokerage_desk")
    assert not seen.touching(db.REPLICA, "brokerage_desk")
    assert replica_status()["status"] == "lagging"
    assert "database replica lagging" in caplog.text
    assert "reading from the primary" in caplog.text


def test_a_replica_that_is_down_falls_back_and_comes_back(monkeypatch, caplog):
    replica = connections[db.REPLICA]
    replica.close()
    monkeypatch.setitem(replica.settings_dict, "PORT", "1")  # nothing listens there
    with (
        caplog.at_level(logging.WARNING, logger="brokerage.db"),
        Captured("default") as seen,
        reads_from_replica(),
    ):
        assert Desk.objects.count() == 0
    assert seen.touching("default", "brokerage_desk")
    assert replica_status()["status"] == "down"
    assert "database replica down" in caplog.text

    monkeypatch.undo()
    db.replica_status_forget()
    with Captured() as seen, reads_from_replica():
        Desk.objects.count()
    assert seen.touching(db.REPLICA, "brokerage_desk")

    # The state is read again only after a few seconds, not per query.
    assert replica_status()["status"] == "ok"
    with CaptureQueriesContext(connections[db.REPLICA]) as probes, reads_from_replica():
        for _ in range(5):
            Desk.objects.exists()
    assert not [q for q in probes.captured_queries if "pg_is_in_recovery" in q["sql"]]


def test_list_pages_and_exports_read_the_replica_and_sign_in_reads_the_primary(client):
    staff = make_staff("ops_admin")
    make_client_user()
    login(client, staff)
    with Captured() as seen:
        response = client.get(reverse("backoffice:audit_log"))
    assert response.status_code == 200
    assert seen.touching(db.REPLICA, "brokerage_auditevent")
    assert not seen.touching("default", "brokerage_auditevent")
    assert seen.touching("default", "django_session")  # who is asking: the primary
    assert not seen.touching(db.REPLICA, "django_session")
    assert not seen.touching(db.REPLICA, "brokerage_user")

    with Captured() as seen:
        response = client.get(reverse("clients:all"))
    assert response.status_code == 200
    assert seen.touching(db.REPLICA, "clients_client")

    finance = make_staff("finance_officer", email="fin@test.example")
    login(client, finance)
    with Captured() as seen:
        response = client.get(reverse("finance:transactions_csv"))
        body = b"".join(response.streaming_content)
    assert body.startswith(b"posted_at_utc,")
    assert seen.touching(db.REPLICA, "finance_posting")
    assert not seen.touching("default", "finance_posting")

    # A report read with raw SQL takes its cursor from `read_connection`.
    with Captured() as seen:
        response = client.get(reverse("finance:fx_conversion_csv"))
        b"".join(response.streaming_content)
    assert response.status_code == 200
    assert seen.touching(db.REPLICA, "finance_posting")
    assert not seen.touching("default", "finance_posting")
    assert db.read_connection(Desk).alias == "default"  # outside the scope
    with reads_from_replica():
        assert db.read_connection(Desk).alias == db.REPLICA
        with transaction.atomic():
            assert db.read_connection(Desk).alias == "default"
    assert AuditEvent.objects.exists() and Client.objects.count() == 1


def test_stream_from_replica_scopes_each_row_only():
    Desk.objects.create(name="London", languages=["en"])

    def rows():
        yield Desk.objects.count()
        yield Desk.objects.count()

    with Captured() as seen:
        assert list(stream_from_replica(rows())) == [1, 1]
        Desk.objects.count()  # after the stream: the primary
    assert len(seen.touching(db.REPLICA, "brokerage_desk")) == 2
    assert len(seen.touching("default", "brokerage_desk")) == 1


def test_health_and_the_system_page_show_the_replica(client, settings):
    staff = make_staff("ops_admin")
    login(client, staff)
    report = client.get("/healthz").json()
    assert report["database_replica"] == {"status": "ok", "lag_s": 0.0, "detail": ""}
    page = client.get(reverse("backoffice:system")).content.decode()
    assert "Read replica" in page and "in use for dashboards" in page

    settings.DATABASE_REPLICA_MAX_LAG = -1
    db.replica_status_forget()
    assert client.get("/healthz").json()["database_replica"]["status"] == "lagging"
    page = client.get(reverse("backoffice:system")).content.decode()
    assert "lagging" in page and "reading from the primary" in page


@pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")
def test_without_a_replica_nothing_changes(settings):
    settings.DATABASES = {k: v for k, v in settings.DATABASES.items() if k != db.REPLICA}
    router = db.ReplicaRouter()
    with reads_from_replica():
        assert router.db_for_read(Desk) is None
    assert router.db_for_write(Desk) is None
    assert replica_status() == {"status": "off", "lag_s": None, "in_recovery": None, "detail": ""}
    assert db.replica_health() == "off"
