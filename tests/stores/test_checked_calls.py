"""Every call CheckedCalls wraps checks its namespace before LangGraph does, sync and
async, positional or keyword, and keeps BaseStore's signature."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from langgraph.store.base import BaseStore

from retain.errors import InvalidNamespaceError
from retain.stores import SQLiteStore

BAD = ("users", "a.b")  # a dot inside a label
CALLS: list[tuple[str, Callable[[Any], Any]]] = [
    ("put", lambda s: s.put(BAD, "k", {"v": 1})),
    ("put by keyword", lambda s: s.put(namespace=BAD, key="k", value={"v": 1})),
    ("get", lambda s: s.get(BAD, "k")),
    ("delete", lambda s: s.delete(BAD, "k")),
    ("search", lambda s: s.search(BAD)),
    ("list_namespaces prefix", lambda s: s.list_namespaces(prefix=BAD)),
    ("list_namespaces suffix", lambda s: s.list_namespaces(suffix=BAD)),
    ("aput", lambda s: asyncio.run(s.aput(BAD, "k", {"v": 1}))),
    ("aget", lambda s: asyncio.run(s.aget(BAD, "k"))),
    ("adelete", lambda s: asyncio.run(s.adelete(BAD, "k"))),
    ("asearch", lambda s: asyncio.run(s.asearch(BAD))),
    ("alist_namespaces", lambda s: asyncio.run(s.alist_namespaces(prefix=BAD))),
]


@pytest.fixture
def store() -> Iterator[SQLiteStore]:
    s = SQLiteStore(":memory:")
    yield s
    s.close()


@pytest.mark.parametrize("make_call", [c for _, c in CALLS], ids=[n for n, _ in CALLS])
def test_a_bad_namespace_raises_retains_error(
    store: SQLiteStore, make_call: Callable[[Any], Any]
) -> None:
    with pytest.raises(InvalidNamespaceError, match=r"a\.b"):
        make_call(store)


def test_the_checked_calls_work_and_keep_basestores_signatures(store: SQLiteStore) -> None:
    store.put(("users", "u1"), "k", {"v": 1})
    assert store.get(namespace=("users", "u1"), key="k").value == {"v": 1}  # type: ignore[union-attr]
    assert asyncio.run(store.alist_namespaces(prefix=("users",))) == [("users", "u1")]
    for name in ("put", "aget", "list_namespaces", "asearch"):
        assert inspect.signature(getattr(SQLiteStore, name)) == inspect.signature(
            getattr(BaseStore, name)
        )
    with pytest.raises(TypeError):
        store.get()  # type: ignore[call-arg]


def test_recall_args_take_recalls_defaults_and_refuse_unknown_arguments(
    store: SQLiteStore,
) -> None:
    from datetime import timedelta

    from retain.stores.base import recall_args

    args = recall_args(("users",))
    assert (args.limit, args.offset, args.mode, args.include_superseded) == (10, 0, "hybrid", False)
    assert args.settings.recency_half_life_s == timedelta(days=30).total_seconds()
    store.put(("users", "u1"), "k", {"content": "User likes tea"})
    found = asyncio.run(store.arecall(("users",), query="tea", limit=1))
    assert [i.key for i in found] == [i.key for i in store.recall(("users",), query="tea", limit=1)]
    with pytest.raises(TypeError):
        asyncio.run(store.arecall(("users",), bogus=1))
