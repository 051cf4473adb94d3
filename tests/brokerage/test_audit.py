import threading
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.db.utils import InternalError, ProgrammingError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from brokerage.models import AuditChainHead, AuditEvent, Desk
from brokerage.selectors import audit_chain_verify
from brokerage.services import audit_record


def tamper(sql, params=()):
    """What an intruder with table-owner rights would do: switch the trigger off and edit."""
    with connection.cursor() as cur:
        cur.execute("ALTER TABLE brokerage_auditevent DISABLE TRIGGER USER")
        cur.execute(sql, params)
        cur.execute("ALTER TABLE brokerage_auditevent ENABLE TRIGGER USER")


@pytest.fixture
def chain(db):
    desk = Desk.objects.create(name="Audit desk")
    return [
        audit_record(
            actor="rule:test",
            action=f"thing.step{i}",
            target=desk,
            reason=f"step {i}",
            evidence={"amount": Decimal("10.50"), "i": i},
        )
        for i in range(5)
    ]


def test_events_are_chained_in_order(chain):
    assert [e.seq for e in chain] == [1, 2, 3, 4, 5]
    for prev, cur in zip(chain, chain[1:], strict=False):
        assert cur.prev_hash == prev.hash
    head = AuditChainHead.objects.get()
    assert (head.seq, head.last_hash) == (5, chain[-1].hash)
    assert audit_chain_verify().ok


def test_stored_event_rehashes_identically(chain):
    """Evidence with Decimals, times with microseconds: what is read back hashes the same."""
    for event in AuditEvent.objects.all():
        assert event.compute_hash() == event.hash
    assert AuditEvent.objects.get(seq=1).evidence == {"amount": "10.50", "i": 0}


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE brokerage_auditevent SET reason = 'nothing to see' WHERE seq = 2",
        "DELETE FROM brokerage_auditevent WHERE seq = 2",
    ],
)
def test_database_refuses_update_and_delete(chain, statement):
    with (
        pytest.raises((InternalError, ProgrammingError), match="append-only"),
        transaction.atomic(),
        connection.cursor() as cur,
    ):
        cur.execute(statement)


def test_orm_update_is_refused_too(chain):
    with pytest.raises((InternalError, ProgrammingError)), transaction.atomic():
        AuditEvent.objects.filter(seq=1).update(reason="edited")


def test_verify_names_an_altered_row(chain, capsys):
    tamper("UPDATE brokerage_auditevent SET reason = 'edited' WHERE seq = 3")
    with pytest.raises(CommandError, match=r"seq 3 .*content altered"):
        call_command("audit_verify")


def test_verify_names_the_row_after_a_deleted_one(chain):
    tamper("DELETE FROM brokerage_auditevent WHERE seq = 2")
    with pytest.raises(CommandError, match=r"seq 3 .*missing"):
        call_command("audit_verify")


def test_verify_notices_a_deleted_tail(chain):
    tamper("DELETE FROM brokerage_auditevent WHERE seq = 5")
    with pytest.raises(CommandError, match=r"seq 5:.*deleted"):
        call_command("audit_verify")


def test_verify_notices_a_rehashed_row(chain):
    """Recomputing the edited row's own hash still breaks the link to the next row."""
    event = AuditEvent.objects.get(seq=2)
    event.reason = "forged"
    forged = event.compute_hash()
    tamper("UPDATE brokerage_auditevent SET reason = 'forged', hash = %s WHERE seq = 2", [forged])
    result = audit_chain_verify()
    assert (result.ok, result.broken_seq) == (False, 3)


def test_audit_verify_command_exit_codes(chain):
    import subprocess
    import sys

    ok = subprocess.run(
        [sys.executable, "manage.py", "audit_verify"],
        capture_output=True,
        text=True,
        env=_subprocess_env(),
    )
    # The rows of this test are uncommitted, so the subprocess sees the empty committed chain.
    assert ok.returncode == 0, ok.stderr


