import threading
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.db.utils import InternalError, ProgrammingError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from brokerage import events as events_module
from brokerage.audit import audit_chain_verify, audit_record, audit_seal, audit_seal_all
from brokerage.events import catalogue
from brokerage.models import AuditChainHead, AuditEvent, AuditSeal, Desk

EVENT_AT = "(SELECT event_id FROM brokerage_auditseal WHERE seq = %s)"


def tamper(sql, params=()):
    """What an intruder with table-owner rights would do: switch the triggers off and edit."""
    with connection.cursor() as cur:
        cur.execute("ALTER TABLE brokerage_auditevent DISABLE TRIGGER USER")
        cur.execute("ALTER TABLE brokerage_auditseal DISABLE TRIGGER USER")
        cur.execute(sql, params)
        cur.execute("ALTER TABLE brokerage_auditevent ENABLE TRIGGER USER")
        cur.execute("ALTER TABLE brokerage_auditseal ENABLE TRIGGER USER")


@pytest.fixture
def chain(db):
    desk = Desk.objects.create(name="Audit desk")
    events = [
        audit_record(
            actor="rule:test",
            action=f"thing.step{i}",
            target=desk,
            reason=f"step {i}",
            evidence={"amount": Decimal("10.50"), "i": i},
        )
        for i in range(5)
    ]
    assert audit_seal() == 5
    return events


def test_events_are_chained_in_order(chain):
    seals = list(AuditSeal.objects.order_by("seq"))
    assert [s.seq for s in seals] == [1, 2, 3, 4, 5]
    assert [s.event_id for s in seals] == [e.pk for e in chain]
    for prev, cur in zip(seals, seals[1:], strict=False):
        assert cur.prev_hash == prev.hash
    head = AuditChainHead.objects.get()
    assert (head.seq, head.last_hash) == (5, seals[-1].hash)
    assert audit_chain_verify().ok


def test_writers_only_insert_and_the_sealer_chains_after_commit(db):
    event = audit_record(actor="rule:test", action="a")
    assert AuditEvent.objects.get(pk=event.pk).seq is None
    assert audit_chain_verify().unsealed == 1
    assert audit_seal() == 1 and audit_seal() == 0
    assert AuditEvent.objects.get(pk=event.pk).seq == 1
    assert audit_chain_verify().unsealed == 0


def test_stored_event_rehashes_identically(chain):
    """Evidence with Decimals, times with microseconds: what is read back hashes the same."""
    for event in AuditEvent.objects.select_related("seal"):
        assert event.compute_hash(seq=event.seal.seq, prev_hash=event.seal.prev_hash) == (
            event.seal.hash
        )
    assert AuditEvent.objects.get(seal__seq=1).evidence == {"amount": "10.50", "i": 0}


