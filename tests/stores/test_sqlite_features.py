"""retain-only features of SQLiteStore: hybrid recall, weighting, history, provenance,
purge, export, re-embedding, TTL, atomic batches and several processes on one file."""

from __future__ import annotations

import json
import multiprocessing
import sqlite3
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from langgraph.func import entrypoint
from langgraph.store.base import PutOp

from retain import ConfigurationError, InvalidInputError
from retain.stores import SQLiteStore, default_store, open_store, provenance
from tests.stateful.conftest import INDEX, bag_of_words

NS = ("memories", "alice")


def test_hybrid_recall_finds_keyword_matches_that_vectors_rank_low(
    sqlite_store: SQLiteStore,
) -> None:
    def sparse(texts: list[str]) -> list[list[float]]:  # a model blind to part numbers
        return bag_of_words([" ".join(w for w in t.split() if not w[0].isdigit()) for t in texts])

    store = SQLiteStore(":memory:", index={"embed": sparse, "dims": 64})
    store.put(NS, "part", {"content": "Ordered part 8812-X for the printer"})
    for i in range(30):
        store.put(NS, f"f{i}", {"content": f"Ordered coffee for the printer room {i}"})
    vector_only = store.recall(NS, query="8812-X printer part", mode="vector", limit=3)
    hybrid = store.recall(NS, query="8812-X printer part", mode="hybrid", limit=3)
    keyword = store.recall(NS, query="8812-X", mode="keyword", limit=3)
    assert keyword[0].key == "part"
    assert hybrid[0].key == "part"
    assert all(isinstance(i.score, float) for i in hybrid)
    assert [i.score for i in hybrid] == sorted((i.score for i in hybrid), reverse=True)  # type: ignore[misc]
    assert vector_only[0].score is not None


def test_recency_and_importance_weighting(sqlite_store: SQLiteStore) -> None:
    sqlite_store.put(NS, "old", {"content": "User likes green tea", "importance": 0.1})
    conn = sqlite3.connect(sqlite_store.path)
    conn.execute("UPDATE items SET updated_at = updated_at - 86400 * 365 WHERE key = 'old'")
    conn.commit()
    conn.close()
    sqlite_store.put(NS, "new", {"content": "User likes green tea a lot", "importance": 0.9})
    plain = sqlite_store.recall(NS, query="User likes green tea", mode="keyword")
    assert plain[0].key == "old"  # the closer wording wins on relevance alone
    recent = sqlite_store.recall(NS, query="User likes green tea", recency_weight=0.5)
    assert recent[0].key == "new"
    important = sqlite_store.recall(
        NS, query="User likes green tea", mode="keyword", importance_weight=0.5
    )
    assert important[0].key == "new"
    with pytest.raises(InvalidInputError):
        sqlite_store.recall(NS, query="tea", recency_weight=0.8, importance_weight=0.8)
    with pytest.raises(InvalidInputError):
        sqlite_store.recall(NS, query="tea", mode="fuzzy")  # type: ignore[arg-type]


def test_history_as_of_restore_and_provenance(sqlite_store: SQLiteStore) -> None:
    with provenance(thread_id="t-1", run_id="r-1"):
        sqlite_store.put(NS, "k", {"content": "lives in Rotterdam"})
    t1 = datetime.now(timezone.utc)
    time.sleep(0.01)
    with provenance(thread_id="t-2"):
        sqlite_store.put(NS, "k", {"content": "lives in Utrecht"})
        sqlite_store.delete(NS, "k")
    versions = sqlite_store.history(NS, "k")
    assert [(v.version, v.op) for v in versions] == [(1, "put"), (2, "put"), (3, "delete")]
    assert versions[0].provenance == {"thread_id": "t-1", "run_id": "r-1"}
    assert versions[2].value is None
    assert versions[2].provenance == {"thread_id": "t-2"}
    as_of = sqlite_store.get_as_of(NS, "k", t1)
    assert as_of is not None
    assert as_of.value == {"content": "lives in Rotterdam"}
    assert sqlite_store.get_as_of(NS, "k", datetime.now(timezone.utc)) is None
    assert sqlite_store.get_as_of(NS, "k", t1 - timedelta(days=1)) is None
    restored = sqlite_store.restore(NS, "k", 1)
    assert restored.value == {"content": "lives in Rotterdam"}
    last = sqlite_store.history(NS, "k")[-1]
    assert (last.version, last.op, last.provenance) == (4, "put", {"restored_from": 1})
    with pytest.raises(InvalidInputError):
        sqlite_store.restore(NS, "k", 3)  # the deletion has no value


