"""Where retain finds the LangGraph context: the running graph's store and config.

Every stateful part of retain (store managers, memory tools, the executor, the learning
machine) asks this module, lazily at call time, never when it is built:

* :func:`current_store`: the store of the LangGraph graph or ``@entrypoint`` running now
  (``langgraph.config.get_store()``), else the store a background reflector run was handed
  (:func:`store_scope`), else ``None``;
* :func:`current_config`: the config of the runnable running now
  (``langgraph.config.get_config()``), else ``None``;
* :func:`detached_config`: a copy of a config that is safe to use after the graph run that
  owned it has ended (LangGraph's internal ``__...`` keys dropped);
* :func:`resolve_store`: a store given explicitly, else :func:`current_store`, else
  retain's default file, opened once per process and announced once at ``WARNING`` with
  its absolute path.

Nothing here writes LangGraph's private config keys.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.store.base import BaseStore

__all__ = [
    "current_config",
    "current_store",
    "detached_config",
    "resolve_store",
    "store_scope",
]

logger = logging.getLogger("retain")

_HANDED: contextvars.ContextVar[BaseStore | None] = contextvars.ContextVar(
    "retain_handed_store", default=None
)
_DEFAULT: list[BaseStore] = []
_DEFAULT_LOCK = threading.Lock()


def current_store() -> BaseStore | None:
    """The running graph's store, else the store handed to this reflector run, else ``None``.

    Example:
        >>> from langgraph.func import entrypoint
        >>> from langgraph.store.memory import InMemoryStore
        >>> from retain.graph_context import current_store
        >>> store = InMemoryStore()
        >>> current_store() is None
        True
        >>> @entrypoint(store=store)
        ... def graph(_: str) -> bool:
        ...     return current_store() is store
        >>> graph.invoke("x")
        True
    """
    try:
        from langgraph.config import get_store

        found = get_store()
    except (RuntimeError, KeyError, AttributeError):  # outside a graph, or not in one
        found = None
    return found if found is not None else _HANDED.get()


def current_config() -> RunnableConfig | None:
    """The config of the runnable (graph, node, tool, entrypoint) running now, or ``None``."""
    try:
        from langgraph.config import get_config

        return get_config()
    except RuntimeError:  # outside a runnable context
        return None


def detached_config(config: Mapping[str, Any] | None) -> dict[str, Any]:
    """A copy of ``config`` for work that outlives the run it came from.

    ``configurable`` keeps the caller's keys (``thread_id``, ``user_id``, ...) without
    LangGraph's internal ``__...`` keys (the running graph's checkpointer, task and
    scratchpad); ``metadata`` and ``tags`` are copied; ``callbacks`` (bound to the ending
    run) are dropped. The given mapping is never changed.

    Example:
        >>> from retain.graph_context import detached_config
        >>> config = {"configurable": {"user_id": "u1", "__internal": "t"}, "tags": ["a"]}
        >>> detached_config(config)
        {'configurable': {'user_id': 'u1'}, 'tags': ['a']}
    """
    out: dict[str, Any] = {}
    for name, value in dict(config or {}).items():
        if name == "callbacks":
            continue
        if name == "configurable":
            value = {k: v for k, v in dict(value or {}).items() if not str(k).startswith("__")}
        elif isinstance(value, (dict, list)):
            value = type(value)(value)
        out[name] = value
    out.setdefault("configurable", {})
    return out


@contextlib.contextmanager
def store_scope(store: BaseStore | None) -> Iterator[None]:
    """Inside, :func:`current_store` answers ``store`` when no graph store is running.

    The executor and queue workers run each reflector inside one, so a store manager (or
    tool) made without ``store=`` writes to the store the executor was given.
    """
    if store is None:
        yield
        return
    token = _HANDED.set(store)
    try:
        yield
    finally:
        _HANDED.reset(token)


def resolve_store(store: BaseStore | None) -> BaseStore:
    """``store``, else :func:`current_store`, else retain's default store.

    The default is :func:`retain.stores.default_store` (``./.retain/memories.db`` relative
    to the working directory when first needed), opened once per process and announced
    once on the ``retain`` logger at ``WARNING`` with its absolute path.
    """
    if store is not None:
        return store
    found = current_store()
    if found is not None:
        return found
    with _DEFAULT_LOCK:
        if not _DEFAULT:
            from retain.stores import default_store

            opened = default_store()
            _DEFAULT.append(opened)
            logger.warning(
                "No store was given and no LangGraph store is running: retain keeps memories "
                "in its default store, the SQLite file %s. Pass store= (or run inside a graph "
                "compiled with a store) to choose where they go.",
                Path(opened.path).resolve(),
            )
        return _DEFAULT[0]
