"""Two connections on one SQLite file: a store's vector cache follows the other's writes
by re-reading only the items changed since (``retain_vector_log``), not every vector."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

import retain.stores.sqlite as sqlite_store
from retain.stores import SQLiteStore
from tests.stateful.conftest import INDEX

NS = ("users", "u1")


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[SQLiteStore, SQLiteStore]]:
    writer = SQLiteStore(tmp_path / "m.db", index=INDEX)  # type: ignore[arg-type]
    reader = SQLiteStore(tmp_path / "m.db", index=INDEX)  # type: ignore[arg-type]
    yield writer, reader
    writer.close()
    reader.close()


def _found(store: SQLiteStore, query: str) -> list[str]:
    return [i.key for i in store.recall(NS, query=query, mode="vector")]


def _cosine(store: SQLiteStore, query: str, key: str) -> float:
    found = {i.key: i.score for i in store.recall(NS, query=query, mode="vector")}
    return float(found[key] or 0.0)


def test_another_connections_writes_reach_the_cache_without_a_reload(
    pair: tuple[SQLiteStore, SQLiteStore],
) -> None:
    writer, reader = pair
    writer.put(NS, "tea", {"content": "green tea"})
    assert _found(reader, "green tea") == ["tea"]
    assert _cosine(reader, "green", "tea") > 0.5
    assert reader._cache_loads == 1

    writer.put(NS, "car", {"content": "red car"})  # a new item
    assert _found(reader, "red car")[0] == "car"
    writer.put(NS, "tea", {"content": "black coffee"})  # a changed vector
    assert _found(reader, "black coffee")[0] == "tea"
    assert _cosine(reader, "green", "tea") == pytest.approx(0.0, abs=1e-6)  # old vector gone
    writer.delete(NS, "car")
    assert "car" not in _found(reader, "red car")
    writer.put(("users", "u2"), "x", {"content": "red car"})
    writer.purge(("users", "u2"))
    assert [i.key for i in reader.recall(("users",), query="red car", mode="vector")] == ["tea"]
    assert reader._cache_loads == 1  # every change came from the log


def test_a_cache_behind_the_pruned_log_reloads_everything(
    pair: tuple[SQLiteStore, SQLiteStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    writer, reader = pair
    monkeypatch.setattr(sqlite_store, "VECTOR_LOG_KEEP", 2)
    writer.put(NS, "a", {"content": "apple"})
    assert _found(reader, "apple") == ["a"]
    for i in range(5):  # more changes than the log keeps
        writer.put(NS, f"k{i}", {"content": f"word{i}"})
    assert _found(reader, "word3")[0] == "k3"
    assert reader._cache_loads == 2
    conn = sqlite3.connect(writer.path)
    kept = conn.execute("SELECT count(*) FROM retain_vector_log").fetchone()[0]
    conn.close()
    assert kept <= 3  # bounded: KEEP entries behind the newest, plus the newest


def test_the_log_records_item_ids_and_namespaces_never_values(
    pair: tuple[SQLiteStore, SQLiteStore],
) -> None:
    writer, _ = pair
    writer.put(NS, "secret", {"content": "my bank PIN is 1234"})
    conn = sqlite3.connect(writer.path)
    columns = [r[1] for r in conn.execute("PRAGMA table_info(retain_vector_log)")]
    rows = conn.execute("SELECT item_id, prefix FROM retain_vector_log").fetchall()
    conn.close()
    assert columns == ["seq", "item_id", "prefix"]
    # the vector row's entry, and the item's with its namespace (keyword counts, migration 8)
    assert sorted(rows, key=str) == sorted([(1, None), (1, "users.u1")], key=str)
    assert not any("1234" in str(r) or "secret" in str(r) for r in rows)
