"""Prompt help for small local models: one worked example for memory extraction.

Measured on ``benchmarks/data/local_extraction.jsonl`` (benchmarks/RESULTS.md): with the
example the 0.5B and 1.5B models follow the ``{"operations": [...]}`` format far more
reliably (which id to update, when to delete, one fact per memory).
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["worked_example"]

_EXISTING = [
    {"id": "m1", "kind": "Memory", "content": {"content": "User lives in Berlin."}},
    {"id": "m2", "kind": "Memory", "content": {"content": "User has a cat named Tom."}},
]
_CONVERSATION = (
    "user: I moved to Lisbon last month. Sadly Tom, my cat, died in May. "
    "Also I've started learning the cello!\nassistant: Welcome to Lisbon!"
)


def _actions(schema: dict[str, Any]) -> set[str]:
    items = schema.get("properties", {}).get("operations", {}).get("items", {})
    variants = items.get("anyOf", [items])
    found = set()
    for variant in variants:
        action = variant.get("properties", {}).get("action", {}).get("const")
        if isinstance(action, str):
            found.add(action)
    return found


def _inserts_memory_kind(schema: dict[str, Any]) -> bool:
    items = schema.get("properties", {}).get("operations", {}).get("items", {})
    return any(
        v.get("properties", {}).get("kind", {}).get("const") == "Memory"
        for v in items.get("anyOf", [items])
    )


def _insert(text: str) -> dict[str, Any]:
    return {"action": "insert", "kind": "Memory", "content": {"content": text}}


def worked_example(schema: dict[str, Any]) -> str | None:
    """A worked example fitting the operations ``schema`` allows, or None if none fits.

    Only schemas of retain's memory operations with the default ``Memory`` kind get one
    (the example's content fields are that kind's).
    """
    actions = _actions(schema)
    if "insert" not in actions or not _inserts_memory_kind(schema):
        return None
    ops: list[dict[str, Any]] = []
    existing = _EXISTING if "update" in actions else []
    if "update" in actions:
        ops.append(
            {
                "action": "update",
                "id": "m1",
                "set": {"content": "User lives in Lisbon (moved from Berlin)."},
            }
        )
        if "delete" in actions:
            ops.append({"action": "delete", "id": "m2"})
        else:
            ops.append({"action": "update", "id": "m2", "set": {"content": "User's cat Tom died."}})
    else:
        ops.append(_insert("User lives in Lisbon."))
        ops.append(_insert("User's cat Tom died."))
    ops.append(_insert("User is learning the cello."))
    shown = "\n".join(json.dumps(m) for m in existing) if existing else "(none yet)"
    return (
        "Example.\n"
        f"<existing_memories>\n{shown}\n</existing_memories>\n"
        f"<conversation>\n{_CONVERSATION}\n</conversation>\n"
        f"Answer:\n{json.dumps({'operations': ops})}\n"
        "Write one short fact per memory. Update an existing memory (by its id) when the "
        "conversation changes it; never insert a second copy of it. Do not record greetings "
        "or what the assistant said."
    )
