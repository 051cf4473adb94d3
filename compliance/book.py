"""The book's side of the candidate index: every client's screened names, normalised once.

A re-screen of the book (`compliance.rescreen`) reads the names `services.queries_of` gives of
each client (registered, given at KYC, company) from this index instead of normalising the
whole book again: `BookName` (the name with the date of birth and nationality screened with
it) and `BookToken` (its tokens and their phonetic keys, indexed like the lists' `NameToken`).
A delta re-screen joins the changed entries' tokens to the book's in one statement, so only
the clients who share a token (or a phonetic key) with a changed entry are loaded and scored.

The index is kept as the names change:

- a client or a partner registered, or whose name, date of birth or nationality changed at
  KYC, is indexed in that transaction (`book_index_clients`, through the kernel's
  `client.registered` and `client.name_reported` hooks);
- each client's row (`BookClient`) keeps a digest of what it was read from, so every re-screen
  of the book first indexes, in one statement, whoever is missing or changed another way
  (a name edited in admin, a newer KYC submission, rows written in bulk): the index can fall
  behind a write path, never a re-screen.

Two transactions indexing the same client take its `BookClient` row in turn (an upsert, in
client order), so the later one replaces what the earlier wrote.
"""

from __future__ import annotations

from collections import defaultdict

from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone

from clients.models import Client
from kyc.models import KycSubmission

from .candidates import SPLIT_MIN_LENGTH, SPLIT_MIN_PART
from .matching import Query
from .models import BookName, EntryName
from .names import in_hangul, korean_variants, name_tokens, phonetic
from .screening import candidates_cursor, query_keys

# What the index writes of a name; a new version re-indexes every client at the next re-screen
# (version 2: a name in Hangul also under the older romanisation of each syllable).
INDEX_VERSION = 2
# Each client's screened names and the digest of what they are read from: the registered name,
# the company name and the newest KYC submission's details (`services.subject_queries`).
SOURCE_SQL = """
SELECT c.id, u.first_name, u.last_name, c.legal_name,
       k.first_name, k.last_name, k.date_of_birth, k.nationality,
       md5(concat_ws(chr(31), {version}, u.first_name, u.last_name, c.legal_name,
                     coalesce(k.first_name, ''), coalesce(k.last_name, ''),
                     coalesce(k.date_of_birth::text, ''), coalesce(k.nationality, '')))
  FROM {client} c
  JOIN {user} u ON u.id = c.user_id
  LEFT JOIN (
      SELECT DISTINCT ON (client_id) client_id, first_name, last_name, date_of_birth,
             nationality
        FROM {kyc} {kyc_where}
       ORDER BY client_id, created_at DESC, id DESC
  ) k ON k.client_id = c.id
"""
STALE_SQL = """
WITH s AS ({source})
SELECT s.* FROM s
  LEFT JOIN compliance_bookclient b ON b.client_id = s.id
 WHERE b.source IS DISTINCT FROM s.md5
"""
UPSERT_SQL = """
INSERT INTO compliance_bookclient (client_id, source, indexed_at)
SELECT * FROM unnest(%(ids)s::bigint[], %(sources)s::text[], %(now)s::timestamptz[])
 ORDER BY 1
    ON CONFLICT (client_id) DO UPDATE SET source = EXCLUDED.source,
                                          indexed_at = EXCLUDED.indexed_at
"""


def _source_sql(*, clients: bool) -> str:
    return SOURCE_SQL.format(
        version=f"'{INDEX_VERSION}'",
        client=Client._meta.db_table,
        user=get_user_model()._meta.db_table,
        kyc=KycSubmission._meta.db_table,
        kyc_where="WHERE client_id = ANY(%(ids)s)" if clients else "",
    ) + ("WHERE c.id = ANY(%(ids)s)" if clients else "")


def book_index_clients(client_ids: list[int]) -> int:
    """Index these clients' names as they read now (in the caller's transaction)."""
    with connection.cursor() as cur:
        cur.execute(_source_sql(clients=True), {"ids": list(client_ids)})
        rows = cur.fetchall()
    return _index(rows)


def book_index_refresh() -> int:
    """Index every client missing from the index or whose names changed since it was
    indexed (in one statement; normally few). Returns how many were indexed."""
    with connection.cursor() as cur:
        cur.execute(STALE_SQL.format(source=_source_sql(clients=False)))
        rows = cur.fetchall()
    return _index(rows)


def book_queries_of(rows) -> list[tuple[int, Query]]:
    """(client id, query) for rows of `SOURCE_SQL`: what `services.subject_queries` screens."""
    from .services import queries_of

    out = []
    for pk, first, last, legal, k_first, k_last, dob, nationality, _source in rows:
        details = (
            {}
            if k_first is None
            else {
                "first_name": k_first,
                "last_name": k_last,
                "date_of_birth": dob,
                "nationality": nationality,
            }
        )
        for query in queries_of(
            person=f"{first} {last}", legal=legal, details=details, reported=None
        ):
            out.append((pk, query))
    return out


