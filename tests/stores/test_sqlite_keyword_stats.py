"""SQLiteStore's keyword counts for ranking: kept per prefix, dropped by the writes that
change them."""

from __future__ import annotations

from pathlib import Path

from retain.stores import SQLiteStore


def test_keyword_counts_follow_writes_namespace_by_namespace(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "m.db", index=False)
    a, b = ("users", "a"), ("users", "b")
    store.put(a, "1", {"text": "tea in the morning"})
    store.put(b, "1", {"text": "tea and coffee"})
    assert store._keyword_stats(a, ["tea"]) == (1, {"tea": 1})
    assert store._keyword_stats(("users",), ["tea"]) == (2, {"tea": 2})
    assert store._keyword_stats(b, ["coffee"]) == (1, {"coffee": 1})
    store.put(b, "2", {"text": "more tea"})
    assert a in store._stats
    assert b not in store._stats
    assert ("users",) not in store._stats
    assert store._keyword_stats(b, ["tea"]) == (2, {"tea": 2})
    assert store._keyword_stats(("users",), ["tea"]) == (3, {"tea": 3})
    store.delete(a, "1")
    assert store._keyword_stats(a, ["tea"]) == (0, {"tea": 0})
    other = SQLiteStore(tmp_path / "m.db", index=False)
    other.put(b, "3", {"text": "tea again"})
    assert store._keyword_stats(b, ["tea"]) == (3, {"tea": 3})
    other.close()
    store.close()


def test_another_connections_writes_drop_only_the_counts_of_their_namespaces(
    tmp_path: Path,
) -> None:
    """Several server processes share one file: what one writes in user b's namespace
    leaves the counts of user a in the others valid (the item log, migration 8)."""
    store = SQLiteStore(tmp_path / "m.db", index=False)
    other = SQLiteStore(tmp_path / "m.db", index=False)
    a, b = ("users", "a"), ("users", "b")
    store.put(a, "1", {"text": "tea in the morning"})
    store.put(b, "1", {"text": "tea and coffee"})
    assert store._keyword_stats(a, ["tea"]) == (1, {"tea": 1})
    assert store._keyword_stats(b, ["tea"]) == (1, {"tea": 1})
    assert store._keyword_stats(("users",), ["tea"]) == (2, {"tea": 2})
    other.put(b, "2", {"text": "more tea"})
    other.delete(b, "1")
    assert store._keyword_stats(a, ["coffee"]) == (1, {"coffee": 0})  # catches up first
    assert store._stats[a] == {"": 1, "tea": 1, "coffee": 0}  # kept: nothing written in a
    assert b not in store._stats
    assert ("users",) not in store._stats
    assert store._keyword_stats(b, ["tea", "coffee"]) == (1, {"tea": 1, "coffee": 0})
    assert store._keyword_stats(("users",), ["tea"]) == (2, {"tea": 2})
    other.delete(a, "1")
    assert store._keyword_stats(a, ["tea"]) == (0, {"tea": 0})
    # a purge logs no namespace name: every count goes
    store.put(a, "2", {"text": "green tea"})
    assert store._keyword_stats(a, ["tea"]) == (1, {"tea": 1})
    assert other.purge(("users",)) == 2
    assert store._keyword_stats(a, ["tea"]) == (0, {"tea": 0})
    assert store._keyword_stats(b, ["tea"]) == (0, {"tea": 0})
    other.close()
    store.close()
