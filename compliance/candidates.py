"""The lists' candidate index, held in each process's memory: which listed names a screened
name may match, for one name or a whole batch of the book at once.

The index (`ListIndex`) is read once per process from the database's (`NameToken`, one row
per token of each listed name, with its Metaphone key), together with every listed entry as
the matcher scores it and every token's weight (`TokenWeight`), and read again when the
current snapshots change (an import, a list switched off, a threshold edited). The lists are
small (the OFAC and UN lists with aliases: some 80,000 tokens), the book is not: so the
book's names are brought to the index, not the index to the database.

A listed name is a candidate of a screened name when enough of the screened name's tokens
meet its tokens (`ListIndex.candidates`): a token meets a listed token with the same Metaphone
key (so the same token too), as does another writing of it (two neighbouring tokens run
together; a long token split in two, when a listed name has both words; a syllable written in
Hangul in the older romanisation lists use), and the list tokens most like a token no list has
(a misspelling: `TrigramIndex`, the lists' tokens by trigram, in memory too, so one name, a
batch of the book and a delta look misspellings up alike). Counting is done over arrays
(numpy), so a batch of 5,000 names costs a fraction of a second whatever the lists hold.

Each distinct pair of token sequences (a screened name's and a listed name's) is scored once
per index (`ListIndex.name_score`): a book repeats names, and a list repeats a name across
aliases and entries.
"""

from __future__ import annotations

import threading

import numpy as np
from django.db import connection

from .matching import ListedEntry, ListedName, Query, kinds_for, name_score
from .models import EntryBirthDate, EntryCountry, EntryName, ListSnapshot
from .names import in_hangul, korean_variants, name_tokens, phonetic, syllabic

SPLIT_MIN_LENGTH = 6  # a word this long may be two the lists write apart ("abdulrahman")
SPLIT_MIN_PART = 3  # of three letters each at least: "guoying", not "ma ria"
SCORES_KEPT = 2_000_000  # pairs of names remembered per index
# A token no list has is looked up among the list tokens most like it (a misspelling):
# tokens of four letters or more, the three most similar by trigrams, at least as similar as
# pg_trgm's default threshold (0.3).
TYPO_MIN_LENGTH = 4
TYPO_SIMILAR = 3
TRIGRAM_THRESHOLD = 0.3
SIMILAR_KEPT = 200_000  # unknown tokens whose similar list tokens are remembered per index

INDEX_SQL = """
SELECT name_id, entry_id, kind, token, phonetic, name_tokens FROM compliance_nametoken
 WHERE snapshot_id = ANY(%s)
 ORDER BY name_id
"""


def index_key(snapshots: list[ListSnapshot]) -> tuple:
    """What the index is read from: the snapshots (immutable once imported) and each list's
    code, name and threshold (which an officer may edit)."""
    return tuple(
        sorted(
            (s.pk, s.imported_at, s.source.code, s.source.name, str(s.source.threshold))
            for s in snapshots
        )
    )


def query_keys(tokens: list[str]) -> tuple[list[str], int]:
    """The tokens of a name looked up in the candidate index (each once, initials left out),
    and how many of them a listed name must meet (two; one for a name of one; never, for a
    name of initials only)."""
    full = [t for t in dict.fromkeys(tokens) if len(t) > 1]
    return full, min(2, len(full)) if full else 99


def apart_and_together(full_of: list[list[str]], known) -> tuple[set[str], set[tuple[str, str]]]:
    """The words some list has (`known(words)`: that subset) of two neighbouring tokens run
    together, and the splits of a long token into two words the lists both have."""
    joins = {a + b for full in full_of for a, b in zip(full, full[1:], strict=False)}
    splits = {
        (t[:i], t[i:])
        for full in full_of
        for t in full
        if len(t) >= SPLIT_MIN_LENGTH
        for i in range(SPLIT_MIN_PART, len(t) - SPLIT_MIN_PART + 1)
    }
    have = known(joins | {half for pair in splits for half in pair})
    return {j for j in joins if j in have}, {p for p in splits if p[0] in have and p[1] in have}


