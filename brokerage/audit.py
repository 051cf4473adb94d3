"""The audit log: written by every decision, sealed into a hash chain after commit, verified.

The contract:

- `audit_record` (and `audit_record_many` for rules that decide about thousands of rows) INSERT
  the event in the caller's transaction and nothing else: no row is shared between writers, so
  audited writes of every department run side by side. A rolled-back transaction leaves no
  event. The event names the client it is about (`subject_client_id`), given or taken from its
  target, so a client's whole trail is one index range.
- `audit_seal` (run in a loop by `manage.py audit_sealer`, and every minute by beat as a safety
  net) chains committed events: each gets an `AuditSeal` with the next sequence number, the
  previous seal's hash and a SHA-256 over its content and that hash; the head moves to the last
  seal. One sealer at a time (the head's row lock); every pass is one transaction that also
  records where the sealer is, so a crash or restart loses and repeats nothing.
- Event ids come from a sequence when the event is written, and writers commit in any order.
  The sealer takes events in id order up to the highest it can see, and remembers the ids below
  that it could not see yet ("holes": transactions still open). A hole is sealed when its event
  commits, and forgotten once every transaction that could have written it has ended (the
  snapshot's xmin has passed the xmax of the snapshot that saw it missing) and a grace period
  has gone by: it was rolled back.
- `audit_chain_verify` walks the seals in order in one snapshot: a missing or altered event, a
  seal removed or edited, a rehashed row, a deleted tail and a seal forged past the head are
  each named. It also reports how many committed events are not yet sealed and for how long.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models, transaction
from django.utils import timezone

from . import events
from .models import (
    AuditChainHead,
    AuditEvent,
    AuditSeal,
    AuditSealerState,
    User,
    audit_canonical_payload,
)

# An actor is a user or the name of a system rule ("rule:lead_routing", "system:seed_demo").
Actor = User | str

GENESIS_HASH = "0" * 64
# A hole older than this, with every transaction that could have filled it ended, was a
# rollback. The wait only covers the microseconds between a writer taking its id and its
# transaction id; it is generous on purpose.
HOLE_GRACE_SECONDS = 5.0

_INSERT = (
    "INSERT INTO brokerage_auditevent (occurred_at, actor_id, actor_label, action, target_type,"
    " target_id, target_repr, subject_client_id, reason, evidence, ip_address, hash_version)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s, %s)"
)


# --- writing ---------------------------------------------------------------------------------


def _actor_fields(actor: Actor) -> dict:
    if isinstance(actor, str):
        if not actor:
            raise ValueError("A system actor needs a name.")
        return {"actor_id": None, "actor_label": actor}
    if not getattr(actor, "pk", None):
        raise ValueError("An anonymous user cannot be an audit actor; name the system rule.")
    return {"actor_id": actor.pk, "actor_label": actor.email}


def _target_fields(target) -> dict:
    if target is None:
        return {"target_type": "", "target_id": "", "target_repr": ""}
    if isinstance(target, models.Model):
        return {
            "target_type": target._meta.label_lower,
            "target_id": str(target.pk),
            "target_repr": str(target)[:255],
        }
    kind, ident = target  # ("integration", "stripe"), for things that are not rows
    return {"target_type": kind, "target_id": str(ident), "target_repr": f"{kind}:{ident}"[:255]}


def _subject_id(subject, target) -> int | None:
    """The client an event is about: the one given, the target if it is a client, or the
    target's own client (a deposit's, a KYC submission's)."""
    if subject is not None:
        return int(subject.pk if isinstance(subject, models.Model) else subject)
    if not isinstance(target, models.Model):
        return None
    if target._meta.label_lower == settings.AUDIT_SUBJECT_MODEL:
        return target.pk
    client_id = getattr(target, "client_id", None)
    return client_id if isinstance(client_id, int) else None


