"""The inspector's pure helpers: the namespace tree, diffs between versions, profile forms
built from a JSON schema (and their validation), and memory-value validation."""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from retain.errors import InvalidInputError

__all__ = [
    "DiffLine",
    "FormField",
    "TreeNode",
    "diff_values",
    "namespace_tree",
    "parse_memory_value",
    "profile_fields",
    "read_profile_form",
    "timeline",
    "validate_profile",
]


@dataclass
class TreeNode:
    """One label of the namespace tree: its memories (itself and below) and last write."""

    label: str
    path: tuple[str, ...]
    items: int = 0
    own: int = 0
    last_activity: str = ""
    children: list[TreeNode] = field(default_factory=list)
    readable: bool = True
    """Whether the viewer's key reaches this prefix (else it is shown without a link)."""

    def walk(self) -> Iterator[TreeNode]:
        """This node and every node below it."""
        yield self
        for child in self.children:
            yield from child.walk()

    @property
    def dotted(self) -> str:
        return ".".join(self.path)


def namespace_tree(summary: Sequence[Mapping[str, Any]]) -> list[TreeNode]:
    """The flat ``Service.summary`` rows as a tree: each node sums its subtree's memories
    and keeps its latest write.

    Example:
        >>> rows = [{"namespace": ["users", "u1"], "items": 2, "last_activity": "2026"},
        ...         {"namespace": ["users", "u2"], "items": 1, "last_activity": "2025"}]
        >>> [(n.dotted, n.items, [c.label for c in n.children]) for n in namespace_tree(rows)]
        [('users', 3, ['u1', 'u2'])]
    """
    root = TreeNode("", ())
    for row in summary:
        ns = tuple(row["namespace"])
        node = root
        for depth, label in enumerate(ns, start=1):
            child = next((c for c in node.children if c.label == label), None)
            if child is None:
                child = TreeNode(label, ns[:depth])
                node.children.append(child)
            child.items += int(row["items"])
            child.last_activity = max(child.last_activity, str(row["last_activity"]))
            node = child
        node.own += int(row["items"])
    return root.children


@dataclass(frozen=True)
class DiffLine:
    """One line of a diff: ``kind`` is ``"add"``, ``"del"``, ``"same"`` or ``"hunk"``."""

    kind: str
    text: str


def _lines(value: Any) -> list[str]:
    if value is None:
        return []
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False).splitlines()


def diff_values(old: Any, new: Any) -> list[DiffLine]:
    """A line diff of two JSON values (``difflib``; ``None`` is a deletion).

    Example:
        >>> [(d.kind, d.text) for d in diff_values({"a": 1}, {"a": 2}) if d.kind != "same"]
        [('hunk', '@@ -1,3 +1,3 @@'), ('del', '  "a": 1'), ('add', '  "a": 2')]
    """
    out: list[DiffLine] = []
    for line in difflib.unified_diff(_lines(old), _lines(new), lineterm="", n=3):
        if line.startswith(("---", "+++")):
            continue
        if line.startswith("@@"):
            out.append(DiffLine("hunk", line))
        elif line.startswith("+"):
            out.append(DiffLine("add", line[1:]))
        elif line.startswith("-"):
            out.append(DiffLine("del", line[1:]))
        else:
            out.append(DiffLine("same", line[1:]))
    return out


def timeline(versions: Sequence[Any]) -> list[dict[str, Any]]:
    """A history timeline, newest first: each version (``v``) with its ``diff`` against
    the one before it."""
    out = []
    previous: Any = None
    for v in versions:
        out.append({"v": v, "diff": diff_values(previous, v.value)})
        previous = v.value
    out.reverse()
    return out