def other_writings(query: Query, full: list[str], joins, splits) -> list[tuple[int, tuple]]:
    """(position, words) a list may write this query's token at `position` as: two neighbours
    joined (one word, at the first one's position), a long token split in two (two words, which
    a listed name must both have), and for a name written in Hangul the older romanisation of
    each syllable."""
    out = []
    hangul = in_hangul(query.name)
    for position, token in enumerate(full):
        if position + 1 < len(full) and token + full[position + 1] in joins:
            out.append((position, (token + full[position + 1],)))
        if len(token) >= SPLIT_MIN_LENGTH:
            for i in range(SPLIT_MIN_PART, len(token) - SPLIT_MIN_PART + 1):
                if (token[:i], token[i:]) in splits:
                    out.append((position, (token[:i], token[i:])))
        if hangul:
            out += [(position, (v,)) for v in sorted(korean_variants(token)) if v != token]
    return out


def trigrams(word: str) -> set[str]:
    """The word's trigrams as pg_trgm counts them: padded with two spaces before it and one
    after ("  a", " ab", "abc", ..., "yz ")."""
    padded = f"  {word} "
    return {padded[i : i + 3] for i in range(len(padded) - 2)}


class TrigramIndex:
    """The list tokens by trigram, to find the ones most like a token no list has, in memory
    for one name and for a batch of the book alike: similarity as pg_trgm computes it (shared
    trigrams over the trigrams of either), at least `TRIGRAM_THRESHOLD`, the most similar
    `TYPO_SIMILAR` (the same similarity: alphabetical). Each token's answer is remembered (a
    book repeats its misspellings)."""

    def __init__(self, tokens: list[str]):
        self.tokens = tokens
        ids: dict[str, int] = {}
        postings: list[list[int]] = []
        sizes = []
        for i, token in enumerate(tokens):
            grams = trigrams(token)
            sizes.append(len(grams))
            for gram in grams:
                g = ids.setdefault(gram, len(postings))
                if g == len(postings):
                    postings.append([])
                postings[g].append(i)
        self.ids = ids
        self.postings = [np.array(p, dtype=np.int32) for p in postings]
        self.sizes = np.array(sizes, dtype=np.int32)
        self._similar: dict[str, list[str]] = {}

    def similar(self, word: str) -> list[str]:
        found = self._similar.get(word)
        if found is not None:
            return found
        grams = trigrams(word)
        lists = [self.postings[g] for g in map(self.ids.get, grams) if g is not None]
        found = []
        if lists:
            ids, shared = np.unique(np.concatenate(lists), return_counts=True)
            similarity = shared / (len(grams) + self.sizes[ids] - shared)
            ok = similarity >= TRIGRAM_THRESHOLD
            ids, similarity = ids[ok], similarity[ok]
            best = np.lexsort((ids, -similarity))[:TYPO_SIMILAR]
            found = [self.tokens[i] for i in ids[best].tolist()]
        if len(self._similar) >= SIMILAR_KEPT:
            self._similar.clear()
        self._similar[word] = found
        return found


