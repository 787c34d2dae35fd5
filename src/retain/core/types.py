"""The values the memory core works with: memories, the operations on them, results.

These are plain typed values with no behaviour that touches a model or a store.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypeAlias

from pydantic import BaseModel, Field

__all__ = [
    "Delete",
    "ExtractedMemory",
    "ExtractionResult",
    "Insert",
    "Memory",
    "MemoryOp",
    "RemoveDoc",
    "Update",
]


class Memory(BaseModel):
    """Call this tool once for each new memory you want to record. Use multi-tool calling to
    record multiple new memories."""

    content: str = Field(
        description="The memory as a well-written, standalone episode/fact/note/preference/etc."
        " Refer to the user's instructions for more information the preferred memory organization."
    )


class RemoveDoc(BaseModel):
    """Marks the memory ``json_doc_id`` as deleted. Returned by the memory manager."""

    json_doc_id: str = Field(description="The id of the memory to delete.")


class ExtractedMemory(NamedTuple):
    """One memory: its id and its content.

    ``content`` is an instance of one of the manager's schemas (a pydantic model, a
    dataclass, or a ``dict`` for JSON-schema dicts), or :class:`RemoveDoc` when the
    memory was deleted. Being a tuple, ``memory[1]`` is the content.
    """

    id: str
    content: Any


@dataclass(frozen=True)
class Insert:
    """A new memory ``id`` of schema ``kind`` was created."""

    id: str
    kind: str
    content: Any


@dataclass(frozen=True)
class Update:
    """The existing memory ``id`` now has ``content`` (``previous`` is what it had)."""

    id: str
    kind: str
    content: Any
    previous: Any


@dataclass(frozen=True)
class Delete:
    """The existing memory ``id`` was deleted."""

    id: str
    kind: str
    previous: Any


MemoryOp: TypeAlias = Insert | Update | Delete


@dataclass(frozen=True)
class ExtractionResult:
    """What one run of the memory manager produced.

    ``memories`` is what ``invoke`` returns: every existing memory in its original order
    (updated ones with their new content, deleted ones as :class:`RemoveDoc`), followed by
    the new memories. ``operations`` lists the net change per memory id, in the same
    order, leaving out untouched memories: what a store must write.
    """

    memories: list[ExtractedMemory]
    operations: list[MemoryOp]
    model_calls: int = 0
    raw: Sequence[Any] = field(default=(), repr=False)
    aliases: Mapping[str, str] = field(default_factory=dict, repr=False)
    """``{memory id: short id}``: how the model saw each memory (see
    :mod:`retain.core.aliases`)."""