def _no_nul(value):
    """Postgres text and jsonb cannot hold NUL; evidence may carry raw outside input."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {_no_nul(k): _no_nul(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_no_nul(v) for v in value]
    return value


def client_ip(request) -> str | None:
    """The visitor's address: REMOTE_ADDR, or the address our TRUSTED_PROXY_COUNT proxies saw."""
    import ipaddress

    if request is None:
        return None
    raw = request.META.get("REMOTE_ADDR") or ""
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies:
        hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        hops = [h for h in hops if h]
        raw = hops[-proxies] if len(hops) >= proxies else ""
    try:
        return str(ipaddress.ip_address(raw))
    except ValueError:
        return None


def _row(*, actor_fields, action, target, subject, reason, evidence, ip, now) -> tuple:
    fields = _no_nul({"action": action, "reason": reason or "", **_target_fields(target)})
    return (
        now,
        actor_fields["actor_id"],
        _no_nul(actor_fields["actor_label"]),
        fields["action"],
        fields["target_type"],
        fields["target_id"],
        fields["target_repr"],
        _subject_id(subject, target),
        fields["reason"],
        json.dumps(_no_nul(evidence or {}), cls=DjangoJSONEncoder),
        ip,
        AuditEvent.HASH_VERSION,
    )


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    """What `audit_record` wrote: enough to find the event again (its id) and its subject."""

    pk: int
    action: str
    subject_client_id: int | None
    occurred_at: datetime


def audit_record(
    *,
    actor: Actor,
    action: str,
    target=None,
    subject=None,
    reason: str = "",
    evidence: dict | None = None,
    request=None,
) -> RecordedEvent:
    """Write one event in the caller's transaction (one INSERT; the sealer chains it after
    commit). `subject` is the client the event is about, when the target does not say."""
    events.check(action)  # raises before anything is written
    row = _row(
        actor_fields=_actor_fields(actor),
        action=action,
        target=target,
        subject=subject,
        reason=reason,
        evidence=evidence,
        ip=client_ip(request),
        now=timezone.now(),
    )
    with connection.cursor() as cur:
        cur.execute(_INSERT + " RETURNING id", row)
        (pk,) = cur.fetchone()
    return RecordedEvent(pk, row[3], row[7], row[0])


def audit_record_many(
    *, actor: Actor, action: str, entries: list[tuple[object, str, dict | None]]
) -> int:
    """Write one event per `(target, reason, evidence)` in `entries` with batched inserts: for
    rules that decide about thousands of rows at once (the daily retention run)."""
    if not entries:
        return 0
    events.check(action)
    actor_fields, now = _actor_fields(actor), timezone.now()
    rows = [
        _row(
            actor_fields=actor_fields,
            action=action,
            target=target,
            subject=None,
            reason=reason,
            evidence=evidence,
            ip=None,
            now=now,
        )
        for target, reason, evidence in entries
    ]
    with connection.cursor() as cur:
        for start in range(0, len(rows), 2000):
            cur.executemany(_INSERT, rows[start : start + 2000])
    return len(rows)


# --- sealing ---------------------------------------------------------------------------------

_EVENT_COLUMNS = (
    "e.id, e.occurred_at, e.actor_id, e.actor_label, e.action, e.target_type, e.target_id,"
    " e.target_repr, e.subject_client_id, e.reason, e.evidence::text, e.ip_address,"
    " e.hash_version"
)


def _row_hash(row, *, seq: int, prev_hash: str) -> str:
    """The seal hash of an event read as `_EVENT_COLUMNS` (what `AuditEvent.compute_hash` gives,
    without building a model: the sealer hashes thousands a second)."""
    payload = audit_canonical_payload(
        version=row[12],
        seq=seq,
        prev_hash=prev_hash,
        event_id=row[0],
        occurred_at=row[1],
        actor_id=row[2],
        actor_label=row[3],
        action=row[4],
        target_type=row[5],
        target_id=row[6],
        target_repr=row[7],
        subject_client_id=row[8],
        reason=row[9],
        evidence=json.loads(row[10]),
        ip_address=row[11],
    )
    return hashlib.sha256(payload).hexdigest()


