"""The audit chain sealed after commit: writers never wait for each other, the sealer chains
what has committed (late committers included), forgets rollbacks, survives a crash, and every
event names the client it is about."""

import threading
import time

import pytest
from django.db import connection, transaction

from brokerage import audit
from brokerage.audit import audit_chain_verify, audit_record, audit_seal, audit_seal_all
from brokerage.models import AuditChainHead, AuditEvent, AuditSeal, AuditSealerState, Desk
from clients.models import Client, ClientActivity
from tests.conftest import login, make_client_user, make_staff


def _open_writer(action: str):
    """A writer in another connection that records an event and holds its transaction open
    until told to commit or roll back. Returns (started, finish(commit: bool))."""
    started, decided = threading.Event(), threading.Event()
    outcome = {}

    def run():
        from django.db import connection as conn

        try:
            with transaction.atomic():
                outcome["event"] = audit_record(actor="rule:slow", action=action)
                started.set()
                decided.wait(10)
                if not outcome.get("commit"):
                    transaction.set_rollback(True)
        finally:
            conn.close()

    thread = threading.Thread(target=run)
    thread.start()
    started.wait(10)

    def finish(commit: bool):
        outcome["commit"] = commit
        decided.set()
        thread.join()
        return outcome["event"]

    return outcome, finish


@pytest.mark.django_db(transaction=True)
def test_an_event_committed_after_later_ones_is_sealed_when_it_commits():
    outcome, finish = _open_writer("slow")
    quick = audit_record(actor="rule:quick", action="quick")  # a higher id, committed first
    assert audit_seal() == 1
    assert AuditSeal.objects.get().event_id == quick.pk
    slow = outcome["event"]
    assert slow.pk < quick.pk
    assert [lo <= slow.pk <= hi for lo, hi, *_ in AuditSealerState.objects.get().holes] == [True]

    finish(commit=True)
    assert audit_seal() == 1
    assert AuditEvent.objects.get(pk=slow.pk).seq == 2  # chained in the order it committed
    assert not [h for h in AuditSealerState.objects.get().holes if h[0] <= slow.pk <= h[1]]
    assert audit_chain_verify().ok


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_event_is_forgotten_once_no_transaction_could_still_write_it(monkeypatch):
    outcome, finish = _open_writer("doomed")
    audit_record(actor="rule:quick", action="quick")
    assert audit_seal() == 1
    monkeypatch.setattr(audit, "HOLE_GRACE_SECONDS", 0.0)
    assert audit_seal() == 0
    assert len(AuditSealerState.objects.get().holes) == 1  # its writer is still open
    doomed = finish(commit=False)

    def still_waiting():
        return [h for h in AuditSealerState.objects.get().holes if h[0] <= doomed.pk <= h[1]]

    # Forgotten once every transaction open when the hole was seen has ended (cluster-wide:
    # poll a little, in case another database's transaction was open too).
    deadline = time.time() + 20
    while audit_seal() == 0 and still_waiting() and time.time() < deadline:
        time.sleep(0.2)
    assert not still_waiting()
    assert not AuditSeal.objects.filter(event_id=doomed.pk).exists()
    assert audit_chain_verify().ok


@pytest.mark.django_db(transaction=True)
def test_a_hole_is_kept_through_the_grace_period():
    """Between taking its id and its transaction id a writer is invisible to xmin; the grace
    period covers that."""
    outcome, finish = _open_writer("doomed")
    audit_record(actor="rule:quick", action="quick")
    finish(commit=False)
    audit_seal()
    audit_seal()
    assert len(AuditSealerState.objects.get().holes) == 1


@pytest.mark.django_db(transaction=True)
def test_a_crash_in_the_middle_of_a_pass_loses_and_repeats_nothing(monkeypatch):
    for i in range(30):
        audit_record(actor="rule:test", action="before-crash", evidence={"i": i})
    real_execute = connection.cursor

    def crash_on_head_update():
        cur = real_execute()
        original = cur.execute

        def execute(sql, params=None):
            if sql.startswith("UPDATE brokerage_auditchainhead"):
                raise ConnectionError("the sealer died")
            return original(sql, params)

        cur.execute = execute
        return cur

    monkeypatch.setattr(connection, "cursor", crash_on_head_update)
    with pytest.raises(ConnectionError):
        audit_seal()
    monkeypatch.undo()
    assert not AuditSeal.objects.exists()
    assert not AuditChainHead.objects.filter(seq__gt=0).exists()

    assert audit_seal_all() == 30  # the restarted sealer
    assert sorted(AuditSeal.objects.values_list("seq", flat=True)) == list(range(1, 31))
    assert audit_chain_verify().ok and audit_chain_verify().unsealed == 0


