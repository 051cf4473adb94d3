"""Screening names against the current list snapshots: `screen(queries)` -> hits per query.

Candidates come from the lists' candidate index (`compliance.candidates`), held in memory and
read from the database once per process and snapshot: a screened name's tokens (their
Metaphone keys, the other writings a list may use, and the list tokens most like a token no
list has, by trigram similarity) meet the listed names' tokens; a listed name is a candidate
when at least two of the name's tokens meet it (one, for a name of one token). Only those
pairs are scored (`compliance.matching`), each distinct pair of token sequences once, so the
cost grows with the candidates, not with the lists times the book. One name, a batch of the
book and a delta take the same path and find the same hits: joined, split and Hangul
writings and misspellings included.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from .candidates import list_index, list_index_warm, query_keys
from .matching import (
    SINGLE_TOKEN_CAP,
    WEAK_ALIAS,
    Hit,
    ListedEntry,
    ListedName,
    Query,
    kinds_for,
    rank,
)
from .models import ListEntry, ListSnapshot
from .names import in_characters, in_hangul

__all__ = ["candidate_pairs", "current_snapshots", "query_keys", "screen"]

log = logging.getLogger(__name__)

# How many of a query's tokens must meet a listed name: two (one for a name of one token),
# or all of a listed name of one token. When no hit is looked for below 0.5 (every list's
# threshold above it, and no scores asked for besides hits), a name of several tokens needs
# two even against a listed name of one: one name matched alone scores 0.5 at most
# (`matching`, step 5), so such a pair is never scored (`candidates.ListIndex.candidates`,
# `enough_for_hits`).


def current_snapshots(lists: list[str] | None = None) -> list[ListSnapshot]:
    qs = ListSnapshot.objects.filter(is_current=True, source__is_active=True).select_related(
        "source"
    )
    if lists:
        qs = qs.filter(source__code__in=lists)
    return list(qs)


def index_warm() -> bool:
    """Read the candidate index of the current lists into this process's memory now if it
    holds another (or none): True when it was read. The worker that imports a list calls it
    once the list is in, and every compliance worker process at its start, every
    `INDEX_WARM_SECONDS` and before each task (`compliance.tasks`), so the screening of a new
    registration does not wait 1 to 3 s for it."""
    snapshots = current_snapshots()
    return bool(snapshots) and list_index_warm(snapshots)


def index_warm_logged() -> bool:
    """`index_warm`, a failure logged instead of raised: reading ahead never fails the work
    around it (a screening that then needs the index reads it itself)."""
    try:
        return index_warm()
    except Exception:  # noqa: BLE001  (the database away a moment: the next try reads it)
        log.warning("the screening candidate index could not be read ahead", exc_info=True)
        return False


def candidate_pairs(
    queries: list[Query],
    snapshots: list[ListSnapshot],
    *,
    typos: bool = True,
    entries: list[int] | None = None,
    hits_only: bool = False,
) -> dict[int, set[int]]:
    """{query index: candidate name ids} from the candidate index (only the names of
    `entries`, when given). The words two neighbouring tokens make run together, or a long
    token makes split in two, are looked up when the lists know them, and a name in Hangul in
    the older romanisation; with `typos` (every path does), the list tokens most like a token
    no list has (`candidates.TrigramIndex`, in memory). `hits_only`: only the names that could
    score a hit."""
    if not snapshots or not queries:
        return {}
    index = list_index(snapshots)
    similar = index.similar_tokens({t for q in queries for t in q.tokens()}) if typos else {}
    found = index.candidates(
        queries,
        enough_for_hits=hits_only and _above_cap(snapshots),
        similar=similar,
        entries=entries,
    )
    return {i: names for i, names in enumerate(found) if names}


def _above_cap(snapshots: list[ListSnapshot]) -> bool:
    """Every list's threshold is above what one name matched alone can score."""
    return all(float(s.source.threshold) > SINGLE_TOKEN_CAP for s in snapshots)


def screen(
    queries: list[Query],
    *,
    lists: list[str] | None = None,
    all_scores: bool = False,
    typos: bool = True,
    entries: list[int] | None = None,
) -> list[list[Hit]]:
    """The hits of each query, in order, against the current snapshots (of `lists` only,
    when given). `typos` looks up, for each token no list has, the list tokens most like it by
    trigrams (one name and a batch alike). `entries` (list entry ids) screens against those
    entries only."""
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
    """The hits of each query among its candidate listed names (`names[i]`: name ids). Each
    candidate name is scored without its breakdown first (remembered per pair of token
    sequences); only an entry whose best name reaches its list's threshold is ranked with its
    breakdown (`matching.rank`), unless `all_scores`."""
    index = list_index(snapshots)
    results = []
    for query, mine_ids in zip(queries, names, strict=True):
        by_entry: dict[int, list[ListedName]] = {}
        for name_id in mine_ids:
            entry = index.by_name.get(name_id)
            if entry is not None:
                by_entry.setdefault(entry.pk, []).append(index.names[name_id])
        if not all_scores:
            by_entry = _reaching(index, query, by_entry)
        own = [_with_names(index.entries[pk], mine) for pk, mine in by_entry.items()]
        results.append(
            rank(query, own, index.weights, all_scores=all_scores, scorer=index.name_score)
        )
    return results


def _reaching(index, query: Query, by_entry: dict[int, list[ListedName]]) -> dict:
    """The entries one of whose candidate names scores at least the list's threshold (what
    else is known only lowers a score), of the query's kind."""
    q_tokens, kinds = tuple(query.tokens()), kinds_for(query.kind)
    characters, hangul = in_characters(query.name), in_hangul(query.name)
    out = {}
    for pk, mine in by_entry.items():
        entry = index.entries[pk]
        if entry.kind not in kinds:
            continue
        for listed in mine:
            score = index.name_score(q_tokens, listed, characters, hangul)
            if listed.quality != "strong":
                score *= WEAK_ALIAS
            if score >= entry.threshold:
                out[pk] = mine
                break
    return out


def _with_names(entry: ListedEntry, names: list[ListedName]) -> ListedEntry:
    """The entry with only these names (the query's candidates) to score."""
    return entry if len(names) == len(entry.names) else replace(entry, names=names)


def entry_get(pk: int) -> ListEntry:
    return ListEntry.objects.select_related("snapshot__source").get(pk=pk)
