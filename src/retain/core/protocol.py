"""The wire format between the memory manager and a model.

Two styles carry the same operations:

* **tool calling** (OpenAI, Anthropic, ...): one insert tool per memory kind (named after
  the kind), ``PatchDoc`` (JSON Patch, RFC 6902) to update, ``RemoveDoc`` to delete, and
  ``Done`` to say nothing (more) needs to change;
* **JSON schema** (llama.cpp, Ollama, vLLM guided decoding): one JSON object
  ``{"operations": [...]}`` whose items are ``{"action": "insert", "kind", "content"}``,
  ``{"action": "update", "id", "set"}`` (a JSON merge patch of the changed fields) and
  ``{"action": "delete", "id"}``; an empty list means nothing to change.

Parsing is lenient about shape (either update form is accepted in either style) and
strict about content, which the extraction algorithm validates.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

from langchain_core.messages import AIMessage

from retain.core.messages import load_json_text, message_text
from retain.core.schemas import MemoryKind, hoist_defs

__all__ = [
    "Problem",
    "Proposal",
    "ProposedDelete",
    "ProposedDone",
    "ProposedInsert",
    "ProposedUpdate",
    "extraction_tools",
    "parse_json_reply",
    "parse_tool_reply",
    "render_json_operations",
    "render_tool_calls",
    "response_schema",
]

PATCH_TOOL = "PatchDoc"
REMOVE_TOOL = "RemoveDoc"
DONE_TOOL = "Done"


@dataclass(frozen=True)
class ProposedInsert:
    ref: str
    kind: str
    content: Any


@dataclass(frozen=True)
class ProposedUpdate:
    ref: str
    id: str
    patches: list[Any] | None = None
    set: dict[str, Any] | None = None
    content: Any = None


@dataclass(frozen=True)
class ProposedDelete:
    ref: str
    id: str


@dataclass(frozen=True)
class ProposedDone:
    ref: str


@dataclass(frozen=True)
class Problem:
    """Something in the model's answer that could not be used; ``message`` is for the model."""

    ref: str
    message: str


Proposal: TypeAlias = ProposedInsert | ProposedUpdate | ProposedDelete | ProposedDone

_JSON_PATCH_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "A JSON Patch (RFC 6902) operation.",
    "properties": {
        "op": {"type": "string", "enum": ["add", "remove", "replace"]},
        "path": {
            "type": "string",
            "description": "JSON Pointer into the memory's content, e.g. /language or /skills/-",
        },
        "value": {"description": "The new value (not used by 'remove')."},
    },
    "required": ["op", "path"],
}


def _function(name: str, description: str, parameters: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {"name": name, "description": description, "parameters": parameters},
    }


def extraction_tools(
    insert_kinds: Sequence[MemoryKind], *, updates: bool, deletes: bool
) -> tuple[dict[str, Any], ...]:
    """Tool definitions (OpenAI format) for the tool-calling style."""
    tools = [
        _function(k.name, k.description or f"Record a new {k.name} memory.", k.parameters)
        for k in insert_kinds
    ]
    if updates:
        tools.append(
            _function(
                PATCH_TOOL,
                "Update an existing memory with JSON Patch operations. Only change what the "
                "new information changes; leave everything else as it is.",
                {
                    "type": "object",
                    "properties": {
                        "json_doc_id": {
                            "type": "string",
                            "description": "The id of the existing memory to update.",
                        },
                        "planned_edits": {
                            "type": "string",
                            "description": "Briefly, what changes and why.",
                        },
                        "patches": {
                            "type": "array",
                            "items": _JSON_PATCH_SCHEMA,
                            "description": "JSON Patch operations applied in order to the "
                            "memory's content.",
                        },
                    },
                    "required": ["json_doc_id", "patches"],
                },
            )
        )
    if deletes:
        tools.append(
            _function(
                REMOVE_TOOL,
                "Delete an existing memory that is wrong, outdated or redundant.",
                {
                    "type": "object",
                    "properties": {
                        "json_doc_id": {
                            "type": "string",
                            "description": "The id of the memory to delete.",
                        }
                    },
                    "required": ["json_doc_id"],
                },
            )
        )
    tools.append(
        _function(
            DONE_TOOL,
            "Call this (alone) when no memory needs to be created, changed or removed.",
            {"type": "object", "properties": {}},
        )
    )
    return tuple(tools)