def _index(rows) -> int:
    if not rows:
        return 0
    rows = sorted(rows)
    ids = [row[0] for row in rows]
    now = timezone.now()
    with connection.cursor() as cur:
        cur.execute(
            UPSERT_SQL, {"ids": ids, "sources": [row[-1] for row in rows], "now": [now] * len(ids)}
        )
        cur.execute("DELETE FROM compliance_booktoken WHERE client_id = ANY(%s)", [ids])
        cur.execute("DELETE FROM compliance_bookname WHERE client_id = ANY(%s)", [ids])
        queries = book_queries_of(rows)
        with cur.copy(
            "COPY compliance_bookname (client_id, origin, name, kind, dob, nationality, need)"
            " FROM STDIN"
        ) as copy:
            for pk, query in queries:
                _tokens, need = query_keys(query.tokens())
                copy.write_row(
                    (
                        pk,
                        query.origin,
                        query.name[:300],
                        query.kind,
                        query.dob,
                        (query.nationality or "")[:2],
                        need,
                    )
                )
        with cur.copy(
            "COPY compliance_booktoken (client_id, origin, position, token, phonetic) FROM STDIN"
        ) as copy:
            for pk, query in queries:
                tokens, _need = query_keys(query.tokens())
                hangul = in_hangul(query.name)
                for position, token in enumerate(tokens):
                    # a name in Hangul: each syllable also as the older romanisation writes it
                    for word in sorted(korean_variants(token)) if hangul else (token,):
                        copy.write_row(
                            (pk, query.origin, position, word[:100], phonetic(word)[:100])
                        )
    return len(ids)


# --- Candidates of the book among the lists ----------------------------------------------------

BOOK_CANDIDATES_SQL = """
WITH e AS (
    SELECT name_id, kind, phonetic, name_tokens FROM compliance_nametoken
     WHERE snapshot_id = ANY(%(snapshots)s) {entries}
    UNION ALL
    SELECT * FROM unnest(%(x_name)s::bigint[], %(x_kind)s::text[], %(x_phonetic)s::text[],
                         %(x_tokens)s::int[])
), m AS (
    SELECT DISTINCT b.client_id, b.origin, b.position, e.name_id, e.kind, e.name_tokens
      FROM e JOIN compliance_booktoken b ON b.phonetic = e.phonetic
)
SELECT m.client_id, m.origin, m.name_id
  FROM m JOIN compliance_bookname n ON n.client_id = m.client_id AND n.origin = m.origin
 WHERE n.kind = 'any' OR n.kind = m.kind
 GROUP BY m.client_id, m.origin, m.name_id, n.need
HAVING COUNT(*) >= LEAST(n.need, MAX(m.name_tokens))
"""


def _other_writings(entries: list[int] | None) -> dict:
    """For a delta, the other writings of the changed entries' names that a book name may use,
    as extra index rows: two neighbouring tokens run together ("abdulrahman" for "Abdul
    Rahman") and a long token split in two ("abdul", "rahman" for "Abdulrahman"), which meet
    the book's tokens on their own positions; a name in Hangul is indexed under the older
    romanisation as well (`_index`). The full re-screen reads the same writings from the
    book's side (`compliance.candidates`)."""
    rows: list[tuple[int, str, str, int]] = []
    if entries:
        for name_id, kind, normalised in EntryName.objects.filter(entry_id__in=entries).values_list(
            "pk", "entry__kind", "normalised"
        ):
            tokens = [t for t in name_tokens(normalised, kind) if len(t) > 1]
            words = {a + b for a, b in zip(tokens, tokens[1:], strict=False)}
            for token in tokens:
                if len(token) >= SPLIT_MIN_LENGTH:
                    for i in range(SPLIT_MIN_PART, len(token) - SPLIT_MIN_PART + 1):
                        words.update((token[:i], token[i:]))
            keys = {phonetic(w) for w in words} - {phonetic(t) for t in tokens}
            rows += [(name_id, kind, key[:100], len(tokens)) for key in sorted(keys)]
    return {
        "x_name": [r[0] for r in rows],
        "x_kind": [r[1] for r in rows],
        "x_phonetic": [r[2] for r in rows],
        "x_tokens": [r[3] for r in rows],
    }


def book_candidates(
    snapshot_ids: list[int], *, entries: list[int]
) -> tuple[list[tuple[int, Query]], list[set[int]]]:
    """The book's names that may match a listed name of `entries` (list entry ids of the
    snapshots: a delta): (client id, query) pairs, and for each its candidate listed name ids,
    from one statement over both indexes, the way `candidates.ListIndex` finds them for a batch
    (a phonetic key in common, so a token too; two of them unless a name has one; the other
    writings of the entries' names, `_other_writings`). The book's names are persons, who meet
    listed persons only, or company names, who meet any. A full re-screen reads the book's
    names in batches instead (`rescreen`)."""
    sql = BOOK_CANDIDATES_SQL.format(entries="AND entry_id = ANY(%(entries)s)")
    params = {"snapshots": snapshot_ids, "entries": entries, **_other_writings(entries)}
    with candidates_cursor(batch=True) as cur:
        cur.execute(sql, params)
        found: dict[tuple[int, str], set[int]] = defaultdict(set)
        for client_id, origin, name_id in cur.fetchall():
            found[(client_id, origin)].add(name_id)
    if not found:
        return [], []
    rows = (
        BookName.objects.filter(client_id__in={client_id for client_id, _ in found})
        .order_by("client_id", "pk")
        .values_list("client_id", "origin", "name", "kind", "dob", "nationality")
    )
    queries, names = [], []
    for client_id, origin, name, kind, dob, nationality in rows:
        if (client_id, origin) in found:
            query = Query(name=name, kind=kind, dob=dob, nationality=nationality, origin=origin)
            queries.append((client_id, query))
            names.append(found[(client_id, origin)])
    return queries, names