def parse_memory_value(text: str) -> dict[str, Any]:
    """A memory's value from the edit form: a JSON object; a value of a known memory kind
    (``{"kind": "Memory", "content": {...}}``, what memory managers write) must also match
    that kind's schema. Raises :class:`InvalidInputError` with what is wrong."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise InvalidInputError(f"The value is not valid JSON: {e.msg} (line {e.lineno}).") from e
    if not isinstance(value, dict):
        raise InvalidInputError(
            f"A memory's value must be a JSON object; got {type(value).__name__}."
        )
    if value.get("kind") == "Memory" and "content" in value:
        from retain.core.schemas import ContentInvalid, SchemaSet
        from retain.core.types import Memory

        kind = SchemaSet([Memory]).get("Memory")
        assert kind is not None
        try:
            kind.validate(value["content"])
        except (ContentInvalid, ValidationError) as e:
            raise InvalidInputError(f"The content does not match the Memory schema: {e}") from e
    return value


@dataclass(frozen=True)
class FormField:
    """One profile field rendered as a form control."""

    name: str
    label: str
    description: str
    kind: str
    """``text``, ``integer``, ``number``, ``boolean``, ``enum``, ``list`` or ``json``."""
    nullable: bool
    required: bool
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None


def _resolve(prop: Mapping[str, Any], defs: Mapping[str, Any]) -> Mapping[str, Any]:
    ref = prop.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return dict(defs.get(ref.removeprefix("#/$defs/"), {}))
    return prop


def profile_fields(schema: Mapping[str, Any]) -> list[FormField]:
    """The fields of a profile's JSON schema as form controls: strings, numbers, integers,
    booleans, enums and lists of strings (anything else: a JSON text box)."""
    defs = schema.get("$defs", {})
    required = set(schema.get("required", ()))
    out = []
    for name, raw in schema.get("properties", {}).items():
        prop = _resolve(raw, defs)
        options = [_resolve(o, defs) for o in prop.get("anyOf", [prop])]
        nullable = any(o.get("type") == "null" for o in options)
        real = [o for o in options if o.get("type") != "null"]
        base = real[0] if len(real) == 1 else {}
        kind = "json"
        choices: tuple[str, ...] = ()
        if "enum" in base:
            kind, choices = "enum", tuple(str(c) for c in base["enum"])
        elif base.get("type") == "string":
            kind = "text"
        elif base.get("type") in ("integer", "number", "boolean"):
            kind = str(base["type"])
        elif base.get("type") == "array" and _resolve(base.get("items", {}), defs).get("type") == (
            "string"
        ):
            kind = "list"
        out.append(
            FormField(
                name=name,
                label=str(raw.get("title") or name.replace("_", " ").title()),
                description=str(raw.get("description", "")),
                kind=kind,
                nullable=nullable,
                required=name in required,
                choices=choices,
                minimum=base.get("minimum"),
                maximum=base.get("maximum"),
            )
        )
    return out


def read_profile_form(
    fields: Sequence[FormField], form: Mapping[str, str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The submitted form as profile values, and an error per field that cannot even be
    read (a number that is not one, bad JSON)."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for f in fields:
        raw = form.get(f.name, "")
        text = raw.strip()
        if f.kind == "boolean":
            if f.nullable and text == "":
                values[f.name] = None
            else:
                values[f.name] = text in ("true", "on", "1")
            continue
        if f.kind == "list":
            values[f.name] = [line.strip() for line in raw.splitlines() if line.strip()]
            continue
        if text == "" and (f.nullable or f.kind != "text"):
            values[f.name] = None
            continue
        if f.kind == "integer":
            try:
                values[f.name] = int(text)
            except ValueError:
                errors[f.name] = "Enter a whole number."
        elif f.kind == "number":
            try:
                values[f.name] = float(text)
            except ValueError:
                errors[f.name] = "Enter a number."
        elif f.kind == "json":
            try:
                values[f.name] = json.loads(text)
            except json.JSONDecodeError:
                errors[f.name] = "Enter a JSON value."
        else:
            values[f.name] = raw if f.kind == "text" else text
    return values, errors


def validate_profile(schema: Any, values: Mapping[str, Any]) -> dict[str, str]:
    """Validate ``values`` against the profile schema class (pydantic model or
    dataclass): an error message per field, empty when valid."""
    try:
        if isinstance(schema, type) and issubclass(schema, BaseModel):
            schema.model_validate(dict(values))
        else:
            TypeAdapter(schema).validate_python(dict(values))
    except ValidationError as e:
        errors: dict[str, str] = {}
        for problem in e.errors():
            loc = problem.get("loc", ())
            name = str(loc[0]) if loc else "__all__"
            errors.setdefault(name, str(problem.get("msg", "Invalid value.")))
        return errors
    return {}
