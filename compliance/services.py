"""Compliance writes: list snapshots.

`snapshot_import` is the one way a list gets into the system, from the command line, the upload
page, or a scheduled downloader: the files are read completely first (a file that cannot be
read fails naming its line or element, and nothing is written), then one transaction writes the
snapshot with its entries, computes what was added, changed and removed against the source's
previous snapshot, makes it current, moves the candidate index to it and records the audit
event. Two imports of the same source queue on the source's row lock.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from django.db import connection, transaction

from brokerage.services import Actor, audit_record

from . import audit_events
from .lists import ListFileError, ParsedList, read_list
from .models import (
    EntryBirthDate,
    EntryCountry,
    EntryDocument,
    EntryName,
    ListEntry,
    ListFormat,
    ListKind,
    ListSnapshot,
    ListSource,
    NameToken,
)
from .names import name_tokens, normalise, phonetic

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
) -> ListSnapshot:
    """Read `files` (name, bytes) as `fmt` and store them as the list's new current snapshot.
    Raises ListFileError (nothing written) when a file cannot be read."""
    files = sorted(files, key=lambda f: f[0])
    parsed = read_list(fmt, files, mapping=mapping)
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
