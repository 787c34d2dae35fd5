"""UserProfileStore and schemas: custom fields, bad schemas, bad model output, history."""

from __future__ import annotations

import dataclasses

import pytest
from langgraph.store.base import BaseStore
from pydantic import BaseModel, Field

from retain import (
    InvalidInputError,
    LearningMachine,
    ModelOutputError,
    ProfileSchemaError,
    UserProfile,
    UserProfileConfig,
    UserProfileStore,
)
from retain.profiles import UserProfileModel
from retain.stores import SQLiteStore
from retain.testing import FakeChatModel, update


@dataclasses.dataclass
class SupportProfile(UserProfile):
    """A customer of the support desk (Agno style: a dataclass extending UserProfile)."""

    company: str | None = dataclasses.field(
        default=None, metadata={"description": "The company the user works for"}
    )
    plan: str | None = dataclasses.field(
        default=None, metadata={"description": "Their subscription plan"}
    )
    languages: list[str] = dataclasses.field(
        default_factory=list, metadata={"description": "Languages they speak"}
    )


class GardenProfile(UserProfileModel):
    """A pydantic schema extending UserProfileModel."""

    climate_zone: str | None = Field(default=None, description="Their USDA hardiness zone")


@dataclasses.dataclass
class PlainProfile:
    hobby: str | None = dataclasses.field(default=None, metadata={"description": "A hobby"})


def test_custom_dataclass_schema_fields_are_extracted(store: BaseStore) -> None:
    model = FakeChatModel(
        [
            [update("default", set={"name": "Dana", "company": "Acme", "plan": "Pro"})],
            [update("default", set={"languages": ["English", "Portuguese"]})],
        ]
    )
    machine = LearningMachine(
        model, store=store, user_profile=UserProfileConfig(schema=SupportProfile)
    )
    config = {"configurable": {"user_id": "dana"}}
    machine.learn([("user", "Dana from Acme, on the Pro plan")], config)
    machine.learn([("user", "I speak English and Portuguese")], config)
    assert machine.profiles is not None
    profile = machine.profiles.get(user_id="dana")
    assert isinstance(profile, SupportProfile)
    assert (profile.company, profile.plan) == ("Acme", "Pro")
    assert profile.languages == ["English", "Portuguese"]
    # the model was shown the schema's field descriptions
    assert "- company: The company the user works for" in model.calls[0].text
    text = machine.context(config).text
    assert "Name: Dana\nCompany: Acme\nPlan: Pro\nLanguages: English, Portuguese" in text
    assert "Preferred Name" not in text  # fields without a value are left out
    machine.shutdown()


def test_custom_pydantic_schema(store: BaseStore) -> None:
    model = FakeChatModel([[update("default", set={"climate_zone": "9b"})]])
    profiles = UserProfileStore(model, store=store, schema=GardenProfile)
    assert profiles.update([("user", "I garden in zone 9b")], user_id="g") == GardenProfile(
        climate_zone="9b"
    )
    assert profiles.format(user_id="g") == "Climate Zone: 9b"


def test_plain_dataclass_schema(store: BaseStore) -> None:
    model = FakeChatModel([[update("default", set={"hobby": "chess"})]])
    profiles = UserProfileStore(model, store=store, schema=PlainProfile)
    assert profiles.update([("user", "I play chess")], user_id="p") == PlainProfile(hobby="chess")


def test_schema_without_descriptions_is_refused() -> None:
    class Bare(BaseModel):
        name: str | None = None
        city: str | None = Field(default=None, description="Home city")

    @dataclasses.dataclass
    class BareData:
        nickname: str | None = None

    with pytest.raises(ProfileSchemaError, match=r"without a description: \['name'\]"):
        UserProfileStore(FakeChatModel([]), store=SQLiteStore(":memory:"), schema=Bare)
    with pytest.raises(ProfileSchemaError, match=r"\['nickname'\]"):
        UserProfileStore(FakeChatModel([]), store=SQLiteStore(":memory:"), schema=BareData)