@pytest.mark.parametrize(
    "statement",
    [
        f"UPDATE brokerage_auditevent SET reason = 'nothing to see' WHERE id = {EVENT_AT % 2}",
        f"DELETE FROM brokerage_auditevent WHERE id = {EVENT_AT % 2}",
        "UPDATE brokerage_auditseal SET hash = repeat('1', 64) WHERE seq = 2",
        "DELETE FROM brokerage_auditseal WHERE seq = 2",
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
        AuditEvent.objects.filter(seal__seq=1).update(reason="edited")
    with pytest.raises((InternalError, ProgrammingError)), transaction.atomic():
        AuditSeal.objects.filter(seq=1).update(prev_hash="0" * 64)


def test_verify_names_an_altered_row(chain, capsys):
    tamper(f"UPDATE brokerage_auditevent SET reason = 'edited' WHERE id = {EVENT_AT}", [3])
    with pytest.raises(CommandError, match=r"seq 3 .*content altered"):
        call_command("audit_verify")


def test_verify_names_an_event_moved_to_another_client(chain):
    tamper(f"UPDATE brokerage_auditevent SET subject_client_id = 7 WHERE id = {EVENT_AT}", [4])
    with pytest.raises(CommandError, match=r"seq 4 .*content altered"):
        call_command("audit_verify")


def test_verify_names_the_row_after_a_deleted_one(chain):
    tamper(f"DELETE FROM brokerage_auditevent WHERE id = {EVENT_AT}", [2])
    tamper("DELETE FROM brokerage_auditseal WHERE seq = 2")
    with pytest.raises(CommandError, match=r"seq 3 .*missing"):
        call_command("audit_verify")


def test_verify_names_a_deleted_event_whose_seal_is_left(chain):
    tamper(f"DELETE FROM brokerage_auditevent WHERE id = {EVENT_AT}", [2])
    with pytest.raises(CommandError, match=r"seq 2 .*deleted"):
        call_command("audit_verify")


def test_verify_notices_a_deleted_tail(chain):
    tamper(f"DELETE FROM brokerage_auditevent WHERE id = {EVENT_AT}", [5])
    tamper("DELETE FROM brokerage_auditseal WHERE seq = 5")
    with pytest.raises(CommandError, match=r"seq 5:.*deleted"):
        call_command("audit_verify")


def test_verify_notices_a_rehashed_row(chain):
    """Recomputing the edited row's own hash still breaks the link to the next row."""
    event = AuditEvent.objects.select_related("seal").get(seal__seq=2)
    event.reason = "forged"
    forged = event.compute_hash(seq=2, prev_hash=event.seal.prev_hash)
    tamper("UPDATE brokerage_auditevent SET reason = 'forged' WHERE id = %s", [event.pk])
    tamper("UPDATE brokerage_auditseal SET hash = %s WHERE seq = 2", [forged])
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
    assert audit_seal() == 2
    assert AuditEvent.objects.get(pk=event.pk).seq == 2
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
    # The made-up codes leave the catalogue again: later pages in the same run list the
    # catalogue, and a random code there is not what staff would read.
    labels, owners = dict(events_module._labels), dict(events_module._owners)
    try:
        with transaction.atomic():
            for action, evidence in events:
                catalogue("tests")(action, action)
                audit_record(actor="rule:property", action=action, evidence=evidence)
            assert audit_seal() == len(events)
            assert audit_chain_verify().ok
            transaction.set_rollback(True)
    finally:
        events_module._labels.clear()
        events_module._labels.update(labels)
        events_module._owners.clear()
        events_module._owners.update(owners)


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
    assert audit_seal_all() == 60
    assert sorted(AuditSeal.objects.values_list("seq", flat=True)) == list(range(1, 61))
    assert audit_chain_verify().ok


@pytest.mark.parametrize("value", [1e16, -0.0, 1.5e300, 12345678901234567.0, 0.1, 2.5])
def test_float_evidence_verifies_as_postgres_stores_it(db, value):
    audit_record(actor="rule:test", action="score", evidence={"v": value, "nested": [value]})
    assert audit_seal() == 1
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
        "UPDATE brokerage_auditchainhead SET seq = seq + 1, last_hash = repeat('1', 64)",
        "DELETE FROM brokerage_auditchainhead",
        "TRUNCATE brokerage_auditseal",
    ],
)
def test_the_log_cannot_be_wiped_or_its_head_reset(chain, sql):
    with pytest.raises((InternalError, ProgrammingError)):
        guarded(sql)
    assert AuditEvent.objects.count() == 5 and audit_chain_verify().ok


@pytest.mark.django_db(transaction=True)
def test_a_row_inserted_around_the_chain_is_found():
    audit_record(actor="rule:test", action="real")
    audit_seal()
    fake = AuditEvent.objects.create(actor_label="intruder", action="forged")
    AuditSeal.objects.create(
        event=fake,
        seq=2,
        prev_hash=AuditSeal.objects.get(seq=1).hash,
        hash=fake.compute_hash(seq=2, prev_hash=AuditSeal.objects.get(seq=1).hash),
        sealed_at=fake.occurred_at,
    )
    result = audit_chain_verify()
    assert (result.ok, result.broken_seq) == (False, 2)
    assert "past the chain head" in result.problem


@pytest.mark.django_db(transaction=True)
def test_verifying_while_events_are_written_raises_no_false_alarm():
    for _ in range(200):
        audit_record(actor="rule:test", action="seed")
    audit_seal_all()
    stop = threading.Event()

    def writer():
        from django.db import connection as conn

        try:
            while not stop.is_set():
                with transaction.atomic():
                    audit_record(actor="rule:writer", action="live")
                audit_seal()
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


@pytest.mark.django_db(transaction=True)
def test_events_the_sealer_was_made_to_skip_are_found():
    audit_record(actor="rule:test", action="a")
    audit_seal()
    skipped = audit_record(actor="rule:test", action="b")
    with connection.cursor() as cur:
        cur.execute(
            "UPDATE brokerage_auditsealerstate SET sealed_through_id = %s, holes = '[]'",
            [skipped.pk],
        )
    audit_seal()
    result = audit_chain_verify()
    assert (result.ok, result.broken_id) == (False, skipped.pk)
    assert "not in the chain" in result.problem