def _optional(params: dict[str, Any]) -> dict[str, Any]:
    out = dict(params)
    out.pop("required", None)
    return out


def response_schema(
    insert_kinds: Sequence[MemoryKind],
    update_targets: Sequence[tuple[MemoryKind, Sequence[str]]],
    delete_ids: Sequence[str],
) -> dict[str, Any]:
    """The JSON schema of a reply in the JSON-schema style.

    Ids are constrained to the existing ones, and field names to each kind's fields,
    so grammar-constrained decoders cannot produce unknown ids or fields.
    """
    defs: dict[str, Any] = {}
    variants: list[dict[str, Any]] = []
    for kind in insert_kinds:
        content = hoist_defs(kind.parameters, f"{kind.name}__", defs)
        variants.append(
            {
                "type": "object",
                "properties": {
                    "action": {"const": "insert"},
                    "kind": {"const": kind.name},
                    "content": content,
                },
                "required": ["action", "kind", "content"],
                "additionalProperties": False,
            }
        )
    for kind, ids in update_targets:
        if not ids:
            continue
        changes = hoist_defs(_optional(kind.parameters), f"{kind.name}__", defs)
        variants.append(
            {
                "type": "object",
                "properties": {
                    "action": {"const": "update"},
                    "id": {"enum": list(ids)},
                    "set": changes,
                },
                "required": ["action", "id", "set"],
                "additionalProperties": False,
            }
        )
    if delete_ids:
        variants.append(
            {
                "type": "object",
                "properties": {"action": {"const": "delete"}, "id": {"enum": list(delete_ids)}},
                "required": ["action", "id"],
                "additionalProperties": False,
            }
        )
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {"operations": {"type": "array", "items": {"anyOf": variants}}},
        "required": ["operations"],
        "additionalProperties": False,
    }
    if defs:
        schema["$defs"] = defs
    return schema


def _as_str(value: Any) -> str | None:
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        return str(value)
    return None


def _update_from_args(ref: str, args: dict[str, Any]) -> Proposal | Problem:
    doc_id = _as_str(args.get("json_doc_id", args.get("id")))
    if doc_id is None:
        return Problem(ref, "Missing 'json_doc_id': say which memory to update.")
    patches = args.get("patches")
    changes = args.get("set")
    content = args.get("content")
    if patches is None and changes is None and content is None:
        return Problem(ref, f"Update of {doc_id} has no 'patches'; nothing would change.")
    if patches is not None and not isinstance(patches, list):
        return Problem(ref, "'patches' must be a list of JSON Patch operations.")
    if changes is not None and not isinstance(changes, dict):
        return Problem(ref, "'set' must be an object of the fields to change.")
    return ProposedUpdate(ref, doc_id, patches=patches, set=changes, content=content)


def parse_tool_reply(reply: AIMessage) -> tuple[list[Proposal], list[Problem]]:
    """Read the operations from a tool-calling reply."""
    proposals: list[Proposal] = []
    problems: list[Problem] = []
    for bad in reply.invalid_tool_calls:
        ref = bad.get("id") or f"invalid call {bad.get('name')}"
        problems.append(
            Problem(
                ref,
                f"The arguments of {bad.get('name')} were not valid JSON: "
                f"{(bad.get('error') or '')[:200]}",
            )
        )
    for call in reply.tool_calls:
        ref = call.get("id") or f"call {len(proposals) + len(problems)}"
        name = call["name"]
        args: Any = call.get("args") or {}
        if not isinstance(args, dict):
            problems.append(Problem(ref, f"The arguments of {name} must be a JSON object."))
        elif name == PATCH_TOOL:
            parsed = _update_from_args(ref, args)
            (problems if isinstance(parsed, Problem) else proposals).append(parsed)  # type: ignore[arg-type]
        elif name == REMOVE_TOOL:
            doc_id = _as_str(args.get("json_doc_id", args.get("id")))
            if doc_id is None:
                problems.append(Problem(ref, "Missing 'json_doc_id': say which memory to delete."))
            else:
                proposals.append(ProposedDelete(ref, doc_id))
        elif name == DONE_TOOL:
            proposals.append(ProposedDone(ref))
        else:
            proposals.append(ProposedInsert(ref, name, args))
    if not reply.tool_calls and not reply.invalid_tool_calls:
        text = message_text(reply).strip()
        problems.append(
            Problem(
                "reply",
                "Answer by calling the tools (call Done if nothing needs to change)"
                + (f"; your reply was plain text: {text[:200]!r}" if text else "."),
            )
        )
    return proposals, problems


