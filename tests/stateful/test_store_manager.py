"""create_memory_store_manager: recall, extraction and writes against real stores."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import pytest
from langgraph.func import entrypoint
from langgraph.store.base import BaseStore, Op, Result
from langgraph.store.memory import InMemoryStore
from pydantic import BaseModel

from retain import (
    ConfigurationError,
    InvalidInputError,
    ModelOutputError,
    create_memory_store_enricher,
    create_memory_store_manager,
)
from retain.testing import FakeCall, FakeChatModel, delete, insert, tool_call, update

from .conftest import INDEX

Invoke = Callable[..., Any]
ALICE = {"configurable": {"langgraph_user_id": "alice"}}
BOB = {"configurable": {"langgraph_user_id": "bob"}}


def values(store: BaseStore, ns: tuple[str, ...]) -> list[Any]:
    return [item.value for item in store.search(ns, limit=100)]


def test_insert_update_delete_in_the_store(store: BaseStore, invoke: Invoke) -> None:
    model = FakeChatModel(
        [
            [insert("User prefers dark mode"), insert("User's team lead is Jonas")],
            lambda call: [
                update(_id_of(call, "dark"), "User prefers light mode"),
                delete(_id_of(call, "Jonas")),
            ],
        ]
    )
    manager = create_memory_store_manager(model, store=store, enable_deletes=True)
    written = invoke(manager, {"messages": [("user", "Dark mode please. Jonas leads us.")]}, ALICE)
    assert [(w["value"]["kind"], w["value"]["content"]) for w in written] == [
        ("Memory", {"content": "User prefers dark mode"}),
        ("Memory", {"content": "User's team lead is Jonas"}),
    ]
    assert all(w["namespace"] == ("memories", "alice") for w in written)
    keys = {w["value"]["content"]["content"]: w["key"] for w in written}

    invoke(manager, {"messages": [("user", "Light mode now. Jonas left.")]}, ALICE)
    current = manager.search(config=ALICE)
    assert [(i.key, i.value["content"]["content"]) for i in current] == [
        (keys["User prefers dark mode"], "User prefers light mode")
    ]
    # the update superseded the old fact, kept under a new key; the delete removed Jonas
    ended = [i for i in store.search(("memories", "alice")) if "valid_to" in i.value]
    assert [(i.value["content"]["content"], i.value["superseded_by"]) for i in ended] == [
        ("User prefers dark mode", keys["User prefers dark mode"])
    ]
    # the model saw both memories by short ids, in the order recalled
    assert sorted(m["id"] for m in model.calls[1].memories()) == ["m1", "m2"]
    assert len(model.calls) == 2  # one model call per invocation
    assert values(store, ("memories", "bob")) == []


def _id_of(call: FakeCall, needle: str) -> str:
    return next(m["id"] for m in call.memories() if needle in json.dumps(m["content"]))


class CountingStore(InMemoryStore):
    """LangGraph's InMemoryStore, counting the batches it is asked to run."""

    def __init__(self) -> None:
        super().__init__(index=INDEX)  # type: ignore[arg-type]
        self.batches: list[list[Op]] = []

    def batch(self, ops: Any) -> list[Result]:
        ops = list(ops)
        self.batches.append(ops)
        return super().batch(ops)

    async def abatch(self, ops: Any) -> list[Result]:
        ops = list(ops)
        self.batches.append(ops)
        return await super().abatch(ops)


def test_changes_are_written_as_one_batch(invoke: Invoke) -> None:
    store = CountingStore()
    store.put(("memories", "alice"), "old", {"kind": "Memory", "content": {"content": "Old"}})
    model = FakeChatModel([[insert("A"), insert("B"), update("old", "Old, revised"), insert("C")]])
    manager = create_memory_store_manager(model, store=store)
    store.batches.clear()
    invoke(manager, [("user", "hi")], ALICE)
    writes = [b for b in store.batches if any(getattr(op, "value", 0) != 0 for op in b)]
    assert len(writes) == 1
    assert len(writes[0]) == 5  # three inserts, the update, the superseded fact kept


