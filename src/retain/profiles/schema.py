"""Profile schemas: the default :class:`UserProfile` and the checks a custom one must pass.

A profile schema is a dataclass (usually a ``@dataclass`` subclass of :class:`UserProfile`,
as in Agno) or a pydantic model (usually a subclass of :class:`UserProfileModel`). Every
field needs a description (dataclass ``field(metadata={"description": ...})``, pydantic
``Field(description=...)``): the model reads it to know what to extract.
Every field needs a default (usually ``None``), so an empty profile exists before anything
is learned. A schema that breaks either rule raises :class:`~retain.errors.ProfileSchemaError`
when the store is created, naming the fields at fault.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field, TypeAdapter, ValidationError
from pydantic_core import PydanticUndefined

from retain.errors import InvalidInputError, ProfileSchemaError

__all__ = ["ProfileField", "ProfileSchema", "UserProfile", "UserProfileModel"]


@dataclass
class UserProfile:
    """Who the user is and how to address them (extend it with ``@dataclass`` subclasses)."""

    name: str | None = dataclasses.field(
        default=None, metadata={"description": "The user's full name"}
    )
    preferred_name: str | None = dataclasses.field(
        default=None,
        metadata={"description": "What the user wants to be called, if not their name"},
    )


class UserProfileModel(BaseModel):
    """:class:`UserProfile` as a pydantic model, for schemas written as pydantic subclasses."""

    name: str | None = Field(default=None, description="The user's full name")
    preferred_name: str | None = Field(
        default=None, description="What the user wants to be called, if not their name"
    )


@dataclass(frozen=True)
class ProfileField:
    """One field of a profile schema: its name, its prompt label and its description."""

    name: str
    label: str
    description: str


def _label(name: str, title: str | None) -> str:
    return title or name.replace("_", " ").strip().title()


class ProfileSchema:
    """A checked profile schema: its fields, an empty instance, validation and dumping.

    Example:
        >>> from retain.profiles import ProfileSchema, UserProfile
        >>> [f.label for f in ProfileSchema(UserProfile).fields]
        ['Name', 'Preferred Name']
    """

    def __init__(self, schema: Any) -> None:
        self.schema = schema
        if isinstance(schema, type) and issubclass(schema, BaseModel):
            self.fields = self._pydantic_fields(schema)
        elif isinstance(schema, type) and dataclasses.is_dataclass(schema):
            self.fields = self._dataclass_fields(schema)
        else:
            raise ProfileSchemaError(
                "A profile schema is a pydantic model class (for example a subclass of "
                f"retain.profiles.UserProfile) or a dataclass; got {schema!r}."
            )
        self.names = frozenset(f.name for f in self.fields)

    @property
    def kind(self) -> str:
        """The schema's name, as stored in the profile document's ``kind``."""
        return str(self.schema.__name__)

    def _pydantic_fields(self, schema: type[BaseModel]) -> tuple[ProfileField, ...]:
        missing = [n for n, info in schema.model_fields.items() if not info.description]
        required = [n for n, info in schema.model_fields.items() if info.is_required()]
        self._check(missing, required)
        return tuple(
            ProfileField(name, _label(name, info.title), str(info.description))
            for name, info in schema.model_fields.items()
        )

    def _dataclass_fields(self, schema: type[Any]) -> tuple[ProfileField, ...]:
        fields = dataclasses.fields(schema)
        missing = [f.name for f in fields if not _description(f)]
        required = [
            f.name
            for f in fields
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        ]
        self._check(missing, required)
        return tuple(ProfileField(f.name, _label(f.name, None), _description(f)) for f in fields)

    def _check(self, missing: list[str], required: list[str]) -> None:
        problems = []
        if missing:
            problems.append(
                f"fields without a description: {missing} (the model reads the description "
                "to know what to extract; add Field(description=...) or "
                "field(metadata={'description': ...}))"
            )
        if required:
            problems.append(
                f"fields without a default: {required} (an empty profile must exist before "
                "anything is learned; give them default=None)"
            )
        if problems:
            raise ProfileSchemaError(
                f"Profile schema {self.schema.__name__}: " + "; ".join(problems) + "."
            )

    def empty(self) -> Any:
        """An instance with every field at its default."""
        return self.schema()

    def validate(self, data: dict[str, Any]) -> Any:
        """``data`` as a schema instance; unknown or invalid fields raise ``InvalidInputError``."""
        unknown = sorted(set(data) - self.names)
        if unknown:
            raise InvalidInputError(
                f"{self.kind} has no field(s) {unknown}; its fields are {sorted(self.names)}."
            )
        try:
            if isinstance(self.schema, type) and issubclass(self.schema, BaseModel):
                return self.schema.model_validate(data)
            return TypeAdapter(self.schema).validate_python(data)
        except ValidationError as e:
            raise InvalidInputError(f"Invalid {self.kind} values {data!r}: {e}") from None

    def types(self) -> dict[str, Any]:
        """Each field's type (for tool arguments)."""
        if isinstance(self.schema, type) and issubclass(self.schema, BaseModel):
            return {n: info.annotation for n, info in self.schema.model_fields.items()}
        hints = typing.get_type_hints(self.schema)
        return {f.name: hints.get(f.name, Any) for f in self.fields}

    def dump(self, profile: Any) -> dict[str, Any]:
        """A schema instance as a JSON-ready dict."""
        if isinstance(profile, BaseModel):
            return profile.model_dump(mode="json")
        return dataclasses.asdict(profile)

    def labelled(self, profile: Any) -> list[tuple[str, str]]:
        """``(label, value)`` for the fields that have a value, in schema order."""
        data = self.dump(profile)
        out = []
        for f in self.fields:
            value = data.get(f.name)
            if value is None or value == "" or value == [] or value == {}:
                continue
            if value is PydanticUndefined:
                continue
            out.append((f.label, value if isinstance(value, str) else _text(value)))
        return out


def _text(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def _description(f: dataclasses.Field[Any]) -> str:
    metadata: Any = f.metadata or {}
    return str(metadata.get("description") or "")
