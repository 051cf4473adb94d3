"""The book's side of the candidate index: every client's screened names, normalised once.

A re-screen of the book (`compliance.rescreen`) reads the names `services.queries_of` gives of
each client (registered, given at KYC, company) from this index instead of normalising the
whole book again: `BookName` (the name with the date of birth and nationality screened with
it) and `BookToken` (its tokens and their phonetic keys, indexed like the lists' `NameToken`).
A delta re-screen looks the changed entries' phonetic keys up in the book's token index, so
only the names that share a key (or a word) with a changed entry are loaded and scored.

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

from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone

from clients.models import Client
from kyc.models import KycSubmission

from .candidates import SPLIT_MIN_LENGTH, SPLIT_MIN_PART, list_index
from .matching import Query
from .names import in_hangul, korean_variants, phonetic
from .screening import candidate_pairs, query_keys

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


# --- The book's names a delta may hit ------------------------------------------------------------

# The book's names that share a phonetic key or a word with the changed entries' names, read
# through the book's token index (`BookToken`: an index scan per key, not a join of the book),
# with how many of their tokens do (`met`) and how many a listed name must meet (`need`).
BOOK_MEETING_SQL = """
SELECT n.client_id, n.origin, n.name, n.kind, n.dob, n.nationality, m.met, n.need
  FROM (SELECT client_id, origin, COUNT(DISTINCT position) AS met FROM compliance_booktoken
         WHERE phonetic = ANY(%(keys)s) OR token = ANY(%(words)s)
         GROUP BY client_id, origin) m
  JOIN compliance_bookname n ON n.client_id = m.client_id AND n.origin = m.origin
 ORDER BY n.client_id, n.id
"""


def entry_keys(index, entries: list[int]) -> tuple[list[str], list[str], set[str]]:
    """What a book name shares with a listed name of `entries` (list entry ids) if it may be
    one of its candidates: the phonetic key of one of its tokens, or of two of them run
    together (the book name writes them as one word, "Abdulrahman" for "Abdul Rahman"), or
    (exactly) a part of a long token split in two (the book name writes it apart, "Guo Ying"
    for "Guoying"). A name in Hangul is in the book's index under the older romanisation as
    well (`_index`), so its syllables meet the listed spellings' keys."""
    keys: set[str] = set()
    words: set[str] = set()
    listed_tokens: set[str] = set()
    for pk in entries:
        entry = index.entries.get(pk)
        for listed in entry.names if entry else ():
            tokens = [t for t in dict.fromkeys(listed.tokens) if len(t) > 1]
            listed_tokens.update(tokens)
            keys.update(phonetic(t) for t in tokens)
            keys.update(phonetic(a + b) for a in tokens for b in tokens if a != b)
            for token in tokens:
                if len(token) >= SPLIT_MIN_LENGTH:
                    for i in range(SPLIT_MIN_PART, len(token) - SPLIT_MIN_PART + 1):
                        words.update((token[:i], token[i:]))
    return sorted(k[:100] for k in keys), sorted(w[:100] for w in words), listed_tokens


def book_meeting(snapshots: list, *, entries: list[int], floor: int = 2) -> list[tuple[int, Query]]:
    """The book's names that may be candidates of a listed name of `entries` (list entry ids
    of the current `snapshots`: a delta), as (client id, query) in client order, read through
    the book's token index: those enough of whose tokens share a key or a word with the
    entries' names (`entry_keys`; as many as a listed name must meet, at most `floor`), or one
    fewer when a token no list has is most like one of the entries' tokens (a misspelling,
    `candidates.TrigramIndex`). A few hundred of a book of 100,000."""
    index = list_index(snapshots)
    keys, words, listed = entry_keys(index, entries)
    if not keys and not words:
        return []
    with connection.cursor() as cur:
        cur.execute(BOOK_MEETING_SQL, {"keys": keys, "words": words})
        rows = cur.fetchall()
    out = []
    for client_id, origin, name, kind, dob, nationality, met, need in rows:
        query = Query(name=name, kind=kind, dob=dob, nationality=nationality, origin=origin)
        enough = min(need, floor)
        if met < enough and not (met == enough - 1 and _misspelt_of(index, query, listed)):
            continue
        out.append((client_id, query))
    return out


def _misspelt_of(index, query: Query, listed: set[str]) -> bool:
    """One of the query's tokens no list has is most like one of `listed` (a misspelling)."""
    full, _need = query_keys(query.tokens())
    return any(set(found) & listed for found in index.similar_tokens(full).values())


def book_candidates(
    snapshots: list, book: list[tuple[int, Query]], *, entries: list[int]
) -> tuple[list[tuple[int, Query]], list[set[int]]]:
    """Of `book`'s names (`book_meeting`), those that may match a listed name of `entries`,
    and for each its candidate listed name ids: the candidate index held in memory picks them
    among the entries' names exactly as it does for a batch of the book
    (`screening.candidate_pairs`), other writings and misspellings included. A full re-screen
    reads the book's names in batches instead (`rescreen`)."""
    pairs = candidate_pairs([q for _, q in book], snapshots, entries=entries, hits_only=True)
    found = sorted(pairs)
    return [book[i] for i in found], [pairs[i] for i in found]
