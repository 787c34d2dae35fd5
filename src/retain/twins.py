"""One body for a method and its async twin.

A *steps* function does its work as a generator: each call on a store or a model it needs
it yields as a :class:`Call` (``item = yield from call(store, "get", namespace, key)``)
and receives the answer (an exception raised by the call is raised there). :func:`blocking` runs
it with the plain methods (``store.get(...)``), :func:`awaiting` with their ``a``-prefixed
twins (``await store.aget(...)``), so the logic between the calls, and the signature, are
written once.

Example:
    >>> import asyncio
    >>> from langgraph.store.memory import InMemoryStore
    >>> from retain.twins import Steps, awaiting, blocking, call
    >>> def count(store: InMemoryStore, namespace: tuple[str, ...]) -> Steps[int]:
    ...     items = yield from call(store, "search", namespace)
    ...     return len(items)
    >>> store = InMemoryStore()
    >>> store.put(("notes",), "k", {"text": "hi"})
    >>> blocking(count)(store, ("notes",)), asyncio.run(awaiting(count)(store, ("notes",)))
    (1, 1)
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine, Generator
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

__all__ = ["Call", "Steps", "arun", "awaiting", "blocking", "call", "not_blocking", "run"]

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class Call:
    """``target.method(*args, **kwargs)``, or ``await target.a<method>(...)``."""

    target: Any
    method: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]

    def bound(self, prefix: str) -> Any:
        """The method called: ``target.method``, or with ``prefix="a"`` its twin."""
        return getattr(self.target, prefix + self.method)


Steps = Generator[Call, Any, R]
"""A steps function's generator: yields :class:`Call`\\ s, returns the result."""


def call(target: Any, method: str, /, *args: Any, **kwargs: Any) -> Steps[Any]:
    """One step: ``target.method(*args, **kwargs)`` (or its twin ``target.a<method>``);
    returns its answer."""
    answer = yield Call(target, method, args, kwargs)
    return answer


def _resume(steps: Steps[R], answer: Any, error: Exception | None) -> tuple[bool, Any]:
    """Hand ``steps`` the last call's answer (or error): ``(True, the next call)``, or
    ``(False, the result)`` once it returns."""
    try:
        return True, steps.throw(error) if error is not None else steps.send(answer)
    except StopIteration as stop:
        return False, stop.value


def run(steps: Steps[R]) -> R:
    """Run ``steps`` with the plain methods."""
    going, request = _resume(steps, None, None)
    while going:
        try:
            answer, error = request.bound("")(*request.args, **request.kwargs), None
        except Exception as e:
            answer, error = None, e
        going, request = _resume(steps, answer, error)
    result: R = request
    return result


async def arun(steps: Steps[R]) -> R:
    """Run ``steps`` with the ``a``-prefixed twins, awaited."""
    going, request = _resume(steps, None, None)
    while going:
        try:
            answer, error = await request.bound("a")(*request.args, **request.kwargs), None
        except Exception as e:
            answer, error = None, e
        going, request = _resume(steps, answer, error)
    result: R = request
    return result


def blocking(steps: Callable[P, Steps[R]]) -> Callable[P, R]:
    """The steps function ``steps`` as a plain function (same signature and docstring)."""

    @functools.wraps(steps)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        return run(steps(*args, **kwargs))

    return wrapper


def awaiting(steps: Callable[P, Steps[R]]) -> Callable[P, Coroutine[Any, Any, R]]:
    """The steps function ``steps`` as an async function (same signature)."""

    @functools.wraps(steps)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        return await arun(steps(*args, **kwargs))

    return wrapper


def not_blocking(func: Callable[P, R]) -> Callable[P, Coroutine[Any, Any, R]]:
    """The async twin of ``func``, a function that never blocks (it hands work on): it
    calls ``func`` directly."""

    @functools.wraps(func)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        return func(*args, **kwargs)

    return wrapper
