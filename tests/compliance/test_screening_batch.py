"""A batch of names (the full book) is scored cheaply without changing a single hit: the
score without its breakdown is the breakdown's score, and a listed name that could not score
a hit is never a candidate."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compliance.matching import Query, name_score, score_name
from compliance.models import ListSource
from compliance.names import syllabic
from compliance.screening import candidate_pairs, current_snapshots, screen

TOKENS = st.sampled_from(
    ["wang", "guo", "ying", "zhang", "hasan", "husein", "hussein", "ali", "al", "j",
     "mohammed", "muhammad", "nasrallah", "kim", "jong", "un", "abdul", "rahman", "petrov",
     "petrova", "ivan", "ivanov", "le", "minh", "nguyen", "x", "de", "maria"]
)  # fmt: skip
NAMES = st.lists(TOKENS, min_size=1, max_size=5)


@settings(max_examples=400, deadline=None)
@given(NAMES, NAMES, st.booleans(), st.dictionaries(TOKENS, st.floats(0.05, 1.0)))
def test_the_score_without_its_breakdown_is_the_breakdowns(query, listed, characters, weights):
    explained = score_name(query, listed, weights, characters=characters)
    assert explained["name_score"] == name_score(
        query,
        listed,
        weights,
        characters=characters,
        q_syllabic=syllabic(query),
        c_syllabic=syllabic(listed),
    )


BOOK = [
    "Hasan Nasrallah",
    "Saddam Hussein Al-Tikriti",
    "Mohammed Smith",
    "Ali Hassan",
    "Maria Garcia Lopez",
    "John Smith",
    "Kim Jong Un",
    "Ivan Petrov",
    "Abdul Rahman",
    "Nguyen Van Minh",
]


@pytest.mark.django_db
def test_a_batch_leaves_out_listed_names_it_could_not_hit_and_finds_the_same_hits(real_lists):
    queries = [Query(name, kind="person") for name in BOOK * 12]  # a batch (over 100 names)
    snapshots = current_snapshots()
    every = candidate_pairs(queries, snapshots, typos=False)
    for_hits = candidate_pairs(queries, snapshots, typos=False, hits_only=True)
    left_out = sum(len(every.get(i, ())) - len(for_hits.get(i, ())) for i in range(len(BOOK)))
    assert left_out > 0  # listed names of one token that "Mohammed Smith" or "Ali" meets
    for i in range(len(BOOK)):
        assert for_hits.get(i, set()) <= every.get(i, set())
    scored = screen(queries, all_scores=True)
    hits = screen(queries)
    for every_score, found in zip(scored, hits, strict=True):
        expected = [(h.list, h.entry_id, h.score) for h in every_score if h.score >= h.threshold]
        assert [(h.list, h.entry_id, h.score) for h in found] == expected
    assert any(hits[:10])  # the listed names are hit


@pytest.mark.django_db
def test_a_list_with_a_threshold_of_one_name_alone_keeps_every_candidate(real_lists):
    ListSource.objects.filter(code="un").update(threshold="0.50")
    queries = [Query(name, kind="person") for name in BOOK * 12]
    snapshots = current_snapshots()
    assert candidate_pairs(queries, snapshots, typos=False) == candidate_pairs(
        queries, snapshots, typos=False, hits_only=True
    )
