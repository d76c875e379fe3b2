"""The clause ranker behind today's answers (and the reader-off path): features, choice, growth."""

from __future__ import annotations

import pytest

from qa.answer.extractive import (
    FEATURES,
    ClauseModel,
    choose_clause,
    clause_table,
    grow,
    is_cross_script,
    term_overlap,
)
from qa.retrieve.hybrid import Retrieval
from tests.answer.retrievals import candidate, passage, query, retrieval

RIVER = passage("p1", ["The river flooded in 1998.", "Crops were lost."])
OTHER = passage("p2", ["Rivers are long."])
IDF = {"river": 2.0, "flood": 1.0}
QUESTION = "When did the river flood?"  # tokens: river, flood; asks for a number


def _river_retrieval(lexical_weight: float = 0.5) -> Retrieval:
    return retrieval(
        QUESTION,
        [candidate(RIVER, 0.8, 0.7, [0.6, 0.4]), candidate(OTHER, 0.4, 0.5, [0.3])],
        lexical_weight,
    )


def _one_hot(**weights: float) -> tuple[float, ...]:
    unknown = set(weights) - set(FEATURES)
    assert not unknown, unknown
    return tuple(weights.get(name, 0.0) for name in FEATURES)


def test_clause_table_rows_by_hand() -> None:
    """Every feature of every clause, worked out by hand (see FEATURES for their meaning)."""
    table = clause_table(query(QUESTION), _river_retrieval(), IDF, passages=4)
    assert table.slots == [(0, 0), (0, 1), (1, 0)]
    third, half = 1 / 3, 0.5
    expected = [
        # cos  rel   overlap      prev   passage number novelty   dense cos_prev
        [0.6, 0.0, 2 / 3 * half, 0.0, 1.0, 1.0, 2 / 3 * half, 0.7, 0.6],  # "The river flooded…"
        [0.4, -0.2, 0.0, third, 1.0, 0.0, 1.0 * half, 0.7, 0.6],  # "Crops were lost."
        [0.3, 0.0, 0.0, 0.0, 0.5, 0.0, 1.0 * half, 0.5, 0.3],  # "Rivers are long."
    ]
    assert table.features.shape == (3, len(FEATURES))
    for row, want in zip(table.features.tolist(), expected, strict=True):
        assert row == pytest.approx(want, abs=1e-6)


def test_clause_table_passage_feature_is_relative_to_the_best_passage() -> None:
    """The best passage scores 1, a passage of half its fused score 0.5 (never inverted)."""
    table = clause_table(query(QUESTION), _river_retrieval(), IDF, passages=4)
    column = FEATURES.index("passage")
    assert table.features[:, column].tolist() == pytest.approx([1.0, 1.0, 0.5])


def test_clause_table_reads_only_the_top_passages() -> None:
    table = clause_table(query(QUESTION), _river_retrieval(), IDF, passages=1)
    assert table.slots == [(0, 0), (0, 1)]


def test_clause_table_without_a_numeric_question_has_no_number_feature() -> None:
    r = retrieval("Which river flooded?", _river_retrieval().candidates, 0.5)
    table = clause_table(query("Which river flooded?"), r, IDF, passages=4)
    assert table.features[:, FEATURES.index("number")].tolist() == [0.0, 0.0, 0.0]


def test_lexical_weight_scales_overlap_and_novelty() -> None:
    """With no lexical trust (another script) term overlap and novelty count for nothing."""
    table = clause_table(query(QUESTION), _river_retrieval(lexical_weight=0.0), IDF, passages=4)
    for name in ("overlap", "overlap_prev", "novelty"):
        assert table.features[:, FEATURES.index(name)].tolist() == [0.0, 0.0, 0.0]


def test_overlap_features_in_arabic_meet_through_stemming() -> None:
    """ "عمران خان" in the question meets "وعمران" and "خان" in the clause (light stems)."""
    p = passage("ar", ["قال البيان إن وعمران خان شدد على الدعم", "وتحدث الجانبان عن الطاقة"])
    question = "ماذا أكد عمران خان؟"  # tokens: اكد, عمران, خان
    r = retrieval(question, [candidate(p, 0.9, 0.8, [0.5, 0.2])], 1.0)
    table = clause_table(query(question), r, {"اكد": 1.0, "عمران": 3.0, "خان": 2.0}, passages=4)
    overlap, prev = FEATURES.index("overlap"), FEATURES.index("overlap_prev")
    assert table.features[0, overlap] == pytest.approx(5 / 6)  # عمران and خان, not اكد
    assert table.features[1, overlap] == 0.0
    assert table.features[1, prev] == pytest.approx(5 / 6)  # the clause before holds the cue


@pytest.mark.parametrize(
    ("query", "clause", "idf", "share"),
    [
        (["river", "flood"], ["river"], {"river": 2.0, "flood": 1.0}, 2 / 3),
        (["river", "flood"], ["flood", "river"], {}, 1.0),
        (["river", "river"], ["river"], {}, 1.0),  # a repeated term counts once
        (["river"], [], {}, 0.0),
        ([], ["river"], {}, 0.0),
        (["عمران", "خان"], ["خان"], {"عمران": 3.0, "خان": 1.0}, 1 / 4),
        (["x", "y"], ["y"], {}, 1 / 2),  # terms unknown to the idf weigh 1
    ],
)
def test_term_overlap(
    query: list[str], clause: list[str], idf: dict[str, float], share: float
) -> None:
    assert term_overlap(query, clause, idf) == pytest.approx(share)


