"""Help for small local models with memory extraction: one worked example in the prompt,
and a tidy-up of the operations they answer.

Tuned on the tuning part of the labelled set (``benchmarks/data/local_extraction.jsonl``;
never on the held-out part, benchmarks/RESULTS.md): with the example the 0.5B and 1.5B
models follow the ``{"operations": [...]}`` format far more reliably (which id to update,
when to delete, one fact per memory). :func:`tidy_operations` drops what small models add
that no conversation asked for: an update that brings in nothing the conversation said
(they "refresh" unchanged memories with invented details, "User lives in Rotterdam (changed
from Amsterdam)"), and an insert that repeats a stored memory or an earlier insert.
"""

from __future__ import annotations

import json
import re
from typing import Any

from retain.core.facts import content_stems, third_person

__all__ = ["new_facts", "second_look", "tidy_and_check", "tidy_operations", "worked_example"]

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
    ops: list[dict[str, Any]] = []
    existing: list[str] = []
    if updates or deletes:
        existing = [_memory(_JOB, "User is a teacher."), _memory(_CITY, "User lives in Berlin.")]
    said = ["I've started learning the cello!", "Also, I moved to Lisbon last month."]
    ops.append(_insert("User is learning the cello."))
    lisbon = "User moved to Lisbon last month."
    if updates:
        ops.append({"action": "update", "id": _CITY, "set": {"content": lisbon}})
    else:
        ops.append(_insert(lisbon))
    shown = "\n".join(existing) if existing else "(none yet)"
    rules = [
        "Write one short fact per memory, starting with who it is about (e.g. 'User ...'); "
        "keep when it happened ('last Saturday', 'yesterday') in the fact.",
        "Record what the user says. Something the assistant said or guessed only if the "
        "user confirmed it; never greetings.",
        "If there is nothing new (a question, thanks, a fact already stored), answer "
        '{"operations": []}.',
    ]
    if existing:
        rules.insert(
            0,
            f"Memory {_JOB} is not in the answer: the conversation does not change it. Never "
            "repeat a memory that does not change.",
        )
    if updates:
        rules.append(
            "When the user says something changed (moved, switched, now, no longer, left, "
            "promoted), update the memory about that thing (by its id) to the new fact; "
            "never add a second memory about the same thing."
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


_MEMORIES = re.compile(r"<existing_memories>\n(.*?)\n</existing_memories>", re.DOTALL)
_CONVERSATION = re.compile(r"<conversation>\n(.*?)\n</conversation>", re.DOTALL)


def _content_text(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("content")
    return value if isinstance(value, str) else None


def _plain(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))


def tidy_operations(answer: str, prompt: str) -> str:
    """The model's ``{"operations": [...]}`` ``answer`` without the operations that
    ``prompt`` (the task message: its memories and conversation) gives no ground for.

    Dropped: an update of a text memory whose new text adds words, none of which the
    conversation says; an insert whose text (letters and digits, any case) equals a
    memory's or an earlier insert's. Anything that does not parse is returned unchanged.

    For example, with "User lives in Rotterdam." stored and "I drink coffee now." said, the
    update "User lives in Rotterdam (changed from Amsterdam)." and a second insert of "User
    lives in Rotterdam" are dropped; "User drinks coffee." is kept.
    """
    return tidy_and_check(answer, prompt)[0]


def tidy_and_check(answer: str, prompt: str) -> tuple[str, bool]:
    """:func:`tidy_operations`'s answer, and whether every operation of ``answer`` repeated
    a memory stored in ``prompt`` (there being at least one): the model echoed its memories
    instead of reading the conversation, and takes a second look (:func:`second_look`).

    For example, with "User lives in Rotterdam." stored, an answer inserting only "User
    lives in Rotterdam" repeats; one that also inserts "User drinks coffee." does not.
    """
    conversation = _CONVERSATION.search(prompt)
    try:
        data = json.loads(answer)
    except json.JSONDecodeError:
        return answer, False
    operations = data.get("operations") if isinstance(data, dict) else None
    if conversation is None or not isinstance(operations, list):
        return answer, False
    texts = _stored(prompt)
    said = content_stems(conversation.group(1))
    stored = {_plain(t) for t in texts.values()}
    seen = set(stored)
    kept: list[Any] = []
    repeats = 0
    for op in operations:
        action = op.get("action") if isinstance(op, dict) else None
        if action == "update" and str(op.get("id")) in texts:
            new = _content_text(op.get("set") or op.get("content"))
            if new is not None:
                added = content_stems(new) - content_stems(texts[str(op.get("id"))])
                if added and not added & said:
                    continue  # nothing the conversation said: an invented change
        elif action == "insert":
            text = _content_text(op.get("content"))
            if text is not None:
                if _plain(text) in seen:
                    repeats += _plain(text) in stored
                    continue  # already stored, or inserted twice
                seen.add(_plain(text))
        kept.append(op)
    echoed = repeats > 0 and not kept
    if len(kept) == len(operations):
        return answer, echoed
    return json.dumps({**data, "operations": kept}, ensure_ascii=False), echoed


def second_look(prompt: str) -> str | None:
    """``prompt`` (the task message) with its stored memories hidden, for a second look
    at what the user said; None when the user said no content word that a stored memory
    lacks (then there is nothing to look for).

    A small model that answered by repeating its memories is anchored on them; shown the
    conversation alone it reads what the user said. :func:`new_facts` keeps, of that
    answer, only the inserts that carry the user's new words.
    """
    memories = _MEMORIES.search(prompt)
    if memories is None or not _novel(prompt):
        return None
    return f"{prompt[: memories.start(1)]}(none yet){prompt[memories.end(1) :]}"


def new_facts(answer: str, prompt: str) -> str:
    """Of a second look's ``answer``, the inserts that hold a content word the user said
    and no memory stored in ``prompt`` has, tidied against ``prompt``; anything else is
    dropped (the second look saw no ids to update or delete)."""
    try:
        data = json.loads(answer)
    except json.JSONDecodeError:
        return answer
    operations = data.get("operations") if isinstance(data, dict) else None
    if not isinstance(operations, list):
        return answer
    novel = _novel(prompt)
    kept = []
    for op in operations:
        text = _content_text(op.get("content")) if isinstance(op, dict) else None
        if text is not None and op.get("action") == "insert" and content_stems(text) & novel:
            kept.append(op)
    return tidy_operations(json.dumps({**data, "operations": kept}, ensure_ascii=False), prompt)


def _novel(prompt: str) -> set[str]:
    """The content words the user said in ``prompt``'s conversation that no stored memory
    has (by :func:`~retain.core.facts.content_stems`)."""
    conversation = _CONVERSATION.search(prompt)
    if conversation is None:
        return set()
    said = " ".join(
        line.split(":", 1)[1]
        for line in conversation.group(1).splitlines()
        if line.lower().startswith("user:")
    )
    return content_stems(third_person(said)) - content_stems(" ".join(_stored(prompt).values()))


def _stored(prompt: str) -> dict[str, str]:
    """The text memories shown in ``prompt``, by id."""
    memories = _MEMORIES.search(prompt)
    texts: dict[str, str] = {}
    for line in (memories.group(1) if memories else "").splitlines():
        try:
            memory = json.loads(line)
        except json.JSONDecodeError:
            continue
        text = _content_text(memory.get("content")) if isinstance(memory, dict) else None
        if text is not None:
            texts[str(memory.get("id"))] = text
    return texts
