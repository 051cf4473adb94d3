"""Name screening: which listed entries a name (with its date of birth, nationality, gender)
matches, and why, in terms a compliance officer can check.

How a name is scored against one listed name (`score_name`):

1. Both are normalised the same way (`compliance.names`: transliteration, case, punctuation,
   honorifics for persons, legal-form words for companies) and compared as sets of tokens, so
   word order does not matter.
2. Each query token is paired with at most one listed token, best pairs first:
   `exact` (1.0); `initial` ("J" for "John", 0.7); `spelling` (the same once transliteration
   variants are folded, "Khasan"/"Hasan", "Vang"/"Wang": 0.95); then, for tokens of four letters
   or more whose lengths differ by one at most, `phonetic` (same Metaphone key and
   Jaro-Winkler >= 0.8 from six letters, >= 0.88 at five: at least 0.9) or `fuzzy`
   (Jaro-Winkler >= 0.88: the similarity itself). Shorter tokens match no other way. Between
   two names written as single syllables (`names.syllabic`: Chinese, Korean, Vietnamese names
   in Latin letters), a syllable spelt a letter apart is another syllable ("Zheng" is not
   "Zhang", "Jian" not "Jiang"): such pairs count only as a slip of the keyboard (the same
   letters swapped, or one doubled: "Royng" for "Ryong").
   Two neighbouring tokens one name writes as one word of the other ("Abdul Rahman" and
   "Abdulrahman", "Guo Ying" and "Guoying") are joined first, which the breakdown notes. A
   name written in Hangul, read in the Revised Romanization, pairs a syllable the older
   romanisation lists use spells otherwise (`romanised`, 0.9: "Gim"/"Kim", "Jeong"/"Jong",
   "Byeong"/"Pyong", "Eun"/"Un").
3. Tokens weigh by how rare they are across the current lists (`TokenWeight`: "mohammed",
   "ali" and "al" weigh little, a rare surname close to 1; a token no list has weighs 1).
   score = sum(similarity x 2w over pairs) / (sum(2w over pairs) + penalty), where the
   penalty for tokens left unpaired on one side only (a missing or an extra middle name) is
   half its weight when it is one token, the whole weight of each when they are more, and for
   tokens left unpaired on both sides (a different first name) 1.3 times their weight: an
   exact name is 1.0, a missing middle name costs a little, a different name a lot. An
   incomplete name (some token unpaired) whose paired tokens weigh less than 1.0 together (a
   token of two or three letters counting 0.45 at most, of four 0.7) is scaled down in
   proportion: common words and short syllables alone say little about who someone is.
4. What else lowers an incomplete name (some token unpaired), each named in the breakdown:
   a pair spelt differently as well (phonetic or fuzzy: "Luiz" for "Luis" with "da" missing)
   x0.8, since a name both incomplete and misspelt is most often another one; a name of single
   syllables missing one x0.9, and capped at 0.5 when the query was written in Chinese,
   Japanese or Korean characters, which spell every syllable of a name ("王英", read
   "Wang Ying", is not "WANG, Guo Ying").
5. One paired token is not a match when either name has several, nor a common token (weight
   below 0.5), nor one spelt differently, for a listed name of one: the score is then capped
   at 0.5 ("Mohammed" alone, or a shared surname, never makes a hit).
6. A weak or low-quality alias counts at 0.85.

Then the entry's score is its best name's, lowered (never raised) by what else is known:
a date of birth outside every listed one (same year: x0.85; within two years: x0.75; else
x0.55; `circa` dates widen by two years), a nationality the entry does not have (x0.85), a
different gender (x0.8). A person is never matched to an entity, vessel or aircraft, nor an
entity to a person. A hit is a score at or above the list's threshold (0.70 by default).

Candidates come from the candidate index (`compliance.candidates`), never a loop over the
lists.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

from rapidfuzz.distance import JaroWinkler

from .names import (
    in_characters,
    in_hangul,
    korean_key,
    name_tokens,
    phonetic,
    spelling_key,
    syllabic,
)

UNPAIRED = 0.5
CONFLICT = 1.3
SINGLE_TOKEN_CAP = 0.5
COMMON_TOKEN = 0.5  # a token this common (weight below) alone is not a name
WEAK_ALIAS = 0.85
FUZZY_MIN = 0.88
PHONETIC_MIN_JW = {4: 1.1, 5: 0.88}  # by the shorter token's length; 0.8 from six letters
INITIAL = 0.7
SPELLING = 0.95
ROMANISED = 0.9
EVIDENCE = 1.0  # an incomplete name needs paired tokens weighing this much
# What a short token can weigh as evidence, however rare it is in the lists: a syllable of two
# or three letters says little about who someone is.
EVIDENCE_CAP = {1: 0.2, 2: 0.45, 3: 0.45, 4: 0.7}
UNKNOWN_WEIGHT = 1.0
LOOSE = ("phonetic", "fuzzy")  # pairs spelt differently, not only transliterated
INCOMPLETE_AND_LOOSE = 0.8
SYLLABLE_MISSING = 0.9

DOB_SAME_YEAR, DOB_NEAR, DOB_OTHER = 0.85, 0.75, 0.55
NATIONALITY_OTHER = 0.85
GENDER_OTHER = 0.8

PERSON_KINDS = ("person",)
OTHER_KINDS = ("entity", "vessel", "aircraft")


def kinds_for(kind: str) -> tuple[str, ...]:
    """The entry kinds a query of `kind` may match: persons only persons, entities the rest."""
    if kind == "person":
        return PERSON_KINDS
    if kind in ("entity", "vessel", "aircraft", "organisation"):
        return OTHER_KINDS
    return PERSON_KINDS + OTHER_KINDS


@dataclass
class Query:
    name: str
    dob: date | None = None
    nationality: str = ""
    gender: str = ""
    kind: str = "person"  # person, entity, or any
    origin: str = ""  # where the name came from (compliance.models.NameOrigin)

    def tokens(self) -> list[str]:
        if self._tokens is None:
            self._tokens = name_tokens(self.name, None if self.kind == "any" else self.kind)
        return self._tokens

    _tokens: list[str] | None = field(default=None, repr=False, compare=False)


@dataclass
class ListedName:
    pk: int
    text: str
    tokens: list[str]
    quality: str

    @property
    def syllabic(self) -> bool:
        if self._syllabic is None:
            self._syllabic = syllabic(self.tokens)
        return self._syllabic

    _syllabic: bool | None = field(default=None, repr=False, compare=False)
    key: tuple = field(default=(), repr=False, compare=False)  # the tokens, as a dict key


@dataclass
class ListedEntry:
    pk: int
    list_code: str
    list_name: str
    threshold: float
    list_id: str
    kind: str
    primary_name: str
    gender: str = ""
    names: list[ListedName] = field(default_factory=list)
    birth_dates: list[tuple[str, date, date, str]] = field(default_factory=list)
    countries: set[str] = field(default_factory=set)


@dataclass
class Hit:
    list: str
    list_name: str
    entry_id: str
    entry_pk: int
    kind: str
    matched_name: str
    primary_name: str
    score: float
    threshold: float
    breakdown: dict

    def as_json(self) -> dict:
        return {
            "list": self.list,
            "entry_id": self.entry_id,
            "matched_name": self.matched_name,
            "score": round(self.score, 4),
            "breakdown": self.breakdown,
        }


@lru_cache(maxsize=500_000)
def pair_similarity(q: str, c: str) -> tuple[float, str]:
    """How alike two tokens are, and how they matched (exact, initial, spelling, phonetic,
    fuzzy); see the module docstring."""
    if q == c:
        return 1.0, "exact"
    if len(q) == 1 or len(c) == 1:
        if q[0] == c[0] and (len(q) == 1) != (len(c) == 1):
            return INITIAL, "initial"
        if len(q) == len(c) and spelling_key(q) == spelling_key(c):
            return SPELLING, "spelling"  # "Y." read back from Cyrillic as "I."
        return 0.0, ""
    if spelling_key(q) == spelling_key(c):
        return SPELLING, "spelling"
    shorter = min(len(q), len(c))
    if shorter < 4 or abs(len(q) - len(c)) > 1:
        return 0.0, ""
    jw = JaroWinkler.similarity(q, c)
    if jw >= PHONETIC_MIN_JW.get(shorter, 0.8) and phonetic(q) == phonetic(c):
        return max(jw, 0.9), "phonetic"
    if jw >= FUZZY_MIN:
        return jw, "fuzzy"
    return 0.0, ""


def slip(q: str, c: str) -> bool:
    """The same letters, two of them swapped, or one doubled: a typing slip, not another
    word."""
    return sorted(q) == sorted(c) or _undoubled(q) == _undoubled(c)


def _undoubled(token: str) -> str:
    return "".join(ch for i, ch in enumerate(token) if i == 0 or token[i - 1] != ch)


def token_weight(token: str, weights: dict[str, float]) -> float:
    """How rare a token is across the lists (1 for one no list has)."""
    return weights.get(token, UNKNOWN_WEIGHT)


def score_name(
    q_tokens: list[str],
    c_tokens: list[str],
    weights: dict[str, float],
    *,
    characters: bool = False,
    hangul: bool = False,
) -> dict:
    """Score one query against one listed name (the module docstring's steps 2-5); a
    breakdown dict with `name_score`, `tokens` (pairs), `unmatched_query`, `unmatched_listed`
    and `notes` (what lowered the score, in words). `characters`: the query was written in
    Chinese, Japanese or Korean characters; `hangul`: in Korean."""
    return _score_name(
        q_tokens,
        c_tokens,
        weights,
        characters=characters,
        hangul=hangul,
        q_syllabic=syllabic(q_tokens),
        c_syllabic=syllabic(c_tokens),
        explain=True,
    )


def name_score(
    q_tokens,
    c_tokens,
    weights,
    *,
    characters: bool,
    q_syllabic: bool,
    c_syllabic: bool,
    hangul: bool = False,
) -> float:
    """`score_name`'s score alone, without its breakdown: what a batch computes for every
    candidate, the breakdown being written only for the names that score high enough."""
    return _score_name(
        q_tokens,
        c_tokens,
        weights,
        characters=characters,
        hangul=hangul,
        q_syllabic=q_syllabic,
        c_syllabic=c_syllabic,
        explain=False,
    )


def _joined(tokens: list[str], other: list[str]) -> tuple[list[str], list[str]]:
    """`tokens` with each two neighbours that `other` writes as one word joined ("abdul rahman"
    for "abdulrahman", "guo ying" for "guoying"), and what was joined, in words."""
    keys = {spelling_key(t) for t in other}
    out, joined, i = [], [], 0
    while i < len(tokens):
        pair = tokens[i] + tokens[i + 1] if i + 1 < len(tokens) else ""
        if pair and spelling_key(pair) in keys:
            out.append(pair)
            joined.append(f"{tokens[i]} {tokens[i + 1]}")
            i += 2
        else:
            out.append(tokens[i])
            i += 1
    return out, joined


def _score_name(
    q_tokens, c_tokens, weights, *, characters, hangul, q_syllabic, c_syllabic, explain
):
    notes = []
    if len(q_tokens) != len(c_tokens):  # syllables written joined on one side, apart on the other
        joined_q, joined_c = [], []
        if len(q_tokens) > len(c_tokens):
            q_tokens, joined_q = _joined(q_tokens, c_tokens)
        else:
            c_tokens, joined_c = _joined(c_tokens, q_tokens)
        for words in joined_q + joined_c:
            notes.append(f"{words} written as one word on the other side")
        if joined_q:
            q_syllabic = syllabic(q_tokens)
        if joined_c:
            c_syllabic = syllabic(c_tokens)
    pairs = []
    for i, q in enumerate(q_tokens):
        for j, c in enumerate(c_tokens):
            sim, how = pair_similarity(q, c)
            if hangul and how not in ("exact", "spelling") and korean_key(q) == korean_key(c):
                # Hangul read in the Revised Romanization, listed in the older one
                sim, how = ROMANISED, "romanised"
            # Two names of syllables: a syllable a letter apart is another one (Zheng and
            # Zhang, Jian and Jiang), unless it is a slip of the keyboard (Ryong, Royng).
            if sim > 0 and not (q_syllabic and c_syllabic and how in LOOSE and not slip(q, c)):
                pairs.append((sim, weights.get(c, UNKNOWN_WEIGHT), i, j, how))
    pairs.sort(key=lambda p: (-p[0], -p[1]))
    used_q, used_c, matched = set(), set(), []
    for sim, w, i, j, how in pairs:
        if i in used_q or j in used_c:
            continue
        used_q.add(i)
        used_c.add(j)
        # rounded as the breakdown shows them, so the score is the breakdown's arithmetic
        matched.append((q_tokens[i], c_tokens[j], how, round(sim, 3), round(w, 3)))
    unmatched_q = [t for i, t in enumerate(q_tokens) if i not in used_q]
    unmatched_c = [t for j, t in enumerate(c_tokens) if j not in used_c]
    numerator = sum(sim * 2 * w for _q, _c, _how, sim, w in matched)
    extra_q = sorted((weights.get(t, UNKNOWN_WEIGHT) for t in unmatched_q), reverse=True)
    extra_c = sorted((weights.get(t, UNKNOWN_WEIGHT) for t in unmatched_c), reverse=True)
    if extra_q and extra_c:
        # Names on both sides left unpaired: not a name missing, a different name.
        penalty = CONFLICT * (sum(extra_q) + sum(extra_c))
        notes.append("names on both sides differ")
    else:
        # One missing (or extra) name costs half its weight; two or more all of theirs.
        extra = extra_q or extra_c
        penalty = UNPAIRED * extra[0] if len(extra) == 1 else sum(extra)
    denominator = sum(2 * w for *_rest, w in matched) + penalty
    score = numerator / denominator if denominator else 0.0
    evidence = sum(
        sim * min(w, EVIDENCE_CAP.get(len(listed), 1.0)) for _q, listed, _how, sim, w in matched
    )
    if (extra_q or extra_c) and 0 < evidence < EVIDENCE:
        score *= evidence / EVIDENCE
        notes.append(f"incomplete name of common words: x{evidence / EVIDENCE:.2f}")
    loose = [m for m in matched if m[2] in LOOSE]
    if (extra_q or extra_c) and loose:
        score *= INCOMPLETE_AND_LOOSE
        if explain:
            spelt = ", ".join(f"{q} for {listed}" for q, listed, *_rest in loose)
            notes.append(
                f"a name missing and another spelt differently ({spelt}): x{INCOMPLETE_AND_LOOSE}"
            )
    if c_syllabic and (extra_q or extra_c) and (q_syllabic or characters):
        unmatched = ", ".join(unmatched_q + unmatched_c)
        if characters and score > SINGLE_TOKEN_CAP:
            score = SINGLE_TOKEN_CAP
            notes.append(
                "a name written in Chinese, Japanese or Korean characters spells every syllable,"
                f" and {unmatched} is not among them: capped at 0.5"
            )
        elif not characters:
            score *= SYLLABLE_MISSING
            notes.append(
                "a name of single syllables (as Chinese, Korean, Vietnamese names are written)"
                f" matched only in part ({unmatched} unmatched): x{SYLLABLE_MISSING}"
            )
    full = [m for m in matched if m[2] != "initial"]
    if len(full) < 2 and score > SINGLE_TOKEN_CAP:
        if len(c_tokens) > 1 or len(q_tokens) > 1:
            score = SINGLE_TOKEN_CAP
            notes.append("only one name matched: capped at 0.5")
        elif full and full[0][4] < COMMON_TOKEN:
            score = SINGLE_TOKEN_CAP
            notes.append(f"one common name ({full[0][1]}) alone: capped at 0.5")
        elif full and full[0][2] in LOOSE:
            score = SINGLE_TOKEN_CAP
            notes.append(f"one name alone, spelt differently ({full[0][1]}): capped at 0.5")
    if not explain:
        return score
    return {
        "name_score": score,
        "tokens": [
            {"query": q, "listed": listed, "how": how, "similarity": sim, "weight": w}
            for q, listed, how, sim, w in matched
        ],
        "unmatched_query": unmatched_q,
        "unmatched_listed": unmatched_c,
        "notes": notes,
    }


def _dob_factor(dob: date, listed: list[tuple[str, date, date, str]]) -> tuple[float, str]:
    best, text = DOB_OTHER, ""
    for kind, earliest, latest, shown in listed:
        if kind == "circa":
            earliest = earliest.replace(year=earliest.year - 2, day=1)
            latest = latest.replace(year=latest.year + 2, day=28)
        if earliest <= dob <= latest:
            return 1.0, ""
        years = min(abs(dob.year - earliest.year), abs(dob.year - latest.year))
        factor = DOB_SAME_YEAR if years == 0 else DOB_NEAR if years <= 2 else DOB_OTHER
        if factor > best or not text:
            best, text = max(best, factor), shown or earliest.isoformat()
    dates = ", ".join(s or e.isoformat() for _k, e, _l, s in listed[:4])
    return best, f"date of birth {dob.isoformat()} is not the listed {dates}"


def adjustments(query: Query, entry: ListedEntry) -> list[dict]:
    """What lowers the entry's score: date of birth, nationality, gender (each a multiplier)."""
    out = []
    if query.dob and entry.birth_dates:
        factor, detail = _dob_factor(query.dob, entry.birth_dates)
        if factor < 1:
            out.append({"factor": "date_of_birth", "multiplier": factor, "detail": detail})
    nationality = (query.nationality or "").upper()
    if nationality and entry.countries and nationality not in entry.countries:
        out.append(
            {
                "factor": "nationality",
                "multiplier": NATIONALITY_OTHER,
                "detail": f"nationality {nationality} is not the listed "
                + ", ".join(sorted(entry.countries)),
            }
        )
    gender = (query.gender or "").lower()
    if gender and entry.gender and gender != entry.gender:
        out.append(
            {
                "factor": "gender",
                "multiplier": GENDER_OTHER,
                "detail": f"gender {gender} is not the listed {entry.gender}",
            }
        )
    return out


def score_entry(
    query: Query,
    q_tokens: list[str],
    entry: ListedEntry,
    weights,
    *,
    all_scores: bool = True,
    scorer=None,
) -> Hit | None:
    """The entry's best name scored and lowered by the other facts; None if no name pairs
    (nor, unless `all_scores`, when its best name scores below the list's threshold: what
    else is known only lowers a score, so its breakdown is never written). `scorer(q_tokens
    (a tuple), listed name, characters, hangul)` gives `name_score` (remembered, in a batch)."""
    if entry.kind not in kinds_for(query.kind):
        return None
    characters, hangul = in_characters(query.name), in_hangul(query.name)
    q_syllabic = syllabic(q_tokens)
    q_tuple = tuple(q_tokens)
    best_score, best_name = -1.0, None
    for listed in entry.names:
        if scorer is not None:
            score = scorer(q_tuple, listed, characters, hangul)
        else:
            score = name_score(
                q_tokens,
                listed.tokens,
                weights,
                characters=characters,
                hangul=hangul,
                q_syllabic=q_syllabic,
                c_syllabic=listed.syllabic,
            )
        if listed.quality != "strong":
            score *= WEAK_ALIAS
        if score > best_score:
            best_score, best_name = score, listed
    if best_name is None or (not all_scores and best_score < entry.threshold):
        return None
    best = score_name(q_tokens, best_name.tokens, weights, characters=characters, hangul=hangul)
    if not best["tokens"]:
        return None
    if best_name.quality != "strong":
        best["name_score"] *= WEAK_ALIAS
        best["notes"].append(f"{best_name.quality} alias: x{WEAK_ALIAS}")
    lowered = adjustments(query, entry)
    score = best["name_score"]
    for adjustment in lowered:
        score *= adjustment["multiplier"]
    breakdown = {
        "name_score": round(best["name_score"], 4),
        "alias_quality": best_name.quality,
        "tokens": best["tokens"],
        "unmatched_query": best["unmatched_query"],
        "unmatched_listed": best["unmatched_listed"],
        "notes": best["notes"],
        "lowered_by": lowered,
    }
    return Hit(
        list=entry.list_code,
        list_name=entry.list_name,
        entry_id=entry.list_id,
        entry_pk=entry.pk,
        kind=entry.kind,
        matched_name=best_name.text,
        primary_name=entry.primary_name,
        score=score,
        threshold=entry.threshold,
        breakdown=breakdown,
    )


def rank(
    query: Query, entries: list[ListedEntry], weights, *, all_scores=False, scorer=None
) -> list[Hit]:
    """The hits of `query` among candidate `entries`, best first (with `all_scores`, every
    scored entry, hits or not)."""
    q_tokens = query.tokens()
    hits = []
    for entry in entries:
        hit = score_entry(query, q_tokens, entry, weights, all_scores=all_scores, scorer=scorer)
        if hit and (all_scores or hit.score >= hit.threshold):
            hits.append(hit)
    hits.sort(key=lambda h: (-h.score, h.list, h.entry_id))
    return hits
