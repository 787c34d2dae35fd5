"""The manage_memory and search_memory tools: round trips, custom-loop formats, bad calls."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timezone
from typing import Any

import jsonschema
import pytest
from langchain_core.messages import ToolMessage
from langchain_core.utils.function_calling import convert_to_openai_tool
from langgraph.func import entrypoint
from langgraph.store.base import BaseStore
from pydantic import BaseModel

from retain import ConfigurationError, create_manage_memory_tool, create_search_memory_tool
from retain.clock import ManualClock
from retain.stores import RetainStore

NS = ("memories",)
MARCH = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)
JUNE = datetime(2026, 6, 1, 10, 0, tzinfo=timezone.utc)


def call(tool: Any, args: Any, call_mode: str, config: Any = None) -> Any:
    if call_mode == "sync":
        return tool.invoke(args, config)
    return asyncio.run(tool.ainvoke(args, config))


def snapshot(store: BaseStore, prefix: tuple[str, ...] = ("memories",)) -> list[Any]:
    return sorted(
        (tuple(i.namespace), i.key, json.dumps(i.value, sort_keys=True))
        for i in store.search(prefix, limit=1000)
    )


def test_create_update_delete(store: BaseStore, call_mode: str) -> None:
    tool = create_manage_memory_tool(namespace=NS, store=store)
    created = call(tool, {"content": "User likes cherry pie"}, call_mode)
    assert created.startswith("created memory ")
    key = created.removeprefix("created memory ")
    assert store.get(NS, key).value == {"content": "User likes cherry pie"}  # type: ignore[union-attr]

    updated = call(tool, {"action": "update", "id": key, "content": "User loves pie"}, call_mode)
    assert updated == f"updated memory {key}"
    assert store.get(NS, key).value["content"] == "User loves pie"  # type: ignore[union-attr]

    assert call(tool, {"action": "delete", "id": key}, call_mode) == f"Deleted memory {key}"
    assert store.get(NS, key) is None


def test_an_update_supersedes_and_the_old_fact_stays(store: BaseStore, call_mode: str) -> None:
    clock = ManualClock(start=MARCH.timestamp())
    tool = create_manage_memory_tool(namespace=NS, store=store, clock=clock)
    search = create_search_memory_tool(namespace=NS, store=store, clock=clock)
    key = call(tool, {"content": "User lives in Berlin"}, call_mode).removeprefix("created memory ")
    clock.advance((JUNE - MARCH).total_seconds())
    out = call(tool, {"action": "update", "id": key, "content": "User lives in Lisbon"}, call_mode)
    assert out == f"updated memory {key}"

    # the id holds the new fact, said now; the old one is kept under a new key, ended
    said = "2026-06-01T10:00:00+00:00"
    assert store.get(NS, key).value == {"content": "User lives in Lisbon", "said_at": said}  # type: ignore[union-attr]
    (old,) = [i for i in store.search(NS, limit=20) if i.key != key]
    assert old.value == {"content": "User lives in Berlin", "valid_to": said, "superseded_by": key}

    # default recall (the search tool) shows the current fact only
    found = json.loads(call(search, {"query": "Where does the user live?"}, call_mode))
    assert [(m["key"], m["value"]["content"]) for m in found] == [(key, "User lives in Lisbon")]
    if isinstance(store, RetainStore):

        def where(**when: Any) -> list[str]:
            items = store.recall(NS, query="Where does the user live?", **when)
            return sorted(i.value["content"] for i in items)

        assert where() == ["User lives in Lisbon"]
        assert where(as_of=datetime(2026, 4, 1)) == ["User lives in Berlin"]
        assert where(as_of=datetime(2026, 7, 1)) == ["User lives in Lisbon"]
        assert where(include_superseded=True) == ["User lives in Berlin", "User lives in Lisbon"]

    # delete still deletes the id (the superseded fact stays, as history)
    assert call(tool, {"action": "delete", "id": key}, call_mode) == f"Deleted memory {key}"
    assert store.get(NS, key) is None
    assert [i.key for i in store.search(NS, limit=20)] == [old.key]
    missing = call(tool, {"action": "update", "id": key, "content": "x"}, call_mode)
    assert missing == (
        f"Error: there is no memory with id {key!r} here; search your memories for the right "
        "id. Nothing was changed."
    )


def test_update_supersede_edge_cases(store: BaseStore, call_mode: str) -> None:
    class Fact(BaseModel):
        content: str
        subject: str | None = None

    clock = ManualClock(start=MARCH.timestamp())
    tool = create_manage_memory_tool(namespace=NS, store=store, clock=clock, schema=Fact)
    key = call(tool, {"content": {"content": "User runs"}}, call_mode).removeprefix(
        "created memory "
    )
    # the same content again: nothing ends, nothing is written
    before = snapshot(store)
    same = {"action": "update", "id": key, "content": {"content": "User runs"}}
    assert call(tool, same, call_mode) == f"updated memory {key}"
    assert snapshot(store) == before
    if isinstance(store, RetainStore):
        assert len(store.history(NS, key)) == 1
    # a structured fact that dates itself begins then (valid_from), as in the store manager
    clock.advance(3600)
    args = {"content": "User ran a marathon last Saturday"}
    call(tool, {"action": "update", "id": key, "content": args}, call_mode)
    new = store.get(NS, key).value  # type: ignore[union-attr]
    assert new["valid_from"] == "2026-02-28"
    assert new["said_at"] == "2026-03-02T11:00:00+00:00"
    (old,) = [i for i in store.search(NS, limit=20) if i.key != key]
    assert old.value["content"] == {"content": "User runs", "subject": None}
    assert old.value["superseded_by"] == key
    # an update of a fact that no longer holds corrects it in place
    content = {"content": "User ran a half marathon"}
    call(tool, {"action": "update", "id": old.key, "content": content}, call_mode)
    assert len(store.search(NS, limit=20)) == 2
    corrected = store.get(NS, old.key).value  # type: ignore[union-attr]
    assert corrected["content"]["content"] == "User ran a half marathon"
    assert "superseded_by" not in corrected


def test_pydantic_schema_content(store: BaseStore, call_mode: str) -> None:
    class UserProfile(BaseModel):
        name: str
        age: int | None = None

    tool = create_manage_memory_tool(
        namespace=("memories", "{user_id}", "user_profile"),
        schema=UserProfile,
        actions_permitted=["create", "update"],
        store=store,
    )
    config = {"configurable": {"user_id": "u1"}}
    out = call(tool, {"content": {"name": "Ann", "age": 60}}, call_mode, config)
    key = out.removeprefix("created memory ")
    item = store.get(("memories", "u1", "user_profile"), key)
    assert item is not None
    assert item.value == {"content": {"name": "Ann", "age": 60}}
    bad = call(tool, {"content": {"name": "Ann", "age": "sixty"}}, call_mode, config)
    assert bad.startswith("Error: invalid arguments for manage_memory")
    assert "content.age" in bad
    assert (
        "delete"
        not in convert_to_openai_tool(tool)["function"]["parameters"]["properties"]["action"][
            "enum"
        ]
    )


def test_json_string_arguments_from_a_custom_openai_loop(store: BaseStore, call_mode: str) -> None:
    tool = create_manage_memory_tool(namespace="memories", store=store)
    out = call(tool, '{"action":"create","content":"likes cherry pie"}', call_mode)
    key = out.removeprefix("created memory ")
    # LangMem stored the whole JSON string as the content; retain decodes the arguments.
    assert store.get(NS, key).value == {"content": "likes cherry pie"}  # type: ignore[union-attr]
    broken = call(tool, '{"action": "create", "content": ', call_mode)
    assert broken.startswith("Error: the arguments are not valid JSON")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({"action": "remember", "content": "x"}, "Error: invalid arguments for manage_memory"),
        ({"action": "update", "content": "x"}, "Error: an id is required to update"),
        ({"action": "delete"}, "Error: an id is required to delete"),
        ({"action": "update", "id": "nope", "content": "x"}, "Error: there is no memory with id"),
        ({"action": "delete", "id": "nope"}, "Error: there is no memory with id"),
        ({"action": "create", "id": "k1", "content": "x"}, "Error: do not pass an id"),
        ({"action": "create"}, "Error: content is required"),
        ({"content": "x", "colour": "red"}, "Error: invalid arguments for manage_memory"),
    ],
)
def test_bad_calls_return_an_error_and_write_nothing(
    store: BaseStore, call_mode: str, args: dict[str, Any], expected: str
) -> None:
    store.put(NS, "k1", {"content": "existing"})
    before = snapshot(store)
    tool = create_manage_memory_tool(namespace=NS, store=store)
    out = call(tool, args, call_mode)
    assert out.startswith(expected), out
    assert out.endswith("Nothing was changed.")
    assert snapshot(store) == before


def test_an_id_from_another_namespace_is_not_touched(store: BaseStore, call_mode: str) -> None:
    tool = create_manage_memory_tool(namespace=("memories", "{user_id}"), store=store)
    alice = {"configurable": {"user_id": "alice"}}
    bob = {"configurable": {"user_id": "bob"}}
    key = call(tool, {"content": "Alice's secret"}, call_mode, alice).removeprefix(
        "created memory "
    )
    before = snapshot(store)
    for args in (
        {"action": "update", "id": key, "content": "hijacked"},
        {"action": "delete", "id": key},
    ):
        out = call(tool, args, call_mode, bob)
        assert out.startswith("Error: there is no memory with id")
    assert snapshot(store) == before


def test_a_tool_call_gets_an_error_tool_message(store: BaseStore) -> None:
    tool = create_manage_memory_tool(namespace=NS, store=store)
    msg = tool.invoke(
        {"type": "tool_call", "id": "call_1", "name": "manage_memory", "args": {"action": "delete"}}
    )
    assert isinstance(msg, ToolMessage)
    assert msg.status == "error"
    assert msg.tool_call_id == "call_1"


def test_missing_namespace_variable_raises_configuration_error(store: BaseStore) -> None:
    """As in LangMem: a missing ``user_id`` is the developer's bug, not the model's."""
    ns = ("memories", "{user_id}")
    manage = create_manage_memory_tool(namespace=ns, store=store)
    search = create_search_memory_tool(namespace=ns, store=store)
    with pytest.raises(ConfigurationError, match="'user_id'"):
        manage.invoke({"content": "x"}, {"configurable": {"thread_id": "t"}})
    with pytest.raises(ConfigurationError, match="'user_id'"):
        search.invoke({"query": "x"})
    with pytest.raises(ConfigurationError, match="'user_id'"):
        asyncio.run(manage.ainvoke({"content": "x"}))
    assert store.search(("memories",)) == []


@pytest.mark.parametrize("call_mode", ["sync", "async"])
def test_history_records_tool_writes_with_provenance(tmp_path: Any, call_mode: str) -> None:
    from retain.stores import SQLiteStore

    store = SQLiteStore(tmp_path / "m.db")
    tool = create_manage_memory_tool(namespace=NS, store=store)
    config = {"configurable": {"thread_id": "thread-7"}}
    created = call(tool, {"content": "User likes tea"}, call_mode, config)
    key = created.removeprefix("created memory ")
    call(
        tool, {"action": "update", "id": key, "content": "User likes green tea"}, call_mode, config
    )
    versions = store.history(NS, key)
    assert [v.value["content"] for v in versions] == ["User likes tea", "User likes green tea"]
    assert versions[1].provenance["source"] == "manage_memory"
    assert versions[1].provenance["thread_id"] == "thread-7"
    (kept,) = [i for i in store.search(NS) if i.key != key]  # the superseded fact
    assert [v.provenance["thread_id"] for v in store.history(NS, kept.key)] == ["thread-7"]


def test_store_from_the_langgraph_context(store: BaseStore) -> None:
    manage = create_manage_memory_tool(namespace=("memories", "{user_id}"))
    search = create_search_memory_tool(namespace=("memories", "{user_id}"))

    @entrypoint(store=store)
    def workflow(args: dict[str, Any]) -> Any:
        manage.invoke(args)
        return json.loads(search.invoke({"query": "python"}))

    found = workflow.invoke(
        {"content": "Team prefers Python for the backend"},
        {"configurable": {"user_id": "team-x"}},
    )
    assert [m["value"]["content"] for m in found] == ["Team prefers Python for the backend"]
    assert found[0]["namespace"] == ["memories", "team-x"]


def test_bad_configuration() -> None:
    with pytest.raises(ConfigurationError):
        create_manage_memory_tool(namespace=NS, actions_permitted=())
    with pytest.raises(ConfigurationError):
        create_manage_memory_tool(namespace=NS, actions_permitted=["create", "forget"])  # type: ignore[list-item]


@pytest.mark.parametrize("factory", [create_manage_memory_tool, create_search_memory_tool])
def test_schemas_convert_to_openai_and_anthropic(factory: Any) -> None:
    from langchain_anthropic.chat_models import convert_to_anthropic_tool

    tool = factory(namespace=NS)
    # The custom loops in the docs build these by hand:
    anthropic_def = {
        "name": tool.name,
        "description": tool.description,
        "input_schema": tool.tool_call_schema.model_json_schema(),
    }
    openai_def = {
        "type": "function",
        "function": {
            "name": tool.name,
            "description": tool.description,
            "parameters": tool.tool_call_schema.model_json_schema(),
        },
    }
    for schema in (anthropic_def["input_schema"], openai_def["function"]["parameters"]):
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema["type"] == "object"
        assert "config" not in schema["properties"]
    assert convert_to_openai_tool(tool)["function"]["name"] == tool.name
    assert convert_to_anthropic_tool(tool)["name"] == tool.name


def test_search_tool_query_limit_offset_filter(store: BaseStore, call_mode: str) -> None:
    for i, text in enumerate(["User likes cherry pie", "User dislikes rocky road", "Cat: Tom"]):
        store.put(NS, f"k{i}", {"content": text, "topic": "food" if i < 2 else "pets"})
    tool = create_search_memory_tool(namespace=NS, store=store)
    found = json.loads(call(tool, {"query": "cherry pie", "limit": 1}, call_mode))
    assert [m["value"]["content"] for m in found] == ["User likes cherry pie"]
    assert isinstance(found[0]["score"], float)
    both = json.loads(call(tool, {"query": "food", "filter": {"topic": "food"}}, call_mode))
    assert sorted(m["key"] for m in both) == ["k0", "k1"]
    rest = json.loads(
        call(tool, {"query": "food", "filter": {"topic": "food"}, "offset": 1}, call_mode)
    )
    assert len(rest) == 1
    bad = call(tool, {"query": "x", "limit": 0}, call_mode)
    assert bad.startswith("Error: invalid arguments for search_memory")


def test_search_tool_content_and_artifact(store: BaseStore) -> None:
    store.put(NS, "k", {"content": "User likes cherry pie"})
    tool = create_search_memory_tool(
        namespace=NS, store=store, response_format="content_and_artifact"
    )
    msg = tool.invoke(
        {"type": "tool_call", "id": "c1", "name": "search_memory", "args": {"query": "pie"}}
    )
    assert isinstance(msg, ToolMessage)
    assert [item.key for item in msg.artifact] == ["k"]
    assert json.loads(msg.content)[0]["key"] == "k"


def test_func_called_directly_without_a_config_like_crewai(store: BaseStore) -> None:
    # CrewAI's Tool.from_langchain keeps ``tool.func`` and calls it with the arguments only.
    manage = create_manage_memory_tool(namespace="memories", store=store)
    search = create_search_memory_tool(namespace="memories", store=store)
    assert manage.func is not None
    assert search.func is not None
    assert manage.func(content="Hannah likes Demon Slayer", action="create").startswith("created")
    found = json.loads(search.func(query="Demon Slayer"))
    assert [m["value"]["content"] for m in found] == ["Hannah likes Demon Slayer"]


def test_search_tool_leaves_out_facts_ended_by_its_clocks_now() -> None:
    from datetime import datetime, timezone

    from langgraph.store.memory import InMemoryStore

    from retain.clock import ManualClock

    clock = ManualClock(start=datetime(2031, 5, 1, tzinfo=timezone.utc).timestamp())
    store = InMemoryStore()
    store.put(NS, "rome", {"content": "User is in Rome", "valid_to": "2031-05-03"})
    search = create_search_memory_tool(namespace=NS, store=store, clock=clock)
    assert [m["key"] for m in json.loads(search.invoke({"query": "Rome"}))] == ["rome"]
    clock.advance(3 * 86400)
    assert json.loads(search.invoke({"query": "Rome"})) == []
