"""Reflectors: the background work a :class:`~retain.ReflectionExecutor` or a
:class:`~retain.queue.QueueWorker` runs, and how one is called.

A reflector is a LangChain ``Runnable`` (a store manager, a graph, a chain) or a plain
function ``f(payload)`` / ``f(payload, config)``, sync or async. It runs with a *copy* of
the caller's config; with a ``store``, the copy carries it the way a LangGraph graph
does, so ``get_store()`` (and a store manager created without ``store=``) finds it.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Mapping
from typing import Any

from langchain_core.runnables import Runnable, RunnableConfig, RunnableLambda
from langgraph.store.base import BaseStore

__all__ = ["Reflector", "as_runnable", "reflector_config", "reflector_namespace", "run_reflector"]

Reflector = Runnable[Any, Any] | Callable[..., Any]

_RUNTIME_KEY = "__pregel_runtime"  # where LangGraph's get_store() looks


def as_runnable(reflector: Reflector) -> Runnable[Any, Any]:
    """``reflector`` as a Runnable (functions are wrapped in ``RunnableLambda``)."""
    if isinstance(reflector, Runnable):
        return reflector
    return RunnableLambda(reflector)


def reflector_config(config: Mapping[str, Any] | None, store: BaseStore | None) -> RunnableConfig:
    """A new config for one reflector run: the caller's, copied, plus ``store``."""
    copied: dict[str, Any] = dict(config or {})
    configurable = dict(copied.get("configurable") or {})
    if store is not None:
        from langgraph.runtime import Runtime

        configurable[_RUNTIME_KEY] = Runtime(store=store)
    copied["configurable"] = configurable
    for name in ("metadata", "tags"):
        if name in copied and isinstance(copied[name], (dict, list)):
            copied[name] = type(copied[name])(copied[name])
    return copied  # type: ignore[return-value]


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
    run_config = reflector_config(config, store)
    if _is_async(runnable):
        return asyncio.run(runnable.ainvoke(payload, run_config))
    return runnable.invoke(payload, run_config)
