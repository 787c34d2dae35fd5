"""Recall ranking through retain's stores (issue 16): both stores rank with the same code
(retain.core.ranking), and every door of a retain store gives the same top-k."""

from __future__ import annotations

from pathlib import Path

import pytest
from langgraph.store.base import PutOp

from retain import create_search_memory_tool
from retain.stores import RetainStore, SQLiteStore
from tests.stateful.conftest import INDEX
from tests.stores.conftest import StoreMaker

NS = ("memories", "u1")
FACTS = [
    ("k1", "Caroline adopted two kittens from the shelter"),
    ("k2", "Caroline is researching adoption agencies"),
    ("k3", "Melanie paints sunrises by the lake"),
    ("k4", "Melanie ran a charity race for mental health"),
    ("k5", "The kittens are called Oscar and Luna"),
    ("k6", "Caroline went to a support group on 7 May 2023"),
    ("k7", "Caroline went to a support group on 3 July 2023"),
    ("k8", "Melanie is running a pottery workshop"),
]


def fill(store: RetainStore, ns: tuple[str, ...] = NS) -> None:
    store.batch([PutOp(ns, key, {"content": text}) for key, text in FACTS])


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("adopting", {"k1", "k2"}),  # adopted, adoption
        ("runs", {"k4", "k8"}),  # ran is irregular: porter keeps it; running -> run
        ("painting", {"k3"}),
    ],
)
def test_a_stemmed_query_finds_inflected_forms(
    make_store: StoreMaker, query: str, expected: set[str]
) -> None:
    store = make_store(index=INDEX)
    fill(store)
    found = store.recall(NS, query=query, mode="keyword", limit=5)
    assert expected - {"k4"} <= {i.key for i in found}
    assert {i.key for i in found} <= expected


def test_both_stores_rank_the_same(tmp_path: Path, pg_url: str) -> None:
    from retain.stores import PostgresStore

    lite = SQLiteStore(tmp_path / "m.db", index=INDEX)  # type: ignore[arg-type]
    pg = PostgresStore(pg_url, index=INDEX)  # type: ignore[arg-type]
    try:
        for store in (lite, pg):
            fill(store)
        for query in ("adopting kittens", "support group in May 2023", "Melanie's hobbies"):
            a = [(i.key, round(i.score or 0, 6)) for i in lite.recall(NS, query=query, limit=5)]
            b = [(i.key, round(i.score or 0, 6)) for i in pg.recall(NS, query=query, limit=5)]
            assert a == b, query
    finally:
        lite.close()
        pg.close()


def test_both_stores_stem_words_alike(tmp_path: Path, pg_url: str) -> None:
    """Porter's stemmer (SQLite's FTS5 and a new PostgreSQL database alike) reads
    "general" and "generously" as one word; PostgreSQL's ``english`` (Snowball) does not,
    so the two stores used to match different memories."""
    from retain.stores import PostgresStore

    facts = [("k1", "She gave generously"), ("k2", "The general meeting is on Monday")]
    lite = SQLiteStore(tmp_path / "m.db", index=False)
    pg = PostgresStore(pg_url, index=False)
    try:
        for store in (lite, pg):
            store.batch([PutOp(NS, key, {"content": text}) for key, text in facts])
        for query in ("general", "generously", "Monday meetings"):
            a = [(i.key, i.score) for i in lite.recall(NS, query=query, mode="keyword")]
            b = [(i.key, i.score) for i in pg.recall(NS, query=query, mode="keyword")]
            assert a == b, query
        assert len(a) == 1
        found = lite.recall(NS, query="general", mode="keyword")
        assert {i.key for i in found} == {"k1", "k2"}
    finally:
        lite.close()
        pg.close()


def test_both_stores_choose_keyword_candidates_by_one_rule(tmp_path: Path, pg_url: str) -> None:
    """More memories match than a recall takes as keyword candidates (50): both stores take
    those whose matched words weigh most (a rare word outweighs a common one). PostgreSQL's
    ts_rank, which knows no word weights, used to take the 50 oldest "apple" memories and
    leave out every "banana" one, the memories that rank first."""
    from retain.stores import PostgresStore

    items = [(f"f{i}", f"filler note {i} about the weather") for i in range(1100)]
    items += [(f"a{i}", "apple") for i in range(52)]
    items += [(f"b{i}", "banana") for i in range(10)]
    lite = SQLiteStore(tmp_path / "m.db", index=False)
    pg = PostgresStore(pg_url, index=False)
    try:
        found = []
        for store in (lite, pg):
            store.batch([PutOp(NS, key, {"content": text}) for key, text in items])
            ranked = store.recall(NS, query="apple banana", mode="keyword", limit=10)
            found.append([i.key for i in ranked])
        assert set(found[0]) == {f"b{i}" for i in range(10)}
        assert found[1] == found[0]
    finally:
        lite.close()
        pg.close()


