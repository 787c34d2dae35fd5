"""Drive a core algorithm (a generator of :class:`ModelRequest`) with real model calls.

These two small functions are the only place where core algorithms meet ``invoke`` and
``ainvoke``; everything else is written once.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any, TypeVar

from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.runnables import Runnable, RunnableConfig

from retain.core.requests import CoreFlow, ModelRequest
from retain.errors import ConfigurationError
from retain.llm.structured import bind_request

__all__ = ["ModelRunner", "adrive", "drive"]

T = TypeVar("T")


def _as_ai_message(out: Any) -> AIMessage:
    if isinstance(out, AIMessage):
        return out
    if isinstance(out, BaseMessage):
        return AIMessage(content=out.content)
    if isinstance(out, str):
        return AIMessage(content=out)
    raise TypeError(f"the model returned {type(out).__name__}, expected a message")


class ModelRunner:
    """Calls the right model for each request, caching bound runnables by ``cache_key``."""

    def __init__(self, models: Mapping[str, Runnable[Any, Any]]) -> None:
        self._models = dict(models)
        self._cache: dict[tuple[str, Hashable], Runnable[Any, Any]] = {}

    def bound(self, request: ModelRequest) -> Runnable[Any, Any]:
        model = self._models.get(request.role)
        if model is None:
            raise ConfigurationError(f"no model configured for role {request.role!r}")
        if request.cache_key is None:
            return bind_request(model, request)
        key = (request.role, request.cache_key)
        runnable = self._cache.get(key)
        if runnable is None:
            runnable = self._cache[key] = bind_request(model, request)
        return runnable

    def invoke(self, request: ModelRequest, config: RunnableConfig | None) -> AIMessage:
        return _as_ai_message(self.bound(request).invoke(list(request.messages), config))

    async def ainvoke(self, request: ModelRequest, config: RunnableConfig | None) -> AIMessage:
        return _as_ai_message(await self.bound(request).ainvoke(list(request.messages), config))


def drive(flow: CoreFlow[T], runner: ModelRunner, config: RunnableConfig | None = None) -> T:
    """Run ``flow`` to completion with synchronous model calls."""
    try:
        request = next(flow)
        while True:
            request = flow.send(runner.invoke(request, config))
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]


async def adrive(flow: CoreFlow[T], runner: ModelRunner, config: RunnableConfig | None = None) -> T:
    """Run ``flow`` to completion with asynchronous model calls."""
    try:
        request = next(flow)
        while True:
            request = flow.send(await runner.ainvoke(request, config))
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