def _locked_singleton(cur, model, columns: str, *, skip_locked: bool = False) -> tuple | None:
    """The singleton row, locked; None if `skip_locked` and another sealer holds it."""
    table = model._meta.db_table
    lock = "FOR UPDATE SKIP LOCKED" if skip_locked else "FOR UPDATE"
    cur.execute(f"SELECT {columns} FROM {table} WHERE id = 1 {lock}")  # noqa: S608
    row = cur.fetchone()
    if row is None:
        cur.execute(f"SELECT 1 FROM {table} WHERE id = 1")  # noqa: S608
        if cur.fetchone():
            return None  # there, and locked by another sealer
        # Only after a TRUNCATE (test databases are flushed that way).
        model.objects.bulk_create([model(pk=1)], ignore_conflicts=True)
        cur.execute(f"SELECT {columns} FROM {table} WHERE id = 1 {lock}")  # noqa: S608
        row = cur.fetchone()
    return row


def _split_holes(holes: list, seen: set[int]) -> list:
    """Hole ranges [lo, hi, xmax, first_seen] less the ids just seen."""
    out = []
    for lo, hi, xmax, first_seen in holes:
        start = lo
        for pk in sorted(i for i in seen if lo <= i <= hi):
            if pk > start:
                out.append([start, pk - 1, xmax, first_seen])
            start = pk + 1
        if start <= hi:
            out.append([start, hi, xmax, first_seen])
    return out


def _new_holes(ids: list[int], after: int, xmax: int, now: float) -> list:
    """Ranges of ids between `after` and the last of `ids` (sorted) that were not there."""
    out, expected = [], after + 1
    for pk in ids:
        if pk > expected:
            out.append([expected, pk - 1, xmax, now])
        expected = pk + 1
    return out


def audit_seal(*, batch: int = 5000) -> int:
    """Chain the committed events not sealed yet (at most `batch`); returns how many, 0 also
    when another sealer holds the chain."""
    with transaction.atomic(), connection.cursor() as cur:
        head = _locked_singleton(cur, AuditChainHead, "seq, last_hash", skip_locked=True)
        if head is None:
            return 0  # another sealer is at work
        head_seq, prev_hash = head
        through, holes = _locked_singleton(cur, AuditSealerState, "sealed_through_id, holes")
        if isinstance(holes, str):
            holes = json.loads(holes)
        found = []
        if holes:
            cur.execute(
                f"SELECT {_EVENT_COLUMNS} FROM brokerage_auditevent e"  # noqa: S608
                " JOIN unnest(%s::bigint[], %s::bigint[]) AS r(lo, hi)"
                " ON e.id BETWEEN r.lo AND r.hi",
                [[h[0] for h in holes], [h[1] for h in holes]],
            )
            found = cur.fetchall()
        cur.execute(
            f"SELECT {_EVENT_COLUMNS} FROM brokerage_auditevent e"  # noqa: S608
            " WHERE e.id > %s ORDER BY e.id LIMIT %s",
            [through, batch],
        )
        fresh = cur.fetchall()
        # After the reads, so that a hole's xmax covers every writer the reads missed.
        cur.execute(
            "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint,"
            " pg_snapshot_xmax(pg_current_snapshot())::text::bigint"
        )
        xmin, xmax = cur.fetchone()
        now = time.time()
        holes = _split_holes(holes, {r[0] for r in found})
        holes += _new_holes([r[0] for r in fresh], through, xmax, now)
        holes = [h for h in holes if not (xmin >= h[2] and now - h[3] >= HOLE_GRACE_SECONDS)]
        if fresh:
            through = fresh[-1][0]
        events = sorted(found + fresh)
        if events:
            pks, seqs, prevs, hashes = [], [], [], []
            for row in events:
                head_seq += 1
                digest = _row_hash(row, seq=head_seq, prev_hash=prev_hash)
                pks.append(row[0])
                seqs.append(head_seq)
                prevs.append(prev_hash)
                hashes.append(digest)
                prev_hash = digest
            cur.execute(
                "INSERT INTO brokerage_auditseal (event_id, seq, prev_hash, hash, sealed_at)"
                " SELECT *, clock_timestamp() FROM unnest(%s::bigint[], %s::bigint[],"
                " %s::text[], %s::text[])",
                [pks, seqs, prevs, hashes],
            )
            cur.execute(
                "UPDATE brokerage_auditchainhead SET seq = %s, last_hash = %s WHERE id = 1",
                [head_seq, prev_hash],
            )
        cur.execute(
            "UPDATE brokerage_auditsealerstate SET sealed_through_id = %s, holes = %s::jsonb,"
            " updated_at = now() WHERE id = 1",
            [through, json.dumps(holes)],
        )
    return len(events)


