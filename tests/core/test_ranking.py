"""The pure ranking module: score fusion, neighbours, dates, query handling."""

from __future__ import annotations

from typing import Any

import pytest

from retain.core.ranking import (
    Candidate,
    FindKeyword,
    FindNeighbours,
    FindVector,
    KeywordStats,
    Load,
    Ranking,
    analyse_query,
    answered,
    bm25,
    rank,
    recall_flow,
)
from retain.errors import InvalidInputError


def rrf(rankings: list[list[int]], k: int = 60) -> list[int]:
    """Reciprocal-rank fusion, as retain ranked before score fusion."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for position, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + position)
    return sorted(scores, key=lambda i: -scores[i])


def test_score_fusion_keeps_a_strong_keyword_match_that_rank_fusion_buries() -> None:
    # Item 1 is the only memory that names the rare words of the question: a BM25 score
    # far above the rest, while its vector sits 8th (its cosine barely below the others).
    # Item 2 is 2nd on both sides by a hair. Rank fusion sees positions only. (Twenty
    # more memories trail on the vector side, as a store's candidates do.)
    cosines = {2: 0.60, 3: 0.61, 4: 0.595, 5: 0.59, 6: 0.585, 7: 0.58, 8: 0.575, 1: 0.57}
    cosines |= {i: 0.30 + 0.01 * (i - 9) for i in range(9, 29)}
    keywords = {1: 9.0, 2: 1.1, 3: 1.0}
    by_vector = sorted(cosines, key=lambda i: -cosines[i])
    by_keyword = sorted(keywords, key=lambda i: -keywords[i])
    assert rrf([by_vector, by_keyword])[0] != 1  # rank fusion mis-ranks it
    found = [
        Candidate(i, f"memory {i}", 0.0, vector=cosines[i], keyword=keywords.get(i))
        for i in cosines
    ]
    ranked = rank(analyse_query("question"), found, Ranking(neighbour_weight=0.0))
    assert ranked[0].id == 1
    assert ranked[0].keyword == 1.0
    assert 0.0 <= ranked[0].vector <= 1.0


def test_a_strong_match_lifts_its_neighbour() -> None:
    found = [
        Candidate(
            1, "Which trail did you hike?", 0.0, vector=0.9, keyword=3.0, neighbours=((2, 1),)
        ),
        Candidate(2, "The Eiger north face", 0.0, vector=0.2, neighbours=((1, 1),)),
        Candidate(3, "Tea or coffee", 0.0, vector=0.35),
    ]
    without = rank(analyse_query("trail hike"), found, Ranking(neighbour_weight=0.0))
    assert [s.id for s in without] == [1, 3, 2]
    with_neighbours = rank(analyse_query("trail hike"), found)
    assert [s.id for s in with_neighbours] == [1, 2, 3]


def test_a_memory_that_only_asks_ranks_below_the_one_that_answers() -> None:
    # The asking turn repeats the question's words; the answer shares fewer of them.
    asking = Candidate(1, "What are your dogs' names?", 0.0, vector=0.72, keyword=2.0)
    answer = Candidate(2, "My dogs' names are Coco and Shadow.", 0.0, vector=0.70, keyword=1.9)
    other = Candidate(3, "Maria likes tea.", 0.0, vector=0.30)
    q = analyse_query("What are Maria's dogs' names?")
    found = [asking, answer, other]
    assert [s.id for s in rank(q, found, Ranking(question_penalty=0.0))][:2] == [1, 2]
    assert [s.id for s in rank(q, found)][:2] == [2, 1]
    # pure modes are not penalised: mode="vector" reports and orders by the cosine
    flow = recall_flow(q.text, mode="vector", vectors=True, want=2)
    replies: dict[type, Any] = {
        FindVector: [(1, 0.72), (2, 0.70)],
        Load: {1: (asking.text, 0.0, {}), 2: (answer.text, 0.0, {})},
    }
    assert [s.id for s in answered(flow, lambda r: replies[type(r)])] == [1, 2]


def test_pure_modes_rank_by_their_one_score() -> None:
    # Memory 2 names the person and the date the question asks about: hybrid recall lifts
    # it; mode="vector" orders by cosine and mode="keyword" by BM25 alone.
    rows = {
        1: ("User adopted a kitten", 0.0, {}),
        2: ("[7 May 2023] Maria adopted a kitten, a kitten!", 0.0, {}),
        3: ("User drinks tea", 0.0, {}),
    }
    q = "What did Maria adopt on 7 May 2023?"

    def run(mode: str) -> list[int]:
        replies: dict[type, Any] = {
            FindVector: [(1, 0.80), (2, 0.79), (3, 0.30)],
            KeywordStats: (20, {"maria": 1, "adopt": 2, "2023": 1}),
            FindKeyword: [(1, 2.0), (2, 1.0)],
            Load: rows,
            FindNeighbours: {},
        }
        flow = recall_flow(q, mode=mode, vectors=True, want=3)
        return [s.id for s in answered(flow, lambda r: replies[type(r)])]

    assert run("hybrid")[0] == 2
    assert run("vector") == [1, 2, 3]
    assert run("keyword")[:2] == [2, 1]  # BM25: memory 2 holds "maria" and "2023" too


def test_a_dated_question_prefers_memories_from_that_time() -> None:
    found = [
        Candidate(1, "[3 July, 2023] went to the support group", 0.0, vector=0.8),
        Candidate(2, "[8 May, 2023] went to the support group", 0.0, vector=0.8),
        Candidate(
            3, "went to the support group", 0.0, vector=0.8, value={"valid_from": "2023-05-09"}
        ),
    ]
    q = analyse_query("What did she do in May 2023?")
    assert q.dates == ((2023, 5, None),)
    ranked = rank(q, found)
    assert {ranked[0].id, ranked[1].id} == {2, 3}
    assert ranked[2].id == 1


@pytest.mark.parametrize(
    ("text", "dates"),
    [
        ("on 7 May 2023", ((2023, 5, 7),)),
        ("on May 7, 2023", ((2023, 5, 7),)),
        ("2023-05-07", ((2023, 5, 7),)),
        ("in 2022", ((2022, None, None),)),
        ("no date here", ()),
    ],
)
def test_dates_in_questions(
    text: str, dates: tuple[tuple[int, int | None, int | None], ...]
) -> None:
    assert analyse_query(text).dates == dates


def test_recency_counts_only_when_asked() -> None:
    old = Candidate(1, "User lives in Paris", 0.0, vector=0.81)
    new = Candidate(2, "User lives in Rotterdam", 86400.0 * 365, vector=0.80)
    other = Candidate(3, "User likes tea", 86400.0 * 365, vector=0.2)
    found, now = [old, new, other], 86400.0 * 366
    question, current = analyse_query("Where does he live?"), analyse_query("Where now?")
    assert not question.wants_latest
    assert current.wants_latest
    assert rank(question, found, now=now)[0].id == 1
    latest = Ranking(latest_weight=0.3)
    assert rank(question, found, latest, now=now)[0].id == 1  # not asked for the latest
    assert rank(current, found, latest, now=now)[0].id == 2
    assert rank(question, found, Ranking(recency_weight=0.3), now=now)[0].id == 2


def test_bm25_weights_come_from_the_counts_given() -> None:
    rows = {1: ("Caroline went to the group", 0.0, {}), 2: ("Caroline painted", 0.0, {})}
    rare = bm25({"carolin": 0.1, "group": 2.0}, rows)
    assert rare[1] > rare[2]
    assert bm25({}, rows) == {}


@pytest.mark.parametrize(
    "settings",
    [
        {"vector_weight": 1.5},
        {"question_penalty": 1.2},
        {"neighbour_weight": -1.0},
        {"date_weight": float("nan")},
        {"recency_weight": 0.7, "importance_weight": 0.7},
        {"recency_half_life_s": 0.0},
    ],
)
def test_bad_settings_are_refused(settings: dict[str, float]) -> None:
    with pytest.raises(InvalidInputError):
        Ranking(**settings)  # type: ignore[arg-type]


def test_common_words_bring_keyword_candidates_only_when_vectors_found_none() -> None:
    """Words in more than a twentieth of the namespace rank what the vectors found; they fetch
    keyword candidates of their own only when there is nothing else to rank."""
    rows = {i: (f"tea and coffee {i}", 0.0, {}) for i in range(1, 4)}
    stats = (10, {"tea": 5, "coffee": 4})

    def run(vectors: list[tuple[int, float]], mode: str = "hybrid") -> list[Any]:
        asked: list[Any] = []

        def answer(request: Any) -> Any:
            asked.append(request)
            if isinstance(request, FindVector):
                return vectors
            if isinstance(request, KeywordStats):
                return stats
            if isinstance(request, FindKeyword):
                return [(3, 1.0)]
            if isinstance(request, Load):
                return {i: rows[i] for i in request.ids}
            return {}

        found = answered(recall_flow("tea coffee", mode=mode, vectors=True, want=5), answer)
        return [type(r).__name__ for r in asked] + [[s.id for s in found]]

    with_vectors = run([(1, 0.9), (2, 0.8)])
    assert "FindKeyword" not in with_vectors
    assert with_vectors[-1] == [1, 2]
    assert "FindKeyword" in run([])  # nothing from the vectors: the rarest words search
    assert run([])[-1] == [3]
    assert "FindKeyword" in run([], mode="keyword")
