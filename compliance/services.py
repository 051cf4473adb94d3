"""Compliance writes: list snapshots.

`snapshot_import` is the one way a list gets into the system, from the command line, the upload
page, or a scheduled downloader: the files are read completely first (a file that cannot be
read fails naming its line or element, and nothing is written), then one transaction writes the
snapshot with its entries, computes what was added, changed and removed against the source's
previous snapshot, makes it current, moves the candidate index to it, queues the re-screen of
every client against the entries added and changed (`compliance.rescreen`) and records the
audit event. Two imports of the same source queue on the source's row lock.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from brokerage.errors import InvalidInput, NotAllowed
from brokerage.services import Actor, audit_record, audit_record_many
from clients.locks import lock_client, lock_clients
from clients.models import Client
from clients.notify import client_notify
from clients.services import client_risk_factor_changed
from clients.trading.reach import platform_reach_request
from kyc.models import KycSubmission

from . import audit_events
from .lists import ListFileError, ParsedList, read_list
from .matching import Hit, Query
from .models import (
    UNDECIDED,
    Alert,
    AlertStatus,
    EntryBirthDate,
    EntryCountry,
    EntryDocument,
    EntryName,
    JobKind,
    ListEntry,
    ListFormat,
    ListKind,
    ListSnapshot,
    ListSource,
    NameOrigin,
    NameToken,
    ScreeningReason,
    ScreeningRun,
)
from .names import name_tokens, normalise, phonetic
from .permissions import require_officer
from .screening import current_snapshots, screen

# The lists the product knows by their format; a CSV list is named by whoever imports it.
BUILT_IN_SOURCES = {
    "ofac_sdn": ("OFAC SDN", ListFormat.OFAC_SDN),
    "un": ("UN consolidated list", ListFormat.UN),
    "eu": ("EU financial sanctions", ListFormat.EU),
}
BATCH = 5000


def list_source_for(*, fmt: str, code: str = "", name: str = "", kind: str = "") -> ListSource:
    """The source a file of `fmt` is imported into: the built-in one of that format, or for a
    CSV the source `code` (created on first import, as a PEP list unless `kind` says)."""
    if fmt in BUILT_IN_SOURCES:
        label, fmt_value = BUILT_IN_SOURCES[fmt]
        source, _ = ListSource.objects.get_or_create(
            code=code or fmt, defaults={"name": name or label, "format": fmt_value}
        )
    elif fmt == ListFormat.CSV:
        if not code:
            raise ListFileError("a CSV list needs a list code (e.g. pep-vendor)")
        source, _ = ListSource.objects.get_or_create(
            code=code,
            defaults={
                "name": name or code,
                "format": ListFormat.CSV,
                "kind": kind or ListKind.PEP,
            },
        )
    else:
        raise ListFileError(f"unknown list format {fmt!r}")
    if source.format != fmt:
        raise ListFileError(
            f"the list {source.code} is read as {source.get_format_display()}, not {fmt}"
        )
    return source


def files_hash(files: Iterable[tuple[str, bytes]]) -> str:
    digest = hashlib.sha256()
    for _name, data in files:
        digest.update(hashlib.sha256(data).digest())
    return digest.hexdigest()


def snapshot_import(
    *,
    fmt: str,
    files: list[tuple[str, bytes]],
    actor: Actor,
    list_code: str = "",
    list_name: str = "",
    mapping: dict | None = None,
    on_read=None,
) -> ListSnapshot:
    """Read `files` (name, bytes) as `fmt` and store them as the list's new current snapshot
    (`on_read(parsed)` is told once they are read). Raises ListFileError (nothing written)
    when a file cannot be read."""
    files = sorted(files, key=lambda f: f[0])
    parsed = read_list(fmt, files, mapping=mapping)
    if on_read is not None:
        on_read(parsed)
    return _store(
        fmt=fmt,
        files=files,
        parsed=parsed,
        actor=actor,
        list_code=list_code,
        list_name=list_name,
    )


@transaction.atomic(durable=True)
def _store(*, fmt, files, parsed: ParsedList, actor, list_code, list_name) -> ListSnapshot:
    source = list_source_for(fmt=fmt, code=list_code, name=list_name)
    source = ListSource.objects.select_for_update().get(pk=source.pk)
    previous = ListSnapshot.objects.filter(source=source, is_current=True).first()
    old_hashes = (
        dict(ListEntry.objects.filter(snapshot=previous).values_list("list_id", "content_hash"))
        if previous
        else {}
    )
    if previous:
        ListSnapshot.objects.filter(pk=previous.pk).update(is_current=False)
        NameToken.objects.filter(snapshot=previous).delete()
    snapshot = ListSnapshot.objects.create(
        source=source,
        file_names=[name for name, _ in files],
        file_hash=files_hash(files),
        published_on=parsed.published_on,
        imported_by=actor if not isinstance(actor, str) else None,
        actor_label=actor if isinstance(actor, str) else actor.email,
        previous=previous,
        is_current=True,
    )
    names = _write_entries(snapshot, parsed)
    new_hashes = {e.list_id: e.content_hash() for e in parsed.entries}
    added = sorted(set(new_hashes) - set(old_hashes))
    removed = sorted(set(old_hashes) - set(new_hashes))
    changed = sorted(
        k for k in new_hashes.keys() & old_hashes.keys() if new_hashes[k] != old_hashes[k]
    )
    snapshot.entry_count = len(parsed.entries)
    snapshot.person_count = sum(1 for e in parsed.entries if e.kind == "person")
    snapshot.name_count = names
    snapshot.added_count, snapshot.changed_count = len(added), len(changed)
    snapshot.removed_count = len(removed)
    snapshot.delta = {"added": added, "changed": changed, "removed": removed}
    snapshot.save()
    token_weights_rebuild()
    _analyze()
    from .rescreen import rescreen_job_start  # it re-screens through this module's services

    job = rescreen_job_start(kind=JobKind.DELTA, snapshot=snapshot, actor=actor)
    audit_record(
        actor=actor,
        action=audit_events.LIST_IMPORTED,
        target=snapshot,
        reason=f"{source.name}: {snapshot.entry_count} entries",
        evidence={
            "source": source.code,
            "files": snapshot.file_names,
            "file_hash": snapshot.file_hash,
            "entries": snapshot.entry_count,
            "names": names,
            "added": len(added),
            "changed": len(changed),
            "removed": len(removed),
            "previous_snapshot": previous.pk if previous else None,
            "rescreen_job": job.pk,
        },
    )
    return snapshot


def _write_entries(snapshot: ListSnapshot, parsed: ParsedList) -> int:
    """Entries, names, dates, countries, documents and the candidate index; the name count."""
    entries = ListEntry.objects.bulk_create(
        [
            ListEntry(
                snapshot=snapshot,
                list_id=e.list_id,
                kind=e.kind,
                primary_name=e.primary_name[:500],
                programmes=e.programmes,
                remarks=e.remarks,
                gender=e.gender,
                details=e.details,
                content_hash=e.content_hash(),
            )
            for e in parsed.entries
        ],
        batch_size=BATCH,
    )
    names, dates, countries, documents = [], [], [], []
    for row, e in zip(entries, parsed.entries, strict=True):
        seen = set()
        for text, quality, alias_type, primary in [
            (e.primary_name, "strong", "", True),
            *((a, q, t, False) for a, q, t in e.aliases),
        ]:
            norm = normalise(text, e.kind)
            if not norm or norm in seen:
                continue
            seen.add(norm)
            names.append(
                EntryName(
                    entry=row,
                    name=text[:500],
                    normalised=norm[:500],
                    quality=quality,
                    is_primary=primary,
                    alias_type=alias_type[:20],
                )
            )
        dates += [
            EntryBirthDate(
                entry=row, kind=d.kind, earliest=d.earliest, latest=d.latest, text=d.text[:120]
            )
            for d in e.birth_dates
        ]
        countries += [
            EntryCountry(entry=row, relation=rel, country=code, text=text[:120])
            for rel, code, text in e.countries
        ]
        documents += [
            EntryDocument(
                entry=row, kind=kind[:80], number=number[:120], country=cc, note=note[:300]
            )
            for kind, number, cc, note in e.documents
        ]
    EntryName.objects.bulk_create(names, batch_size=BATCH)
    EntryBirthDate.objects.bulk_create(dates, batch_size=BATCH)
    EntryCountry.objects.bulk_create(countries, batch_size=BATCH)
    EntryDocument.objects.bulk_create(documents, batch_size=BATCH)
    _index_names(snapshot, names)
    return len(names)


def _index_names(snapshot: ListSnapshot, names: list[EntryName]) -> None:
    """The candidate index rows of `names` (COPY: tens of thousands of rows)."""
    with (
        connection.cursor() as cur,
        cur.copy(
            "COPY compliance_nametoken (snapshot_id, name_id, entry_id, kind, token, phonetic,"
            " name_tokens) FROM STDIN"
        ) as copy,
    ):
        for n in names:
            tokens = name_tokens(n.normalised, n.entry.kind)
            for token in dict.fromkeys(tokens):
                copy.write_row(
                    (
                        snapshot.pk,
                        n.pk,
                        n.entry_id,
                        n.entry.kind,
                        token[:100],
                        phonetic(token)[:100],
                        min(len(tokens), 32767),
                    )
                )


def token_weights_rebuild() -> None:
    """How rare each token is across the current snapshots: weight = ln(N / entries with the
    token) / ln(N), at least 0.05, where N is the number of current entries."""
    with connection.cursor() as cur:
        cur.execute("DELETE FROM compliance_tokenweight")
        cur.execute(
            """
            WITH n AS (SELECT GREATEST(COUNT(DISTINCT entry_id), 2)::float AS total
                         FROM compliance_nametoken)
            INSERT INTO compliance_tokenweight (token, names, weight)
            SELECT t.token, COUNT(DISTINCT t.entry_id),
                   GREATEST(LN(n.total / COUNT(DISTINCT t.entry_id)) / LN(n.total), 0.05)
              FROM compliance_nametoken t CROSS JOIN n
             GROUP BY t.token, n.total
            """
        )


def _analyze() -> None:
    """Fresh planner statistics for the tables a bulk import just filled: screening right
    after an import must not plan its joins for empty tables."""
    with connection.cursor() as cur:
        for table in (
            "compliance_listentry",
            "compliance_entryname",
            "compliance_entrybirthdate",
            "compliance_entrycountry",
            "compliance_nametoken",
            "compliance_tokenweight",
        ):
            cur.execute(f"ANALYZE {table}")


# --- Screening clients and partners; the alerts it raises and their decisions ------------------


KYC_DETAILS = ("first_name", "last_name", "date_of_birth", "nationality")


def subject_queries(client, reported: dict | None = None) -> list[Query]:
    """What is screened of a client (`queries_of`), read from the client and their newest KYC
    details."""
    details = (
        KycSubmission.objects.filter(client=client)
        .order_by("-created_at", "-pk")
        .values(*KYC_DETAILS)
        .first()
    ) or {}
    person = f"{client.user.first_name} {client.user.last_name}"
    return queries_of(person=person, legal=client.legal_name, details=details, reported=reported)


def queries_of(*, person: str, legal: str, details: dict, reported: dict | None) -> list[Query]:
    """The registered name, the name given at KYC when it is another (both with the date of
    birth and nationality given at KYC, which can only lower a score), a partner's company
    name, and a `reported` name (`client.name_reported`: read from an identity document, a
    deposit's payer) when it is none of these."""
    dob, nationality = details.get("date_of_birth"), details.get("nationality") or ""
    queries, seen = [], set()

    def add(name: str, kind: str, origin: str, **facts) -> None:
        name = " ".join((name or "").split())
        key = normalise(name)
        if key and key not in seen:
            seen.add(key)
            queries.append(Query(name=name, kind=kind, origin=origin, **facts))

    add(person, "person", NameOrigin.REGISTERED, dob=dob, nationality=nationality)
    kyc_name = f"{details.get('first_name') or ''} {details.get('last_name') or ''}"
    add(kyc_name, "person", NameOrigin.KYC_DETAILS, dob=dob, nationality=nationality)
    add(legal, "any", NameOrigin.LEGAL)
    if reported and reported.get("name"):
        origin = reported["origin"]
        add(
            reported["name"],
            "person" if origin == NameOrigin.KYC_DOCUMENT else "any",
            origin,
            dob=_date(reported.get("dob")) or dob,
            nationality=reported.get("nationality") or nationality,
        )
    return queries


def _date(value) -> date | None:
    if isinstance(value, date) or value is None:
        return value
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class _EntryRef:
    """What an alert keeps of the list entry it was raised on."""

    pk: int
    snapshot_id: int
    source_id: int
    content_hash: str


def _remembered_many(
    found: dict[int, list[Hit]], entries: dict[int, _EntryRef]
) -> set[tuple[int, int, str]]:
    """The (client, source, list id) triples not to raise again, for many clients at once: an
    undecided or confirmed alert on the pair, or a dismissal of the entry as it still reads
    (same content hash)."""
    keys = {
        (pk, entries[h.entry_pk].source_id, h.entry_id) for pk, hits in found.items() for h in hits
    }
    if not keys:
        return set()
    hashes: dict[tuple, set[str]] = {}
    for pk, hits in found.items():
        for h in hits:
            entry = entries[h.entry_pk]
            hashes.setdefault((pk, entry.source_id, h.entry_id), set()).add(entry.content_hash)
    remembered = set()
    for client_id, source_id, list_id, status, content_hash in Alert.objects.filter(
        client_id__in=list(found), list_id__in={k[2] for k in keys}
    ).values_list("client_id", "source_id", "list_id", "status", "content_hash"):
        key = (client_id, source_id, list_id)
        if key in keys and (status != AlertStatus.DISMISSED or content_hash in hashes[key]):
            remembered.add(key)
    return remembered


# The screenings owed once per client (registration), whichever task or sweep gets there first.
ONCE_REASONS = (ScreeningReason.REGISTRATION, ScreeningReason.SWEEP)


@transaction.atomic
def client_screen(
    *,
    client_id: int,
    reason: str,
    actor: Actor = "rule:screening",
    reported: dict | None = None,
) -> ScreeningRun:
    """Screen a client (or a partner's account holder) against the current snapshots, record
    the run and raise an alert per list entry hit, except the pairs remembered
    (`_remembered_many`).
    `reported` is a name reported through `client.name_reported` (origin, name, reference,
    dob, nationality), screened with the client's own. Audited with the client as subject.

    Screening a newly registered client happens once: for the reasons of registration and of
    the never-screened sweeper, a client screened meanwhile (a sweeper beside a late or
    redelivered task, two sweeps at once) is not screened again and their last run is returned.
    """
    client = lock_client(client_id)
    if reason in ONCE_REASONS:
        done = ScreeningRun.objects.filter(client=client).order_by("-pk").first()
        if done is not None:
            return done
    queries = subject_queries(client, reported)
    snapshots = current_snapshots()
    results = screen(queries) if queries and snapshots else [[] for _ in queries]
    best = best_hits(queries, results)
    reference = (reported or {}).get("reference") or ""
    return run_record(
        client=client,
        reason=reason,
        reference=reference,
        queries=queries,
        best=best,
        snapshots=snapshots,
        actor=actor,
    )


def best_hits(queries: list[Query], results: list[list[Hit]]) -> dict[int, tuple[Hit, Query]]:
    """Per list entry hit, the best hit and the query (name) it met."""
    best: dict[int, tuple[Hit, Query]] = {}
    for query, found in zip(queries, results, strict=True):
        for hit in found:
            if hit.entry_pk not in best or hit.score > best[hit.entry_pk][0].score:
                best[hit.entry_pk] = (hit, query)
    return best


def run_record(
    *,
    client,
    reason: str,
    reference: str,
    queries: list[Query],
    best: dict[int, tuple[Hit, Query]],
    snapshots: list[ListSnapshot],
    actor: Actor,
) -> ScreeningRun:
    """Record a screening of the (locked) client and raise an alert per entry hit, except the
    pairs remembered; audited with the client as subject (`runs_record` for one client)."""
    return runs_record(
        screened={client.pk: (queries, best)},
        reason=reason,
        reference=reference,
        snapshots=snapshots,
        actor=actor,
    )[0]


def runs_record(
    *,
    screened: dict[int, tuple[list[Query], dict[int, tuple[Hit, Query]]]],
    reason: str,
    reference: str,
    snapshots: list[ListSnapshot],
    actor: Actor,
) -> list[ScreeningRun]:
    """Record a screening of each client of `screened` ({client id: (the names screened, the
    best hit per entry)}) in the caller's transaction, their rows locked in primary-key order:
    a run each, an alert per entry hit except the pairs remembered (`_remembered_many`), an
    audit event per run with the client as subject; written in a few statements whatever the
    number of clients (a batch of the book)."""
    if not screened:
        return []
    lock_clients(screened)
    entries = {
        pk: _EntryRef(pk, snapshot_id, source_id, content_hash)
        for pk, snapshot_id, source_id, content_hash in ListEntry.objects.filter(
            pk__in={pk for _queries, best in screened.values() for pk in best}
        ).values_list("pk", "snapshot_id", "snapshot__source_id", "content_hash")
    }
    skip = _remembered_many(
        {pk: [h for h, _ in best.values()] for pk, (_q, best) in screened.items()}, entries
    )
    runs, alerts = [], []
    for pk, (queries, best) in sorted(screened.items()):
        run = ScreeningRun(
            client_id=pk,
            reason=reason,
            reference=reference[:120],
            names=[q.name for q in queries],
            hit_count=len(best),
        )
        mine = []
        for hit, query in sorted(best.values(), key=lambda b: -b[0].score):
            entry = entries[hit.entry_pk]
            if (pk, entry.source_id, hit.entry_id) in skip:
                continue
            mine.append(
                Alert(
                    client_id=pk,
                    snapshot_id=entry.snapshot_id,
                    source_id=entry.source_id,
                    entry_id=entry.pk,
                    list_id=hit.entry_id,
                    content_hash=entry.content_hash,
                    screened_name=query.name[:300],
                    name_origin=query.origin or NameOrigin.REGISTERED,
                    matched_name=hit.matched_name[:500],
                    score=Decimal(str(round(hit.score, 4))),
                    breakdown=hit.breakdown,
                )
            )
        run.raised_count = len(mine)
        runs.append(run)
        alerts.append(mine)
    ScreeningRun.objects.bulk_create(runs)
    ScreeningRun.snapshots.through.objects.bulk_create(
        [
            ScreeningRun.snapshots.through(screeningrun=run, listsnapshot=s)
            for run in runs
            for s in snapshots
        ]
    )
    for run, mine in zip(runs, alerts, strict=True):
        for alert in mine:
            alert.run = run
    Alert.objects.bulk_create([a for mine in alerts for a in mine])
    for run, mine in zip(runs, alerts, strict=True):
        if mine:
            client_risk_factor_changed(client_id=run.client_id, cause="screening alert raised")
    audit_record_many(
        actor=actor,
        action=audit_events.CLIENT_SCREENED,
        entries=[
            (
                run,
                "",
                {
                    "reason": reason,
                    "reference": run.reference,
                    "names": run.names,
                    "snapshots": [s.pk for s in snapshots],
                    "hits": run.hit_count,
                    "alerts": [a.pk for a in mine],
                },
            )
            for run, mine in zip(runs, alerts, strict=True)
        ],
    )
    return runs


def clients_never_screened(limit: int = 500) -> list[int]:
    return list(
        Client.objects.filter(~Exists(ScreeningRun.objects.filter(client=OuterRef("pk"))))
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )


def never_screened_sweep(limit: int = 500) -> int:
    """Screen the clients and partners registered and never screened (a task lost while the
    broker was down loses nothing). Returns how many were screened."""
    ids = clients_never_screened(limit)
    for pk in ids:
        client_screen(client_id=pk, reason=ScreeningReason.SWEEP)
    return len(ids)


def _alert_locked(alert: Alert, actor) -> Alert:
    require_officer(actor)
    lock_client(alert.client_id)
    return Alert.objects.select_for_update().select_related("client").get(pk=alert.pk)


def _reason_required(reason: str, what: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(f"Say why you {what}.", fields={"reason": ["A reason is required."]})
    return reason


def _undecided(alert: Alert) -> None:
    if alert.status not in UNDECIDED:
        raise InvalidInput(f"This alert is already decided ({alert.get_status_display()}).")


def _alert_record(alert: Alert, *, actor, action: str, reason: str, **changes) -> Alert:
    """Write `changes` on the (locked) alert and audit them, the client as subject."""
    for field, value in changes.items():
        setattr(alert, field, value)
    alert.save(update_fields=list(changes))
    client_risk_factor_changed(client_id=alert.client_id, cause=f"screening alert {alert.status}")
    audit_record(
        actor=actor,
        action=action,
        target=alert,
        subject=alert.client,
        reason=reason,
        evidence={
            "list": alert.source_id,
            "list_id": alert.list_id,
            "content_hash": alert.content_hash,
            "snapshot": alert.snapshot_id,
            "score": str(alert.score),
            "matched_name": alert.matched_name,
            "status": alert.status,
            "proposed_by": alert.proposed_by_id,
        },
    )
    return alert


def _decision(status: str, actor, reason: str) -> dict:
    return {
        "status": status,
        "decided_by": actor,
        "decided_at": timezone.now(),
        "decision_reason": reason,
    }


@transaction.atomic
def alert_confirm(*, alert: Alert, actor, reason: str) -> Alert:
    """A true match: the client's standing is blocked (`sanctions_match`) until lifted."""
    reason = _reason_required(reason, "confirm the match")
    alert = _alert_locked(alert, actor)
    _undecided(alert)
    alert = _alert_record(
        alert,
        actor=actor,
        action=audit_events.ALERT_CONFIRMED,
        reason=reason,
        **_decision(AlertStatus.CONFIRMED, actor, reason),
    )
    # Its trading accounts: trading disabled on the platform once this commits.
    platform_reach_request(clients=[alert.client_id], reason="sanctions match confirmed")
    if not _other_blocks(alert):  # the client's first block: they are told, neutrally
        _review_told(alert, actor, "account_under_review", "started")
    return alert


def _other_blocks(alert: Alert) -> bool:
    """Another confirmed match still blocks the alert's client."""
    return (
        Alert.objects.filter(
            client_id=alert.client_id, status=AlertStatus.CONFIRMED, lifted_at__isnull=True
        )
        .exclude(pk=alert.pk)
        .exists()
    )


def _review_told(alert: Alert, actor, email: str, what: str) -> None:
    """The client is told, in their language and in their communication history, that their
    account is under a compliance review (deposits, withdrawals, transfers, new accounts and
    new trades suspended) or that the review ended: never why, nor which list (no
    tipping-off)."""
    client = alert.client
    partner = client.holder == Client.Holder.PARTNER
    client_notify(
        client,
        email=email,
        key=f"compliance_review:{alert.pk}:{what}",
        actor=actor,
        url_name="partners:home" if partner else "portal:home",
        context={"partner_area": partner},
        data={"review": what},
    )


def needs_four_eyes(alert: Alert) -> bool:
    return alert.score >= Decimal(str(settings.COMPLIANCE_FOUR_EYES_SCORE))


@transaction.atomic
def alert_dismiss(*, alert: Alert, actor, reason: str = "") -> Alert:
    """A false positive. Below the four-eyes score one officer dismisses it; at or above, the
    first officer's dismissal is a proposal and a different officer's approves it (the
    proposal's reason stands unless the approver gives one)."""
    alert = _alert_locked(alert, actor)
    _undecided(alert)
    if alert.status == AlertStatus.DISMISSAL_PROPOSED:
        if alert.proposed_by_id == actor.pk:
            raise NotAllowed(
                "A second compliance officer approves this dismissal, not the one who proposed it.",
                code="four_eyes",
            )
        reason = (reason or "").strip() or alert.proposed_reason
    else:
        reason = _reason_required(reason, "dismiss the hit")
        if needs_four_eyes(alert):
            return _alert_record(
                alert,
                actor=actor,
                action=audit_events.ALERT_DISMISSAL_PROPOSED,
                reason=reason,
                status=AlertStatus.DISMISSAL_PROPOSED,
                proposed_by=actor,
                proposed_at=timezone.now(),
                proposed_reason=reason,
            )
    return _alert_record(
        alert,
        actor=actor,
        action=audit_events.ALERT_DISMISSED,
        reason=reason,
        **_decision(AlertStatus.DISMISSED, actor, reason),
    )


@transaction.atomic
def alert_block_lift(*, alert: Alert, actor, reason: str) -> Alert:
    """Compliance lifts the block a confirmed match put on the client's standing."""
    reason = _reason_required(reason, "lift the block")
    alert = _alert_locked(alert, actor)
    if not alert.blocking:
        raise InvalidInput("This alert does not block the client.")
    alert = _alert_record(
        alert,
        actor=actor,
        action=audit_events.BLOCK_LIFTED,
        reason=reason,
        lifted_by=actor,
        lifted_at=timezone.now(),
        lift_reason=reason,
    )
    # Trading restored as it was, unless another block still stands.
    platform_reach_request(clients=[alert.client_id], reason="sanctions block lifted")
    if not _other_blocks(alert):
        _review_told(alert, actor, "account_review_ended", "ended")
    return alert