def test_both_stores_keep_the_batch_order_for_neighbours(tmp_path: Path, pg_url: str) -> None:
    """Keys that sort differently from the order they were written in: the question's
    neighbour (the answer written right after it) is lifted on both stores alike."""
    from retain.stores import PostgresStore

    turns = [
        ("z9", "Joanna: which lighting does your gaming room have?"),
        ("a1", "Nate: soft purple leds all around"),
        ("m5", "Joanna: nice, I like tea"),
        ("b2", "Nate: I went hiking at the lake"),
    ]
    lite = SQLiteStore(tmp_path / "m.db", index=INDEX)  # type: ignore[arg-type]
    pg = PostgresStore(pg_url, index=INDEX)  # type: ignore[arg-type]
    try:
        for store in (lite, pg):
            store.batch([PutOp(NS, key, {"content": text}) for key, text in turns])
        query = "gaming room lighting"
        a = [(i.key, round(i.score or 0, 6)) for i in lite.recall(NS, query=query, limit=4)]
        b = [(i.key, round(i.score or 0, 6)) for i in pg.recall(NS, query=query, limit=4)]
        assert a == b
        assert [k for k, _ in a[:2]] == ["z9", "a1"]  # the reply written next to it
    finally:
        lite.close()
        pg.close()


def test_a_dated_question_prefers_the_memory_from_that_time(make_store: StoreMaker) -> None:
    store = make_store(index=INDEX)
    fill(store)
    may = store.recall(NS, query="When did Caroline go to the support group in May 2023?")
    july = store.recall(NS, query="When did Caroline go to the support group in July 2023?")
    assert may[0].key == "k6"
    assert july[0].key == "k7"


def test_every_door_gives_the_same_top_k(make_store: StoreMaker) -> None:
    store = make_store(index=INDEX)
    fill(store)
    tool = create_search_memory_tool(
        namespace=NS, store=store, response_format="content_and_artifact"
    )
    for query in ("kittens adoption", "who paints", "support group"):
        recalled = [(i.key, i.score) for i in store.recall(NS, query=query, limit=4)]
        searched = [(i.key, i.score) for i in store.search(NS, query=query, limit=4)]
        _, items = tool.func(query=query, limit=4)  # type: ignore[misc]
        assert recalled == searched
        assert recalled == [(i.key, i.score) for i in items]


def test_another_tenant_does_not_change_a_namespace_ranking(make_store: StoreMaker) -> None:
    store = make_store(index=INDEX)
    fill(store)
    query = "Caroline kittens adoption"
    before = [(i.key, i.score) for i in store.recall(NS, query=query, limit=8)]
    crowd = [(f"x{n}", f"Caroline kittens adoption story number {n}") for n in range(60)]
    store.batch([PutOp(("memories", "u2"), k, {"content": t}) for k, t in crowd])
    after = [(i.key, i.score) for i in store.recall(NS, query=query, limit=8)]
    assert after == before


def test_filters_and_paging_apply_to_ranked_recall(make_store: StoreMaker) -> None:
    store = make_store(index=INDEX)
    store.batch([PutOp(NS, key, {"content": text, "who": text.split()[0]}) for key, text in FACTS])
    found = store.recall(NS, query="kittens support group", filter={"who": "Melanie"})
    assert found
    assert {i.value["who"] for i in found} == {"Melanie"}  # neighbours pass the filter too
    full = [i.key for i in store.recall(NS, query="Caroline", limit=6)]
    paged = [i.key for i in store.recall(NS, query="Caroline", limit=3, offset=3)]
    assert paged == full[3:6]


def test_a_store_built_without_an_index_ranks_by_meaning(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "plain.db")  # no index: the offline MiniLM embedding
    try:
        store.put(NS, "cat", {"content": "The user adores felines"})
        store.put(NS, "car", {"content": "The user drives a pickup truck"})
        store.put(NS, "tea", {"content": "The user drinks green tea"})
        found = store.search(NS, query="Which pets does she love? kittens")
        assert found[0].key == "cat"
        assert all(i.score is not None for i in found)
        keywords_only = SQLiteStore(tmp_path / "kw.db", index=False)
        keywords_only.put(NS, "cat", {"content": "The user adores felines"})
        assert keywords_only.embeddings is None
        assert [i.key for i in keywords_only.search(NS, query="felines")] == ["cat"]
        keywords_only.close()
    finally:
        store.close()