def _subprocess_env():
    import os

    from django.conf import settings

    env = dict(os.environ)
    db = settings.DATABASES["default"]
    env["DATABASE_URL"] = (
        f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    )
    env["DJANGO_SETTINGS_MODULE"] = "brokerage.settings.test"
    return env


def test_rolled_back_event_leaves_no_gap(db):
    audit_record(actor="rule:test", action="a")
    with pytest.raises(RuntimeError), transaction.atomic():
        audit_record(actor="rule:test", action="b")
        raise RuntimeError("business rule failed")
    event = audit_record(actor="rule:test", action="c")
    assert event.seq == 2
    assert audit_chain_verify().ok


def test_actor_must_be_named(db):
    from django.contrib.auth.models import AnonymousUser

    with pytest.raises(ValueError):
        audit_record(actor="", action="x")
    with pytest.raises(ValueError):
        audit_record(actor=AnonymousUser(), action="x")


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(
            st.text(min_size=1, max_size=30),
            st.dictionaries(
                st.text(max_size=10),
                st.one_of(
                    st.integers(),
                    st.text(max_size=20),
                    st.booleans(),
                    st.decimals(allow_nan=False, allow_infinity=False, places=2),
                ),
                max_size=4,
            ),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_any_sequence_of_events_verifies(db, events):
    with transaction.atomic():
        for action, evidence in events:
            audit_record(actor="rule:property", action=action, evidence=evidence)
        assert audit_chain_verify().ok
        transaction.set_rollback(True)


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_keep_one_gapless_chain():
    errors = []

    def writer(n):
        from django.db import connection as conn

        try:
            for i in range(15):
                with transaction.atomic():
                    audit_record(actor=f"rule:writer{n}", action="concurrent", evidence={"i": i})
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            conn.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(AuditEvent.objects.values_list("seq", flat=True)) == list(range(1, 61))
    assert audit_chain_verify().ok


@pytest.mark.parametrize("value", [1e16, -0.0, 1.5e300, 12345678901234567.0, 0.1, 2.5])
def test_float_evidence_verifies_as_postgres_stores_it(db, value):
    audit_record(actor="rule:test", action="score", evidence={"v": value, "nested": [value]})
    assert audit_chain_verify().ok


def guarded(sql):
    """Run `sql` on a connection without the test-only TRUNCATE allowance."""
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SET LOCAL brokerage.allow_audit_truncate = 'off'")
        cur.execute(sql)


@pytest.mark.parametrize(
    "sql",
    [
        "TRUNCATE brokerage_auditevent",
        "TRUNCATE brokerage_auditchainhead",
        "UPDATE brokerage_auditchainhead SET seq = 0, last_hash = repeat('0', 64)",
        "UPDATE brokerage_auditchainhead SET seq = seq + 2",
        "DELETE FROM brokerage_auditchainhead",
    ],
)
def test_the_log_cannot_be_wiped_or_its_head_reset(chain, sql):
    with pytest.raises((InternalError, ProgrammingError)):
        guarded(sql)
    assert AuditEvent.objects.count() == 5 and audit_chain_verify().ok


@pytest.mark.django_db(transaction=True)
def test_a_row_inserted_around_the_chain_is_found():
    audit_record(actor="rule:test", action="real")
    fake = AuditEvent(seq=2, actor_label="intruder", action="forged", prev_hash="0" * 64)
    fake.hash = fake.compute_hash()
    fake.save(force_insert=True)
    result = audit_chain_verify()
    assert (result.ok, result.broken_seq) == (False, 2)
    assert "past the chain head" in result.problem


@pytest.mark.django_db(transaction=True)
def test_verifying_while_events_are_written_raises_no_false_alarm():
    for _ in range(200):
        audit_record(actor="rule:test", action="seed")
    stop = threading.Event()

    def writer():
        from django.db import connection as conn

        try:
            while not stop.is_set():
                with transaction.atomic():
                    audit_record(actor="rule:writer", action="live")
        finally:
            conn.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        results = [audit_chain_verify() for _ in range(5)]
    finally:
        stop.set()
        thread.join()
    assert all(r.ok for r in results), [r.problem for r in results if not r.ok]
