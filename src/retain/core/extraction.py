"""The memory-extraction algorithm, free of I/O.

:func:`extract_memories` is a generator (see :mod:`retain.core.requests`): it yields
model requests and receives the replies, validates every proposed operation against the
current memories, asks the model to repair what failed (a bounded number of times), and
returns an :class:`~retain.core.types.ExtractionResult`.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jsonpatch
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage

from retain.core import protocol
from retain.core.aliases import Aliases
from retain.core.facts import same_subject, third_person
from retain.core.messages import message_text, render_transcript
from retain.core.prompts import build_system_prompt, build_user_prompt
from retain.core.protocol import (
    Problem,
    Proposal,
    ProposedDelete,
    ProposedDone,
    ProposedInsert,
    ProposedUpdate,
)
from retain.core.requests import CoreFlow, ModelRequest, StructuredStyle
from retain.core.schemas import ContentInvalid, MemoryKind, SchemaSet
from retain.core.types import (
    Delete,
    ExtractedMemory,
    ExtractionResult,
    Insert,
    MemoryOp,
    RemoveDoc,
    Update,
)
from retain.errors import ConfigurationError, InvalidInputError, ModelOutputError

__all__ = ["ExistingMemory", "ExtractionSpec", "extract_memories", "normalize_existing"]


@dataclass(frozen=True)
class ExtractionSpec:
    """Everything about a memory manager that does not change between calls."""

    kinds: SchemaSet
    instructions: str
    enable_inserts: bool = True
    enable_updates: bool = True
    enable_deletes: bool = False
    style: StructuredStyle = "tool_calling"
    max_repairs: int = 2
    facts: bool = False
    """Fact mode (the store manager's): the user's first-person wording becomes "User ..."
    and an update that names another subject is made an insert
    (:mod:`retain.core.facts`), so a wrong id loses no fact."""
    _tool_cache: dict[tuple[Any, ...], tuple[dict[str, Any], ...]] = field(
        default_factory=dict, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        repairs = self.max_repairs
        if isinstance(repairs, bool) or not isinstance(repairs, int) or repairs < 0:
            raise ConfigurationError(f"max_repairs must be an integer >= 0; got {repairs!r}.")

    def tools(
        self, insert_kinds: Sequence[MemoryKind], updates: bool, deletes: bool
    ) -> tuple[tuple[Any, ...], tuple[dict[str, Any], ...]]:
        key = (tuple(k.name for k in insert_kinds), updates, deletes)
        tools = self._tool_cache.get(key)
        if tools is None:
            tools = protocol.extraction_tools(insert_kinds, updates=updates, deletes=deletes)
            self._tool_cache[key] = tools
        return key, tools


@dataclass(frozen=True)
class ExistingMemory:
    id: str
    kind: MemoryKind
    content: Any


class _Doc:
    __slots__ = ("_dumped", "content", "kind")

    def __init__(self, kind: MemoryKind, content: Any) -> None:
        self.kind = kind
        self.content = content
        self._dumped: dict[str, Any] | None = None

    def dumped(self) -> dict[str, Any]:
        if self._dumped is None:
            self._dumped = self.kind.dump(self.content)
        return self._dumped


def normalize_existing(existing: Any, kinds: SchemaSet) -> list[ExistingMemory]:
    """Accept ``ExtractedMemory`` items, ``(id, content)`` tuples or plain strings.

    Plain strings get ids derived from their text, so the same string keeps its id.
    Raises :class:`InvalidInputError` for duplicate ids or content that fits no schema.
    """
    if existing is None:
        return []
    if isinstance(existing, (str, dict)) or not isinstance(existing, Sequence):
        raise InvalidInputError(
            "existing must be a list of ExtractedMemory items, (id, content) pairs or strings; "
            f"got {type(existing).__name__}."
        )
    out: list[ExistingMemory] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(existing):
        if isinstance(item, str):
            doc_id = str(uuid.uuid5(uuid.NAMESPACE_URL, "retain:" + item))
            if doc_id in seen:  # the very same text twice: one memory
                continue
            content: Any = item
        elif isinstance(item, (tuple, list)) and len(item) in (2, 3):
            doc_id, content = item[0], item[-1]
            if not isinstance(doc_id, str) or not doc_id:
                raise InvalidInputError(
                    f"existing[{i}] has id {doc_id!r}; ids must be non-empty strings."
                )
            if doc_id in seen:
                raise InvalidInputError(
                    f"existing[{i}] and existing[{seen[doc_id]}] share the id {doc_id!r}; "
                    "each memory needs a unique id."
                )
        else:
            raise InvalidInputError(
                f"existing[{i}] must be an ExtractedMemory, an (id, content) pair or a string; "
                f"got {type(item).__name__}."
            )
        if isinstance(content, RemoveDoc):
            raise InvalidInputError(
                f"existing[{i}] ({doc_id}) is a RemoveDoc; drop deleted memories before passing "
                "them back."
            )
        try:
            kind, normalized = kinds.classify(content)
        except ContentInvalid as e:
            raise InvalidInputError(f"existing[{i}] ({doc_id}): content {e}") from None
        seen[doc_id] = i
        out.append(ExistingMemory(doc_id, kind, normalized))
    return out


def _merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge_patch(result.get(key), value)
    return result


class _Run:
    """Mutable state of one extraction run."""

    def __init__(
        self,
        spec: ExtractionSpec,
        existing: list[ExistingMemory],
        new_id: Callable[[], str],
        aliases: Mapping[str, str] | None = None,
    ) -> None:
        self.spec = spec
        self.new_id = new_id
        self.origin: dict[str, _Doc] = {m.id: _Doc(m.kind, m.content) for m in existing}
        self.state: dict[str, _Doc] = dict(self.origin)
        self.deleted: set[str] = set()
        self.aliases = Aliases(self.origin, known=aliases)

    # -- what the model may do now -------------------------------------------------
    def insertable(self) -> list[MemoryKind]:
        if self.spec.enable_inserts:
            return list(self.spec.kinds)
        present = {d.kind.name for d in self.state.values()}
        return [k for k in self.spec.kinds if k.name not in present]

    def profile_kinds(self) -> list[tuple[str, str | None]]:
        if self.spec.enable_inserts:
            return []
        first: dict[str, str] = {}
        for doc_id, doc in self.state.items():
            first.setdefault(doc.kind.name, self.aliases.show(doc_id))
        return [(k.name, first.get(k.name)) for k in self.spec.kinds]

    def request(self, transcript: str, step: int, max_steps: int) -> ModelRequest | None:
        spec = self.spec
        inserts = self.insertable()
        updates = spec.enable_updates and bool(self.state)
        deletes = spec.enable_deletes and bool(self.state)
        if not inserts and not updates and not deletes:
            return None
        json_style = spec.style == "json_schema"
        memories = [(self.aliases.show(i), d.kind.name, d.dumped()) for i, d in self.state.items()]
        system = build_system_prompt(
            json_style=json_style,
            insert_kinds=inserts,
            kinds=list(spec.kinds),
            updates=updates,
            deletes=deletes,
        )
        user = build_user_prompt(
            instructions=spec.instructions,
            memories=memories,
            transcript=transcript,
            json_style=json_style,
            inserts=spec.enable_inserts,
            profile_kinds=self.profile_kinds(),
            updates=updates,
            deletes=deletes,
            step=step,
            max_steps=max_steps,
        )
        messages: list[BaseMessage] = [SystemMessage(system), HumanMessage(user)]
        return self.request_for(messages, inserts, updates, deletes)

    def request_for(
        self,
        messages: list[BaseMessage],
        inserts: list[MemoryKind] | None = None,
        updates: bool | None = None,
        deletes: bool | None = None,
    ) -> ModelRequest:
        spec = self.spec
        inserts = self.insertable() if inserts is None else inserts
        updates = (spec.enable_updates and bool(self.state)) if updates is None else updates
        deletes = (spec.enable_deletes and bool(self.state)) if deletes is None else deletes
        if spec.style == "tool_calling":
            key, tools = spec.tools(inserts, updates, deletes)
            return ModelRequest(messages, tools=tools, tool_choice="any", cache_key=key)
        by_kind: dict[str, tuple[MemoryKind, list[str]]] = {}
        for doc_id, doc in self.state.items():
            by_kind.setdefault(doc.kind.name, (doc.kind, []))[1].append(self.aliases.show(doc_id))
        schema = protocol.response_schema(
            inserts,
            list(by_kind.values()) if updates else [],
            [self.aliases.show(i) for i in self.state] if deletes else [],
        )
        return ModelRequest(messages, response_schema=schema, schema_name="memory_operations")

    # -- applying proposals ----------------------------------------------------------
    def _unknown_id(self, doc_id: str) -> str:
        if self.aliases.real(doc_id) in self.deleted:
            return f"Memory {doc_id!r} was already deleted."
        ids = [self.aliases.show(i) for i in self.state]
        shown = ", ".join(ids[:20]) + (" ..." if len(ids) > 20 else "")
        return f"There is no memory with id {doc_id!r}. Existing ids: {shown or '(none)'}."

    def apply(self, proposals: list[Proposal]) -> tuple[dict[str, str], list[Problem], bool, int]:
        """Apply valid proposals to the state; return outcomes, problems, done, applied."""
        outcomes: dict[str, str] = {}
        problems: list[Problem] = []
        done = False
        applied = 0
        for p in proposals:
            if isinstance(p, ProposedDone):
                done = True
                outcomes[p.ref] = "OK."
                continue
            try:
                message = self._apply_one(p)
            except ContentInvalid as e:
                problems.append(Problem(p.ref, str(e)))
                continue
            outcomes[p.ref] = message
            applied += 1
        return outcomes, problems, done, applied

    def _apply_one(self, p: Proposal) -> str:
        spec = self.spec
        if isinstance(p, ProposedInsert):
            kind = spec.kinds.get(p.kind)
            if kind is None:
                raise ContentInvalid(
                    f"Unknown memory kind {p.kind!r}; the kinds are {spec.kinds.names()}."
                )
            if kind not in self.insertable():
                existing = next(
                    self.aliases.show(i) for i, d in self.state.items() if d.kind is kind
                )
                raise ContentInvalid(
                    f"Creating memories is disabled and a {kind.name} already exists (id "
                    f"{existing}); update it instead."
                )
            content = kind.validate(self._wording(p.content))
            doc_id = self.new_id()
            self.state[doc_id] = _Doc(kind, content)
            return f"OK: created memory {self.aliases.show(doc_id)}."
        if isinstance(p, ProposedUpdate):
            if not spec.enable_updates:
                raise ContentInvalid("Updating memories is disabled; do not update.")
            real = self.aliases.real(p.id)
            doc = self.state.get(real)
            if doc is None:
                raise ContentInvalid(self._unknown_id(p.id))
            data = doc.dumped()
            try:
                if p.patches is not None:
                    new_data = jsonpatch.apply_patch(data, p.patches)
                elif p.set is not None:
                    new_data = _merge_patch(data, p.set)
                else:
                    new_data = p.content
            except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as e:
                raise ContentInvalid(f"The patch for {p.id} does not apply: {e}") from None
            except (TypeError, KeyError, ValueError) as e:
                raise ContentInvalid(f"The patch for {p.id} is malformed: {e}") from None
            content = doc.kind.validate(self._wording(new_data))
            if (
                spec.facts
                and spec.enable_inserts
                and not same_subject(data, doc.kind.dump(content))
            ):
                # another subject: the old fact stays, the new one is added
                doc_id = self.new_id()
                self.state[doc_id] = _Doc(doc.kind, content)
                return (
                    f"OK: created memory {self.aliases.show(doc_id)} ({p.id} is about another "
                    "subject and was kept)."
                )
            self.state[real] = _Doc(doc.kind, content)
            return f"OK: updated memory {p.id}."
        assert isinstance(p, ProposedDelete)
        if not spec.enable_deletes:
            raise ContentInvalid(
                f"Deleting memories is disabled, so {p.id!r} cannot be deleted; update it "
                "instead if it is outdated."
            )
        real = self.aliases.real(p.id)
        if real not in self.state:
            raise ContentInvalid(self._unknown_id(p.id))
        del self.state[real]
        self.deleted.add(real)
        return f"OK: deleted memory {p.id}."

    def _wording(self, data: Any) -> Any:
        """In fact mode, the memory's text in the third person."""
        text = data.get("content") if isinstance(data, dict) else None
        if not self.spec.facts or not isinstance(text, str):
            return data
        return {**data, "content": third_person(text)}

    # -- result ------------------------------------------------------------------------
    def result(self, calls: int, raw: list[AIMessage]) -> ExtractionResult:
        memories: list[ExtractedMemory] = []
        ops: list[MemoryOp] = []
        for doc_id, before in self.origin.items():
            after = self.state.get(doc_id)
            if after is None:
                memories.append(ExtractedMemory(doc_id, RemoveDoc(json_doc_id=doc_id)))
                ops.append(Delete(doc_id, before.kind.name, before.content))
                continue
            memories.append(ExtractedMemory(doc_id, after.content))
            if after is not before and after.dumped() != before.dumped():
                ops.append(Update(doc_id, after.kind.name, after.content, before.content))
        for doc_id, doc in self.state.items():
            if doc_id not in self.origin:
                memories.append(ExtractedMemory(doc_id, doc.content))
                ops.append(Insert(doc_id, doc.kind.name, doc.content))
        return ExtractionResult(
            memories=memories,
            operations=ops,
            model_calls=calls,
            raw=raw,
            aliases=self.aliases.mapping(),
        )


def _feedback(
    reply: AIMessage, style: StructuredStyle, outcomes: dict[str, str], problems: list[Problem]
) -> list[BaseMessage]:
    by_ref = {p.ref: p.message for p in problems}
    messages: list[BaseMessage] = [reply]
    if style == "tool_calling":
        ids = [c.get("id") for c in reply.tool_calls] + [
            c.get("id") for c in reply.invalid_tool_calls
        ]
        for call_id in ids:
            if not call_id:
                continue
            if call_id in by_ref:
                text = f"Error: {by_ref[call_id]}"
            else:
                text = outcomes.get(call_id, "OK.")
            messages.append(ToolMessage(content=text, tool_call_id=call_id))
        loose = [m for r, m in by_ref.items() if r not in ids]
        note = "".join(f"\n- {m}" for m in loose)
        messages.append(
            HumanMessage(
                "Some of your changes could not be applied (see the errors above); the ones "
                "marked OK are applied. Call the tools again for the failed ones only, "
                f"fixed.{note}"
            )
        )
    else:
        if not message_text(reply):
            messages[0] = AIMessage(content=str(reply.content or "(empty)"))
        listed = "".join(f"\n- {p.ref}: {p.message}" for p in problems)
        messages.append(
            HumanMessage(
                f"These operations could not be applied:{listed}\nAny others were applied. "
                'Answer again with {"operations": [...]} holding only the corrected versions '
                "of the failed operations."
            )
        )
    return messages


def extract_memories(
    spec: ExtractionSpec,
    messages: Sequence[BaseMessage],
    existing: list[ExistingMemory],
    *,
    max_steps: int = 1,
    new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    aliases: Mapping[str, str] | None = None,
) -> CoreFlow[ExtractionResult]:
    """Run extraction and consolidation for up to ``max_steps`` passes.

    Each pass is one model call, plus up to ``spec.max_repairs`` repair calls when part of
    the answer is invalid. Raises :class:`ModelOutputError` when problems remain. The
    model sees short ids (:class:`~retain.core.aliases.Aliases`), kept across passes;
    ``aliases`` (``{real id: alias}``, from an earlier result's ``aliases``) keeps them
    across runs too.
    """
    if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
        raise InvalidInputError(f"max_steps must be a positive integer; got {max_steps!r}.")
    run = _Run(spec, existing, new_id, aliases)
    parse = protocol.parse_tool_reply if spec.style == "tool_calling" else protocol.parse_json_reply
    transcript = render_transcript(messages)
    calls = 0
    raw: list[AIMessage] = []
    for step in range(max_steps):
        request = run.request(transcript, step, max_steps)
        if request is None:
            break
        conversation = list(request.messages)
        reply = yield request
        calls += 1
        raw.append(reply)
        applied_total = 0
        done = False
        for attempt in range(spec.max_repairs + 1):
            proposals, problems = parse(reply)
            outcomes, invalid, step_done, applied = run.apply(proposals)
            problems = problems + invalid
            applied_total += applied
            done = done or step_done
            if not problems:
                break
            if attempt == spec.max_repairs:
                partial = run.result(calls, raw)
                raise ModelOutputError(
                    f"The model's memory operations were still invalid after {attempt} repair "
                    f"attempt(s); {len(partial.operations)} valid operation(s) are in .valid and "
                    "the raw output in .raw.",
                    raw=raw,
                    errors=[f"{p.ref}: {p.message}" for p in problems],
                    valid=partial.operations,
                )
            conversation += _feedback(reply, spec.style, outcomes, problems)
            reply = yield run.request_for(conversation)
            calls += 1
            raw.append(reply)
        if done or applied_total == 0:
            break
    return run.result(calls, raw)
