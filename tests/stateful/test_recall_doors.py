"""Every door recalls with the store's ranking (issue 16, item 3), with one store search
per store-manager call; what a store can do is decided by one adapter."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from langgraph.store.base import Op, Result, SearchOp
from langgraph.store.memory import InMemoryStore

from retain import LearningMachine, create_memory_store_manager, create_search_memory_tool
from retain.profiles import UserMemoryConfig
from retain.store_access import StoreAdapter
from retain.stores import SQLiteStore
from retain.testing import FakeChatModel, tool_call
from tests.stateful.conftest import INDEX

NS = ("users", "alice", "memories")
CONFIG = {"configurable": {"user_id": "alice", "thread_id": "t1"}}
TEXTS = [
    "User walks the dog every morning before work",
    "User's dog is a beagle called Fido",
    "User prefers tea over coffee in the morning",
    "User works from home on Fridays",
    "User is allergic to cats",
    "User takes the dog to the beach at weekends",
    "User drinks coffee at work",
    "User's sister has a dog too",
    "User plans a trip to Lisbon",
    "User runs in the park every morning",
]
QUERY = "morning walk with my dog"


def _memory(text: str) -> dict[str, Any]:
    return {"kind": "Memory", "content": {"content": text}}


@pytest.fixture
def sqlite(tmp_path: Path) -> Iterator[SQLiteStore]:
    store = SQLiteStore(tmp_path / "memories.db", index=INDEX)  # type: ignore[arg-type]
    for i, text in enumerate(TEXTS):
        store.put(NS, f"m{i}", _memory(text))
    yield store
    store.close()


def test_the_same_query_yields_the_same_top_k_through_every_door(sqlite: SQLiteStore) -> None:
    k = 4
    expected = [i.key for i in sqlite.recall(NS, query=QUERY, limit=k)]
    assert len(expected) == k

    tool = create_search_memory_tool(("users", "{user_id}", "memories"), store=sqlite)
    through_tool = [m["key"] for m in json.loads(tool.invoke({"query": QUERY, "limit": k}, CONFIG))]

    manager = create_memory_store_manager(
        FakeChatModel([[]]),
        namespace=("users", "{user_id}", "memories"),
        query_limit=k,
        store=sqlite,
    )
    recall_step = [i.key for i in manager.process([("user", QUERY)], CONFIG).recalled]
    through_search = [i.key for i in manager.search(query=QUERY, limit=k, config=CONFIG)]
    through_asearch = [
        i.key for i in asyncio.run(manager.asearch(query=QUERY, limit=k, config=CONFIG))
    ]

    machine = LearningMachine(
        FakeChatModel([[]]),
        store=sqlite,
        user_profile=False,
        user_memory=UserMemoryConfig(recall_limit=k),
    )
    shown = machine.context(CONFIG, query=QUERY).text.splitlines()[1:-1]
    machine.shutdown()
    through_context = [
        next(i.key for i in sqlite.search(NS, limit=100) if i.value["content"]["content"] == s)
        for s in (line.removeprefix("- ") for line in shown)
    ]

    assert through_tool == expected
    assert recall_step == expected
    assert through_search == expected
    assert through_asearch == expected
    assert through_context == expected


class CountingStore(InMemoryStore):
    """LangGraph's InMemoryStore, counting the searches each batch call carries."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.search_batches: list[int] = []

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        ops = list(ops)
        searches = sum(isinstance(op, SearchOp) for op in ops)
        if searches:
            self.search_batches.append(searches)
        return super().batch(ops)


def test_the_store_manager_makes_one_store_search_per_call() -> None:
    store = CountingStore(index=INDEX)
    for i, text in enumerate(TEXTS):
        store.put(("memories", "alice"), f"m{i}", _memory(text))
    store.search_batches.clear()
    manager = create_memory_store_manager(FakeChatModel([[]]), store=store)
    conversation = [
        ("user", "I walked the dog this morning"),
        ("assistant", "How was it?"),
        ("user", "Lovely, Fido loved the beach"),
    ]
    manager.invoke(conversation, {"configurable": {"langgraph_user_id": "alice"}})
    assert store.search_batches == [1]


def test_several_queries_of_a_query_model_are_one_batch_call() -> None:
    store = CountingStore(index=INDEX)
    store.put(("memories", "alice"), "m0", _memory(TEXTS[0]))
    store.search_batches.clear()
    query_model = FakeChatModel(
        [[tool_call("search_memory", query="dog"), tool_call("search_memory", query="coffee")]]
    )
    manager = create_memory_store_manager(FakeChatModel([[]]), query_model=query_model, store=store)
    manager.invoke([("user", "hi")], {"configurable": {"langgraph_user_id": "alice"}})
    assert store.search_batches == [2]


def test_the_adapter_knows_what_each_store_can_do(sqlite: SQLiteStore) -> None:
    plain = StoreAdapter(InMemoryStore())
    native = StoreAdapter(sqlite)
    assert (plain.is_retain, native.is_retain) == (False, True)
    with native.recording({"source": "test"}):
        sqlite.put(NS, "new", _memory("User likes jazz"))
    (version,) = native.history(NS, "new")
    assert version.provenance["source"] == "test"
    assert plain.history(NS, "new") == []
    assert [i.key for i in native.search(NS, query=QUERY, limit=3)] == [
        i.key for i in sqlite.recall(NS, query=QUERY, limit=3)
    ]
