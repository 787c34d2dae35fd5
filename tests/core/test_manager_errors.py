"""Bad input gets a typed error; invalid model output is repaired or reported, never lost."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from langchain_core.messages import AIMessage
from pydantic import BaseModel

from retain import (
    ConfigurationError,
    ExtractedMemory,
    InvalidInputError,
    Memory,
    ModelOutputError,
    RetainError,
    create_memory_manager,
)
from retain.testing import FakeChatModel, delete, insert, update


class Pet(BaseModel):
    name: str
    species: str


def test_unknown_message_role(invoke: Any) -> None:
    manager = create_memory_manager(FakeChatModel([]))
    with pytest.raises(InvalidInputError, match=r"messages\[1\].*unknown role 'robot'"):
        invoke(manager, [{"role": "user", "content": "hi"}, {"role": "robot", "content": "x"}])


@pytest.mark.parametrize(
    "bad",
    [
        42,
        "Memory",
        Pet(name="Fido", species="dog"),
        {"type": "object", "properties": {"x": {"type": "string"}}},  # no title
        {"title": "Thing", "type": "array"},
        {"title": "Broken", "type": "object", "properties": {"x": {"type": "no-such-type"}}},
    ],
)
def test_schema_that_is_neither_model_nor_json_schema(bad: Any) -> None:
    with pytest.raises(ConfigurationError, match=r"schemas\[0\]"):
        create_memory_manager(FakeChatModel([]), schemas=[bad])


def test_reserved_or_duplicate_schema_names() -> None:
    class RemoveDoc(BaseModel):
        x: str

    with pytest.raises(ConfigurationError, match="reserved"):
        create_memory_manager(FakeChatModel([]), schemas=[RemoveDoc])
    with pytest.raises(ConfigurationError, match="two schemas named 'Pet'"):
        create_memory_manager(FakeChatModel([]), schemas=[Pet, {"title": "Pet", "type": "object"}])


def test_existing_with_duplicate_ids(invoke: Any) -> None:
    model = FakeChatModel([])
    manager = create_memory_manager(model)
    existing = [("a", Memory(content="one")), ("a", Memory(content="two"))]
    with pytest.raises(InvalidInputError, match=r"existing\[1\] and existing\[0\] share the id"):
        invoke(manager, {"messages": [("user", "hi")], "existing": existing})
    assert model.calls == []  # rejected before any model call


def test_existing_content_matching_no_schema(invoke: Any) -> None:
    manager = create_memory_manager(FakeChatModel([]), schemas=[Pet])
    with pytest.raises(InvalidInputError, match=r"existing\[0\] \(p1\).*no schema"):
        invoke(manager, {"messages": [("user", "hi")], "existing": [("p1", {"nam": "Fido"})]})


def test_bad_input_shapes(invoke: Any) -> None:
    manager = create_memory_manager(FakeChatModel([]))
    with pytest.raises(InvalidInputError, match="'messages' key"):
        invoke(manager, {"msgs": []})
    with pytest.raises(InvalidInputError, match="max_steps must be a positive integer"):
        invoke(manager, {"messages": [("user", "hi")], "max_steps": 0})
    with pytest.raises(InvalidInputError, match="existing must be a list"):
        invoke(manager, {"messages": [("user", "hi")], "existing": "memory"})


def test_bad_configuration() -> None:
    with pytest.raises(ConfigurationError, match="structured_output must be one of"):
        create_memory_manager(FakeChatModel([]), structured_output="xml")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="max_repairs"):
        create_memory_manager(FakeChatModel([]), max_repairs=-1)
    with pytest.raises(ConfigurationError, match="provider:model"):
        create_memory_manager(12)  # type: ignore[arg-type]


def test_invalid_json_is_repaired(invoke: Any) -> None:
    model = FakeChatModel(
        [
            '{"operations": [{"action": "insert", "kind": "Pet", "content": {"name": "Fido"',
            [insert(Pet(name="Fido", species="dog"))],
        ],
        tool_calling=False,
    )
    manager = create_memory_manager(model, schemas=[Pet])
    (memory,) = invoke(manager, [("user", "My dog is Fido")])
    assert memory.content == Pet(name="Fido", species="dog")
    assert len(model.calls) == 2
    assert "not valid JSON" in model.calls[1].prompt


def test_invalid_json_that_stays_invalid_raises_with_raw(invoke: Any) -> None:
    garbage = "Sure! Fido is a dog. {not json"
    model = FakeChatModel([garbage], cycle=True, tool_calling=False)
    manager = create_memory_manager(model, schemas=[Pet], max_repairs=2)
    with pytest.raises(ModelOutputError) as info:
        invoke(manager, [("user", "My dog is Fido")])
    assert len(model.calls) == 3  # one call + two repairs
    assert [m.content for m in info.value.raw] == [garbage] * 3
    assert "not valid JSON" in str(info.value)
    assert isinstance(info.value, RetainError)


def test_malformed_tool_arguments_are_repaired(invoke: Any) -> None:
    broken = AIMessage(
        content="",
        invalid_tool_calls=[
            {
                "name": "Pet",
                "args": '{"name": "Fido",',
                "id": "c1",
                "error": "bad json",
                "type": "invalid_tool_call",
            }
        ],
    )
    model = FakeChatModel([broken, [insert(Pet(name="Fido", species="dog"))]])
    manager = create_memory_manager(model, schemas=[Pet])
    (memory,) = invoke(manager, [("user", "My dog is Fido")])
    assert memory.content.name == "Fido"
    tool_results = [m for m in model.calls[1].messages if m.type == "tool"]
    assert [m.content.startswith("Error:") for m in tool_results] == [True]


def test_partial_validity_keeps_the_valid_and_repairs_the_rest(invoke: Any, style: str) -> None:
    model = FakeChatModel(
        [
            [insert(Pet(name="Fido", species="dog")), insert({"name": "Tom"}, kind="Pet")],
            [insert(Pet(name="Tom", species="cat"))],
        ]
    )
    manager = create_memory_manager(model, schemas=[Pet], structured_output=style)  # type: ignore[arg-type]
    memories = invoke(manager, [("user", "Fido is my dog and Tom my cat")])
    assert [m.content.name for m in memories] == ["Fido", "Tom"]
    assert "species" in model.calls[1].text
    assert "Field required" in model.calls[1].text


def test_invalid_fields_that_stay_invalid_are_reported_not_dropped(invoke: Any, style: str) -> None:
    bad = insert({"name": "Tom", "colour": "grey"}, kind="Pet")
    model = FakeChatModel([[insert(Pet(name="Fido", species="dog")), bad], [bad], [bad]])
    manager = create_memory_manager(model, schemas=[Pet], structured_output=style)  # type: ignore[arg-type]
    with pytest.raises(ModelOutputError) as info:
        invoke(manager, [("user", "Fido is my dog and Tom my cat")])
    # The valid fact is reported, not lost; the invalid one is named.
    assert [op.content.name for op in info.value.valid] == ["Fido"]
    assert any("no field(s) ['colour']" in e for e in info.value.errors)


@pytest.mark.parametrize("bad_id", ["no-such-id", "other-namespace-id"])
def test_unknown_ids_are_repaired_or_reported(invoke: Any, style: str, bad_id: str) -> None:
    existing = [("m1", Memory(content="User likes tea"))]
    model = FakeChatModel(
        [[update(bad_id, "User likes coffee")], [update("m1", "User likes coffee")]]
    )
    manager = create_memory_manager(model, structured_output=style)  # type: ignore[arg-type]
    (memory,) = invoke(manager, {"messages": [("user", "coffee now")], "existing": existing})
    assert memory == ExtractedMemory("m1", Memory(content="User likes coffee"))
    assert f"There is no memory with id '{bad_id}'" in model.calls[1].text

    stubborn = FakeChatModel([[delete(bad_id)]], cycle=True)
    manager = create_memory_manager(stubborn, enable_deletes=True, structured_output=style)  # type: ignore[arg-type]
    with pytest.raises(ModelOutputError, match="There is no memory with id"):
        invoke(manager, {"messages": [("user", "forget it")], "existing": existing})


def test_deletion_while_deletes_are_disabled(invoke: Any, style: str) -> None:
    existing = [("m1", Memory(content="User likes tea"))]
    model = FakeChatModel([[delete("m1")]], cycle=True)
    manager = create_memory_manager(model, structured_output=style)  # type: ignore[arg-type]
    with pytest.raises(ModelOutputError, match="Deleting memories is disabled"):
        invoke(manager, {"messages": [("user", "forget that")], "existing": existing})
    # The deletion was never offered to the model in the first place.
    assert "RemoveDoc" not in model.calls[0].tool_names
    assert "delete" not in str(model.calls[0].response_schema or "")


def test_plain_text_instead_of_tool_calls_is_not_a_silent_empty_result(invoke: Any) -> None:
    model = FakeChatModel(["The user likes tea."], cycle=True)
    manager = create_memory_manager(model)
    with pytest.raises(ModelOutputError, match="plain text"):
        invoke(manager, [("user", "I like tea")])


def test_second_profile_insert_is_refused(invoke: Any) -> None:
    @dataclasses.dataclass
    class Profile:
        name: str | None = None

    second = insert(Profile(name="B"))
    model = FakeChatModel([[insert(Profile(name="A")), second], [second], [second]])
    manager = create_memory_manager(model, schemas=[Profile], enable_inserts=False)
    with pytest.raises(ModelOutputError) as info:
        invoke(manager, [("user", "I'm A")])
    assert any("Creating memories is disabled" in e for e in info.value.errors)
    assert [op.content for op in info.value.valid] == [Profile(name="A")]
