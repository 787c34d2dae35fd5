"""``RetainStore.namespace_summary``: live items counted per namespace in SQL, the same
answer on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from typing import Any

import pytest

from retain.clock import ManualClock
from retain.errors import InvalidNamespaceError
from retain.stores import NamespaceSummary, RetainStore
from tests.stores.conftest import StoreMaker

START = datetime(2026, 12, 1, tzinfo=timezone.utc).timestamp()


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(START + seconds, timezone.utc)


def _filled(make_store: StoreMaker) -> tuple[RetainStore, ManualClock]:
    clock = ManualClock(start=START)
    store = make_store(index=False, clock=clock)
    store.put(("users", "u1", "memories"), "a", {"content": "likes tea"})
    clock.advance(10)
    store.put(("users", "u1", "memories"), "b", {"content": "has a cat"})
    store.put(("users", "u1"), "profile", {"name": "Ann"})
    clock.advance(10)
    store.put(("users", "u2", "memories"), "c", {"content": "runs"})
    store.put(("users-x",), "d", {"content": "sorts inside users by text"})
    store.put(("users-x", "deep"), "e", {"content": "and so does this"})
    store.put(("usersz",), "f", {"content": "longer label"})
    clock.advance(10)
    store.put(("users", "u1", "memories"), "a", {"content": "likes green tea"})  # an update
    return store, clock


def _counts(found: list[NamespaceSummary]) -> list[tuple[tuple[str, ...], int]]:
    return [(s.namespace, s.items) for s in found]


def test_counts_and_last_activity_per_namespace(make_store: StoreMaker) -> None:
    store, _ = _filled(make_store)
    found = store.namespace_summary(("users",))
    assert _counts(found) == [
        (("users", "u1"), 1),
        (("users", "u1", "memories"), 2),
        (("users", "u2", "memories"), 1),
    ]
    assert [s.last_activity for s in found] == [_at(10), _at(30), _at(20)]
    assert {s.last_activity.tzinfo for s in found} == {timezone.utc}


def test_nested_prefixes_and_whole_labels(make_store: StoreMaker) -> None:
    store, _ = _filled(make_store)
    assert _counts(store.namespace_summary(("users", "u1"))) == [
        (("users", "u1"), 1),
        (("users", "u1", "memories"), 2),
    ]
    assert _counts(store.namespace_summary(("users", "u1", "memories"))) == [
        (("users", "u1", "memories"), 2)
    ]
    # "users-x" and "usersz" share the text "users" but not the label
    assert _counts(store.namespace_summary(("users-x",))) == [
        (("users-x",), 1),
        (("users-x", "deep"), 1),
    ]
    assert _counts(store.namespace_summary(("users", "u"))) == []
    # the whole store, sorted by labels ("users" before "users-x"), not by text
    assert [s.namespace for s in store.namespace_summary()] == [
        ("users", "u1"),
        ("users", "u1", "memories"),
        ("users", "u2", "memories"),
        ("users-x",),
        ("users-x", "deep"),
        ("usersz",),
    ]
    assert sum(s.items for s in store.namespace_summary(())) == 7


def test_expired_and_deleted_items_are_not_counted(make_store: StoreMaker) -> None:
    clock = ManualClock(start=START)
    store = make_store(index=False, clock=clock)
    store.put(("n",), "stays", {"v": 1})
    store.put(("n",), "soon", {"v": 2}, ttl=1)
    store.put(("gone",), "only", {"v": 3}, ttl=1)
    store.put(("n",), "deleted", {"v": 4})
    store.delete(("n",), "deleted")
    assert _counts(store.namespace_summary()) == [(("gone",), 1), (("n",), 2)]
    clock.advance(61)
    assert _counts(store.namespace_summary()) == [(("n",), 1)]
    assert store.namespace_summary(("gone",)) == []


def test_empty_store(make_store: StoreMaker) -> None:
    store = make_store(index=False)
    assert store.namespace_summary() == []
    assert store.namespace_summary(("users", "u1")) == []


@pytest.mark.parametrize(
    "prefix", ["users", ("users", "a.b"), ("users", ""), ("users", 1), None, ("a\x00",)]
)
def test_an_invalid_prefix_raises_the_same_error(make_store: StoreMaker, prefix: Any) -> None:
    store = make_store(index=False)
    with pytest.raises(InvalidNamespaceError) as raised:
        store.namespace_summary(prefix)
    assert type(raised.value) is InvalidNamespaceError
    with pytest.raises(InvalidNamespaceError):
        asyncio.run(store.anamespace_summary(prefix))


def test_async_twin_answers_the_same(make_store: StoreMaker) -> None:
    store, _ = _filled(make_store)
    expected = store.namespace_summary(("users",))

    async def run() -> list[NamespaceSummary]:
        found = await store.anamespace_summary(("users",))
        aclose = getattr(store, "aclose", None)
        if aclose is not None:  # close the async pool inside its loop (see tests/conftest.py)
            await aclose()
        return found

    assert asyncio.run(run()) == expected
