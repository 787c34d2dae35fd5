"""``create_memory_manager``: the functional memory manager (no storage).

It turns a conversation plus the memories you already have into the updated list of
memories, using one chat model call per consolidation pass.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, Literal, TypedDict

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage
from langchain_core.runnables import Runnable, RunnableConfig
from typing_extensions import NotRequired

from retain.core.extraction import (
    ExtractionSpec,
    extract_memories,
    normalize_existing,
)
from retain.core.messages import normalize_messages
from retain.core.prompts import DEFAULT_INSTRUCTIONS
from retain.core.requests import CoreFlow
from retain.core.schemas import SchemaSet
from retain.core.types import ExtractedMemory, ExtractionResult, Memory
from retain.errors import ConfigurationError, InvalidInputError
from retain.llm.driver import ModelRunner, adrive, drive
from retain.llm.resolve import resolve_model
from retain.llm.structured import resolve_style
from retain.runnables import ChainRunnable, takes_arguments_of

__all__ = ["MemoryManager", "MemoryState", "create_memory_enricher", "create_memory_manager"]


class MemoryState(TypedDict):
    """Input of a memory manager."""

    messages: Sequence[Any]
    existing: NotRequired[Sequence[Any]]
    max_steps: NotRequired[int]


def _parse_input(value: Any) -> tuple[list[BaseMessage], Any, int]:
    if isinstance(value, dict):
        if "messages" not in value:
            raise InvalidInputError(
                "The input dict needs a 'messages' key (and optionally 'existing' and "
                f"'max_steps'); got keys {sorted(value)}."
            )
        max_steps = value.get("max_steps")
        return (
            normalize_messages(value["messages"]),
            value.get("existing"),
            1 if max_steps is None else max_steps,
        )
    if isinstance(value, (list, tuple, str, BaseMessage)):
        return normalize_messages(value), None, 1
    raise InvalidInputError(
        "The input must be a list of messages or a dict {'messages': ..., 'existing': ..., "
        f"'max_steps': ...}}; got {type(value).__name__}."
    )


class MemoryManager(ChainRunnable[MemoryState | Sequence[Any], list[ExtractedMemory]]):
    """Extracts, updates and deletes memories from conversations.

    Build it with :func:`create_memory_manager`. ``invoke`` extracts memories from a
    message list or ``{"messages", "existing", "max_steps"}``.
    """

    def __init__(
        self,
        model: str | BaseChatModel | Runnable[Any, Any],
        *,
        schemas: Sequence[Any] = (Memory,),
        instructions: str = DEFAULT_INSTRUCTIONS,
        enable_inserts: bool = True,
        enable_updates: bool = True,
        enable_deletes: bool = False,
        structured_output: Literal["auto", "tool_calling", "json_schema"] = "auto",
        max_repairs: int = 2,
    ) -> None:
        if not isinstance(instructions, str):
            raise ConfigurationError("instructions must be a string.")
        self.model = resolve_model(model)
        self.spec = ExtractionSpec(
            kinds=SchemaSet(schemas if schemas else (Memory,)),
            instructions=instructions,
            enable_inserts=bool(enable_inserts),
            enable_updates=bool(enable_updates),
            enable_deletes=bool(enable_deletes),
            style=resolve_style(self.model, structured_output),
            max_repairs=max_repairs,
        )
        self._runner = ModelRunner({"main": self.model})

    @property
    def schemas(self) -> SchemaSet:
        return self.spec.kinds

    def flow(self, input: Any, *, new_id: Any = None) -> CoreFlow[ExtractionResult]:
        """The pure extraction flow for ``input`` (for custom drivers and tests)."""
        messages, existing, max_steps = _parse_input(input)
        normalized = normalize_existing(existing, self.spec.kinds)
        return extract_memories(
            self.spec,
            messages,
            normalized,
            max_steps=max_steps,
            new_id=new_id or (lambda: str(uuid.uuid4())),
        )

    def extract(self, input: Any, config: RunnableConfig | None = None) -> ExtractionResult:
        """Like :meth:`invoke`, but returns the full :class:`ExtractionResult`."""
        return drive(self.flow(input), self._runner, config)

    async def aextract(self, input: Any, config: RunnableConfig | None = None) -> ExtractionResult:
        """Like :meth:`ainvoke`, but returns the full :class:`ExtractionResult`."""
        return await adrive(self.flow(input), self._runner, config)

    def _invoke(self, input: Any, config: RunnableConfig) -> list[ExtractedMemory]:
        return self.extract(input, config).memories

    async def _ainvoke(self, input: Any, config: RunnableConfig) -> list[ExtractedMemory]:
        return (await self.aextract(input, config)).memories

    async def __call__(
        self, messages: Any, existing: Sequence[Any] | None = None
    ) -> list[ExtractedMemory]:
        """``await manager(messages)`` is ``await manager.ainvoke({"messages": messages})``."""
        state: dict[str, Any] = {"messages": messages}
        if existing is not None:
            state["existing"] = existing
        return await self.ainvoke(state)


@takes_arguments_of(MemoryManager)
def create_memory_manager(*args: Any, **kwargs: Any) -> MemoryManager:
    """Create a memory manager: conversation + existing memories -> updated memories.

    Args:
        model: A LangChain chat model or a ``"provider:model"`` string
            (``"openai:gpt-4o-mini"``, ``"anthropic:claude-3-5-sonnet-latest"``,
            ``"ollama:llama3.1"``, ``"vllm:MODEL@http://host:8000/v1"``, ``"local:qwen2.5-1.5b"``).
        schemas: Memory schemas: pydantic models, dataclasses, TypedDicts or JSON-schema dicts.
            Defaults to :class:`~retain.Memory` (one text field, ``content``).
        instructions: What to remember and how; replaces the default instructions.
        enable_inserts: Allow new memories. With ``False`` the manager keeps one document per
            schema (a *profile*): created by the first conversation, then updated in place by
            patches.
        enable_updates: Allow changing existing memories (by JSON patch / merge patch).
        enable_deletes: Allow deleting memories; deletions come back as
            ``ExtractedMemory(id, RemoveDoc(json_doc_id=id))``.
        structured_output: ``"tool_calling"`` (OpenAI, Anthropic, ...), ``"json_schema"``
            (llama.cpp, Ollama, vLLM guided decoding) or ``"auto"`` to pick from the model.
        max_repairs: How many times an invalid answer is sent back to the model to be fixed
            before :class:`~retain.ModelOutputError` is raised (default 2).

    Returns:
        A Runnable: ``invoke`` / ``ainvoke`` / ``batch`` take a message list or
        ``{"messages": [...], "existing": [...], "max_steps": n}`` and return
        ``list[ExtractedMemory]``: existing memories in their order (updated in place, deleted
        ones as ``RemoveDoc``), then new ones. ``await manager(messages)`` also works.

    Each consolidation pass (``max_steps``, default 1) is one model call, plus up to
    ``max_repairs`` repair calls if the model's answer does not validate.

    Example:
        >>> from retain import create_memory_manager
        >>> from retain.testing import FakeChatModel, insert
        >>> model = FakeChatModel([[insert("User prefers dark mode in all apps")]])
        >>> manager = create_memory_manager(model)
        >>> memories = manager.invoke([{"role": "user", "content": "I prefer dark mode"}])
        >>> memories[0][1].content
        'User prefers dark mode in all apps'
    """
    return MemoryManager(*args, **kwargs)


create_memory_enricher = create_memory_manager
"""Alias of :func:`create_memory_manager` (LangMem's older name)."""
