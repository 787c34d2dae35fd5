"""What the stateful layer can do with a LangGraph ``BaseStore``, decided in one place.

:class:`StoreAdapter` wraps one store. On retain's stores
(:class:`retain.stores.RetainStore`) a query is answered by ``recall`` with the store's own
default ranking, writes are recorded in the item's history with their provenance, and
``history`` lists an item's earlier versions. Any other ``BaseStore`` gets
``search(namespace, query=...)`` (similarity when it has an index), plain writes and no
history. The store manager, the memory tools, the profile store and the learning machine
all read and write through it; :class:`StoreAccess` and the two drivers carry out a store
flow's requests with it. Each sync method and its async twin share one body
(:mod:`retain.twins`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, cast

from langchain_core.runnables import RunnableConfig
from langgraph.store.base import BaseStore, PutOp, SearchItem, SearchOp

from retain.clock import Clock, as_clock
from retain.core.requests import ModelRequest
from retain.core.store_flow import Recall, StoreFlow, Write
from retain.core.temporal import holds
from retain.llm.driver import ModelRunner
from retain.stores import RetainStore, Version, provenance
from retain.stores.base import current_page
from retain.twins import Steps, awaiting, blocking, call

__all__ = [
    "StoreAccess",
    "StoreAdapter",
    "adrive_store_flow",
    "drive_store_flow",
    "provenance_from",
    "store_flow_steps",
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

    __slots__ = ("_clock", "is_retain", "store")

    def __init__(
        self, store: BaseStore, *, clock: Clock | Callable[[], float] | None = None
    ) -> None:
        self.store = store
        self.is_retain = isinstance(store, RetainStore)
        """Whether the store is one of retain's (recall, history, provenance)."""
        self._clock = as_clock(clock)
        """When "now" is, for the facts that hold on other stores (default: the system clock)."""

    def search_steps(
        self,
        namespace: tuple[str, ...],
        *,
        query: str | None = None,
        filter: dict[str, Any] | None = None,
        limit: int = 10,
        offset: int = 0,
        refresh_ttl: bool | None = None,
    ) -> Steps[list[SearchItem]]:
        """The current items under ``namespace`` (superseded facts left out), best first
        for ``query``: ``recall`` with the store's default ranking on retain's stores,
        ``search`` on any other store."""
        if query and isinstance(self.store, RetainStore):
            found: list[SearchItem] = yield from call(
                self.store,
                "recall",
                namespace,
                query=query,
                filter=filter,
                limit=limit,
                offset=offset,
            )
            return found
        now = datetime.fromtimestamp(self._clock.now(), timezone.utc)
        return (
            yield from current_page(
                lambda n, start: call(
                    self.store,
                    "search",
                    namespace,
                    query=query or None,
                    filter=filter,
                    limit=n,
                    offset=start,
                    refresh_ttl=refresh_ttl,
                ),
                lambda item: holds(item.value, now=now),
                limit,
                offset,
            )
        )

    search = blocking(search_steps)
    asearch = awaiting(search_steps)

    def search_many_steps(
        self, namespace: tuple[str, ...], queries: Sequence[str], *, limit: int
    ) -> Steps[list[list[SearchItem]]]:
        """One result list per query, in one store call: no query lists the namespace,
        one query is :meth:`search`, several are one ``batch`` of searches."""
        if len(queries) <= 1:
            query = next(iter(queries), None)
            return [(yield from self.search_steps(namespace, query=query, limit=limit))]
        found = yield from call(
            self.store, "batch", [SearchOp(namespace, query=q, limit=limit) for q in queries]
        )
        return [cast(list[SearchItem], items) for items in found]

    search_many = blocking(search_many_steps)
    asearch_many = awaiting(search_many_steps)

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

    def __init__(
        self,
        store: BaseStore,
        *,
        source: str,
        run_id: str | None = None,
        clock: Clock | Callable[[], float] | None = None,
    ) -> None:
        self.adapter = StoreAdapter(store, clock=clock)
        self.run_id = run_id
        self.source = source

    def recall(self, request: Recall) -> Steps[list[list[SearchItem]]]:
        return self.adapter.search_many_steps(
            request.namespace, request.queries, limit=request.limit
        )

    def write(self, request: Write, config: RunnableConfig | None) -> Steps[None]:
        ops = [PutOp(ns, key, value) for ns, key, value in request.puts]
        ops += [PutOp(ns, key, None) for ns, key in request.deletes]
        with self.adapter.recording(self._provenance(config)):
            yield from call(self.adapter.store, "batch", ops)

    def _provenance(self, config: RunnableConfig | None) -> dict[str, Any]:
        fields = provenance_from(config, self.source)
        if self.run_id is not None:
            fields["run_id"] = self.run_id
        return fields


def store_flow_steps(
    flow: StoreFlow, runner: ModelRunner, access: StoreAccess, config: RunnableConfig | None
) -> Steps[Any]:
    """Run a store flow: its model requests on ``runner``, its recalls and writes through
    ``access``."""
    try:
        request = next(flow)
        while True:
            reply: Any
            if isinstance(request, ModelRequest):
                reply = yield from call(runner, "invoke", request, config)
            elif isinstance(request, Recall):
                reply = yield from access.recall(request)
            else:
                yield from access.write(request, config)
                reply = None
            request = flow.send(reply)
    except StopIteration as stop:
        return stop.value


drive_store_flow = blocking(store_flow_steps)
"""Run a store flow with synchronous model and store calls."""
adrive_store_flow = awaiting(store_flow_steps)
"""Run a store flow with asynchronous model and store calls."""