def audit_seal_all() -> int:
    """Seal until nothing committed is left unsealed (tests, `audit_verify --seal`)."""
    total = 0
    while n := audit_seal():
        total += n
    return total


# --- verifying -------------------------------------------------------------------------------


@dataclass
class ChainVerification:
    ok: bool
    checked: int
    broken_seq: int | None = None
    broken_id: int | None = None
    problem: str = ""
    unsealed: int = 0
    oldest_unsealed_at: datetime | None = None


def audit_sealing_status() -> tuple[int, datetime | None]:
    """How many committed events wait for their seal, and when the oldest was written."""
    through = (
        AuditSealerState.objects.filter(pk=1).values_list("sealed_through_id", flat=True).first()
    ) or 0
    pending = AuditEvent.objects.filter(pk__gt=through, seal__isnull=True)
    holes = AuditSealerState.objects.filter(pk=1).values_list("holes", flat=True).first() or []
    waiting = AuditEvent.objects.none()
    for lo, hi, *_ in holes:
        waiting = waiting | AuditEvent.objects.filter(pk__range=(lo, hi), seal__isnull=True)
    stats = (pending | waiting).aggregate(n=models.Count("pk"), oldest=models.Min("occurred_at"))
    return stats["n"], stats["oldest"]


def audit_chain_verify() -> ChainVerification:
    """Walk the whole sealed chain in order; report the first seal or event that does not hold.

    One REPEATABLE READ snapshot for the head, the seals and the events, so seals written while
    it runs are neither half-seen nor mistaken for deleted ones.
    """
    if connection.in_atomic_block:  # inside a caller's transaction: its isolation applies
        return _verify_snapshot(snapshot=False)
    with transaction.atomic():
        with connection.cursor() as cur:
            cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        return _verify_snapshot(snapshot=True)


def _seal_rows(head_seq: int):
    # A server-side cursor (verify always runs in a transaction): the chain can be millions of
    # rows, read 5,000 at a time.
    with connection.chunked_cursor() as cur:
        cur.execute(
            f"SELECT s.seq, s.prev_hash, s.hash, s.event_id, {_EVENT_COLUMNS}"  # noqa: S608
            " FROM brokerage_auditseal s LEFT JOIN brokerage_auditevent e ON e.id = s.event_id"
            " WHERE s.seq <= %s ORDER BY s.seq",
            [head_seq],
        )
        while rows := cur.fetchmany(5000):
            yield from rows


def _verify_snapshot(*, snapshot: bool) -> ChainVerification:
    head = AuditChainHead.objects.filter(pk=1).first()
    head_seq, head_hash = (head.seq, head.last_hash) if head else (0, GENESIS_HASH)
    expected_seq, prev_hash, checked = 1, GENESIS_HASH, 0
    # Only seals up to the head as read: later ones belong to passes committed since.
    for seq, seal_prev, seal_hash, event_id, *event_row in _seal_rows(head_seq):
        problem = ""
        if seq != expected_seq:
            problem = f"row(s) missing before it: expected seq {expected_seq}, found {seq}"
        elif seal_prev != prev_hash:
            problem = "prev_hash does not match the hash of the row before it"
        elif event_row[0] is None:
            problem = f"the sealed event {event_id} was deleted"
        elif _row_hash(event_row, seq=seq, prev_hash=seal_prev) != seal_hash:
            problem = "content altered: stored hash does not match the row's content"
        if problem:
            return ChainVerification(False, checked, seq, event_id, problem)
        checked += 1
        expected_seq, prev_hash = seq + 1, seal_hash
    if head_seq != checked or head_hash != prev_hash:
        return ChainVerification(
            False,
            checked,
            checked + 1,
            None,
            f"chain ends at seq {checked} but the head records seq {head_seq}: "
            "rows at the end were deleted",
        )
    # In one snapshot every seal the sealer wrote is covered by the head (both change in the
    # same transaction), so a seal past it was inserted around the chain.
    if snapshot:
        forged = AuditSeal.objects.filter(seq__gt=head_seq).order_by("seq").first()
        if forged is not None:
            return ChainVerification(
                False,
                checked,
                forged.seq,
                forged.event_id,
                "row past the chain head: not written by the chain",
            )
    if snapshot and (skipped := _events_passed_over()):
        return ChainVerification(
            False,
            checked,
            None,
            skipped[0],
            f"{len(skipped)} committed event(s) the sealer has passed are not in the chain",
        )
    unsealed, oldest = audit_sealing_status()
    return ChainVerification(True, checked, unsealed=unsealed, oldest_unsealed_at=oldest)


