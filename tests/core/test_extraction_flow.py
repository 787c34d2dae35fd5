"""The extraction algorithm driven by hand: no model object, no driver."""

from __future__ import annotations

import itertools

import pytest
from langchain_core.messages import AIMessage, HumanMessage

from retain.core.extraction import ExtractionSpec, extract_memories, normalize_existing
from retain.core.schemas import SchemaSet
from retain.core.types import Delete, Insert, Memory, RemoveDoc, Update
from retain.errors import ModelOutputError


def _ids() -> object:
    counter = itertools.count(1)
    return lambda: f"new-{next(counter)}"


def _call(name: str, args: dict[str, object], call_id: str = "c1") -> dict[str, object]:
    return {"name": name, "args": args, "id": call_id, "type": "tool_call"}


def test_one_pass_yields_one_request_and_returns_operations() -> None:
    kinds = SchemaSet([Memory])
    spec = ExtractionSpec(kinds=kinds, instructions="Remember things.", enable_deletes=True)
    existing = normalize_existing(
        [("old", Memory(content="User likes tea")), ("gone", Memory(content="User is 30"))], kinds
    )
    flow = extract_memories(
        spec, [HumanMessage("I now like coffee and I'm 31")], existing, new_id=_ids()
    )
    request = next(flow)
    assert request.tool_choice == "any"
    assert [t["function"]["name"] for t in request.tools] == [
        "Memory",
        "PatchDoc",
        "RemoveDoc",
        "Done",
    ]
    assert "Remember things." in request.messages[1].content
    reply = AIMessage(
        content="",
        tool_calls=[
            _call(
                "PatchDoc",
                {
                    "json_doc_id": "old",
                    "patches": [
                        {"op": "replace", "path": "/content", "value": "User likes coffee"}
                    ],
                },
                "a",
            ),
            _call("RemoveDoc", {"json_doc_id": "gone"}, "b"),
            _call("Memory", {"content": "User is 31"}, "c"),
        ],
    )
    with pytest.raises(StopIteration) as stop:
        flow.send(reply)
    result = stop.value.value
    assert result.model_calls == 1
    assert [m.id for m in result.memories] == ["old", "gone", "new-1"]
    assert result.memories[1].content == RemoveDoc(json_doc_id="gone")
    assert result.operations == [
        Update(
            "old", "Memory", Memory(content="User likes coffee"), Memory(content="User likes tea")
        ),
        Delete("gone", "Memory", Memory(content="User is 30")),
        Insert("new-1", "Memory", Memory(content="User is 31")),
    ]


def test_repair_request_carries_tool_results_for_every_call() -> None:
    spec = ExtractionSpec(kinds=SchemaSet([Memory]), instructions="x")
    flow = extract_memories(spec, [HumanMessage("hi")], [], new_id=_ids())
    next(flow)
    repair = flow.send(
        AIMessage(
            content="",
            tool_calls=[
                _call("Memory", {"content": "ok"}, "a"),
                _call("Memory", {"text": "bad"}, "b"),
            ],
        )
    )
    tool_results = {m.tool_call_id: m.content for m in repair.messages if m.type == "tool"}
    assert tool_results["a"] == "OK: created memory m1."
    assert tool_results["b"].startswith("Error: Memory has no field(s) ['text']")
    # The memory created before the repair is now updatable, so PatchDoc is offered.
    assert "PatchDoc" in [t["function"]["name"] for t in repair.tools]
    with pytest.raises(StopIteration) as stop:
        flow.send(AIMessage(content="", tool_calls=[_call("Memory", {"content": "fixed"}, "d")]))
    assert [m.content.content for m in stop.value.value.memories] == ["ok", "fixed"]
    assert stop.value.value.model_calls == 2


def test_no_possible_operation_means_no_model_call() -> None:
    kinds = SchemaSet([Memory])
    spec = ExtractionSpec(kinds=kinds, instructions="x", enable_inserts=False, enable_updates=False)
    existing = normalize_existing([("a", Memory(content="kept"))], kinds)
    flow = extract_memories(spec, [HumanMessage("hi")], existing)
    with pytest.raises(StopIteration) as stop:
        next(flow)
    assert stop.value.value.memories[0].content.content == "kept"
    assert stop.value.value.model_calls == 0


def test_json_style_constrains_ids_and_fields() -> None:
    kinds = SchemaSet([Memory])
    spec = ExtractionSpec(kinds=kinds, instructions="x", style="json_schema", enable_deletes=True)
    existing = normalize_existing(
        [("a", Memory(content="one")), ("b", Memory(content="two"))], kinds
    )
    request = next(extract_memories(spec, [HumanMessage("hi")], existing))
    assert request.tools == ()
    variants = request.response_schema["properties"]["operations"]["items"]["anyOf"]  # type: ignore[index]
    update = next(v for v in variants if v["properties"]["action"]["const"] == "update")
    assert update["properties"]["id"] == {"enum": ["m1", "m2"]}  # short ids, never the keys
    assert update["properties"]["set"]["properties"].keys() == {"content"}
    assert "required" not in update["properties"]["set"]
    assert '{"operations": [...]}' in request.messages[0].content


def test_model_output_error_after_max_repairs() -> None:
    spec = ExtractionSpec(kinds=SchemaSet([Memory]), instructions="x", max_repairs=1)
    flow = extract_memories(spec, [HumanMessage("hi")], [])
    next(flow)
    flow.send(AIMessage(content="no tools"))
    with pytest.raises(ModelOutputError) as info:
        flow.send(AIMessage(content="still no tools"))
    assert [m.content for m in info.value.raw] == ["no tools", "still no tools"]
