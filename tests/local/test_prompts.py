"""The small-model prompt help and the response_format translation (pure, no model)."""

from __future__ import annotations

import json

import pytest
from pydantic import BaseModel

from retain import Memory
from retain.core import protocol
from retain.core.schemas import SchemaSet
from retain.local.chat import ChatLocalLlama, _llama_format
from retain.local.prompts import (
    new_facts,
    second_look,
    tidy_and_check,
    tidy_operations,
    worked_example,
)


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


def only_repeats(answer: str, prompt: str) -> bool:
    return tidy_and_check(answer, prompt)[1]


def test_only_repeats_tells_an_echo_from_an_answer() -> None:
    echo = _ops(_insert("User lives in Rotterdam"), _insert("user drinks green tea!"))
    assert only_repeats(echo, _TASK)
    assert not only_repeats(
        _ops(_insert("User lives in Rotterdam"), _insert("User drinks coffee.")), _TASK
    )
    assert not only_repeats(_ops(), _TASK)  # nothing new is an answer, not an echo
    assert not only_repeats(_ops(_insert("x"), _insert("x")), _TASK)  # twice, but not stored
    assert not only_repeats("not json", _TASK)


class _Client:
    """A stand-in for ``llama_cpp.Llama``: answers with ``replies`` in turn (the last one
    again when they run out) and records requests."""

    def __init__(self, *replies: str) -> None:
        self.replies = list(replies)
        self.requests: list[dict[str, object]] = []

    def create_chat_completion(self, **request: object) -> dict[str, object]:
        self.requests.append(request)
        reply = self.replies[min(len(self.requests), len(self.replies)) - 1]
        usage = {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12}
        return {"choices": [{"message": {"content": reply}}], "usage": usage}


def test_second_look_hides_the_memories_and_keeps_only_new_words() -> None:
    fresh = second_look(_TASK)  # the user said "switched", "coffee": no memory has them
    assert fresh is not None
    assert "Rotterdam" not in fresh
    assert "(none yet)" in fresh
    assert fresh.endswith(_TASK.split("</existing_memories>")[1])  # the rest unchanged
    nothing_new = _TASK.replace("I switched from tea to coffee.", "I drink green tea.")
    assert second_look(nothing_new) is None  # every word the user said is stored
    answer = _ops(
        _insert("User drinks coffee."),  # new words: kept
        _insert("User lives in Rotterdam."),  # stored: dropped
        _insert("User is happy."),  # nothing the user said: dropped
        {"action": "update", "id": "m1", "set": {"content": "User switched to coffee."}},
    )
    assert json.loads(new_facts(answer, _TASK))["operations"] == [_insert("User drinks coffee.")]
    odd = json.dumps({"operations": ["not an operation", 3, _insert("User drinks coffee.")]})
    assert json.loads(new_facts(odd, _TASK))["operations"] == [_insert("User drinks coffee.")]
    assert new_facts("not json", _TASK) == "not json"


def test_an_echo_gets_one_second_look_at_the_conversation_alone() -> None:
    from retain import create_memory_manager

    echo = _ops(_insert("User lives in Rotterdam."), _insert("User drinks green tea."))
    second = _ops(_insert("User is learning Japanese."), _insert("User lives in Rotterdam."))
    existing = [("a", "User lives in Rotterdam."), ("b", "User drinks green tea.")]
    said = [{"role": "user", "content": "I've started learning Japanese."}]
    client = _Client(echo, second)
    model = ChatLocalLlama(model_name="test", client=client)
    result = create_memory_manager(model).extract({"messages": said, "existing": existing})
    # the second answer, with its repeat dropped, is the result
    texts = [op.content.content for op in result.operations if hasattr(op, "content")]
    assert texts == ["User is learning Japanese."]
    assert len(client.requests) == 2
    first, again = (r["messages"] for r in client.requests)
    assert isinstance(first, list)
    assert isinstance(again, list)
    assert again[0] == first[0]  # the same system prompt: its cached prefix is reused
    assert "Rotterdam" in json.dumps(first[1:])
    assert "Rotterdam" not in json.dumps(again[1:])
    assert "Japanese" in json.dumps(again[1:])
    # an answer with something new is taken at once; so is an empty one
    for answer in (second, _ops()):
        client = _Client(answer)
        model = ChatLocalLlama(model_name="test", client=client)
        create_memory_manager(model).extract({"messages": said, "existing": existing})
        assert len(client.requests) == 1
    # one second look at most, whatever it answers
    client = _Client(echo)
    model = ChatLocalLlama(model_name="test", client=client)
    result = create_memory_manager(model).extract({"messages": said, "existing": existing})
    assert len(client.requests) == 2
    assert result.operations == []
    # no second look when the user said nothing that is not stored
    client = _Client(echo)
    model = ChatLocalLlama(model_name="test", client=client)
    repeated = [{"role": "user", "content": "I live in Rotterdam and drink green tea."}]
    create_memory_manager(model).extract({"messages": repeated, "existing": existing})
    assert len(client.requests) == 1
