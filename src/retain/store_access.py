"""How the stateful layer talks to a LangGraph ``BaseStore``, and the drivers of store flows.

retain's own stores (:class:`retain.stores.RetainStore`) recall by hybrid keyword + vector
search with recency weighting and record provenance in their history; any other
``BaseStore`` gets plain ``search`` (similarity when it has an index). This module is the
one place that knows the difference.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator, Mapping
from typing import Any, TypeVar, cast

from langchain_core.runnables import RunnableConfig
from langgraph.store.base import BaseStore, PutOp, SearchItem, SearchOp

from retain.core.requests import ModelRequest
from retain.core.store_flow import Recall, StoreFlow, Write
from retain.llm.driver import ModelRunner

__all__ = ["RECALL_DEFAULTS", "StoreAccess", "adrive_store_flow", "drive_store_flow"]

T = TypeVar("T")
logger = logging.getLogger("retain")

RECALL_DEFAULTS: Mapping[str, Any] = {"mode": "hybrid"}
"""How retain's stores rank recalled memories: the store's own ranking
(:mod:`retain.core.ranking`); recency only where a question asks for it."""


_DEFAULT: list[BaseStore] = []


def resolve_store(store: BaseStore | None) -> BaseStore:
    """The given store, else the LangGraph context's store, else retain's default store
    (:func:`retain.stores.default_store`: ``./.retain/memories.db``, opened once)."""
    if store is not None:
        return store
    try:
        from langgraph.config import get_store

        found = get_store()
    except (RuntimeError, KeyError):  # outside a graph, or in a runnable that is not one
        found = None
    if found is not None:
        return found
    if not _DEFAULT:
        from retain.stores import default_store

        _DEFAULT.append(default_store())
        logger.info("No store given: using retain's default store %s", _DEFAULT[0])
    return _DEFAULT[0]


def provenance_from(config: RunnableConfig | None, source: str) -> dict[str, Any]:
    """Provenance for the history: the source plus the thread and run ids when known."""
    out: dict[str, Any] = {"source": source}
    configurable = (config or {}).get("configurable") or {}
    for key in ("thread_id", "checkpoint_ns", "user_id", "langgraph_user_id"):
        value = configurable.get(key)
        if isinstance(value, (str, int)) and value != "":
            out[key] = value
    run_id = (config or {}).get("run_id")
    if run_id is not None:
        out["run_id"] = str(run_id)
    return out


@contextlib.contextmanager
def recording(store: BaseStore, fields: Mapping[str, Any]) -> Iterator[None]:
    """Record ``fields`` as provenance of the writes inside, when ``store`` keeps history."""
    if not _is_retain_store(store):
        yield
        return
    from retain.stores import provenance  # type: ignore[import-not-found,unused-ignore]

    with provenance(**fields):
        yield


def _is_retain_store(store: BaseStore) -> bool:
    return callable(getattr(store, "recall", None)) and callable(getattr(store, "history", None))


class StoreAccess:
    """Carries out a store flow's :class:`Recall` and :class:`Write` requests on one store."""

    def __init__(self, store: BaseStore, *, source: str, run_id: str | None = None) -> None:
        self.store = store
        self.run_id = run_id
        self.native = _is_retain_store(store)
        self.source = source

    def _recall_kwargs(self, query: str, limit: int) -> dict[str, Any]:
        return {"query": query, "limit": limit, **RECALL_DEFAULTS}

    def recall(self, request: Recall) -> list[list[SearchItem]]:
        if not request.queries:
            return [self.store.search(request.namespace, limit=request.limit)]
        if self.native:
            recall = self.store.recall  # type: ignore[attr-defined]
            return [
                recall(request.namespace, **self._recall_kwargs(q, request.limit))
                for q in request.queries
            ]
        ops = [SearchOp(request.namespace, query=q, limit=request.limit) for q in request.queries]
        return [cast(list[SearchItem], found) for found in self.store.batch(ops)]

    async def arecall(self, request: Recall) -> list[list[SearchItem]]:
        if not request.queries:
            return [await self.store.asearch(request.namespace, limit=request.limit)]
        if self.native:
            recall = self.store.arecall  # type: ignore[attr-defined]
            return list(
                await asyncio.gather(
                    *(
                        recall(request.namespace, **self._recall_kwargs(q, request.limit))
                        for q in request.queries
                    )
                )
            )
        ops = [SearchOp(request.namespace, query=q, limit=request.limit) for q in request.queries]
        return [cast(list[SearchItem], found) for found in await self.store.abatch(ops)]

    @staticmethod
    def _ops(request: Write) -> list[PutOp]:
        ops = [PutOp(ns, key, value) for ns, key, value in request.puts]
        ops += [PutOp(ns, key, None) for ns, key in request.deletes]
        return ops

    def write(self, request: Write, config: RunnableConfig | None) -> None:
        with recording(self.store, self._provenance(config)):
            self.store.batch(self._ops(request))

    async def awrite(self, request: Write, config: RunnableConfig | None) -> None:
        with recording(self.store, self._provenance(config)):
            await self.store.abatch(self._ops(request))

    def _provenance(self, config: RunnableConfig | None) -> dict[str, Any]:
        fields = provenance_from(config, self.source)
        if self.run_id is not None:
            fields["run_id"] = self.run_id
        return fields


def drive_store_flow(
    flow: StoreFlow, runner: ModelRunner, access: StoreAccess, config: RunnableConfig | None
) -> Any:
    """Run a store flow with synchronous model and store calls."""
    try:
        request = next(flow)
        while True:
            reply: Any
            if isinstance(request, ModelRequest):
                reply = runner.invoke(request, config)
            elif isinstance(request, Recall):
                reply = access.recall(request)
            else:
                access.write(request, config)
                reply = None
            request = flow.send(reply)
    except StopIteration as stop:
        return stop.value


async def adrive_store_flow(
    flow: StoreFlow, runner: ModelRunner, access: StoreAccess, config: RunnableConfig | None
) -> Any:
    """Run a store flow with asynchronous model and store calls."""
    try:
        request = next(flow)
        while True:
            reply: Any
            if isinstance(request, ModelRequest):
                reply = await runner.ainvoke(request, config)
            elif isinstance(request, Recall):
                reply = await access.arecall(request)
            else:
                await access.awrite(request, config)
                reply = None
            request = flow.send(reply)
    except StopIteration as stop:
        return stop.value
