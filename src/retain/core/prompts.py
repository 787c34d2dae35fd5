"""Prompt text for the memory manager. Pure string building, no model calls."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from retain.core.schemas import MemoryKind, describe_fields

__all__ = ["DEFAULT_INSTRUCTIONS", "build_system_prompt", "build_user_prompt"]

DEFAULT_INSTRUCTIONS = """\
You maintain the long-term memory of an AI assistant. Decide what the assistant should \
remember from this conversation about the user, the world, and how it should act.

- Record facts, preferences, relationships, plans and lessons that will matter in future \
conversations. Skip small talk and anything only relevant to this moment.
- Write each memory so it stands on its own: name who or what it is about, and include \
the context needed to use it later.
- When new information contradicts or refines an existing memory, change that memory \
instead of adding a near-duplicate. Merge redundant memories.
- A fact the assistant stated that the user then confirmed ("yes", "right", "exactly") \
is the user's fact: record it like one the user said.
- Write what the user says about themselves as facts about "User" ("I moved" becomes \
"User moved").
- Never record guesses as facts; say how sure you are when it matters."""

_SYSTEM = "You are the memory subroutine of an AI assistant."

_JSON_FORMAT = """\
Answer with one JSON object {{"operations": [...]}}. Each operation is one of:
{lines}
An empty list means nothing needs to change.

Memory kinds:
{kinds}"""


def _json_format(
    insert_kinds: Sequence[MemoryKind], kinds: Sequence[MemoryKind], updates: bool, deletes: bool
) -> str:
    lines = []
    if insert_kinds:
        lines.append(
            '- {"action": "insert", "kind": "<kind>", "content": {<all fields>}}: '
            "record a new memory"
        )
    if updates:
        lines.append(
            '- {"action": "update", "id": "<id>", "set": {<only the changed fields>}}: '
            "change an existing memory"
        )
    if deletes:
        lines.append('- {"action": "delete", "id": "<id>"}: remove a memory')
    described = []
    for kind in kinds:
        head = f"- {kind.name}" + (f": {kind.description}" if kind.description else "")
        described.append(f"{head}\n{describe_fields(kind)}")
    return _JSON_FORMAT.format(lines="\n".join(lines), kinds="\n".join(described))


def build_system_prompt(
    *,
    json_style: bool,
    insert_kinds: Sequence[MemoryKind],
    kinds: Sequence[MemoryKind],
    updates: bool,
    deletes: bool,
) -> str:
    if not json_style:
        return _SYSTEM
    return f"{_SYSTEM}\n\n{_json_format(insert_kinds, kinds, updates, deletes)}"


def render_memories(memories: Sequence[tuple[str, str, dict[str, Any]]]) -> str:
    if not memories:
        return "(none yet)"
    return "\n".join(
        json.dumps({"id": i, "kind": k, "content": c}, ensure_ascii=False) for i, k, c in memories
    )


def build_user_prompt(
    *,
    instructions: str,
    memories: Sequence[tuple[str, str, dict[str, Any]]],
    transcript: str,
    json_style: bool,
    inserts: bool,
    profile_kinds: Sequence[tuple[str, str | None]],
    updates: bool,
    deletes: bool,
    step: int,
    max_steps: int,
) -> str:
    """The task message. ``profile_kinds`` lists (kind, existing id or None) in profile mode."""
    update_word = "PatchDoc" if not json_style else "an update operation"
    delete_word = "RemoveDoc" if not json_style else "a delete operation"
    rules = []
    if inserts:
        rules.append("Create a new memory for each new piece of information worth keeping.")
    for kind, doc_id in profile_kinds:
        if doc_id is None:
            rules.append(f"There is no {kind} yet: create it once, filling what you know.")
        else:
            rules.append(
                f"Keep exactly one {kind} (id {doc_id}): update it in place with {update_word}, "
                "changing only the fields the conversation changes. Never create a second one."
            )
    if updates:
        rules.append(
            f"Use {update_word} on an existing memory (by id) when the conversation changes or "
            "adds to it; leave unaffected fields as they are."
        )
    if deletes:
        rules.append(
            f"Use {delete_word} for memories the conversation shows to be wrong or obsolete."
        )
    if json_style:
        rules.append(
            "Put every change into one reply. If nothing needs to change, answer with "
            'an empty "operations" list.'
        )
    else:
        rules.append(
            "Make all changes in one reply, with parallel tool calls. If nothing needs "
            "to change, call Done."
        )
    if step > 0:
        rules.append(
            f"This is consolidation pass {step + 1} of {max_steps}. The memories above already "
            "include your earlier changes: refine, merge or correct them only if needed, "
            + ("otherwise answer with no operations." if json_style else "otherwise call Done.")
        )
    rule_text = "\n".join(f"- {r}" for r in rules)
    return (
        f"{instructions}\n\n"
        f"<existing_memories>\n{render_memories(memories)}\n</existing_memories>\n\n"
        f"<conversation>\n{transcript}\n</conversation>\n\n"
        f"{rule_text}"
    )