@pytest.mark.parametrize(
    ("weights", "chosen"),
    [
        (_one_hot(clause_cos=1.0), "The river flooded in 1998."),
        (_one_hot(clause_cos=-1.0), "Rivers are long."),
        (_one_hot(overlap_prev=1.0), "Crops were lost."),  # only it follows a matching clause
        (_one_hot(novelty=1.0, passage=-1.0), "Rivers are long."),
        (_one_hot(number=1.0), "The river flooded in 1998."),
        (_one_hot(clause_rel=-1.0), "Crops were lost."),
    ],
)
def test_choose_clause_follows_the_weights(weights: tuple[float, ...], chosen: str) -> None:
    model = ClauseModel(same_script=weights, cross_script=_one_hot(), max_words=4)
    choice = choose_clause(query(QUESTION), _river_retrieval(), IDF, model)
    assert choice is not None
    assert choice.answer.text == chosen


def test_choice_carries_offsets_margin_and_evidence() -> None:
    model = ClauseModel(same_script=_one_hot(clause_cos=1.0), cross_script=_one_hot(), max_words=5)
    choice = choose_clause(query(QUESTION), _river_retrieval(), IDF, model)
    assert choice is not None
    answer = choice.answer
    assert answer.passage_id == "p1"
    assert RIVER.text[answer.start : answer.end] == answer.text == "The river flooded in 1998."
    assert answer.score == pytest.approx(0.6)
    assert choice.clause_cos == pytest.approx(0.6)
    assert choice.overlap == pytest.approx(1 / 3)
    assert choice.margin == pytest.approx(0.6 - 0.4)  # best minus second-best clause score


def test_margin_of_a_single_clause_is_zero() -> None:
    r = retrieval(QUESTION, [candidate(OTHER, 0.4, 0.5, [0.3])], 0.5)
    model = ClauseModel(same_script=_one_hot(clause_cos=1.0), cross_script=_one_hot())
    choice = choose_clause(query(QUESTION), r, IDF, model)
    assert choice is not None and choice.margin == 0.0


def test_cross_script_questions_use_the_cross_script_weights() -> None:
    arabic = passage("ar", ["عمران خان رئيس الوزراء", "الكرملين أصدر البيان"])
    r = retrieval("Who issued the statement?", [candidate(arabic, 0.9, 0.8, [0.5, 0.2])], 0.0)
    model = ClauseModel(
        same_script=_one_hot(clause_cos=1.0), cross_script=_one_hot(clause_cos=-1.0), max_words=4
    )
    assert is_cross_script(query("Who issued the statement?"), r)
    choice = choose_clause(query("Who issued the statement?"), r, {}, model)
    assert choice is not None and choice.answer.text == "الكرملين أصدر البيان"
    same = retrieval("من أصدر البيان؟", [candidate(arabic, 0.9, 0.8, [0.5, 0.2])], 1.0)
    assert not is_cross_script(query("من أصدر البيان؟"), same)
    choice = choose_clause(query("من أصدر البيان؟"), same, {}, model)
    assert choice is not None and choice.answer.text == "عمران خان رئيس الوزراء"


def test_no_candidates_or_no_clauses_give_no_choice() -> None:
    model = ClauseModel()
    assert choose_clause(query(QUESTION), retrieval(QUESTION, [], 1.0), IDF, model) is None
    empty = passage("e", [])
    r = retrieval(QUESTION, [candidate(empty, 0.5, 0.5, [])], 1.0)
    assert choose_clause(query(QUESTION), r, IDF, model) is None
    assert not is_cross_script(query(QUESTION), retrieval(QUESTION, [], 1.0))


def test_a_model_needs_one_weight_per_feature() -> None:
    with pytest.raises(ValueError, match=str(len(FEATURES))):
        ClauseModel(same_script=(1.0, 2.0))


# Four clauses of 3, 4, 2 and 5 words.
GROWING = passage("g", ["one two three", "four five six seven", "eight nine", "a b c d e"])


@pytest.mark.parametrize(
    ("j", "scores", "max_words", "span"),
    [
        (1, [0.1, 0.9, 0.5, 0.3], 4, (1, 1)),  # no neighbour fits in 4 words
        (1, [0.1, 0.9, 0.5, 0.3], 6, (1, 2)),  # 4 + 2 = 6 words: exactly the cap still fits
        (1, [0.1, 0.9, 0.5, 0.3], 7, (1, 2)),  # both fit; the better-scoring right one wins
        (1, [0.8, 0.9, 0.5, 0.3], 7, (0, 1)),  # ...or the better-scoring left one
        (1, [0.1, 0.9, 0.5, 0.3], 11, (1, 3)),  # right (0.5), then right (0.3) before left
        (1, [0.1, 0.9, 0.5, 0.3], 14, (0, 3)),  # everything: 14 words
        (1, [0.1, 0.9, 0.5, 0.3], 13, (1, 3)),  # one word short of everything
        (0, [0.9, 0.1, 0.1, 0.1], 3, (0, 0)),  # the first clause has no left neighbour
        (3, [0.1, 0.1, 0.1, 0.9], 7, (2, 3)),  # the last clause has no right neighbour
    ],
)
def test_grow(j: int, scores: list[float], max_words: int, span: tuple[int, int]) -> None:
    assert grow(GROWING, j, scores, max_words) == span


def test_choose_clause_grows_the_answer_within_the_model_cap() -> None:
    model = ClauseModel(same_script=_one_hot(clause_cos=1.0), cross_script=_one_hot(), max_words=8)
    choice = choose_clause(query(QUESTION), _river_retrieval(), IDF, model)
    assert choice is not None
    assert choice.answer.text == RIVER.text  # 5 + 3 words fit in 8
    narrow = ClauseModel(same_script=_one_hot(clause_cos=1.0), cross_script=_one_hot(), max_words=7)
    choice = choose_clause(query(QUESTION), _river_retrieval(), IDF, narrow)
    assert choice is not None and choice.answer.text == "The river flooded in 1998."
