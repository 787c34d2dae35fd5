"""What a pure core algorithm asks its driver to do.

Core algorithms are generators: they ``yield`` a :class:`ModelRequest` and receive the
model's ``AIMessage`` back, then ``return`` their result. Only the drivers in
``retain.llm`` call models, so each algorithm is written once for sync and async.
"""

from __future__ import annotations

from collections.abc import Generator, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias, TypeVar

from langchain_core.messages import AIMessage, BaseMessage

__all__ = ["CoreFlow", "ModelRequest", "StructuredStyle"]

StructuredStyle: TypeAlias = Literal["tool_calling", "json_schema"]
"""How structured output is requested: tool calls, or JSON-schema-constrained text."""

T = TypeVar("T")


@dataclass(frozen=True, eq=False)
class ModelRequest:
    """One model call.

    Exactly one of three shapes:

    * ``tools`` set: bind these OpenAI-format function definitions with ``tool_choice``;
    * ``response_schema`` set: ask for JSON constrained by this schema;
    * neither: a plain text completion.

    ``cache_key`` identifies the binding (tools or schema) so a driver can reuse it
    across calls; ``None`` means do not cache. ``role`` names which model to use when a
    component has more than one (``"main"`` or ``"query"``).
    """

    messages: Sequence[BaseMessage]
    tools: tuple[dict[str, Any], ...] = ()
    tool_choice: str | None = None
    response_schema: dict[str, Any] | None = None
    schema_name: str = "response"
    cache_key: Hashable | None = None
    role: str = "main"
    metadata: dict[str, Any] = field(default_factory=dict)


CoreFlow: TypeAlias = Generator[ModelRequest, AIMessage, T]
"""A core algorithm: yields model requests, receives replies, returns ``T``."""