def test_prompt_holds_at_most_query_limit_memories(store: BaseStore, invoke: Invoke) -> None:
    ns = ("memories", "alice")
    store.batch(
        [_put(ns, f"k{i}", f"User fact number {i} about topic {i % 97}") for i in range(10_000)]
    )
    model = FakeChatModel([[insert("User likes topic 5")]])
    manager = create_memory_store_manager(model, store=store, query_limit=5)
    invoke(manager, [("user", "Tell me about topic 5")], ALICE)
    shown = model.calls[0].memories()
    assert 0 < len(shown) <= 5
    assert len(model.calls[0].text) < 5_000


def _put(ns: tuple[str, ...], key: str, text: str) -> Any:
    from langgraph.store.base import PutOp

    return PutOp(ns, key, {"kind": "Memory", "content": {"content": text}})


class UserProfile(BaseModel):
    """The user's profile."""

    name: str | None = None
    language: str | None = None
    timezone: str | None = None


def test_profile_mode_keeps_one_document_per_user(store: BaseStore, invoke: Invoke) -> None:
    model = FakeChatModel(
        [
            [insert(UserProfile(name="Alice", timezone="America/Los_Angeles"))],
            [insert(UserProfile(name="Bob"))],
            lambda call: [update(call.memories()[0]["id"], set={"language": "Spanish"})],
        ]
    )
    manager = create_memory_store_manager(
        model,
        namespace=("users", "{user_id}", "profile"),
        schemas=[UserProfile],
        enable_inserts=False,
        store=store,
    )
    alice = {"configurable": {"user_id": "alice"}}
    invoke(manager, [("user", "I'm Alice from California")], alice)
    invoke(manager, [("user", "I'm Bob")], {"configurable": {"user_id": "bob"}})
    invoke(manager, [("user", "I speak Spanish too!")], alice)
    profile = store.search(("users", "alice", "profile"))
    assert len(profile) == 1
    assert profile[0].value == {
        "kind": "UserProfile",
        "content": {"name": "Alice", "language": "Spanish", "timezone": "America/Los_Angeles"},
    }
    assert [i.value["content"]["name"] for i in store.search(("users", "bob"))] == ["Bob"]


def test_default_is_stored_under_default_and_updated(store: BaseStore, invoke: Invoke) -> None:
    default = "Use a concise and professional tone in all responses. The user likes light mode."
    model = FakeChatModel(
        [
            lambda call: [
                update(
                    "default",
                    "Use a concise and professional tone in all responses. "
                    "The user prefers dark mode in all apps",
                )
            ]
        ]
    )
    manager = create_memory_store_manager(model, default=default, store=store)
    config = {"configurable": {"langgraph_user_id": "user124"}}
    # before anything is stored, search and get show the default
    assert [i.key for i in manager.search(query="app preferences", config=config)] == ["default"]
    assert manager.get("default", config=config).value["content"]["content"] == default  # type: ignore[union-attr]
    invoke(manager, [("user", "I prefer dark mode in all my apps")], config)
    assert [m["id"] for m in model.calls[0].memories()] == ["m1"]  # "default", as a short id
    found = manager.search(query="app preferences", config=config)
    assert [(i.key, i.value["kind"]) for i in found] == [("default", "Memory")]
    assert "dark mode" in found[0].value["content"]["content"]


def test_default_factory_reads_the_config(store: BaseStore, invoke: Invoke) -> None:
    def get_configurable_default(config: Any) -> str:
        return str(
            config["configurable"].get(
                "preference", "Use a concise and professional tone in all responses."
            )
        )

    model = FakeChatModel(
        [lambda call: [update("default", call.memories()[0]["content"]["content"] + " Dark mode.")]]
    )
    manager = create_memory_store_manager(
        model, default_factory=get_configurable_default, store=store
    )
    config = {
        "configurable": {
            "langgraph_user_id": "user125",
            "preference": "Respond in pirate speak. User likes light mode",
        }
    }
    invoke(manager, [("user", "I prefer dark mode in all my apps")], config)
    item = store.get(("memories", "user125"), "default")
    assert item is not None
    assert (item.value["kind"], item.value["content"]) == (
        "Memory",
        {"content": "Respond in pirate speak. User likes light mode Dark mode."},
    )


