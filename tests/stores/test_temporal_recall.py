"""Recall returns the facts that hold: current by default, ``as_of`` a time, or all."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from retain import InvalidInputError
from retain.stores import RetainStore

NS = ("memories", "u1")
OLD = {
    "kind": "Memory",
    "content": {"content": "User lives in Berlin"},
    "said_at": "2026-01-10T09:00:00+00:00",
    "valid_to": "2026-06-01T00:00:00+00:00",
    "superseded_by": "new",
}
NEW = {
    "kind": "Memory",
    "content": {"content": "User lives in Lisbon"},
    "said_at": "2026-06-03T09:00:00+00:00",
    "valid_from": "2026-06-01T00:00:00+00:00",
}
PLAIN = {"kind": "Memory", "content": {"content": "User likes tea"}}


def _texts(items: list[object]) -> list[str]:
    return sorted(i.value["content"]["content"] for i in items)  # type: ignore[attr-defined]


@pytest.mark.parametrize("query", ["Where does the user live? tea", None])
def test_recall_drops_superseded_facts_unless_asked(retain_store: RetainStore, query: str) -> None:
    retain_store.put(NS, "old", OLD)
    retain_store.put(NS, "new", NEW)
    retain_store.put(NS, "plain", PLAIN)
    current = retain_store.recall(NS, query=query)
    assert _texts(current) == ["User likes tea", "User lives in Lisbon"]
    before = retain_store.recall(NS, query=query, as_of=datetime(2026, 3, 1))
    assert _texts(before) == ["User likes tea", "User lives in Berlin"]
    after = retain_store.recall(NS, query=query, as_of=datetime(2026, 7, 1, tzinfo=timezone.utc))
    assert _texts(after) == ["User likes tea", "User lives in Lisbon"]
    everything = retain_store.recall(NS, query=query, include_superseded=True)
    assert _texts(everything) == ["User likes tea", "User lives in Berlin", "User lives in Lisbon"]
    # LangGraph's own search is unchanged: every item
    assert len(retain_store.search(NS, query=query)) == 3


def test_recall_pages_over_current_facts_only(retain_store: RetainStore) -> None:
    for i in range(5):
        retain_store.put(NS, f"old{i}", {**OLD, "content": {"content": f"old {i}"}})
        retain_store.put(NS, f"new{i}", {**PLAIN, "content": {"content": f"new {i}"}})
    first = retain_store.recall(NS, limit=3)
    rest = retain_store.recall(NS, limit=3, offset=3)
    assert len(first) == 3
    assert len(rest) == 2
    assert _texts(first + rest) == [f"new {i}" for i in range(5)]


def test_recall_checks_the_temporal_arguments(retain_store: RetainStore) -> None:
    with pytest.raises(InvalidInputError, match="as_of"):
        retain_store.recall(NS, query="x", as_of="yesterday")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="include_superseded"):
        retain_store.recall(NS, query="x", include_superseded="yes")  # type: ignore[arg-type]
