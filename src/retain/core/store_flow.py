"""The store manager's algorithm, free of I/O.

:func:`manage_store_memories` is a core flow (see :mod:`retain.core.requests`) that, besides
model requests, yields two store requests its driver carries out:

* :class:`Recall`: find the memories related to the conversation (reply: search items);
* :class:`Write`: apply puts and deletes as one batch (reply: ``None``).

The flow recalls at most ``query_limit`` current memories, runs the extraction core on
them (plus optional extra phases), and writes the net changes. Stored values look like
LangMem's: ``{"kind": "<schema name>", "content": {...}}``; in a fact collection
(``enable_inserts``) given the conversation's time (``said_at``), they also carry the
temporal fields of :mod:`retain.core.temporal`, and an update *supersedes*: the key holds
the new fact, and the old one is kept under a new key with its ``valid_to`` and
``superseded_by`` (the key it gave way to). Only a delete removes a fact.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, TypeAlias

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langgraph.store.base import SearchItem

from retain.core.extraction import ExistingMemory, ExtractionSpec, extract_memories
from retain.core.messages import message_text, render_transcript
from retain.core.requests import ModelRequest, StructuredStyle
from retain.core.schemas import ContentInvalid
from retain.core.temporal import (
    SAID_AT,
    SUPERSEDED_BY,
    VALID_FROM,
    VALID_TO,
    format_time,
    holds,
    parse_time,
    resolve_relative,
)
from retain.core.types import Delete, Insert, MemoryOp, RemoveDoc, Update
from retain.errors import ModelOutputError

__all__ = [
    "Phase",
    "Recall",
    "StoreFlow",
    "StoreManagerSpec",
    "StoreResult",
    "Write",
    "fact_stamps",
    "manage_store_memories",
    "recall_queries",
    "superseded_value",
]

QUERY_TOOL = "search_memory"
QUERY_INSTRUCTIONS = (
    "Write search queries that find the stored memories relevant to this conversation. "
    "Phrase each query as a hypothetical memory that would be relevant; use one query per "
    "distinct topic (several tool calls if needed)."
)
MAX_QUERY_CHARS = 2000
RECENT_MESSAGES = 6
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_NEVER = datetime.max.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class Recall:
    """Search ``namespace`` (and below) with each query; no queries lists the namespace."""

    namespace: tuple[str, ...]
    queries: tuple[str, ...]
    limit: int


@dataclass(frozen=True)
class Write:
    """Apply these puts ``(namespace, key, value)`` and deletes ``(namespace, key)`` at once."""

    puts: tuple[tuple[tuple[str, ...], str, dict[str, Any]], ...]
    deletes: tuple[tuple[tuple[str, ...], str], ...]


StoreFlow: TypeAlias = Generator[ModelRequest | Recall | Write, Any, "StoreResult"]


@dataclass(frozen=True)
class Phase:
    """An extra consolidation pass over the recalled and new memories (LangMem's MemoryPhase)."""

    spec: ExtractionSpec
    include_messages: bool = False


@dataclass(frozen=True)
class StoreManagerSpec:
    """Everything about a store manager that does not change between calls."""

    extraction: ExtractionSpec
    query_limit: int = 5
    use_query_model: bool = False
    query_style: StructuredStyle = "tool_calling"
    phases: tuple[Phase, ...] = ()


@dataclass(frozen=True)
class StoreResult:
    """What one store-manager run did."""

    puts: list[dict[str, Any]]
    """``{"namespace", "key", "value"}`` for every memory written (LangMem's return value)."""
    deletes: list[tuple[tuple[str, ...], str]]
    recalled: list[SearchItem]
    operations: list[MemoryOp] = field(default_factory=list)
    model_calls: int = 0


def recall_queries(messages: Sequence[BaseMessage]) -> tuple[str, ...]:
    """The one query that recalls memories for a conversation without a query model.

    The text of the recent conversation (the last ``RECENT_MESSAGES`` messages, oldest
    first, without role labels: "user" would match every memory about the user), with the
    latest human message always in it (put first when it is older than that window). At
    most ``MAX_QUERY_CHARS`` characters: the human message is kept (its end, if longer),
    the other messages fill what is left, newest first. Empty conversation: no query.

    Example:
        >>> from langchain_core.messages import AIMessage, HumanMessage
        >>> from retain.core.store_flow import recall_queries
        >>> recall_queries([HumanMessage("I moved to Lisbon"), AIMessage("Nice!")])
        ('I moved to Lisbon\\nNice!',)
    """
    humans = [m for m in messages if m.type == "human" and message_text(m).strip()]
    human = humans[-1] if humans else None
    window = list(messages[-RECENT_MESSAGES:])
    if human is not None and all(m is not human for m in window):
        window.insert(0, human)
    parts = [(message_text(m).strip(), m is human) for m in window]
    parts = [(text[-MAX_QUERY_CHARS:] if own else text, own) for text, own in parts if text]
    room = MAX_QUERY_CHARS - sum(len(text) + 1 for text, own in parts if own) + 1
    kept: list[str] = []
    for text, own in reversed(parts):
        if not own:
            if room <= 1:
                continue
            text = text[-(room - 1) :] if len(text) + 1 > room else text
            room -= len(text) + 1
        kept.append(text)
    return ("\n".join(reversed(kept)),) if kept else ()


def _query_request(messages: Sequence[BaseMessage], spec: StoreManagerSpec) -> ModelRequest:
    prompt = [
        SystemMessage(content=QUERY_INSTRUCTIONS),
        HumanMessage(
            content="<conversation>\n"
            + render_transcript(messages)[-4 * MAX_QUERY_CHARS :]
            + "\n</conversation>"
        ),
    ]
    params = {
        "type": "object",
        "properties": {"query": {"type": "string", "description": "What to search for."}},
        "required": ["query"],
    }
    if spec.query_style == "tool_calling":
        tool = {
            "type": "function",
            "function": {
                "name": QUERY_TOOL,
                "description": "Search long-term memory.",
                "parameters": params,
            },
        }
        return ModelRequest(
            prompt, tools=(tool,), tool_choice="any", cache_key="query", role="query"
        )
    schema = {
        "type": "object",
        "properties": {"queries": {"type": "array", "items": {"type": "string"}, "minItems": 1}},
        "required": ["queries"],
    }
    return ModelRequest(
        prompt,
        response_schema=schema,
        schema_name="search_queries",
        cache_key="query",
        role="query",
    )


def _parse_queries(reply: AIMessage, style: StructuredStyle) -> tuple[str, ...]:
    found: list[str] = []
    if style == "tool_calling":
        for call in reply.tool_calls:
            query = call.get("args", {}).get("query")
            if isinstance(query, str) and query.strip():
                found.append(query.strip())
    else:
        try:
            data = json.loads(message_text(reply))
        except json.JSONDecodeError:
            data = {}
        queries = data.get("queries") if isinstance(data, dict) else None
        if isinstance(queries, list):
            found = [q.strip() for q in queries if isinstance(q, str) and q.strip()]
    if not found:
        raise ModelOutputError(
            "The query model returned no search query.",
            raw=[reply],
            errors=["expected at least one search query"],
        )
    return tuple(dict.fromkeys(found))


def _display_id(item: SearchItem, namespace: tuple[str, ...]) -> str:
    below = tuple(item.namespace)[len(namespace) :]
    return "/".join((*below, item.key)) if below else item.key


def _existing(
    items: Sequence[SearchItem], namespace: tuple[str, ...], spec: ExtractionSpec
) -> tuple[list[ExistingMemory], dict[str, SearchItem]]:
    existing: list[ExistingMemory] = []
    by_id: dict[str, SearchItem] = {}
    for item in items:
        value = item.value
        kind_name = value.get("kind") if isinstance(value, dict) else None
        kind = spec.kinds.get(kind_name) if isinstance(kind_name, str) else None
        if kind is None:
            continue  # not a memory of this manager's schemas (e.g. written by a tool)
        try:
            content = kind.validate(value.get("content"))
        except ContentInvalid:
            continue
        doc_id = _display_id(item, namespace)
        if doc_id in by_id:
            continue
        by_id[doc_id] = item
        existing.append(ExistingMemory(doc_id, kind, content))
    return existing, by_id


def _ranked(results: Sequence[Sequence[SearchItem]], limit: int) -> list[SearchItem]:
    best: dict[tuple[tuple[str, ...], str], SearchItem] = {}
    for found in results:
        for item in found:
            ident = (tuple(item.namespace), item.key)
            seen = best.get(ident)
            if seen is None or (item.score or float("-inf")) > (seen.score or float("-inf")):
                best[ident] = item
    ordered = sorted(
        best.values(),
        key=lambda it: it.score if it.score is not None else float("-inf"),
        reverse=True,
    )
    return ordered[:limit]


def manage_store_memories(
    spec: StoreManagerSpec,
    messages: Sequence[BaseMessage],
    namespace: tuple[str, ...],
    *,
    max_steps: int = 1,
    default: tuple[str, Any] | None = None,
    new_key: Callable[[], str] = lambda: str(uuid.uuid4()),
    said_at: datetime | None = None,
) -> StoreFlow:
    """Recall, extract and write the memories of one conversation.

    ``default`` is ``(kind_name, dumped_content)`` to seed the ``"default"`` key with when
    nothing is recalled. ``said_at`` is when the conversation took place (aware, UTC):
    only facts current then are shown to the model, and, in a fact collection, written
    facts record it, relative times in them are resolved against it and updates
    supersede (see the module docstring). Model calls: one per extraction pass (plus
    repairs), one for the query model when ``spec.use_query_model``, and one per phase.
    """
    calls = 0
    ext = spec.extraction
    if not ext.enable_inserts:
        # Profile mode: a handful of documents; show them all (bounded by query_limit).
        queries: tuple[str, ...] = ()
    elif spec.use_query_model:
        reply = yield _query_request(messages, spec)
        calls += 1
        queries = _parse_queries(reply, spec.query_style)
    else:
        queries = recall_queries(messages)
    found: list[list[SearchItem]] = yield Recall(namespace, queries, spec.query_limit)
    now = said_at or _NEVER
    recalled = _ranked(
        [[item for item in items if holds(item.value, now=now)] for items in found],
        spec.query_limit,
    )
    existing, by_id = _existing(recalled, namespace, ext)
    temporal = said_at is not None and ext.enable_inserts

    puts: dict[tuple[tuple[str, ...], str], dict[str, Any]] = {}
    if not existing and default is not None:
        kind_name, content = default
        kind = ext.kinds.get(kind_name)
        assert kind is not None
        value = {"kind": kind_name, "content": content}
        item = SearchItem(namespace, "default", value, created_at=_EPOCH, updated_at=_EPOCH)
        by_id["default"] = item
        existing = [ExistingMemory("default", kind, kind.validate(content))]
        puts[(namespace, "default")] = value

    result = yield from extract_memories(
        ext, messages, existing, max_steps=max_steps, new_id=new_key
    )
    aliases = dict(result.aliases)
    calls += result.model_calls
    operations = list(result.operations)
    current = result.memories
    for phase in spec.phases:
        phase_existing = [
            ExistingMemory(m.id, *phase.spec.kinds.classify(m.content))
            for m in current
            if not _removed(m.content)
        ]
        phase_result = yield from extract_memories(
            phase.spec,
            messages if phase.include_messages else [],
            phase_existing,
            new_id=new_key,
            aliases=aliases,
        )
        aliases.update(phase_result.aliases)
        calls += phase_result.model_calls
        operations = _merge_ops(operations, list(phase_result.operations))
        current = phase_result.memories

    deletes: list[tuple[tuple[str, ...], str]] = []
    for op in operations:
        if isinstance(op, Delete):
            puts.pop(_where(op.id, by_id, namespace), None)
            if op.id in by_id:
                deletes.append(_where(op.id, by_id, namespace))
            continue
        kind = ext.kinds.get(op.kind) or _phase_kind(spec, op.kind)
        value = {"kind": op.kind, "content": kind.dump(op.content)}
        where = _where(op.id, by_id, namespace)
        if temporal and said_at is not None:
            value.update(fact_stamps(value["content"], said_at))
            old = by_id.get(op.id)
            if isinstance(op, Update) and old is not None and where not in puts:
                # the old fact gives way: kept under a new key, ended
                ended = superseded_value(old.value, value, said_at, where[1])
                puts[(tuple(old.namespace), new_key())] = ended
        puts[where] = value
    if puts or deletes:
        yield Write(tuple((ns, key, value) for (ns, key), value in puts.items()), tuple(deletes))
    return StoreResult(
        puts=[{"namespace": ns, "key": key, "value": value} for (ns, key), value in puts.items()],
        deletes=deletes,
        recalled=recalled,
        operations=operations,
        model_calls=calls,
    )


def fact_stamps(content: Any, said_at: datetime) -> dict[str, str]:
    """The temporal fields of a fact stated at ``said_at``."""
    out = {SAID_AT: format_time(said_at)}
    text = content.get("content") if isinstance(content, dict) else None
    day = resolve_relative(text, said_at) if isinstance(text, str) else None
    if day is not None:
        out[VALID_FROM] = day.isoformat()
    return out


def superseded_value(
    old: dict[str, Any], new: dict[str, Any], said_at: datetime, successor: str
) -> dict[str, Any]:
    """The superseded fact: its value, ended when the new one began (or was said)."""
    began = parse_time(old.get(VALID_FROM)) or parse_time(old.get(SAID_AT)) or _EPOCH
    new_start = parse_time(new.get(VALID_FROM))
    end = new_start if new_start is not None and began < new_start < said_at else said_at
    return {**old, VALID_TO: format_time(end), SUPERSEDED_BY: successor}


def _removed(content: Any) -> bool:
    return isinstance(content, RemoveDoc)


def _phase_kind(spec: StoreManagerSpec, name: str) -> Any:
    for phase in spec.phases:
        kind = phase.spec.kinds.get(name)
        if kind is not None:
            return kind
    raise AssertionError(f"unknown kind {name}")


def _where(
    doc_id: str, by_id: dict[str, SearchItem], namespace: tuple[str, ...]
) -> tuple[tuple[str, ...], str]:
    item = by_id.get(doc_id)
    if item is not None:
        return tuple(item.namespace), item.key
    return namespace, doc_id


def _merge_ops(first: list[MemoryOp], second: list[MemoryOp]) -> list[MemoryOp]:
    """The net effect of two passes, per memory id."""
    net: dict[str, MemoryOp] = {op.id: op for op in first}
    for op in second:
        before = net.get(op.id)
        if isinstance(before, Insert) and isinstance(op, Update):
            net[op.id] = Insert(op.id, op.kind, op.content)
        elif isinstance(before, Insert) and isinstance(op, Delete):
            del net[op.id]
        else:
            net[op.id] = op
    return list(net.values())