def test_schema_fields_need_defaults() -> None:
    class Required(BaseModel):
        name: str = Field(description="Full name")

    with pytest.raises(ProfileSchemaError, match=r"without a default: \['name'\]"):
        UserProfileStore(FakeChatModel([]), store=SQLiteStore(":memory:"), schema=Required)
    with pytest.raises(ProfileSchemaError, match="pydantic model class"):
        UserProfileStore(FakeChatModel([]), store=SQLiteStore(":memory:"), schema=dict)


def test_unknown_field_from_the_model_is_repaired(store: BaseStore) -> None:
    model = FakeChatModel(
        [
            [update("default", set={"name": "Alice", "shoe_size": "42"})],
            [update("default", set={"name": "Alice"})],
        ]
    )
    profiles = UserProfileStore(model, store=store)
    assert profiles.update([("user", "I'm Alice, size 42")], user_id="a").name == "Alice"
    assert len(model.calls) == 2
    assert "shoe_size" in model.calls[1].text  # the repair request names the bad field


def test_unknown_field_persisting_raises_and_keeps_the_profile(store: BaseStore) -> None:
    bad = [update("default", set={"shoe_size": "42"})]
    model = FakeChatModel([[update("default", set={"name": "Alice"})], bad, bad, bad])
    profiles = UserProfileStore(model, store=store, max_repairs=2)
    profiles.update([("user", "I'm Alice")], user_id="a")
    with pytest.raises(ModelOutputError, match="shoe_size"):
        profiles.update([("user", "size 42")], user_id="a")
    assert len(model.calls) == 4  # one answer + two bounded repairs
    assert profiles.get(user_id="a") == UserProfile(name="Alice")  # nothing lost


def test_background_failure_is_not_silent(store: BaseStore) -> None:
    bad = [update("default", set={"shoe_size": "42"})]
    machine = LearningMachine(FakeChatModel([bad, bad, bad]), store=store)
    machine.after_turn([("user", "size 42")], {"configurable": {"user_id": "a"}})
    with pytest.raises(ModelOutputError):
        machine.flush()
    machine.shutdown()


def test_set_fields_validates(store: BaseStore) -> None:
    profiles = UserProfileStore(FakeChatModel([]), store=store)
    profiles.set_fields(user_id="a", name="Alice")
    with pytest.raises(InvalidInputError, match="no field"):
        profiles.set_fields(user_id="a", shoe_size="42")
    with pytest.raises(InvalidInputError, match="Invalid UserProfile"):
        profiles.set_fields(user_id="a", preferred_name={"not": "a string"})
    assert profiles.get(user_id="a") == UserProfile(name="Alice")
    with pytest.raises(InvalidInputError, match="user_id"):
        profiles.get(user_id="")


def test_one_document_per_user_with_history(sqlite_store: SQLiteStore) -> None:
    model = FakeChatModel(
        [[update("default", set={"name": "Alice"})], [update("default", set={"name": "Alicia"})]]
    )
    profiles = UserProfileStore(model, store=sqlite_store)
    profiles.update([("user", "My name is Alice")], user_id="a")
    profiles.update([("user", "Actually, call my name Alicia")], user_id="a")
    items = sqlite_store.search(("users", "a", "profile"))
    assert [i.key for i in items] == ["default"]
    assert items[0].value == {
        "kind": "UserProfile",
        "content": {"name": "Alicia", "preferred_name": None},
    }
    versions = profiles.history(user_id="a")
    assert len(versions) == 2
    assert versions[0].value["content"]["name"] == "Alice"


def test_print_is_human_readable(store: BaseStore, capsys: pytest.CaptureFixture[str]) -> None:
    profiles = UserProfileStore(FakeChatModel([]), store=store)
    profiles.print(user_id="nobody")
    profiles.set_fields(user_id="a", name="Alice Chen", preferred_name="Ali")
    profiles.print(user_id="a")
    assert capsys.readouterr().out == (
        "(no profile yet for user 'nobody')\nName: Alice Chen\nPreferred Name: Ali\n"
    )


def test_machine_needs_a_user_id(store: BaseStore) -> None:
    machine = LearningMachine(FakeChatModel([]), store=store)
    with pytest.raises(InvalidInputError, match="user_id"):
        machine.context({"configurable": {"thread_id": "t"}})
    with pytest.raises(InvalidInputError, match="user_id"):
        machine.after_turn([("user", "hi")], {})
    machine.shutdown()
