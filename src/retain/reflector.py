"""Reflectors: the background work a :class:`~retain.ReflectionExecutor` or a
:class:`~retain.queue.QueueWorker` runs, and how one is called.

A reflector is a LangChain ``Runnable`` (a store manager, a graph, a chain) or a plain
function ``f(payload)`` / ``f(payload, config)``, sync or async. It runs with a *copy* of
the caller's config, inside :func:`retain.graph_context.store_scope` of the ``store`` it
is handed, so a store manager, memory tool or profile store made without ``store=`` (and
:func:`retain.graph_context.current_store`) finds it. LangGraph's private config keys are
never written.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Mapping
from typing import Any

from langchain_core.runnables import Runnable, RunnableConfig, RunnableLambda
from langgraph.store.base import BaseStore

from retain.graph_context import detached_config, store_scope

__all__ = ["Reflector", "as_runnable", "reflector_config", "reflector_namespace", "run_reflector"]

Reflector = Runnable[Any, Any] | Callable[..., Any]


def as_runnable(reflector: Reflector) -> Runnable[Any, Any]:
    """``reflector`` as a Runnable (functions are wrapped in ``RunnableLambda``)."""
    if isinstance(reflector, Runnable):
        return reflector
    return RunnableLambda(reflector)


def reflector_config(config: Mapping[str, Any] | None) -> RunnableConfig:
    """A new config for one reflector run: the caller's, detached from the run it came
    from (:func:`retain.graph_context.detached_config`)."""
    return detached_config(config)  # type: ignore[return-value]


def reflector_namespace(reflector: Reflector, config: Mapping[str, Any] | None) -> Any:
    """The namespace ``reflector`` writes for ``config``, when it says (store managers do)."""
    get_namespace = getattr(reflector, "get_namespace", None)
    if not callable(get_namespace):
        return None
    try:
        return tuple(get_namespace(dict(config or {})))
    except Exception:  # a template whose labels this config lacks: no namespace part
        return None


def _is_async(reflector: Reflector) -> bool:
    func = getattr(reflector, "func", None) if isinstance(reflector, RunnableLambda) else reflector
    afunc = getattr(reflector, "afunc", None)
    return inspect.iscoroutinefunction(func) or (func is None and afunc is not None)


def run_reflector(
    reflector: Reflector, payload: Any, config: Mapping[str, Any] | None, store: BaseStore | None
) -> Any:
    """Run ``reflector`` on ``payload`` in this thread and return its result."""
    runnable = as_runnable(reflector)
    run_config = reflector_config(config)
    with store_scope(store):
        if _is_async(runnable):
            return asyncio.run(runnable.ainvoke(payload, run_config))
        return runnable.invoke(payload, run_config)