def _events_passed_over() -> list[int]:
    """Events below the sealer's position, not waiting in a hole, with no seal: left out of
    the chain (the sealer's position moved past them by hand)."""
    state = AuditSealerState.objects.filter(pk=1).values_list("sealed_through_id", "holes").first()
    through, holes = state or (0, [])
    with connection.cursor() as cur:
        cur.execute(
            "SELECT e.id FROM brokerage_auditevent e WHERE e.id <= %s AND NOT EXISTS"
            " (SELECT 1 FROM brokerage_auditseal s WHERE s.event_id = e.id) ORDER BY e.id",
            [through],
        )
        ids = [r[0] for r in cur.fetchall()]
    return [i for i in ids if not any(lo <= i <= hi for lo, hi, *_ in holes)]


# --- a client's trail, with its proof ---------------------------------------------------------


def audit_subject_proof(client_id: int) -> dict:
    """Every audit event about client `client_id` with its seal, and the chain head, in the
    format `brokerage.audit_proof` checks (after sealing what is committed, so the proof covers
    the trail up to now). One query for the events and their seals."""
    from .audit_proof import FORMAT

    audit_seal_all()
    head = AuditChainHead.objects.filter(pk=1).values_list("seq", "last_hash").first() or (
        0,
        GENESIS_HASH,
    )
    events, unsealed = [], []
    rows = (
        AuditEvent.objects.filter(subject_client_id=client_id).select_related("seal").order_by("id")
    )
    for event in rows.iterator(chunk_size=2000):
        seal = getattr(event, "seal", None)
        if seal is None:
            unsealed.append(event.pk)
            continue
        events.append(
            {
                "id": event.pk,
                "seq": seal.seq,
                "prev_hash": seal.prev_hash,
                "hash": seal.hash,
                "hash_version": event.hash_version,
                "occurred_at": event.occurred_at.isoformat(timespec="microseconds"),
                "actor_id": event.actor_id,
                "actor_label": event.actor_label,
                "action": event.action,
                "target_type": event.target_type,
                "target_id": event.target_id,
                "target_repr": event.target_repr,
                "subject_client_id": event.subject_client_id,
                "reason": event.reason,
                "evidence": event.evidence,
                "ip_address": event.ip_address,
            }
        )
    return {
        "format": FORMAT,
        "client_id": client_id,
        "head": {"seq": head[0], "hash": head[1], "at": timezone.now().isoformat()},
        "events": events,
        "unsealed": unsealed,
    }


def audit_proof_check(proof: dict) -> list[str]:
    """The proof's own checks (`brokerage.audit_proof`), then against the live chain: each seal
    still holds the exported hash, the head has not gone back, and the chain verifies."""
    from .audit_proof import proof_problems

    problems = proof_problems(proof)
    seqs = [e["seq"] for e in proof["events"]]
    live = dict(AuditSeal.objects.filter(seq__in=seqs).values_list("seq", "hash"))
    for event in proof["events"]:
        if live.get(event["seq"]) != event["hash"]:
            problems.append(f"seq {event['seq']}: the live chain holds another hash or none")
    head = AuditChainHead.objects.filter(pk=1).values_list("seq", flat=True).first() or 0
    if head < proof["head"]["seq"]:
        problems.append(f"the live head (seq {head}) is behind the exported one")
    chain = audit_chain_verify()
    if not chain.ok:
        problems.append(f"the live chain is broken at seq {chain.broken_seq}: {chain.problem}")
    return problems
