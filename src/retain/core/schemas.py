"""Memory schemas: turn what users pass as ``schemas=`` into uniform memory *kinds*.

A schema may be a pydantic model class, a dataclass, a ``TypedDict``, or a JSON-schema
``dict`` (plain JSON schema with a ``title``, or an OpenAI / Anthropic function
definition). Each becomes a :class:`MemoryKind` that knows its name, its JSON schema,
how to validate model output into content, and how to dump content back to JSON.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import re
from collections.abc import Callable, Iterable
from typing import Any

import jsonschema
from pydantic import BaseModel, PydanticUserError, TypeAdapter, ValidationError
from typing_extensions import is_typeddict

from retain.errors import ConfigurationError

__all__ = ["ContentInvalid", "MemoryKind", "SchemaSet"]

RESERVED_NAMES = frozenset({"PatchDoc", "RemoveDoc", "Done"})
_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class ContentInvalid(Exception):
    """Content does not validate against a kind. The message is written for the model."""


@dataclasses.dataclass(frozen=True, eq=False)
class MemoryKind:
    """One memory schema, normalised."""

    name: str
    description: str
    parameters: dict[str, Any]
    source: Any
    field_names: frozenset[str] | None
    _validate: Callable[[Any], Any] = dataclasses.field(repr=False)
    _dump: Callable[[Any], dict[str, Any]] = dataclasses.field(repr=False)
    python_type: type | None = None

    def validate(self, data: Any) -> Any:
        """Validate JSON-like ``data`` into content, or raise :class:`ContentInvalid`."""
        if not isinstance(data, dict):
            raise ContentInvalid(
                f"{self.name} content must be a JSON object, got {type(data).__name__}"
            )
        if self.field_names is not None:
            unknown = sorted(set(data) - self.field_names)
            if unknown:
                raise ContentInvalid(
                    f"{self.name} has no field(s) {unknown}; its fields are "
                    f"{sorted(self.field_names)}"
                )
        return self._validate(data)

    def dump(self, content: Any) -> dict[str, Any]:
        """Content as a JSON-compatible dict."""
        return self._dump(content)

    def owns(self, content: Any) -> bool:
        return self.python_type is not None and type(content) is self.python_type


def _pydantic_errors(err: ValidationError) -> str:
    parts = []
    for e in err.errors(include_url=False):
        loc = ".".join(str(p) for p in e["loc"]) or "(root)"
        parts.append(f"{loc}: {e['msg']}")
    return "; ".join(parts)


def _strip_schema(schema: dict[str, Any]) -> tuple[dict[str, Any], str]:
    params = dict(schema)
    description = str(params.pop("description", "") or "")
    params.pop("title", None)
    params.setdefault("type", "object")
    params.setdefault("properties", {})
    return params, description


def _clean_doc(doc: str | None, name: str) -> str:
    if not doc or doc.startswith(f"{name}("):  # dataclasses invent a signature docstring
        return ""
    return inspect.cleandoc(doc)


def _typed_kind(
    tp: type,
    params: dict[str, Any],
    description: str,
    field_names: frozenset[str] | None,
    validate: Callable[[Any], Any],
    dump: Callable[[Any], Any],
    python_type: type | None,
) -> MemoryKind:
    """The kind of a Python type ``tp`` whose content pydantic checks with ``validate``
    (its errors as :class:`ContentInvalid`) and writes as JSON with ``dump``."""

    def checked(data: Any) -> Any:
        try:
            return validate(data)
        except ValidationError as e:
            raise ContentInvalid(f"{tp.__name__}: {_pydantic_errors(e)}") from None

    return MemoryKind(
        name=tp.__name__,
        description=description,
        parameters=params,
        source=tp,
        field_names=field_names,
        _validate=checked,
        _dump=lambda content: dict(dump(content)),
        python_type=python_type,
    )


def _from_pydantic(cls: type[BaseModel]) -> MemoryKind:
    schema = cls.model_json_schema()
    params, description = _strip_schema(schema)
    description = description or _clean_doc(cls.__doc__, cls.__name__)
    names: set[str] = set()
    for fname, info in cls.model_fields.items():
        names.add(fname)
        if info.alias:
            names.add(info.alias)
    allow_extra = cls.model_config.get("extra") == "allow"

    def dump(content: Any) -> dict[str, Any]:
        if isinstance(content, BaseModel):
            return content.model_dump(mode="json")
        return dict(content)

    names_or_any = None if allow_extra else frozenset(names)
    return _typed_kind(cls, params, description, names_or_any, cls.model_validate, dump, cls)


def _from_adapter(tp: type) -> MemoryKind:
    adapter: TypeAdapter[Any] = TypeAdapter(tp)
    schema = adapter.json_schema()
    params, description = _strip_schema(schema)
    description = _clean_doc(tp.__doc__, tp.__name__) or description
    names = set(params.get("properties", {}))
    if dataclasses.is_dataclass(tp):
        props = params["properties"]
        for f in dataclasses.fields(tp):
            desc = f.metadata.get("description") if f.metadata else None
            if desc and f.name in props:
                props[f.name] = {**props[f.name], "description": str(desc)}

    python_type = tp if dataclasses.is_dataclass(tp) else None
    return _typed_kind(
        tp,
        params,
        description,
        frozenset(names),
        adapter.validate_python,
        lambda content: adapter.dump_python(content, mode="json"),
        python_type,
    )


def _from_json_schema(schema: dict[str, Any], where: str) -> MemoryKind:
    raw = schema
    if raw.get("type") == "function" and isinstance(raw.get("function"), dict):
        raw = raw["function"]
    if "parameters" in raw or "input_schema" in raw:  # OpenAI / Anthropic function definitions
        name = raw.get("name")
        description = str(raw.get("description", "") or "")
        params = copy.deepcopy(raw.get("parameters") or raw.get("input_schema") or {})
        params.pop("title", None)
        params.setdefault("type", "object")
    else:
        name = raw.get("title")
        params, description = _strip_schema(copy.deepcopy(raw))
    if not isinstance(name, str) or not name:
        raise ConfigurationError(
            f"{where} is a JSON-schema dict without a name. Add a 'title' (plain JSON schema) or "
            "a 'name' (function definition); it becomes the memory kind."
        )
    if params.get("type") != "object":
        raise ConfigurationError(
            f"{where} ({name}) must describe a JSON object ('type': 'object'), "
            f"got type {params.get('type')!r}."
        )
    try:
        jsonschema.Draft202012Validator.check_schema(params)
    except jsonschema.SchemaError as e:
        raise ConfigurationError(
            f"{where} ({name}) is not a valid JSON schema: {e.message}"
        ) from None
    validator = jsonschema.Draft202012Validator(params)
    strict_fields = params.get("additionalProperties", False) is False and "properties" in params
    names = frozenset(params.get("properties", {})) if strict_fields else None

    def validate(data: Any) -> Any:
        errors = sorted(validator.iter_errors(data), key=lambda e: list(e.path))
        if errors:
            msgs = "; ".join(
                f"{'.'.join(str(p) for p in e.path) or '(root)'}: {e.message}" for e in errors
            )
            raise ContentInvalid(f"{name}: {msgs}")
        return copy.deepcopy(data)

    def dump(content: Any) -> dict[str, Any]:
        return dict(content)

    return MemoryKind(
        name=name,
        description=description,
        parameters=params,
        source=schema,
        field_names=names,
        _validate=validate,
        _dump=dump,
    )


def make_kind(schema: Any, where: str = "schema") -> MemoryKind:
    """Normalise one schema into a :class:`MemoryKind`."""
    if isinstance(schema, type) and issubclass(schema, BaseModel):
        kind = _from_pydantic(schema)
    elif isinstance(schema, type) and (dataclasses.is_dataclass(schema) or is_typeddict(schema)):
        try:
            kind = _from_adapter(schema)
        except PydanticUserError as e:
            raise ConfigurationError(f"{where} ({schema.__name__}): {e.message}") from None
    elif isinstance(schema, dict):
        kind = _from_json_schema(schema, where)
    elif isinstance(schema, BaseModel) or _is_dataclass_instance(schema):
        raise ConfigurationError(
            f"{where} is an instance of {type(schema).__name__}; pass the class itself."
        )
    else:
        raise ConfigurationError(
            f"{where} must be a pydantic model class, a dataclass, a TypedDict, or a JSON-schema "
            f"dict with a 'title'; got {schema!r} ({type(schema).__name__})."
        )
    if not _NAME_RE.match(kind.name):
        raise ConfigurationError(
            f"{where}: the memory kind name {kind.name!r} must be 1-64 letters, digits, '_' or "
            "'-' (it is used as a tool name)."
        )
    if kind.name in RESERVED_NAMES:
        raise ConfigurationError(
            f"{where}: {kind.name!r} is reserved by retain's protocol; rename the schema."
        )
    return kind


class SchemaSet:
    """The kinds a manager works with, in the order given."""

    def __init__(self, schemas: Iterable[Any], *, argument: str = "schemas") -> None:
        if isinstance(schemas, (dict, str)) or not isinstance(schemas, Iterable):
            schemas = [schemas]
        kinds: dict[str, MemoryKind] = {}
        for i, schema in enumerate(schemas):
            kind = make_kind(schema, f"{argument}[{i}]")
            if kind.name in kinds:
                raise ConfigurationError(
                    f"{argument} has two schemas named {kind.name!r}; memory kinds must be unique."
                )
            kinds[kind.name] = kind
        if not kinds:
            raise ConfigurationError(f"{argument} is empty; pass at least one schema.")
        self.kinds = kinds
        self._extra: dict[type, MemoryKind] = {}

    def __iter__(self) -> Any:
        return iter(self.kinds.values())

    def __len__(self) -> int:
        return len(self.kinds)

    def get(self, name: str) -> MemoryKind | None:
        return self.kinds.get(name)

    def names(self) -> list[str]:
        return list(self.kinds)

    def classify(self, content: Any) -> tuple[MemoryKind, Any]:
        """Find the kind of existing ``content`` and return it with normalised content.

        Raises :class:`ContentInvalid` if no kind fits.
        """
        for kind in self.kinds.values():
            if kind.owns(content):
                return kind, content
        if isinstance(content, BaseModel) or _is_dataclass_instance(content):
            name = type(content).__name__
            same_name = self.kinds.get(name)
            if same_name is not None:  # same name, other class (e.g. redefined): revalidate
                data = (
                    content.model_dump(mode="json")
                    if isinstance(content, BaseModel)
                    else TypeAdapter(type(content)).dump_python(content, mode="json")
                )
                return same_name, same_name.validate(data)
            # A schema the manager was not given: keep it, validate updates against its class.
            tp = type(content)
            if tp not in self._extra:
                self._extra[tp] = make_kind(tp, f"existing memory of type {name}")
            return self._extra[tp], content
        if isinstance(content, dict):
            if set(content) == {"kind", "content"} and content["kind"] in self.kinds:
                kind = self.kinds[content["kind"]]
                return kind, kind.validate(content["content"])
            problems = []
            for kind in self.kinds.values():
                try:
                    return kind, kind.validate(content)
                except ContentInvalid as e:
                    problems.append(str(e))
            raise ContentInvalid("matches no schema: " + " | ".join(problems))
        if isinstance(content, str):
            for kind in self.kinds.values():
                try:
                    return kind, kind.validate({"content": content})
                except ContentInvalid:
                    continue
            raise ContentInvalid(
                "is a plain string, but no schema has a single 'content' text field to hold it "
                f"(schemas: {self.names()}); pass (id, content) pairs with schema instances."
            )
        raise ContentInvalid(f"has unsupported type {type(content).__name__}")


def _is_dataclass_instance(value: Any) -> bool:
    return dataclasses.is_dataclass(value) and not isinstance(value, type)


def hoist_defs(schema: dict[str, Any], prefix: str, into: dict[str, Any]) -> dict[str, Any]:
    """Return ``schema`` with its ``$defs`` moved into ``into`` under ``prefix``-ed names.

    Used to combine several kinds' schemas into one response schema.
    """
    schema = copy.deepcopy(schema)
    defs = schema.pop("$defs", None) or schema.pop("definitions", None) or {}

    def rewrite(node: Any) -> Any:
        if isinstance(node, dict):
            out = {}
            for k, v in node.items():
                if k == "$ref" and isinstance(v, str):
                    for base in ("#/$defs/", "#/definitions/"):
                        if v.startswith(base):
                            v = "#/$defs/" + prefix + v[len(base) :]
                out[k] = rewrite(v)
            return out
        if isinstance(node, list):
            return [rewrite(v) for v in node]
        return node

    for name, sub in defs.items():
        into[prefix + name] = rewrite(sub)
    result: dict[str, Any] = rewrite(schema)
    return result


def describe_fields(kind: MemoryKind) -> str:
    """A short human-readable field list for prompts."""
    props: dict[str, Any] = kind.parameters.get("properties", {})
    required = set(kind.parameters.get("required", []))
    lines = []
    for name, prop in props.items():
        typ = prop.get("type") or ("|".join(str(a.get("type")) for a in prop.get("anyOf", [])))
        desc = prop.get("description", "")
        req = "" if name in required else ", optional"
        lines.append(f"    - {name} ({typ}{req}){': ' + desc if desc else ''}")
    return "\n".join(lines)
