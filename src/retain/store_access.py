"""What the stateful layer can do with a LangGraph ``BaseStore``, decided in one place.

:class:`StoreAdapter` wraps one store. On retain's stores
(:class:`retain.stores.RetainStore`) a query is answered by ``recall`` with the store's own
default ranking, writes are recorded in the item's history with their provenance, and
``history`` lists an item's earlier versions. Any other ``BaseStore`` gets
``search(namespace, query=...)`` (similarity when it has an index), plain writes and no
history. The store manager, the memory tools, the profile store and the learning machine
all read and write through it; :class:`StoreAccess` and the two drivers carry out a store
flow's requests with it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, cast

from langchain_core.runnables import RunnableConfig
from langgraph.store.base import BaseStore, PutOp, SearchItem, SearchOp

from retain.core.requests import ModelRequest
from retain.core.store_flow import Recall, StoreFlow, Write
from retain.core.temporal import holds
from retain.llm.driver import ModelRunner
from retain.stores import RetainStore, Version, provenance
from retain.stores.base import current_page

__all__ = [
    "StoreAccess",
    "StoreAdapter",
    "adrive_store_flow",
    "drive_store_flow",
    "provenance_from",
]


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


class StoreAdapter:
    """One store, and what it can do (see the module docstring).

    Example:
        >>> from langgraph.store.memory import InMemoryStore
        >>> from retain.store_access import StoreAdapter
        >>> adapter = StoreAdapter(InMemoryStore())
        >>> adapter.is_retain, adapter.history(("notes",), "k")
        (False, [])
    """

    __slots__ = ("is_retain", "store")

    def __init__(self, store: BaseStore) -> None:
        self.store = store
        self.is_retain = isinstance(store, RetainStore)
        """Whether the store is one of retain's (recall, history, provenance)."""

    def search(
        self,
        namespace: tuple[str, ...],
        *,
        query: str | None = None,
        filter: dict[str, Any] | None = None,
        limit: int = 10,
        offset: int = 0,
        refresh_ttl: bool | None = None,
    ) -> list[SearchItem]:
        """The current items under ``namespace`` (superseded facts left out), best first
        for ``query``: ``recall`` with the store's default ranking on retain's stores,
        ``search`` on any other store."""
        if query and isinstance(self.store, RetainStore):
            return self.store.recall(
                namespace, query=query, filter=filter, limit=limit, offset=offset
            )
        now = datetime.now(timezone.utc)
        return current_page(
            lambda n, start: self.store.search(
                namespace,
                query=query or None,
                filter=filter,
                limit=n,
                offset=start,
                refresh_ttl=refresh_ttl,
            ),
            lambda value: holds(value, now=now),
            limit,
            offset,
        )

    async def asearch(
        self,
        namespace: tuple[str, ...],
        *,
        query: str | None = None,
        filter: dict[str, Any] | None = None,
        limit: int = 10,
        offset: int = 0,
        refresh_ttl: bool | None = None,
    ) -> list[SearchItem]:
        """Async :meth:`search`."""
        if query and isinstance(self.store, RetainStore):
            return await self.store.arecall(
                namespace, query=query, filter=filter, limit=limit, offset=offset
            )
        now = datetime.now(timezone.utc)
        kept: list[SearchItem] = []
        start, chunk = 0, max(2 * (offset + limit), 100)
        while len(kept) < offset + limit:  # as stores.base.current_page, awaited
            found = await self.store.asearch(
                namespace,
                query=query or None,
                filter=filter,
                limit=chunk,
                offset=start,
                refresh_ttl=refresh_ttl,
            )
            kept += [item for item in found if holds(item.value, now=now)]
            if len(found) < chunk:
                break
            start += chunk
        return kept[offset : offset + limit]

    def _many(
        self, namespace: tuple[str, ...], queries: Sequence[str], limit: int
    ) -> list[SearchOp]:
        return [SearchOp(namespace, query=q, limit=limit) for q in queries]

    def search_many(
        self, namespace: tuple[str, ...], queries: Sequence[str], *, limit: int
    ) -> list[list[SearchItem]]:
        """One result list per query, in one store call: no query lists the namespace,
        one query is :meth:`search`, several are one ``batch`` of searches."""
        if len(queries) <= 1:
            return [self.search(namespace, query=next(iter(queries), None), limit=limit)]
        found = self.store.batch(self._many(namespace, queries, limit))
        return [cast(list[SearchItem], items) for items in found]

    async def asearch_many(
        self, namespace: tuple[str, ...], queries: Sequence[str], *, limit: int
    ) -> list[list[SearchItem]]:
        """Async :meth:`search_many`."""
        if len(queries) <= 1:
            return [await self.asearch(namespace, query=next(iter(queries), None), limit=limit)]
        found = await self.store.abatch(self._many(namespace, queries, limit))
        return [cast(list[SearchItem], items) for items in found]

    @contextlib.contextmanager
    def recording(self, fields: Mapping[str, Any]) -> Iterator[None]:
        """Record ``fields`` as the provenance of the writes inside (retain's stores)."""
        if not self.is_retain:
            yield
            return
        with provenance(**fields):
            yield

    def history(self, namespace: tuple[str, ...], key: str) -> list[Version]:
        """The item's versions, oldest first (``[]`` on stores without history)."""
        if isinstance(self.store, RetainStore):
            return self.store.history(namespace, key)
        return []


class StoreAccess:
    """Carries out a store flow's :class:`Recall` and :class:`Write` requests on one store."""

    def __init__(self, store: BaseStore, *, source: str, run_id: str | None = None) -> None:
        self.adapter = StoreAdapter(store)
        self.run_id = run_id
        self.source = source

    def recall(self, request: Recall) -> list[list[SearchItem]]:
        return self.adapter.search_many(request.namespace, request.queries, limit=request.limit)

    async def arecall(self, request: Recall) -> list[list[SearchItem]]:
        return await self.adapter.asearch_many(
            request.namespace, request.queries, limit=request.limit
        )

    @staticmethod
    def _ops(request: Write) -> list[PutOp]:
        ops = [PutOp(ns, key, value) for ns, key, value in request.puts]
        ops += [PutOp(ns, key, None) for ns, key in request.deletes]
        return ops

    def write(self, request: Write, config: RunnableConfig | None) -> None:
        with self.adapter.recording(self._provenance(config)):
            self.adapter.store.batch(self._ops(request))

    async def awrite(self, request: Write, config: RunnableConfig | None) -> None:
        with self.adapter.recording(self._provenance(config)):
            await self.adapter.store.abatch(self._ops(request))

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
