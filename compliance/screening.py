"""Screening names against the current list snapshots: `screen(queries)` -> hits per query.

Candidates are found in the database, set-based, for one name or a whole book at once: the
queries' tokens (and their Metaphone keys, and for a token no list has, the list tokens most
alike it by trigram similarity, pg_trgm) are joined to the candidate index (`NameToken`) in one
statement; a listed name is a candidate of a query when at least two of the query's tokens meet
its tokens (one, for a name of one token). Only those pairs are loaded and scored in Python
(`compliance.matching`), so the cost grows with the candidates, not with the lists times the
book.
"""

from __future__ import annotations

from collections import defaultdict
from contextlib import contextmanager
from dataclasses import replace

from django.db import connection, transaction

from .matching import SINGLE_TOKEN_CAP, Hit, ListedEntry, ListedName, Query, kinds_for, rank
from .models import EntryBirthDate, EntryCountry, EntryName, ListEntry, ListSnapshot
from .names import in_hangul, korean_variants, name_tokens, phonetic

TYPO_MIN_LENGTH = 4
TYPO_SIMILAR = 3  # list tokens looked up per unknown token

# A query's token meets a listed token with the same phonetic key (so, the same token too);
# a token no list has (a typo) meets the list tokens most like it. Each (query, token, listed
# name) counts once (its distinct query tokens, counted per group: cheaper than removing
# duplicate rows from the whole join first), and a listed name is a candidate when enough of
# the query's tokens meet it.
CANDIDATES_SQL = """
WITH q AS (
    SELECT * FROM unnest(%(subj)s::int[], %(qi)s::int[], %(key)s::text[], %(phon)s::bool[],
                         %(need)s::int[]) AS q(subj, qi, key, phon, need)
), m AS (
    SELECT q.subj, q.qi, q.need, nt.name_id, nt.name_tokens
      FROM q JOIN compliance_nametoken nt ON nt.phonetic = q.key
     WHERE q.phon AND nt.snapshot_id = ANY(%(snapshots)s) AND nt.kind = ANY(%(kinds)s)
           {only}
    UNION ALL
    SELECT q.subj, q.qi, q.need, nt.name_id, nt.name_tokens
      FROM q JOIN compliance_nametoken nt ON nt.token = q.key
     WHERE NOT q.phon AND nt.snapshot_id = ANY(%(snapshots)s) AND nt.kind = ANY(%(kinds)s)
           {only}
)
SELECT subj, name_id FROM m
 GROUP BY subj, name_id
HAVING COUNT(DISTINCT qi) >= {enough}
"""
# How many of a query's tokens must meet a listed name: two (one for a name of one token),
# or all of a listed name of one token. When no hit is looked for below 0.5 (every list's
# threshold above it, and no scores asked for besides hits), a name of several tokens needs
# two even against a listed name of one: one name matched alone scores 0.5 at most
# (`matching`, step 5), so such a pair is never scored.
ENOUGH = "LEAST(MAX(need), MAX(name_tokens))"
ENOUGH_FOR_HITS = "MAX(need)"
# A batch's join is large and short-lived: sorted in memory, not worth compiling (JIT).
BATCH = 100
BATCH_SETTINGS = "SET LOCAL jit = off; SET LOCAL work_mem = '64MB'"
ONLY_ENTRIES = "AND nt.entry_id = ANY(%(entries)s)"

SIMILAR_SQL = """
SELECT u.key, s.token
  FROM unnest(%(keys)s::text[]) AS u(key)
  CROSS JOIN LATERAL (
      SELECT token FROM compliance_tokenweight
       WHERE token %% u.key ORDER BY token <-> u.key LIMIT %(per)s
  ) s
"""


@contextmanager
def candidates_cursor(*, batch: bool):
    """A cursor for a candidate join; for a batch of names, in a transaction whose settings
    end with it."""
    if not batch:
        with connection.cursor() as cur:
            yield cur
        return
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(BATCH_SETTINGS)
        yield cur


def current_snapshots(lists: list[str] | None = None) -> list[ListSnapshot]:
    qs = ListSnapshot.objects.filter(is_current=True, source__is_active=True).select_related(
        "source"
    )
    if lists:
        qs = qs.filter(source__code__in=lists)
    return list(qs)


def _similar_tokens(keys: set[str]) -> dict[str, list[str]]:
    """For tokens no list has, the list tokens most like them (pg_trgm): typo tolerance."""
    candidates = [k for k in keys if len(k) >= TYPO_MIN_LENGTH and k.isalpha()]
    if not candidates:
        return {}
    with connection.cursor() as cur:
        cur.execute("SELECT token FROM compliance_tokenweight WHERE token = ANY(%s)", [candidates])
        known = {row[0] for row in cur.fetchall()}
        unknown = [k for k in candidates if k not in known]
        if not unknown:
            return {}
        cur.execute(SIMILAR_SQL, {"keys": unknown, "per": TYPO_SIMILAR})
        similar = defaultdict(list)
        for key, token in cur.fetchall():
            similar[key].append(token)
    return similar


