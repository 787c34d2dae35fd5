"""Prompt help for small local models: one worked example for memory extraction.

Measured on ``benchmarks/data/local_extraction.jsonl`` (benchmarks/RESULTS.md): with the
example the 0.5B and 1.5B models follow the ``{"operations": [...]}`` format far more
reliably (which id to update, when to delete, one fact per memory).
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["worked_example"]

# The memory manager shows memories under short ids (retain.core.aliases). The example
# updates the second one, so a small model does not learn to copy "m1" by position.
_JOB = "m1"
_CITY = "m2"


def _memory(doc_id: str, text: str) -> str:
    return json.dumps({"id": doc_id, "kind": "Memory", "content": {"content": text}})


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
    (the example's content fields are that kind's). The example shows an update (of the
    second memory, by its short id), an insert and an unrelated memory left alone; deletion
    is a rule in words (an example of one made small models delete unrelated memories).
    """
    actions = _actions(schema)
    if "insert" not in actions or not _inserts_memory_kind(schema):
        return None
    updates, deletes = "update" in actions, "delete" in actions
    said = ["I moved to Lisbon last month."]
    ops: list[dict[str, Any]] = []
    existing: list[str] = []
    if updates or deletes:
        existing = [_memory(_JOB, "User is a teacher."), _memory(_CITY, "User lives in Berlin.")]
    if updates:
        ops.append({"action": "update", "id": _CITY, "set": {"content": "User lives in Lisbon."}})
    else:
        ops.append(_insert("User lives in Lisbon."))
    said.append("Also, I've started learning the cello!")
    ops.append(_insert("User is learning the cello."))
    shown = "\n".join(existing) if existing else "(none yet)"
    rules = [
        "Write one short fact per memory, starting with who it is about (e.g. 'User ...').",
        "Do not record greetings, nor what the assistant said unless the user confirmed it.",
    ]
    if existing:
        rules.insert(0, f"Memory {_JOB} is not in the answer: the conversation does not change it.")
    if updates:
        rules.append(
            "When the conversation changes or contradicts an existing memory, update that memory "
            "(by its id) to the new fact; never add a second memory about the same thing."
        )
    if deletes:
        rules.append(
            "Only when the user asks to forget something, or says a memory is wrong, delete "
            'that memory: {"action": "delete", "id": "<its id>"}. Never delete other memories.'
        )
    rule_text = "\n".join(f"- {r}" for r in rules)
    return (
        "Example.\n"
        f"<existing_memories>\n{shown}\n</existing_memories>\n"
        f"<conversation>\nuser: {' '.join(said)}\nassistant: Welcome to Lisbon!\n</conversation>\n"
        f"Answer:\n{json.dumps({'operations': ops})}\n{rule_text}"
    )