_ACTIONS = {
    "insert": "insert",
    "create": "insert",
    "add": "insert",
    "update": "update",
    "patch": "update",
    "delete": "delete",
    "remove": "delete",
}


def parse_json_reply(reply: AIMessage) -> tuple[list[Proposal], list[Problem]]:
    """Read the operations from a JSON-schema-style reply."""
    text = message_text(reply)
    try:
        data = load_json_text(text)
    except json.JSONDecodeError as e:
        snippet = text.strip()[:300]
        return [], [
            Problem("reply", f"The reply is not valid JSON ({e.msg} at char {e.pos}): {snippet!r}")
        ]
    if isinstance(data, dict) and "operations" in data:
        ops = data["operations"]
    elif isinstance(data, list):
        ops = data
    else:
        return [], [Problem("reply", 'The reply must be an object {"operations": [...]}.')]
    if not isinstance(ops, list):
        return [], [Problem("reply", "'operations' must be a list.")]
    proposals: list[Proposal] = []
    problems: list[Problem] = []
    for i, op in enumerate(ops):
        ref = f"operations[{i}]"
        if not isinstance(op, dict):
            problems.append(Problem(ref, "Each operation must be a JSON object."))
            continue
        action = _ACTIONS.get(str(op.get("action", "")).lower())
        if action == "insert":
            kind = op.get("kind")
            if not isinstance(kind, str):
                problems.append(Problem(ref, "An insert needs the memory 'kind'."))
            else:
                proposals.append(ProposedInsert(ref, kind, op.get("content")))
        elif action == "update":
            parsed = _update_from_args(ref, op)
            (problems if isinstance(parsed, Problem) else proposals).append(parsed)  # type: ignore[arg-type]
        elif action == "delete":
            doc_id = _as_str(op.get("id", op.get("json_doc_id")))
            if doc_id is None:
                problems.append(Problem(ref, "A delete needs the memory 'id'."))
            else:
                proposals.append(ProposedDelete(ref, doc_id))
        else:
            problems.append(
                Problem(ref, f"Unknown action {op.get('action')!r}; use insert, update or delete.")
            )
    return proposals, problems


def _pointer(key: str) -> str:
    return "/" + key.replace("~", "~0").replace("/", "~1")


def _update_args(op: ProposedUpdate) -> dict[str, Any]:
    args: dict[str, Any] = {"json_doc_id": op.id, "planned_edits": ""}
    if op.patches is not None:
        args["patches"] = op.patches
    elif op.set is not None:
        args["patches"] = [
            {"op": "add", "path": _pointer(k), "value": v} for k, v in op.set.items()
        ]
    else:
        args["content"] = op.content
    return args


def render_tool_calls(ops: Iterable[Proposal]) -> list[dict[str, Any]]:
    """Operations as LangChain tool calls, as a tool-calling model would answer."""
    calls = []
    for i, op in enumerate(ops):
        if isinstance(op, ProposedInsert):
            name, args = op.kind, op.content
        elif isinstance(op, ProposedUpdate):
            name, args = PATCH_TOOL, _update_args(op)
        elif isinstance(op, ProposedDelete):
            name, args = REMOVE_TOOL, {"json_doc_id": op.id}
        else:
            name, args = DONE_TOOL, {}
        calls.append({"name": name, "args": args, "id": f"call_{i}", "type": "tool_call"})
    return calls


def render_json_operations(ops: Iterable[Proposal]) -> str:
    """Operations as the JSON text a JSON-schema-constrained model would answer."""
    out: list[dict[str, Any]] = []
    for op in ops:
        if isinstance(op, ProposedInsert):
            out.append({"action": "insert", "kind": op.kind, "content": op.content})
        elif isinstance(op, ProposedUpdate):
            item: dict[str, Any] = {"action": "update", "id": op.id}
            if op.set is not None:
                item["set"] = op.set
            elif op.patches is not None:
                item["patches"] = op.patches
            else:
                item["content"] = op.content
            out.append(item)
        elif isinstance(op, ProposedDelete):
            out.append({"action": "delete", "id": op.id})
    return json.dumps({"operations": out}, ensure_ascii=False)