def test_purge_leaves_no_rows_anywhere(sqlite_store: SQLiteStore) -> None:
    for i in range(5):
        sqlite_store.put(("memories", "alice", "facts"), f"k{i}", {"content": f"alice fact {i}"})
        sqlite_store.put(("memories", "alicex"), f"k{i}", {"content": f"other fact {i}"})
    sqlite_store.delete(("memories", "alice", "facts"), "k0")
    assert sqlite_store.purge(("memories", "alice")) == 4
    conn = sqlite3.connect(sqlite_store.path)
    left = {
        table: conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
        for table in ("items", "vectors", "items_fts", "history")
    }
    alice = conn.execute(
        "SELECT COUNT(*) FROM history WHERE prefix LIKE 'memories.alice%' AND prefix != "
        "'memories.alicex'"
    ).fetchone()[0]
    conn.close()
    assert left == {"items": 5, "vectors": 5, "items_fts": 5, "history": 5}
    assert alice == 0
    assert sqlite_store.recall(("memories", "alice"), query="alice fact", mode="keyword") == []
    with pytest.raises(InvalidInputError):
        sqlite_store.purge(())


def test_export_jsonl(sqlite_store: SQLiteStore, tmp_path: Path) -> None:
    with provenance(source="test"):
        sqlite_store.put(NS, "a", {"content": "one"})
        sqlite_store.put(NS, "a", {"content": "two"})
    sqlite_store.put(("memories", "bob"), "b", {"content": "bob's"})
    lines = sqlite_store.export_jsonl(("memories", "alice"), tmp_path / "alice.jsonl")
    records = [json.loads(line) for line in (tmp_path / "alice.jsonl").read_text().splitlines()]
    assert lines == 3
    assert [(r["type"], r["key"]) for r in records] == [
        ("item", "a"),
        ("version", "a"),
        ("version", "a"),
    ]
    assert records[0]["value"] == {"content": "two"}
    assert records[2]["provenance"] == {"source": "test"}


def test_changing_the_embedding_model_needs_reembed(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    first = SQLiteStore(path, index=INDEX)  # type: ignore[arg-type]
    first.put(NS, "pie", {"content": "User likes cherry pie"})
    first.close()

    def other(texts: list[str]) -> list[list[float]]:
        return [list(reversed(v)) for v in bag_of_words(texts)]

    second = SQLiteStore(path, index={"embed": other, "dims": 64})
    with pytest.raises(ConfigurationError, match="reembed"):
        second.search(NS, query="pie")
    assert second.reembed() == 1
    assert second.search(NS, query="cherry pie")[0].key == "pie"
    second.close()
    third = SQLiteStore(path, index={"embed": other, "dims": 64})  # now recorded: no error
    assert third.search(NS, query="cherry pie")[0].key == "pie"


def test_a_failed_batch_writes_nothing(sqlite_store: SQLiteStore) -> None:
    sqlite_store.put(NS, "keep", {"content": "before"})
    with pytest.raises(TypeError):
        sqlite_store.batch(
            [
                PutOp(NS, "keep", {"content": "changed"}),
                PutOp(NS, "bad", {"content": object()}),  # not JSON: fails mid-batch
            ]
        )
    assert sqlite_store.get(NS, "keep").value == {"content": "before"}  # type: ignore[union-attr]
    assert sqlite_store.get(NS, "bad") is None
    assert len(sqlite_store.history(NS, "keep")) == 1


def test_ttl_expiry_and_sweep(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "ttl.db", ttl={"default_ttl": 0.002})  # 0.12 s
    store.put(NS, "short", {"content": "soon gone"})
    store.put(NS, "long", {"content": "stays"}, ttl=None)
    assert store.get(NS, "short") is not None
    time.sleep(0.2)
    assert store.get(NS, "short") is None
    assert [i.key for i in store.search(NS)] == ["long"]
    assert store.sweep_ttl() == 1


def _writer(path: str, worker: int) -> None:
    store = SQLiteStore(path)
    for i in range(50):
        store.put(("memories", f"w{worker}"), f"k{i}", {"content": f"worker {worker} item {i}"})
    store.close()


@pytest.mark.slow
def test_several_processes_write_one_file(tmp_path: Path) -> None:
    path = str(tmp_path / "shared.db")
    SQLiteStore(path).close()
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(path, w)) for w in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    store = SQLiteStore(path)
    assert len(store.search(("memories",), limit=1000)) == 150
    assert all(len(store.history(("memories", "w1"), f"k{i}")) == 1 for i in range(50))


def test_plugs_into_a_langgraph_entrypoint(sqlite_store: SQLiteStore) -> None:
    from langgraph.config import get_store

    @entrypoint(store=sqlite_store)
    def remember(text: str) -> int:
        store = get_store()
        store.put(("notes",), "n", {"content": text})
        return len(store.search(("notes",), query=text))

    assert remember.invoke("hello store") == 1


def test_open_store_urls(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path}/x.db")
    assert isinstance(store, SQLiteStore)
    assert isinstance(open_store("sqlite:///:memory:"), SQLiteStore)
    with pytest.raises(ConfigurationError):
        open_store("mysql://nope")


@pytest.mark.slow
def test_default_store_uses_the_offline_minilm_model(tmp_path: Path) -> None:
    store = default_store(tmp_path / "default.db")
    store.put(NS, "hike", {"content": "I love hiking in the Alps"})
    store.put(NS, "cat", {"content": "My cat is named Tom"})
    assert store.search(NS, query="mountain walks")[0].key == "hike"
    assert store.recall(NS, query="pets at home")[0].key == "cat"
