"""LangGraph's BaseStore contract, run on retain's stores and on LangGraph's InMemoryStore
(which proves the suite encodes LangGraph's semantics)."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from langgraph.store.base import BaseStore, GetOp, ListNamespacesOp, PutOp, SearchOp
from langgraph.store.base import InvalidNamespaceError as LangGraphInvalidNamespaceError
from langgraph.store.memory import InMemoryStore

from retain.errors import InvalidInputError, InvalidNamespaceError, InvalidValueError, RetainError


def test_put_get_update_delete(any_store: BaseStore) -> None:
    ns = ("memories", "alice")
    assert any_store.get(ns, "k") is None
    any_store.put(ns, "k", {"content": "tea", "n": 1})
    item = any_store.get(ns, "k")
    assert item is not None
    assert (item.namespace, item.key, item.value) == (ns, "k", {"content": "tea", "n": 1})
    any_store.put(ns, "k", {"content": "coffee"})
    updated = any_store.get(ns, "k")
    assert updated is not None
    assert updated.value == {"content": "coffee"}
    assert updated.updated_at >= item.updated_at
    any_store.delete(ns, "k")
    assert any_store.get(ns, "k") is None


def test_search_by_prefix_filter_limit_offset(any_store: BaseStore) -> None:
    for i in range(6):
        any_store.put(
            ("docs", f"user{i % 2}"), f"k{i}", {"n": i, "tag": "even" if i % 2 == 0 else "odd"}
        )
    assert len(any_store.search(("docs",), limit=100)) == 6
    assert {i.key for i in any_store.search(("docs", "user0"))} == {"k0", "k2", "k4"}
    assert {i.key for i in any_store.search(("docs",), filter={"tag": "odd"})} == {"k1", "k3", "k5"}
    assert {i.key for i in any_store.search(("docs",), filter={"n": {"$gt": 3}})} == {"k4", "k5"}
    assert {i.key for i in any_store.search(("docs",), filter={"n": {"$lte": 1}})} == {"k0", "k1"}
    assert {i.key for i in any_store.search(("docs",), filter={"n": {"$ne": 0}})} == {
        "k1",
        "k2",
        "k3",
        "k4",
        "k5",
    }
    page1 = any_store.search(("docs",), limit=4)
    page2 = any_store.search(("docs",), limit=4, offset=4)
    assert len(page1) == 4
    assert len(page2) == 2
    assert {i.key for i in page1} | {i.key for i in page2} == {f"k{i}" for i in range(6)}
    assert any_store.search(("nothing",)) == []
    # a prefix matches whole labels only
    any_store.put(("docsx",), "other", {"n": 99})
    assert "other" not in {i.key for i in any_store.search(("docs",), limit=100)}


def test_semantic_search_scores_best_first(any_store: BaseStore) -> None:
    ns = ("memories",)
    any_store.put(ns, "pie", {"content": "User likes cherry pie"})
    any_store.put(ns, "cat", {"content": "User has a cat named Tom"})
    any_store.put(ns, "car", {"content": "User drives an old red car"})
    found = any_store.search(ns, query="cherry pie", limit=2)
    assert next(i.key for i in found) == "pie"
    assert len(found) == 2
    assert all(isinstance(i.score, float) for i in found)
    assert found[0].score >= found[1].score  # type: ignore[operator]
    with_filter = any_store.search(
        ns, query="cat", filter={"content": "User drives an old red car"}
    )
    assert [i.key for i in with_filter] == ["car"]


def test_index_fields_and_per_put_index(any_store: BaseStore) -> None:
    ns = ("memories",)
    any_store.put(ns, "a", {"content": "cherry pie", "note": "x"}, index=["content"])
    any_store.put(ns, "b", {"content": "unindexed cherry pie"}, index=False)
    found = any_store.search(ns, query="cherry pie", limit=5)
    assert found[0].key == "a"
    assert found[0].score is not None
    assert {i.key: i.score for i in found}["b"] is None  # listed last, without a score


def test_list_namespaces(any_store: BaseStore) -> None:
    for ns in [("a", "b", "c"), ("a", "b", "d"), ("a", "e"), ("x", "b", "c")]:
        any_store.put(ns, "k", {"v": 1})
    assert any_store.list_namespaces() == [
        ("a", "b", "c"),
        ("a", "b", "d"),
        ("a", "e"),
        ("x", "b", "c"),
    ]
    assert any_store.list_namespaces(prefix=("a",)) == [
        ("a", "b", "c"),
        ("a", "b", "d"),
        ("a", "e"),
    ]
    assert any_store.list_namespaces(suffix=("c",)) == [("a", "b", "c"), ("x", "b", "c")]
    assert any_store.list_namespaces(prefix=("*", "b")) == [
        ("a", "b", "c"),
        ("a", "b", "d"),
        ("x", "b", "c"),
    ]
    assert any_store.list_namespaces(max_depth=2) == [("a", "b"), ("a", "e"), ("x", "b")]
    assert any_store.list_namespaces(limit=1, offset=1) == [("a", "b", "d")]


def test_batch_results_in_order_and_reads_see_the_state_before_the_batch(
    any_store: BaseStore,
) -> None:
    ns = ("b",)
    any_store.put(ns, "old", {"v": 0})
    results = any_store.batch(
        [
            PutOp(ns, "new", {"v": 1}),
            GetOp(ns, "old"),
            GetOp(ns, "new"),
            SearchOp(ns, limit=10),
            ListNamespacesOp(),
        ]
    )
    assert results[0] is None
    assert results[1] is not None
    assert results[1].value == {"v": 0}
    assert results[2] is None  # the put lands after the reads
    assert [i.key for i in results[3]] == ["old"]  # type: ignore[union-attr]
    assert results[4] == [("b",)]
    assert any_store.get(ns, "new") is not None


def test_async_twins(any_store: BaseStore) -> None:
    async def run() -> None:
        ns = ("async",)
        await any_store.aput(ns, "k", {"content": "async cherry pie"})
        item = await any_store.aget(ns, "k")
        assert item is not None
        assert item.value["content"] == "async cherry pie"
        found = await any_store.asearch(ns, query="cherry")
        assert [i.key for i in found] == ["k"]
        await any_store.adelete(ns, "k")
        assert await any_store.aget(ns, "k") is None

    asyncio.run(run())


@pytest.mark.parametrize("namespace", [("",), ("a.b",), ()])
def test_invalid_namespaces_are_rejected(any_store: BaseStore, namespace: tuple[str, ...]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - LangGraph's InvalidNamespaceError
        any_store.put(namespace, "k", {"v": 1})


# -- bad input: one table, the same typed error on every retain store --------------------------


def _nested(depth: int) -> dict[str, Any]:
    """A value whose dicts nest ``depth`` levels deep (the value itself is level 1)."""
    value: dict[str, Any] = {}
    inner = value
    for _ in range(depth - 1):
        inner["x"] = {}
        inner = inner["x"]
    return value


@dataclass(frozen=True)
class BadInput:
    """A call that must fail: ``retain`` is the exact error type on SQLite and PostgreSQL;
    ``langgraph`` what LangGraph's InMemoryStore does with it (``RETAIN_ONLY``: it accepts the
    call; those cases are retain-only checks, LangGraph does not validate them)."""

    id: str
    call: Callable[[BaseStore], Any]
    retain: type[Exception]
    langgraph: type[BaseException] | None


_NS = ("t",)
RETAIN_ONLY = None
"""``BadInput.langgraph`` of a check LangGraph does not make: InMemoryStore accepts the call."""
_LG_NS = LangGraphInvalidNamespaceError
BAD_INPUTS = [
    # namespaces (retain's InvalidNamespaceError is also LangGraph's)
    BadInput(
        "str namespace put", lambda s: s.put("users", "k", {"v": 1}), InvalidNamespaceError, None
    ),
    BadInput(
        "str namespace get", lambda s: s.get("users", "k"), InvalidNamespaceError, RETAIN_ONLY
    ),
    BadInput(
        "str namespace search", lambda s: s.search("users"), InvalidNamespaceError, RETAIN_ONLY
    ),
    BadInput("int label", lambda s: s.put(("a", 1), "k", {"v": 1}), InvalidNamespaceError, _LG_NS),  # type: ignore[arg-type]
    BadInput("empty namespace", lambda s: s.put((), "k", {"v": 1}), InvalidNamespaceError, _LG_NS),
    BadInput(
        "dot in label", lambda s: s.put(("a.b",), "k", {"v": 1}), InvalidNamespaceError, _LG_NS
    ),
    BadInput(
        "langgraph root label put",
        lambda s: s.put(("langgraph", "x"), "k", {"v": 1}),
        InvalidNamespaceError,
        _LG_NS,
    ),
    BadInput(
        "langgraph root label batch",
        lambda s: s.batch([PutOp(("langgraph", "x"), "k", {"v": 1})]),
        InvalidNamespaceError,
        RETAIN_ONLY,
    ),
    BadInput(
        "surrogate label", lambda s: s.put(("\ud800",), "k", {"v": 1}), InvalidNamespaceError, None
    ),
    BadInput(
        "str namespace aput",
        lambda s: asyncio.run(s.aput("users", "k", {"v": 1})),  # type: ignore[arg-type]
        InvalidNamespaceError,
        RETAIN_ONLY,
    ),
    BadInput(
        "dot in alist_namespaces prefix",
        lambda s: asyncio.run(s.alist_namespaces(prefix=("a.b",))),
        InvalidNamespaceError,
        _LG_NS,
    ),
    # keys
    BadInput(
        "empty key batch", lambda s: s.batch([PutOp(_NS, "", {"v": 1})]), InvalidInputError, None
    ),
    BadInput("empty key put", lambda s: s.put(_NS, "", {"v": 1}), InvalidInputError, RETAIN_ONLY),
    BadInput("empty key get", lambda s: s.get(_NS, ""), InvalidInputError, RETAIN_ONLY),
    BadInput(
        "NUL in key", lambda s: s.put(_NS, "a\x00b", {"v": 1}), InvalidInputError, RETAIN_ONLY
    ),
    BadInput(
        "NUL in key delete", lambda s: s.delete(_NS, "a\x00b"), InvalidInputError, RETAIN_ONLY
    ),
    BadInput(
        "surrogate key", lambda s: s.put(_NS, "\ud800", {"v": 1}), InvalidInputError, RETAIN_ONLY
    ),
    # values
    BadInput("list value", lambda s: s.put(_NS, "k", ["v"]), InvalidValueError, ValueError),  # type: ignore[arg-type]
    BadInput("set in value", lambda s: s.put(_NS, "k", {"v": {1}}), InvalidValueError, TypeError),
    BadInput(
        "NaN in value", lambda s: s.put(_NS, "k", {"v": math.nan}), InvalidValueError, RETAIN_ONLY
    ),
    BadInput(
        "NUL in value", lambda s: s.put(_NS, "k", {"v": "a\x00b"}), InvalidValueError, RETAIN_ONLY
    ),
    BadInput(
        "surrogate in value",
        lambda s: s.put(_NS, "k", {"v": "\ud800"}),
        InvalidValueError,
        UnicodeEncodeError,
    ),
    BadInput(
        "value nested 65 deep", lambda s: s.put(_NS, "k", _nested(65)), InvalidValueError, None
    ),
    BadInput(
        "value nested 100000 deep",
        lambda s: s.put(_NS, "k", _nested(100_000)),
        InvalidValueError,
        RecursionError,
    ),
    BadInput(
        "str index",
        lambda s: s.put(_NS, "k", {"content": "x"}, index="content"),  # type: ignore[arg-type]
        InvalidInputError,
        RETAIN_ONLY,
    ),
    # TTLs (InMemoryStore has no TTL support at all)
    BadInput(
        "negative ttl",
        lambda s: s.put(_NS, "k", {"v": 1}, ttl=-1),
        InvalidInputError,
        NotImplementedError,
    ),
    BadInput(
        "zero ttl",
        lambda s: s.put(_NS, "k", {"v": 1}, ttl=0),
        InvalidInputError,
        NotImplementedError,
    ),
    BadInput(
        "NaN ttl",
        lambda s: s.put(_NS, "k", {"v": 1}, ttl=math.nan),
        InvalidInputError,
        NotImplementedError,
    ),
    BadInput(
        "infinite ttl",
        lambda s: s.put(_NS, "k", {"v": 1}, ttl=math.inf),
        InvalidInputError,
        NotImplementedError,
    ),
    BadInput(
        "ttl of 1e300 minutes",
        lambda s: s.put(_NS, "k", {"v": 1}, ttl=1e300),
        InvalidInputError,
        NotImplementedError,
    ),
    BadInput(
        "str ttl",
        lambda s: s.put(_NS, "k", {"v": 1}, ttl="60"),
        InvalidInputError,
        NotImplementedError,
    ),
    # pages
    BadInput("search limit -1", lambda s: s.search(_NS, limit=-1), InvalidInputError, RETAIN_ONLY),
    BadInput(
        "search offset -1", lambda s: s.search(_NS, offset=-1), InvalidInputError, RETAIN_ONLY
    ),
    BadInput("search limit '2'", lambda s: s.search(_NS, limit="2"), InvalidInputError, TypeError),
    BadInput("search limit 1.5", lambda s: s.search(_NS, limit=1.5), InvalidInputError, TypeError),
    BadInput(
        "search limit True", lambda s: s.search(_NS, limit=True), InvalidInputError, RETAIN_ONLY
    ),
    BadInput(
        "search limit 2**64", lambda s: s.search(_NS, limit=2**64), InvalidInputError, RETAIN_ONLY
    ),
    BadInput(
        "list_namespaces limit -1", lambda s: s.list_namespaces(limit=-1), InvalidInputError, None
    ),
    BadInput(
        "list_namespaces offset -1", lambda s: s.list_namespaces(offset=-1), InvalidInputError, None
    ),
    BadInput(
        "list_namespaces limit '1'",
        lambda s: s.list_namespaces(limit="1"),
        InvalidInputError,
        TypeError,
    ),  # type: ignore[arg-type]
    BadInput(
        "list_namespaces str prefix",
        lambda s: s.list_namespaces(prefix="users"),  # type: ignore[arg-type]
        InvalidNamespaceError,
        RETAIN_ONLY,
    ),
    BadInput(
        "list_namespaces dot in suffix",
        lambda s: s.list_namespaces(suffix=("a.b",)),
        InvalidNamespaceError,
        _LG_NS,
    ),
    BadInput(
        "list_namespaces max_depth 0",
        lambda s: s.list_namespaces(max_depth=0),
        InvalidInputError,
        RETAIN_ONLY,
    ),
    # queries and filters
    BadInput(
        "surrogate query",
        lambda s: s.search(_NS, query="\ud800"),
        InvalidInputError,
        UnicodeEncodeError,
    ),
    BadInput("int query", lambda s: s.search(_NS, query=5), InvalidInputError, AttributeError),  # type: ignore[arg-type]
    BadInput(
        "list filter", lambda s: s.search(_NS, filter=["x"]), InvalidInputError, AttributeError
    ),  # type: ignore[arg-type]
    BadInput(
        "surrogate in filter",
        lambda s: s.search(_NS, filter={"v": "\ud800"}),
        InvalidInputError,
        RETAIN_ONLY,
    ),
    # unknown operations
    BadInput("unknown op", lambda s: s.batch([object()]), InvalidInputError, ValueError),  # type: ignore[list-item]
]


@pytest.mark.parametrize("case", BAD_INPUTS, ids=[c.id for c in BAD_INPUTS])
def test_bad_input_is_the_same_typed_error_on_every_store_and_writes_nothing(
    any_store: BaseStore, case: BadInput
) -> None:
    any_store.put(_NS, "existing", {"v": 0})
    if isinstance(any_store, InMemoryStore):  # LangGraph's semantics, for reference
        if case.langgraph is None:
            case.call(any_store)  # accepted: a retain-only check
        else:
            with pytest.raises(case.langgraph):
                case.call(any_store)
        return
    with pytest.raises(RetainError) as raised:
        case.call(any_store)
    assert type(raised.value) is case.retain, raised.value
    assert [i.key for i in any_store.search(_NS)] == ["existing"]
    assert any_store.list_namespaces() == [_NS]