SPLIT_MIN_LENGTH = 6  # a word this long may be two the lists write apart ("abdulrahman")
SPLIT_MIN_PART = 3  # of three letters each at least: "guoying", not "ma ria"


def _known(words: set[str]) -> set[str]:
    """The words some current list has as a token of a name."""
    if not words:
        return set()
    with connection.cursor() as cur:
        cur.execute("SELECT token FROM compliance_tokenweight WHERE token = ANY(%s)", [list(words)])
        return {row[0] for row in cur.fetchall()}


def _apart_and_together(full_of: list[list[str]]) -> tuple[set[str], set[tuple[str, str]]]:
    """The words the lists know of two neighbouring tokens run together, and the splits of a
    long token into two words the lists both know: what `_other_writings` looks up."""
    joins = {a + b for full in full_of for a, b in zip(full, full[1:], strict=False)}
    splits = {
        (t[:i], t[i:])
        for full in full_of
        for t in full
        if len(t) >= SPLIT_MIN_LENGTH
        for i in range(SPLIT_MIN_PART, len(t) - SPLIT_MIN_PART + 1)
    }
    known = _known(joins | {half for pair in splits for half in pair})
    return {j for j in joins if j in known}, {p for p in splits if p[0] in known and p[1] in known}


def _other_writings(query: Query, full: list[str], joins, splits) -> list[tuple[int, str]]:
    """(position, word) a list may write this query's token at `position` as: two neighbours
    joined (at the first one's position), a long token split in two, and for a name written in
    Hangul the older romanisation of each syllable."""
    out = []
    for position, token in enumerate(full):
        if position + 1 < len(full) and token + full[position + 1] in joins:
            out.append((position, token + full[position + 1]))
        if len(token) >= SPLIT_MIN_LENGTH:
            for i in range(SPLIT_MIN_PART, len(token) - SPLIT_MIN_PART + 1):
                if (token[:i], token[i:]) in splits:
                    out += [(position, token[:i]), (position, token[i:])]
        if in_hangul(query.name):
            out += [(position, v) for v in sorted(korean_variants(token)) if v != token]
    return out


def query_keys(tokens: list[str]) -> tuple[list[str], int]:
    """The tokens of a name looked up in the candidate index (each once, initials left out),
    and how many of them a listed name must meet (two; one for a name of one; never, for a
    name of initials only)."""
    full = [t for t in dict.fromkeys(tokens) if len(t) > 1]
    return full, min(2, len(full)) if full else 99


def candidate_pairs(
    queries: list[Query],
    snapshots: list[ListSnapshot],
    *,
    typos: bool = True,
    entries: list[int] | None = None,
    hits_only: bool = False,
) -> dict[int, set[int]]:
    """{query index: candidate name ids}, from one statement over the candidate index (only
    the names of `entries`, when given: a delta re-screen). `typos` also looks up the list
    tokens most like a token no list has, and the words two neighbouring tokens make run
    together or a long token makes split in two, when the lists know them. `hits_only`: only
    the names that could score a hit (see `ENOUGH_FOR_HITS`)."""
    subj, qi, key, phon, need = [], [], [], [], []
    tokens_of = [q.tokens() for q in queries]
    similar = _similar_tokens({t for ts in tokens_of for t in ts}) if typos else {}
    keys_of = [query_keys(tokens) for tokens in tokens_of]
    joins, splits = _apart_and_together([full for full, _needed in keys_of]) if typos else ((), ())
    kinds: set[str] = set()
    for index, (query, (full, needed)) in enumerate(zip(queries, keys_of, strict=True)):
        kinds.update(kinds_for(query.kind))
        for position, k, is_phonetic in [
            *((p, phonetic(t), True) for p, t in enumerate(full)),
            *((p, phonetic(w), True) for p, w in _other_writings(query, full, joins, splits)),
            *((p, s, False) for p, t in enumerate(full) for s in similar.get(t, ())),
        ]:
            subj.append(index)
            qi.append(position)
            key.append(k)
            phon.append(is_phonetic)
            need.append(needed)
    if not subj or not snapshots:
        return {}
    with candidates_cursor(batch=len(queries) >= BATCH) as cur:
        cur.execute(
            CANDIDATES_SQL.format(
                only=ONLY_ENTRIES if entries is not None else "",
                enough=ENOUGH_FOR_HITS if hits_only and _above_cap(snapshots) else ENOUGH,
            ),
            {
                "entries": entries,
                "subj": subj,
                "qi": qi,
                "key": key,
                "phon": phon,
                "need": need,
                "snapshots": [s.pk for s in snapshots],
                "kinds": sorted(kinds),
            },
        )
        pairs: dict[int, set[int]] = defaultdict(set)
        for s, name_id in cur.fetchall():
            pairs[s].add(name_id)
    return pairs


