from __future__ import annotations

import dataclasses
import sys
import typing
import uuid
from typing import Optional

import pytest
from pydantic import BaseModel, Field
from pydantic import ConfigDict as PydanticConfig
from typing_extensions import TypedDict

from retain import ConfigurationError, InvalidInputError, Memory
from retain.core.extraction import normalize_existing
from retain.core.schemas import ContentInvalid, SchemaSet, make_kind


@dataclasses.dataclass
class CustomerProfile:
    """Extended user profile for customer support."""

    company: Optional[str] = dataclasses.field(  # noqa: UP045
        default=None, metadata={"description": "Company or organization"}
    )
    plan_tier: Optional[str] = dataclasses.field(  # noqa: UP045
        default=None, metadata={"description": "Subscription tier: free | pro | enterprise"}
    )


def test_dataclass_schema_keeps_field_descriptions() -> None:
    kind = make_kind(CustomerProfile)
    assert kind.name == "CustomerProfile"
    assert kind.description == "Extended user profile for customer support."
    assert kind.parameters["properties"]["company"]["description"] == "Company or organization"
    assert kind.validate({"company": "Acme"}) == CustomerProfile(company="Acme")
    assert kind.dump(CustomerProfile(plan_tier="pro")) == {"company": None, "plan_tier": "pro"}
    with pytest.raises(ContentInvalid, match=r"no field\(s\) \['name'\]"):
        kind.validate({"name": "Ann"})


def test_dataclass_without_docstring_has_no_made_up_description() -> None:
    @dataclasses.dataclass
    class Bare:
        x: int

    assert make_kind(Bare).description == ""


def test_typeddict_schema() -> None:
    class Note(TypedDict):
        """A note."""

        text: str

    kind = make_kind(Note)
    assert kind.validate({"text": "hi"}) == {"text": "hi"}
    with pytest.raises(ContentInvalid):
        kind.validate({"text": 3})


@pytest.mark.parametrize(
    "schema",
    [
        {
            "title": "Fact",
            "description": "A fact.",
            "type": "object",
            "properties": {"text": {"type": "string"}},
            "required": ["text"],
        },
        {
            "name": "Fact",
            "description": "A fact.",
            "parameters": {
                "type": "object",
                "properties": {"text": {"type": "string"}},
                "required": ["text"],
            },
        },
        {
            "type": "function",
            "function": {
                "name": "Fact",
                "description": "A fact.",
                "parameters": {
                    "type": "object",
                    "properties": {"text": {"type": "string"}},
                    "required": ["text"],
                },
            },
        },
        {
            "name": "Fact",
            "description": "A fact.",
            "input_schema": {
                "type": "object",
                "properties": {"text": {"type": "string"}},
                "required": ["text"],
            },
        },
    ],
    ids=["json-schema", "openai-function", "openai-tool", "anthropic-tool"],
)
def test_json_schema_dict_forms(schema: dict[str, object]) -> None:
    kind = make_kind(schema)
    assert (kind.name, kind.description) == ("Fact", "A fact.")
    assert kind.validate({"text": "sky is blue"}) == {"text": "sky is blue"}
    with pytest.raises(ContentInvalid, match="'text' is a required property"):
        kind.validate({})
    with pytest.raises(ContentInvalid, match="no field"):
        kind.validate({"text": "x", "extra": 1})


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="typing.TypedDict works on 3.12+")
def test_typing_typeddict_before_312_gets_a_clear_error() -> None:
    class Old(typing.TypedDict):
        text: str

    with pytest.raises(ConfigurationError, match=r"typing_extensions\.TypedDict"):
        make_kind(Old)


def test_pydantic_extra_allow_accepts_unknown_fields() -> None:
    class Loose(BaseModel):
        model_config = PydanticConfig(extra="allow")
        a: str = Field(description="A")

    assert make_kind(Loose).validate({"a": "x", "b": 1}).b == 1  # type: ignore[attr-defined]


def test_invalid_kind_names() -> None:
    with pytest.raises(ConfigurationError, match="1-64 letters"):
        make_kind({"title": "has space", "type": "object"})


def test_existing_in_every_accepted_form() -> None:
    kinds = SchemaSet([Memory, CustomerProfile])
    normalized = normalize_existing(
        [
            ("m1", Memory(content="a")),
            ("m2", {"kind": "Memory", "content": {"content": "b"}}),  # how stores keep values
            ("p1", {"company": "Acme"}),
            "plain text",
            "plain text",  # the same text twice is one memory
        ],
        kinds,
    )
    assert [(m.id, m.kind.name) for m in normalized][:3] == [
        ("m1", "Memory"),
        ("m2", "Memory"),
        ("p1", "CustomerProfile"),
    ]
    assert len(normalized) == 4
    text_id = normalized[3].id
    assert text_id == str(uuid.uuid5(uuid.NAMESPACE_URL, "retain:plain text"))  # stable
    assert normalized[3].content == Memory(content="plain text")


def test_existing_plain_string_without_a_text_schema() -> None:
    with pytest.raises(InvalidInputError, match="plain string"):
        normalize_existing(["hello"], SchemaSet([CustomerProfile]))


def test_existing_of_a_class_not_in_schemas_is_kept() -> None:
    class Other(BaseModel):
        x: int

    (m,) = normalize_existing([("o", Other(x=1))], SchemaSet([Memory]))
    assert m.kind.name == "Other"
    assert m.content == Other(x=1)
