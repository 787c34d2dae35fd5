"""The small-model prompt help and the response_format translation (pure, no model)."""

from __future__ import annotations

import json

import pytest
from pydantic import BaseModel

from retain import Memory
from retain.core import protocol
from retain.core.schemas import SchemaSet
from retain.local.chat import ChatLocalLlama, _llama_format
from retain.local.prompts import tidy_operations, worked_example


def _schema(updates: bool, deletes: bool, kinds: list[object] | None = None) -> dict[str, object]:
    kind_set = list(SchemaSet(kinds or [Memory]))
    return protocol.response_schema(
        kind_set, [(kind_set[0], ["a1"])] if updates else [], ["a1"] if deletes else []
    )


def test_example_follows_the_allowed_actions() -> None:
    full = worked_example(_schema(updates=True, deletes=True))
    assert full is not None
    answer = json.loads(full.split("Answer:\n", 1)[1].splitlines()[0])
    # the new fact first: with the update first, the models re-listed unchanged memories
    assert [op["action"] for op in answer["operations"]] == ["insert", "update"]
    assert "delete that memory" in full
    inserts_only = worked_example(_schema(updates=False, deletes=False))
    assert inserts_only is not None
    assert '"update"' not in inserts_only
    assert "(none yet)" in inserts_only


def test_no_example_for_custom_kinds() -> None:
    class Preference(BaseModel):
        """A preference."""

        topic: str
        value: str

    assert worked_example(_schema(updates=False, deletes=False, kinds=[Preference])) is None
    assert worked_example({"type": "object"}) is None


def test_response_format_becomes_a_llama_cpp_grammar_request() -> None:
    schema = {"type": "object", "properties": {"x": {"type": "integer"}}}
    llama, seen = _llama_format(
        {"type": "json_schema", "json_schema": {"name": "r", "schema": schema}}
    )
    assert llama == {"type": "json_object", "schema": schema}
    assert seen == schema
    assert _llama_format(None) == (None, None)
    with pytest.raises(TypeError):
        _llama_format("json")


def test_example_uses_short_ids_and_does_not_update_the_first_memory() -> None:
    full = worked_example(_schema(updates=True, deletes=True))
    assert full is not None
    shown = full.split("<existing_memories>\n", 1)[1].split("\n</existing_memories>", 1)[0]
    assert [json.loads(line)["id"] for line in shown.splitlines()] == ["m1", "m2"]
    answer = json.loads(full.split("Answer:\n", 1)[1].splitlines()[0])
    assert answer["operations"][1] == {
        "action": "update",
        "id": "m2",
        "set": {"content": "User moved to Lisbon last month."},  # the date stays in it
    }
    assert "only if the user confirmed it" in full
    assert '{"operations": []}' in full  # nothing new: no operation


_TASK = (
    "Keep the memory.\n\n<existing_memories>\n"
    '{"id": "m1", "kind": "Memory", "content": {"content": "User lives in Rotterdam."}}\n'
    '{"id": "m2", "kind": "Memory", "content": {"content": "User drinks green tea."}}\n'
    "</existing_memories>\n\n<conversation>\nuser: I switched from tea to coffee.\n"
    "</conversation>\n\n- rules"
)


def _ops(*ops: dict[str, object]) -> str:
    return json.dumps({"operations": list(ops)})


def _insert(text: str) -> dict[str, object]:
    return {"action": "insert", "kind": "Memory", "content": {"content": text}}


def test_tidy_drops_invented_updates_and_repeated_inserts() -> None:
    invented = {
        "action": "update",
        "id": "m1",
        "set": {"content": "User lives in Rotterdam (changed from Amsterdam)."},
    }
    said = {"action": "update", "id": "m2", "set": {"content": "User drinks coffee."}}
    answer = _ops(
        invented,
        said,
        _insert("User lives in Rotterdam"),
        _insert("User likes coffee"),
        _insert("user likes coffee!"),
    )
    kept = json.loads(tidy_operations(answer, _TASK))["operations"]
    assert kept == [said, _insert("User likes coffee")]


def test_tidy_keeps_what_it_cannot_judge() -> None:
    reordered = {"action": "update", "id": "m2", "set": {"content": "Green tea: User drinks it."}}
    unknown = {"action": "update", "id": "m9", "set": {"content": "User is from Mars."}}
    answer = _ops(reordered, unknown, {"action": "delete", "id": "m1"})
    assert tidy_operations(answer, _TASK) == answer  # unchanged, byte for byte
    assert tidy_operations("not json", _TASK) == "not json"
    no_task = _ops(_insert("User lives in Rotterdam"))
    assert tidy_operations(no_task, "no conversation here") == no_task


class _Client:
    """A stand-in for ``llama_cpp.Llama``: answers with ``reply`` and records requests."""

    def __init__(self, reply: str) -> None:
        self.reply = reply
        self.requests: list[dict[str, object]] = []

    def create_chat_completion(self, **request: object) -> dict[str, object]:
        self.requests.append(request)
        return {"choices": [{"message": {"content": self.reply}}], "usage": {}}


def test_the_local_model_tidies_memory_operations_only_with_the_help_on() -> None:
    from retain import create_memory_manager

    answer = _ops(
        {
            "action": "update",
            "id": "m1",
            "set": {"content": "User lives in Rotterdam (since 1990)."},
        },
        _insert("User drinks coffee now."),
    )
    existing = [("a", "User lives in Rotterdam."), ("b", "User drinks green tea.")]
    said = [{"role": "user", "content": "I switched from tea to coffee."}]
    for helped, updated in ((True, []), (False, ["a"])):
        model = ChatLocalLlama(model_name="test", client=_Client(answer), worked_example=helped)
        manager = create_memory_manager(model)
        result = manager.extract({"messages": said, "existing": existing})
        assert [op.id for op in result.operations if type(op).__name__ == "Update"] == updated