def _above_cap(snapshots: list[ListSnapshot]) -> bool:
    """Every list's threshold is above what one name matched alone can score."""
    return all(float(s.source.threshold) > SINGLE_TOKEN_CAP for s in snapshots)


def load_candidates(name_ids: set[int], snapshots: list[ListSnapshot]) -> dict[int, ListedEntry]:
    """{name id: its ListedEntry (with only the candidate names)} for scoring."""
    by_snapshot = {s.pk: s for s in snapshots}
    rows = (
        EntryName.objects.filter(pk__in=name_ids)
        .order_by()
        .values_list(
            "pk",
            "name",
            "normalised",
            "quality",
            "entry_id",
            "entry__snapshot_id",
            "entry__list_id",
            "entry__kind",
            "entry__primary_name",
            "entry__gender",
        )
    )
    entries: dict[int, ListedEntry] = {}
    by_name: dict[int, ListedEntry] = {}
    for pk, text, norm, quality, entry_id, snap, list_id, kind, primary, gender in rows:
        entry = entries.get(entry_id)
        if entry is None:
            source = by_snapshot[snap].source
            entry = entries[entry_id] = ListedEntry(
                pk=entry_id,
                list_code=source.code,
                list_name=source.name,
                threshold=float(source.threshold),
                list_id=list_id,
                kind=kind,
                primary_name=primary,
                gender=gender,
            )
        entry.names.append(ListedName(pk, text, name_tokens(norm, kind), quality))
        by_name[pk] = entry
    if entries:
        for entry_id, kind, earliest, latest, text in EntryBirthDate.objects.filter(
            entry_id__in=entries
        ).values_list("entry_id", "kind", "earliest", "latest", "text"):
            entries[entry_id].birth_dates.append((kind, earliest, latest, text))
        for entry_id, country in (
            EntryCountry.objects.filter(entry_id__in=entries)
            .exclude(country="")
            .values_list("entry_id", "country")
        ):
            entries[entry_id].countries.add(country)
    return by_name


def token_weights(tokens: set[str]) -> dict[str, float]:
    with connection.cursor() as cur:
        cur.execute(
            "SELECT token, weight FROM compliance_tokenweight WHERE token = ANY(%s)",
            [sorted(tokens)],
        )
        return dict(cur.fetchall())


def screen(
    queries: list[Query],
    *,
    lists: list[str] | None = None,
    all_scores: bool = False,
    typos: bool | None = None,
    entries: list[int] | None = None,
) -> list[list[Hit]]:
    """The hits of each query, in order, against the current snapshots (of `lists` only,
    when given). `typos` (by default for a single name, not for a batch) also looks up, for
    each token no list has, the list tokens most like it by trigrams; a batch relies on the
    phonetic keys for misspellings, so a full book stays one set-based pass. `entries` (list
    entry ids) screens against those entries only."""
    if typos is None:
        typos = len(queries) == 1
    snapshots = current_snapshots(lists)
    pairs = candidate_pairs(
        queries, snapshots, typos=typos, entries=entries, hits_only=not all_scores
    )
    names = [pairs.get(index, set()) for index in range(len(queries))]
    return candidates_score(queries, names, snapshots, all_scores=all_scores)


def candidates_score(
    queries: list[Query],
    names: list[set[int]],
    snapshots: list[ListSnapshot],
    *,
    all_scores: bool = False,
) -> list[list[Hit]]:
    """The hits of each query among its candidate listed names (`names[i]`: name ids)."""
    by_name = load_candidates(set().union(*names) if names else set(), snapshots)
    tokens = {t for e in by_name.values() for n in e.names for t in n.tokens}
    for q in queries:
        tokens.update(q.tokens())
    weights = token_weights(tokens) if tokens else {}
    results = []
    for query, mine_ids in zip(queries, names, strict=True):
        entries = {}
        for name_id in mine_ids:
            entry = by_name.get(name_id)
            if entry is not None:
                entries[entry.pk] = entry
        # An entry carries every candidate name any query had: score only this query's.
        own = []
        for entry in entries.values():
            mine = [n for n in entry.names if n.pk in mine_ids]
            own.append(_with_names(entry, mine))
        results.append(rank(query, own, weights, all_scores=all_scores))
    return results


def _with_names(entry: ListedEntry, names: list[ListedName]) -> ListedEntry:
    return entry if len(names) == len(entry.names) else replace(entry, names=names)


def entry_get(pk: int) -> ListEntry:
    return ListEntry.objects.select_related("snapshot__source").get(pk=pk)