class ListIndex:
    """The candidate index of a set of current snapshots (see the module docstring)."""

    def __init__(self, snapshots: list[ListSnapshot]):
        self.key = index_key(snapshots)
        self.snapshots = {s.pk: s for s in snapshots}
        with connection.cursor() as cur:
            cur.execute(INDEX_SQL, [list(self.snapshots)])
            rows = cur.fetchall()
            cur.execute("SELECT token, weight FROM compliance_tokenweight")
            self.weights: dict[str, float] = dict(cur.fetchall())
        position: dict[int, int] = {}
        name_ids, entry_ids, kinds, sizes = [], [], [], []
        by_phonetic: dict[str, list[int]] = {}
        by_token: dict[str, list[int]] = {}
        for name_id, entry_id, kind, token, key, size in rows:
            i = position.get(name_id)
            if i is None:
                i = position[name_id] = len(name_ids)
                name_ids.append(name_id)
                entry_ids.append(entry_id)
                kinds.append(kind)
                sizes.append(size)
            by_phonetic.setdefault(key, []).append(i)
            by_token.setdefault(token, []).append(i)
        self.name_ids = np.array(name_ids, dtype=np.int64)
        self.entry_ids = np.array(entry_ids, dtype=np.int64)
        self.sizes = np.array(sizes, dtype=np.int64)
        self.kinds = np.array(kinds, dtype=object)
        self.size = len(name_ids)
        self.by_phonetic = {
            k: np.unique(np.array(v, dtype=np.int64)) for k, v in by_phonetic.items()
        }
        self.by_token = {k: np.unique(np.array(v, dtype=np.int64)) for k, v in by_token.items()}
        self.known = frozenset(by_token)
        self.trigrams = TrigramIndex(sorted(self.known))
        self._kind_masks: dict[tuple[str, ...], np.ndarray] = {}
        self.by_name = self._entries(name_ids)
        self.entries = {entry.pk: entry for entry in self.by_name.values()}
        self.names = {n.pk: n for entry in self.entries.values() for n in entry.names}
        self._scores: dict[tuple, float] = {}

    # --- Listed entries as the matcher scores them --------------------------------------------

    def _entries(self, name_ids: list[int]) -> dict[int, ListedEntry]:
        """{name id: its ListedEntry (with every indexed name of the entry)}."""
        entries: dict[int, ListedEntry] = {}
        by_name: dict[int, ListedEntry] = {}
        rows = (
            EntryName.objects.filter(entry__snapshot_id__in=list(self.snapshots))
            .order_by("entry_id", "pk")
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
        indexed = set(name_ids)
        for pk, text, norm, quality, entry_id, snap, list_id, kind, primary, gender in rows:
            if pk not in indexed:
                continue
            entry = entries.get(entry_id)
            if entry is None:
                source = self.snapshots[snap].source
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
            listed = ListedName(pk, text, name_tokens(norm, kind), quality)
            listed.key = tuple(listed.tokens)
            entry.names.append(listed)
            by_name[pk] = entry
        if entries:
            for entry_id, kind, earliest, latest, text in EntryBirthDate.objects.filter(
                entry__snapshot_id__in=list(self.snapshots)
            ).values_list("entry_id", "kind", "earliest", "latest", "text"):
                if entry_id in entries:
                    entries[entry_id].birth_dates.append((kind, earliest, latest, text))
            for entry_id, country in (
                EntryCountry.objects.filter(entry__snapshot_id__in=list(self.snapshots))
                .exclude(country="")
                .values_list("entry_id", "country")
            ):
                if entry_id in entries:
                    entries[entry_id].countries.add(country)
        return by_name

    def name_score(self, q_tokens: tuple, listed: ListedName, characters, hangul) -> float:
        """`matching.name_score` of a query's tokens against a listed name, each distinct pair
        of token sequences computed once."""
        key = (q_tokens, listed.key, characters, hangul)
        score = self._scores.get(key)
        if score is None:
            if len(self._scores) >= SCORES_KEPT:
                self._scores.clear()
            score = self._scores[key] = name_score(
                list(q_tokens),
                listed.tokens,
                self.weights,
                characters=characters,
                hangul=hangul,
                q_syllabic=syllabic(q_tokens),
                c_syllabic=listed.syllabic,
            )
        return score

    # --- Candidates -------------------------------------------------------------------------

    def similar_tokens(self, tokens) -> dict[str, list[str]]:
        """For each of `tokens` no list has (four letters or more), the list tokens most like
        it (`TrigramIndex.similar`): what a misspelt token is looked up as."""
        out = {}
        for token in tokens:
            if len(token) >= TYPO_MIN_LENGTH and token.isalpha() and token not in self.known:
                similar = self.trigrams.similar(token)
                if similar:
                    out[token] = similar
        return out

    def known_of(self, words: set[str]) -> set[str]:
        return {w for w in words if w in self.known}

    def _having(self, words: tuple[str, ...]) -> np.ndarray | None:
        """The listed names that have every one of `words` (by Metaphone key)."""
        found = None
        for word in words:
            names = self.by_phonetic.get(phonetic(word))
            if names is None:
                return None
            found = names if found is None else np.intersect1d(found, names, assume_unique=True)
        return found

    def _kind_mask(self, kinds: tuple[str, ...]) -> np.ndarray:
        mask = self._kind_masks.get(kinds)
        if mask is None:
            mask = self._kind_masks[kinds] = np.isin(self.kinds, list(kinds))
        return mask

    def candidates(
        self,
        queries: list[Query],
        *,
        enough_for_hits: bool,
        similar: dict[str, list[str]] | None = None,
        entries: list[int] | None = None,
    ) -> list[set[int]]:
        """The candidate listed name ids of each query, in order: the names that at least two
        of its tokens meet (one, for a name of one token), or all the tokens of a listed name
        of one. `enough_for_hits`: two even then (when every list's threshold is above 0.5:
        one name matched alone scores 0.5 at most, `matching` step 5, so such a pair is
        never a hit); `similar`: list tokens to look up for a token no list has; `entries`:
        only the names of these list entries."""
        out: list[set[int]] = [set() for _ in queries]
        if not queries or not self.size:
            return out
        keyed = [query_keys(q.tokens()) for q in queries]
        joins, splits = apart_and_together([full for full, _ in keyed], self.known_of)
        # only the names of these entries: the rest left out before they are counted
        allowed = (
            None
            if entries is None
            else np.isin(self.entry_ids, np.fromiter(entries, dtype=np.int64))
        )
        arrays, owners, needs, lengths = [], [], [], []
        kind_groups: dict[tuple[str, ...], list[int]] = {}
        for qi, (query, (full, need)) in enumerate(zip(queries, keyed, strict=True)):
            kind_groups.setdefault(kinds_for(query.kind), []).append(qi)
            needs.append(need)
            looked = [
                *((p, self.by_phonetic.get(phonetic(t))) for p, t in enumerate(full)),
                *(
                    (p, self._having(words))
                    for p, words in other_writings(query, full, joins, splits)
                ),
            ]
            if similar:
                looked += [
                    (p, self.by_token.get(s))
                    for p, t in enumerate(full)
                    for s in similar.get(t, ())
                ]
            at: dict[int, list[np.ndarray]] = {}
            for p, found in looked:
                if found is not None:
                    at.setdefault(p, []).append(found)
            for found in at.values():
                # each listed name once per position (several writings may meet it)
                merged = found[0] if len(found) == 1 else np.unique(np.concatenate(found))
                if allowed is not None:
                    merged = merged[allowed[merged]]
                    if not len(merged):
                        continue
                arrays.append(merged)
                owners.append(qi)
                lengths.append(len(merged))
        if not arrays:
            return out
        names = np.concatenate(arrays)
        owner = np.repeat(np.array(owners, dtype=np.int64), lengths)
        # How many of its positions meet each listed name: runs of equal (query, name) codes.
        codes = np.sort(owner * self.size + names)
        starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
        counts = np.diff(np.r_[starts, len(codes)])
        pairs = codes[starts]
        owner, names = pairs // self.size, pairs % self.size
        need = np.array(needs, dtype=np.int64)[owner]
        if not enough_for_hits:
            need = np.minimum(need, self.sizes[names])
        keep = counts >= need
        kind_ok = np.zeros(len(queries), dtype=np.int64)
        for kinds, members in kind_groups.items():
            kind_ok[:] = 0
            kind_ok[members] = 1
            mask = self._kind_mask(kinds)
            keep &= ~(kind_ok[owner].astype(bool)) | mask[names]
        owner, names = owner[keep], names[keep]
        ids = self.name_ids[names]
        bounds = np.searchsorted(owner, np.arange(len(queries) + 1))
        for qi in range(len(queries)):
            start, end = bounds[qi], bounds[qi + 1]
            if end > start:
                out[qi] = set(ids[start:end].tolist())
        return out


_index: ListIndex | None = None
_lock = threading.Lock()


def list_index_warm(snapshots: list[ListSnapshot]) -> bool:
    """Read the index of `snapshots` now unless this process holds it already (True when it
    was read): so the next screening does not wait for it."""
    held = _index is not None and _index.key == index_key(snapshots)
    if not held:
        list_index(snapshots)
    return not held


def list_index(snapshots: list[ListSnapshot]) -> ListIndex:
    """This process's index of `snapshots`, read again when they (or their lists) changed."""
    global _index
    key = index_key(snapshots)
    with _lock:
        if _index is None or _index.key != key:
            _index = None  # let the old one go before reading the new
            _index = ListIndex(snapshots)
        return _index