@pytest.mark.django_db(transaction=True)
def test_many_writers_and_two_sealers_make_one_gapless_chain():
    stop = threading.Event()
    errors = []

    def writer(n):
        from django.db import connection as conn

        try:
            for i in range(40):
                with transaction.atomic():
                    audit_record(actor=f"rule:w{n}", action="w", evidence={"i": i})
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            conn.close()

    def sealer():
        from django.db import connection as conn

        try:
            while not stop.is_set():
                audit_seal(batch=7)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            conn.close()

    sealers = [threading.Thread(target=sealer) for _ in range(2)]
    writers = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in sealers + writers:
        t.start()
    for t in writers:
        t.join()
    time.sleep(0.2)
    stop.set()
    for t in sealers:
        t.join()
    assert not errors
    audit_seal_all()
    assert sorted(AuditSeal.objects.values_list("seq", flat=True)) == list(range(1, 161))
    assert AuditSeal.objects.values("event_id").distinct().count() == 160
    assert audit_chain_verify().ok


def test_events_written_before_sealing_existed_still_verify(db):
    """Format 1 (the hash chained at write time, before events had a subject) verifies as it
    was written, and the chain goes on from it in format 2."""
    old = AuditEvent.objects.create(actor_label="rule:old", action="old", hash_version=1)
    digest = old.compute_hash(seq=1, prev_hash=audit.GENESIS_HASH)
    assert b"subject_client_id" not in old.canonical_payload(seq=1, prev_hash="0")
    AuditSeal.objects.create(
        event=old, seq=1, prev_hash=audit.GENESIS_HASH, hash=digest, sealed_at=old.occurred_at
    )
    with connection.cursor() as cur:
        cur.execute(
            "UPDATE brokerage_auditchainhead SET seq = 1, last_hash = %s WHERE id = 1", [digest]
        )
        cur.execute("UPDATE brokerage_auditsealerstate SET sealed_through_id = %s", [old.pk])
    audit_record(actor="rule:new", action="new")
    assert audit_seal() == 1
    result = audit_chain_verify()
    assert result.ok and result.checked == 2


def test_the_subject_is_the_client_or_the_targets_client(db):
    client = Client.objects.get(user=make_client_user("subject@test.example"))
    agent = make_staff("sales_agent")
    note = ClientActivity.objects.create(client=client, kind="note", actor_label="a", body="hi")
    on_client = audit_record(actor=agent, action="client.updated", target=client)
    on_note = audit_record(actor=agent, action="note.added", target=note)
    given = audit_record(actor=agent, action="other", target=agent, subject=client)
    unrelated = audit_record(actor=agent, action="desk.created", target=Desk.objects.create())
    assert [on_client.subject_client_id, on_note.subject_client_id, given.subject_client_id] == [
        client.pk
    ] * 3
    assert unrelated.subject_client_id is None
    trail = AuditEvent.objects.filter(subject_client_id=client.pk)
    assert {"client.registered", "client.updated", "note.added", "other"} <= set(
        trail.values_list("action", flat=True)
    )


def test_the_audit_log_filters_by_client_and_the_360_shows_their_whole_trail(client, db):
    customer = Client.objects.get(user=make_client_user("trail@test.example"))
    officer = make_staff("compliance_officer")
    note = ClientActivity.objects.create(client=customer, kind="note", actor_label="o", body="?")
    audit_record(actor=officer, action="note.checked", target=note, reason="looked at")
    audit_record(actor=officer, action="other.thing", reason="not about the client")
    login(client, officer)
    page = client.get(f"/backoffice/audit/?subject={customer.pk}")
    assert page.status_code == 200
    text = page.content.decode()
    assert 'title="note.checked"' in text and 'title="other.thing"' not in text
    assert client.get("/backoffice/audit/?subject=x²").status_code == 200  # no match, no 500
    assert client.get("/backoffice/audit/?subject=" + "9" * 30).status_code == 200

    detail = client.get(f"/backoffice/clients/{customer.pk}/")
    assert detail.status_code == 200
    assert "note.checked" in detail.content.decode()  # a note event, found by its subject


def test_the_event_page_says_when_an_event_is_still_being_sealed(client, db):
    officer = make_staff("compliance_officer")
    event = audit_record(actor=officer, action="thing.done")
    login(client, officer)
    assert "being sealed" in client.get(f"/backoffice/audit/{event.pk}/").content.decode()
    audit_seal()
    text = client.get(f"/backoffice/audit/{event.pk}/").content.decode()
    assert "being sealed" not in text and AuditSeal.objects.get(event_id=event.pk).hash in text