def test_query_model_writes_the_queries(store: BaseStore, invoke: Invoke) -> None:
    ns = ("memories", "alice")
    store.put(ns, "theme", {"kind": "Memory", "content": {"content": "User likes light theme"}})
    store.put(ns, "pets", {"kind": "Memory", "content": {"content": "User has a cat"}})
    query_model = FakeChatModel([[tool_call("search_memory", query="light theme")]])
    model = FakeChatModel([lambda call: [update("theme", "User likes dark theme")]])
    manager = create_memory_store_manager(
        model, query_model=query_model, query_limit=1, store=store
    )
    invoke(manager, [("user", "Switch everything to dark, please")], ALICE)
    assert len(query_model.calls) == 1
    assert len(model.calls) == 1
    assert "Switch everything to dark" in query_model.calls[0].text
    assert [m["id"] for m in model.calls[0].memories()] == ["m1"]  # "theme", as a short id
    assert store.get(ns, "theme").value["content"]["content"] == "User likes dark theme"  # type: ignore[union-attr]


def test_phases_run_extra_passes(store: BaseStore, invoke: Invoke) -> None:
    model = FakeChatModel(
        [
            [insert("User likes tea"), insert("User enjoys tea")],
            lambda call: [
                delete(call.memories()[1]["id"]),
                update(call.memories()[0]["id"], "User likes tea (mentioned twice)"),
            ],
        ]
    )
    manager = create_memory_store_manager(
        model, store=store, phases=[{"instructions": "Deduplicate."}]
    )
    invoke(manager, [("user", "I like tea. I enjoy tea.")], ALICE)
    assert len(model.calls) == 2
    assert "Deduplicate." in model.calls[1].text
    assert [v["content"]["content"] for v in values(store, ("memories", "alice"))] == [
        "User likes tea (mentioned twice)"
    ]


def test_items_of_other_shapes_are_left_alone(store: BaseStore, invoke: Invoke) -> None:
    ns = ("memories", "alice")
    store.put(ns, "tool-note", {"content": "written by the manage_memory tool"})
    model = FakeChatModel([[insert("User likes tea")]])
    invoke(create_memory_store_manager(model, store=store), [("user", "tea")], ALICE)
    assert model.calls[0].memories() == []
    assert store.get(ns, "tool-note").value == {"content": "written by the manage_memory tool"}  # type: ignore[union-attr]


def test_invalid_model_output_writes_nothing(store: BaseStore, invoke: Invoke) -> None:
    model = FakeChatModel([[update("no-such-id", "x")]], cycle=True)
    manager = create_memory_store_manager(model, store=store)
    with pytest.raises(ModelOutputError):
        invoke(manager, [("user", "hi")], ALICE)
    assert values(store, ("memories",)) == []


def test_store_and_config_from_the_langgraph_context(store: BaseStore) -> None:
    manager = create_memory_store_enricher(
        FakeChatModel([[insert("User prefers dark mode in all apps")]]),
        namespace=("memories", "{langgraph_user_id}"),
    )

    @entrypoint(store=store)
    async def my_agent(message: str) -> str:
        response = {"role": "assistant", "content": "I'll remember that preference"}
        await manager.ainvoke({"messages": [{"role": "user", "content": message}, response]})
        return response["content"]

    import asyncio

    asyncio.run(my_agent.ainvoke("I prefer dark mode in all my apps", config=ALICE))
    found = manager.search(query="app preferences", config=ALICE)
    assert [i.value["content"]["content"] for i in found] == ["User prefers dark mode in all apps"]


