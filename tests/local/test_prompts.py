"""The small-model prompt help and the response_format translation (pure, no model)."""

from __future__ import annotations

import json

import pytest
from pydantic import BaseModel

from retain import Memory
from retain.core import protocol
from retain.core.schemas import SchemaSet
from retain.local.chat import _llama_format
from retain.local.prompts import worked_example


def _schema(updates: bool, deletes: bool, kinds: list[object] | None = None) -> dict[str, object]:
    kind_set = list(SchemaSet(kinds or [Memory]))
    return protocol.response_schema(
        kind_set, [(kind_set[0], ["a1"])] if updates else [], ["a1"] if deletes else []
    )


def test_example_follows_the_allowed_actions() -> None:
    full = worked_example(_schema(updates=True, deletes=True))
    assert full is not None
    answer = json.loads(full.split("Answer:\n", 1)[1].splitlines()[0])
    assert [op["action"] for op in answer["operations"]] == ["update", "insert"]
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
    assert answer["operations"][0] == {
        "action": "update",
        "id": "m2",
        "set": {"content": "User lives in Lisbon."},
    }
    assert "unless the user confirmed it" in full