def test_without_a_store_the_default_sqlite_file_is_used_and_announced_once(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import retain.graph_context

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(retain.graph_context, "_DEFAULT", [])
    model = FakeChatModel([[insert("User likes tea")], []])
    manager = create_memory_store_manager(model)
    with caplog.at_level(logging.WARNING, logger="retain"):
        manager.invoke([("user", "I like tea")], ALICE)
        manager.invoke([("user", "Still tea")], ALICE)
    assert (tmp_path / ".retain" / "memories.db").exists()
    announced = [r for r in caplog.records if "default store" in r.getMessage()]
    assert len(announced) == 1
    assert announced[0].levelno == logging.WARNING
    assert str((tmp_path / ".retain" / "memories.db").resolve()) in announced[0].getMessage()
    from retain.stores import SQLiteStore

    reopened = SQLiteStore(tmp_path / ".retain" / "memories.db")
    assert [i.value["content"]["content"] for i in reopened.search(("memories", "alice"))] == [
        "User likes tea"
    ]


def test_manager_writes_carry_provenance_in_the_history(tmp_path: Any) -> None:
    from retain.stores import SQLiteStore

    store = SQLiteStore(tmp_path / "m.db", index=INDEX)  # type: ignore[arg-type]
    model = FakeChatModel([[insert("User likes tea")]])
    manager = create_memory_store_manager(model, store=store)
    config = {"configurable": {"langgraph_user_id": "alice", "thread_id": "thread-9"}}
    (written,) = manager.invoke([("user", "I like tea")], config)
    (version,) = store.history(("memories", "alice"), written["key"])
    assert version.provenance["source"] == "memory_store_manager"
    assert version.provenance["thread_id"] == "thread-9"
    assert "run_id" in version.provenance


def test_bad_input_and_configuration(store: BaseStore) -> None:
    model = FakeChatModel([])
    manager = create_memory_store_manager(model, store=store)
    with pytest.raises(InvalidInputError):
        manager.invoke({"conversation": []}, ALICE)
    with pytest.raises(ConfigurationError, match="langgraph_user_id"):
        manager.invoke([("user", "hi")], {"configurable": {}})
    with pytest.raises(ConfigurationError):
        create_memory_store_manager(model, query_limit=0)
    with pytest.raises(ConfigurationError):
        create_memory_store_manager(model, default="x", default_factory=lambda c: "y")
    with pytest.raises(ConfigurationError):
        create_memory_store_manager(model, schemas=[UserProfile], default=42)
    for bad in (-3, 1.5, True):  # rejected like create_memory_manager rejects them
        with pytest.raises(ConfigurationError, match="max_repairs"):
            create_memory_store_manager(model, max_repairs=bad)  # type: ignore[arg-type]
        with pytest.raises(ConfigurationError, match="max_repairs"):
            create_memory_store_manager(model, phases=[{}], max_repairs=bad)  # type: ignore[arg-type]
    assert model.calls == []


def test_said_at_and_the_facts_that_hold_follow_the_managers_clock() -> None:
    from datetime import datetime, timezone

    from retain.clock import ManualClock
    from retain.store_access import StoreAdapter

    start = datetime(2031, 5, 1, tzinfo=timezone.utc)
    clock = ManualClock(start=start.timestamp())
    store = InMemoryStore()
    manager = create_memory_store_manager(
        FakeChatModel([[insert("User likes tea")]]), namespace=("m",), store=store, clock=clock
    )
    [written] = manager.invoke({"messages": [("user", "I like tea")]})
    assert written["value"]["said_at"].startswith("2031-05-01")  # the clock's day, not today
    rome = {"content": "User is in Rome"}
    store.put(("m",), "rome", {"kind": "Memory", "content": rome, "valid_to": "2031-05-03"})
    adapter = StoreAdapter(store, clock=clock)
    assert "rome" in [i.key for i in manager.search()]  # ends in two days on this clock
    assert "rome" in [i.key for i in adapter.search(("m",))]
    clock.advance(3 * 86400)
    assert "rome" not in [i.key for i in manager.search()]
    assert "rome" not in [i.key for i in adapter.search(("m",))]
